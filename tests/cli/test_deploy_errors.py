"""What ``swfc deploy``/``status``/``token set`` say and return when something is not right:
one clear message, the intended exit code, never a traceback, never a token."""

from __future__ import annotations

import pytest

from sample_api import SampleAPI
from tests.cli.marketplace import Marketplace, make_marketplace
from tests.helpers import free_port, run_swfc


@pytest.fixture
def market(http_api: SampleAPI, tmp_path, temporal_address: str) -> Marketplace:
    return make_marketplace(http_api, tmp_path, temporal_address, photos=(1,))


def assert_clean_failure(result, code: int = 1) -> None:
    assert result.returncode == code, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stdout + result.stderr


def test_missing_token_env_var_names_it(market: Marketplace) -> None:
    env = market.env()
    env["CRM_TOKEN"] = ""
    result = market.deploy("--no-worker", env=env)
    assert_clean_failure(result)
    assert "CRM_TOKEN" in result.stderr and f"UserWorkflow \"{market.uid}\"" in result.stderr


def test_spec_errors_are_reported_like_validate(market: Marketplace) -> None:
    market.spec.write_text(market.spec.read_text().replace("child listings -> ListingWorkflow",
                                                           "child listingz -> ListingWorkflow"))
    result = market.deploy("--no-worker")
    assert_clean_failure(result)
    assert "error[SWF" in result.stderr and "listingz" in result.stderr
    assert "nothing was deployed" in result.stderr


def test_unreachable_server_says_what_to_do(market: Marketplace) -> None:
    result = run_swfc("deploy", str(market.spec), "--address", f"127.0.0.1:{free_port()}", "--no-worker",
                      env=market.env(), cwd=market.spec.parent, timeout=90)
    assert_clean_failure(result)
    assert "cannot reach Temporal at 127.0.0.1:" in result.stderr and "--address" in result.stderr


def test_until_loaded_exits_1_once_what_has_not_loaded_failed_for_good(market: Marketplace) -> None:
    listing = next(iter(market.listings))
    market.api.fail(f"/listings/{listing}", times=None, status=404)  # 4xx: no retry, an error
    # with the in-process worker; a 404 does not wait out the timeout (the subprocess's own
    # timeout, 120 s, is far below the 600 s given)
    result = market.deploy("--until-loaded", "--timeout", "600")
    assert_clean_failure(result)
    assert "failed for good (not retried): 1 workflow(s)" in result.stderr
    assert f"Listing-{listing} (ListingWorkflow)" in result.stderr and "404" in result.stderr
    assert f"{market.root}: started" in result.stdout
    assert market.token not in result.stdout + result.stderr


def test_status_of_an_unknown_workflow(temporal_address: str) -> None:
    result = run_swfc("status", "User-nobody-here", "--address", temporal_address)
    assert_clean_failure(result)
    assert "no workflow User-nobody-here" in result.stderr


def test_token_set_reads_only_from_the_environment(market: Marketplace) -> None:
    result = market.swfc("token", "set", market.root, "--api", "crm", "--from-env", "NOT_SET_ANYWHERE",
                         "--address", market.address)
    assert_clean_failure(result)
    assert "NOT_SET_ANYWHERE is not set" in result.stderr


def test_usage_errors_exit_2() -> None:
    result = run_swfc("token", "set", "User-u1", "--api", "crm")
    assert result.returncode == 2 and "--from-env" in result.stderr


def test_a_spec_without_deploy_block_has_nothing_to_deploy(market: Marketplace) -> None:
    result = market.swfc("deploy", str(market.spec.with_name("listings.swf")), *market.connection())
    assert_clean_failure(result)
    assert "nothing to deploy" in result.stderr and "swfc worker" in result.stderr


def test_unknown_namespace_is_reported_not_a_crash(temporal_address: str) -> None:
    result = run_swfc("status", "User-u1", "--address", temporal_address, "--namespace", "no-such-ns")
    assert_clean_failure(result)
    assert "namespace no-such-ns does not exist" in result.stderr


def test_token_set_without_the_workers_seal_key_refuses(market: Marketplace) -> None:
    env = market.env(NEW_TOKEN="n3w", SWFC_SEAL_KEY="")
    result = market.swfc("token", "set", market.root, "--api", "crm", "--from-env", "NEW_TOKEN",
                         "--address", market.address, env=env)
    assert_clean_failure(result)
    assert "seal.key" in result.stderr and "SWFC_SEAL_KEY" in result.stderr
    assert not (market.spec.parent / ".swfc" / "seal.key").exists()
