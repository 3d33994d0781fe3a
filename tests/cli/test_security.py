"""The command line's side of the secrets promise (issue 9): a token the HTTP layer would
refuse (and quote in its error) is refused at `deploy` and `token set` without being echoed;
`token set` for an api the workflow does not use fails; a worker never invents a seal key;
a kept registration is only served under the hash of its content."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

from cli import registrations
from tests.cli.marketplace import make_marketplace
from tests.helpers import assert_eventually, swfc_env

SECRET = "s3cret-value"


def test_deploy_refuses_a_token_with_a_trailing_newline_without_echoing_it(http_api, tmp_path, temporal_address):
    market = make_marketplace(http_api, tmp_path, temporal_address, photos=())
    result = market.deploy("--no-worker", env=market.env(CRM_TOKEN=SECRET + "\n"))
    assert result.returncode == 1
    assert "$CRM_TOKEN cannot be used as the crm token" in result.stderr and "trailing newline" in result.stderr
    assert SECRET not in result.stdout + result.stderr and "Traceback" not in result.stderr


async def test_token_set_refuses_bad_tokens_and_apis_the_workflow_does_not_use(http_api, tmp_path, temporal_address,
                                                                               processes, client):
    market = make_marketplace(http_api, tmp_path, temporal_address, photos=(0,))
    processes.append(market.spawn_worker())
    deployed = await asyncio.to_thread(market.deploy, "--no-worker")
    assert deployed.returncode == 0, deployed.stderr

    async def loaded():
        assert (await client.get_workflow_handle(market.root).query("status"))["loaded"]

    await assert_eventually(loaded, timeout=60, interval=0.5)
    for bad in (SECRET + "\n", SECRET + "\u00e9", "sec ret"):
        result = market.swfc("token", "set", market.root, "--api", "crm", "--from-env", "NEWTOK",
                             "--address", market.address, env=market.env(NEWTOK=bad))
        assert result.returncode == 1 and "visible ASCII" in result.stderr, result.stderr
        assert bad.strip() not in result.stdout + result.stderr and "sec" not in result.stderr
    # Photo workflows do not use crm; a listing does not use an api the spec does not declare.
    photo_less = next(iter(market.listings))
    result = market.swfc("token", "set", f"Listing-{photo_less}", "--api", "vendor", "--from-env", "CRM_TOKEN",
                         "--address", market.address)
    assert result.returncode == 1 and "does not use api vendor" in result.stderr, result.stderr
    status = await client.get_workflow_handle(market.root).query("state")
    assert status["errors"] == []  # nothing reached the workflow


def test_a_worker_without_the_seal_key_refuses_to_start_and_says_where_it_looked(http_api, tmp_path, temporal_address):
    market = make_marketplace(http_api, tmp_path, temporal_address, photos=())
    env = swfc_env(market.env())
    env.pop("SWFC_SEAL_KEY")
    result = subprocess.run([sys.executable, "-c", "import sys; from cli.main import main; sys.exit(main())",
                             "worker", str(market.spec), *market.connection()],
                            env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result.stderr
    assert "no seal key" in result.stderr and str(tmp_path / ".swfc" / "seal.key") in result.stderr
    assert not (tmp_path / ".swfc" / "seal.key").exists()
    empty = market.swfc("worker", str(market.spec), *market.connection(), env=market.env(SWFC_SEAL_KEY=""))
    assert empty.returncode == 1 and "SWFC_SEAL_KEY is set but empty" in empty.stderr, empty.stderr


def test_a_kept_registration_whose_hash_is_not_its_content_is_not_served(tmp_path) -> None:
    from tests.helpers import SPECS, compile_spec

    ir = compile_spec(SPECS / "marketplace.swf")
    other = json.loads(json.dumps(ir))
    other["apis"]["crm"]["allow"].append("evil.example:80")  # the content changed, the name did not
    registrations.remember(other, tmp_path / "edited")
    assert registrations.earlier({"hash": "sha256:" + "1" * 64}, tmp_path / "edited") == []
    registrations.remember(ir, tmp_path / "kept")
    assert registrations.earlier({"hash": "sha256:" + "1" * 64}, tmp_path / "kept") == [ir]
