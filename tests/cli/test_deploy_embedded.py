"""``swfc deploy`` without ``--address``: it runs its own Temporal dev server with the data in
``.swfc/temporal.db``, stops it on exit, and a second deploy finds the hierarchy where it was.
(``SWFC_DEV_PORT``/``SWFC_DEV_UI_PORT`` put it on free ports instead of 7233/8233.)"""

from __future__ import annotations

from cli.devserver import port_is_open
from sample_api import SampleAPI
from tests.cli.marketplace import make_marketplace
from tests.helpers import free_port


def test_embedded_server_persists_the_hierarchy_across_deploys(http_api: SampleAPI, tmp_path) -> None:
    port, ui_port = free_port(), free_port()
    market = make_marketplace(http_api, tmp_path, f"127.0.0.1:{port}", photos=(1,))
    env = market.env(SWFC_DEV_PORT=str(port), SWFC_DEV_UI_PORT=str(ui_port))
    args = ("deploy", str(market.spec), "--task-queue", market.task_queue, "--until-loaded", "--timeout", "60")

    first = market.swfc(*args, env=env)
    said = first.stdout + first.stderr
    assert first.returncode == 0, said
    assert f"Temporal dev server on 127.0.0.1:{port}" in first.stdout, said
    assert f"Web UI at http://127.0.0.1:{ui_port}" in first.stdout, said
    assert f"http://127.0.0.1:{ui_port}/namespaces/default/workflows/{market.root}" in first.stdout, said
    assert f"{market.root}: started" in first.stdout and "have loaded" in first.stdout, said
    assert (tmp_path / ".swfc" / "temporal.db").is_file()
    assert not port_is_open("127.0.0.1", port), "the dev server outlived swfc deploy"

    second = market.swfc(*args, env=env)
    said = second.stdout + second.stderr
    assert second.returncode == 0, said
    assert f"{market.root}: already running (nothing started)" in second.stdout, said
    assert "all 3 workflows of the hierarchy have loaded" in second.stdout, said
    assert not port_is_open("127.0.0.1", port)


def test_port_taken_by_something_else(http_api: SampleAPI, tmp_path) -> None:
    market = make_marketplace(http_api, tmp_path, "unused", photos=(1,))
    result = market.swfc("deploy", str(market.spec), "--no-worker",
                         env=market.env(SWFC_DEV_PORT=str(http_api.port)))
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert "is in use by something that is not a Temporal server" in result.stderr
    assert "--address" in result.stderr
