"""``swfc worker --proxy URL`` / ``--proxy-from-env``: the worker's API requests go through a
proxy only when asked, and ``swfc status`` (text and JSON) shows the proxy's origin, never its
credentials. A real loopback forward proxy, a real ``swfc worker`` process."""

from __future__ import annotations

import asyncio

from tests.cli.marketplace import Marketplace, make_marketplace, nodes
from tests.helpers import stop_process, unique
from tests.helpers.proxy import ForwardProxy

PROXY_PASSWORD = "proxy-pw-" + unique("secret")


def _loading(tree: dict) -> list[dict]:
    """The workflows that load from the API (photos have no `source`: they show no proxy)."""
    return [n for n in nodes(tree) if n["entity"] != "Photo"]


async def _deploy_and_status(market: Marketplace) -> tuple[dict, str]:
    """Start the roots (the worker is a process of the test's), wait until every workflow has
    loaded, and return ``swfc status`` as JSON and as text."""
    deployed = await asyncio.to_thread(market.deploy, "--no-worker", "--until-loaded", "--timeout", "90")
    assert deployed.returncode == 0, deployed.stdout + deployed.stderr
    tree = await asyncio.to_thread(market.status)
    text = await asyncio.to_thread(market.swfc, "status", market.root, "--address", market.address)
    assert text.returncode == 0, text.stderr
    return tree, text.stdout


async def test_worker_with_proxy_loads_through_it_and_status_shows_its_origin(http_api, tmp_path, temporal_address,
                                                                              processes):
    market = make_marketplace(http_api, tmp_path, temporal_address, photos=(1,))
    with ForwardProxy().start() as proxy:
        with_credentials = proxy.url.replace("http://", f"http://ops:{PROXY_PASSWORD}@")
        worker = market.spawn("worker", str(market.spec), *market.connection(), "--proxy", with_credentials)
        processes.append(worker)
        tree, text = await _deploy_and_status(market)
        code, out, err = stop_process(worker)
        passed = proxy.passed()
    assert code == 0, err
    assert {n["proxy"] for n in _loading(tree)} == {proxy.url}
    assert f"via proxy {proxy.url}" in text and f"http via {proxy.url}" in out
    assert {p.target.split("/")[3] for p in passed} == {"users", "listings"}
    assert all(p.proxy_authorization and p.authorization == f"Bearer {market.token}" for p in passed)
    for shown in (str(tree), text, out, err):
        assert PROXY_PASSWORD not in shown and market.token not in shown


async def test_worker_ignores_proxy_variables_unless_told_to_use_them(http_api, tmp_path, temporal_address, processes):
    with ForwardProxy().start() as proxy:
        variables = {"HTTP_PROXY": proxy.url, "HTTPS_PROXY": proxy.url, "ALL_PROXY": proxy.url, "NO_PROXY": ""}
        for flags, through in [((), False), (("--proxy-from-env",), True)]:
            market = make_marketplace(http_api, tmp_path / unique("d"), temporal_address, photos=(1,))
            before = len(proxy.passed())
            worker = market.spawn("worker", str(market.spec), *market.connection(), *flags,
                                  env=market.env(**variables))
            processes.append(worker)
            tree, _ = await _deploy_and_status(market)
            assert stop_process(worker)[0] == 0
            assert {n["proxy"] for n in _loading(tree)} == ({proxy.url} if through else {None}), flags
            assert (len(proxy.passed()) > before) is through, flags


def test_an_unusable_proxy_url_stops_the_worker_without_echoing_it(http_api, tmp_path, temporal_address):
    market = make_marketplace(http_api, tmp_path, temporal_address, photos=(1,))
    for flags, env in [(("--proxy", f"socks5://ops:{PROXY_PASSWORD}@127.0.0.1:1080"), {}),
                       (("--proxy-from-env",), {"HTTPS_PROXY": f"http://ops:{PROXY_PASSWORD}@127.0.0.1:1/path"})]:
        result = market.swfc("worker", str(market.spec), *market.connection(), *flags, env=market.env(**env))
        assert result.returncode == 1, result.stderr
        assert "proxy" in result.stderr and PROXY_PASSWORD not in result.stdout + result.stderr


def test_deploy_without_a_worker_refuses_a_proxy_it_would_not_use(http_api, tmp_path, temporal_address):
    market = make_marketplace(http_api, tmp_path, temporal_address, photos=(1,))
    for flags in (("--proxy", "http://127.0.0.1:3128"), ("--proxy-from-env",)):
        result = market.deploy("--no-worker", *flags)
        assert result.returncode == 2, result.stdout + result.stderr
        assert "pass them to `swfc worker`" in result.stderr and "started" not in result.stdout
