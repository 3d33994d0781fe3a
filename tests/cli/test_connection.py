"""Where the runtime commands connect: a profile of Temporal's `temporal.toml`, under the
`TEMPORAL_*` variables, under the flags (the order of Temporal's own CLI). The last tests run
`swfc deploy` and `swfc status` with nothing but a profile against the real dev server."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from temporalio.client import Client

from cli.connection import settings
from cli.main import build_parser
from cli.process import CommandError
from sample_api import SampleAPI
from tests.cli.marketplace import make_marketplace

TOML = """\
[profile.default]
address = "default.example:7233"

[profile.staging]
address = "staging.example:7233"
namespace = "staging-ns"
api_key = "profile-key"

[profile.staging.tls]
server_name = "staging.internal"

[profile.staging.grpc_meta]
team = "ops"
"""


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "temporal.toml"
    path.write_text(TOML)
    return path


def args(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["status", "User-u1", *argv])


def test_the_default_profile_of_the_config_file(config: Path):
    got = settings(args(), {"TEMPORAL_CONFIG_FILE": str(config)})
    assert (got.address, got.namespace, got.api_key) == ("default.example:7233", "default", None)


def test_a_profile_by_variable_or_flag_the_flag_winning(config: Path):
    env = {"TEMPORAL_CONFIG_FILE": str(config), "TEMPORAL_PROFILE": "staging"}
    got = settings(args(), env)
    assert (got.address, got.namespace, got.api_key) == ("staging.example:7233", "staging-ns", "profile-key")
    assert got.tls.domain == "staging.internal" and got.rpc_metadata == {"team": "ops"}
    assert settings(args("--profile", "default"), env).address == "default.example:7233"
    assert settings(args("--config-file", str(config), "--profile", "staging"), {}).namespace == "staging-ns"


def test_variables_win_over_the_profile_and_flags_over_variables(config: Path):
    env = {"TEMPORAL_CONFIG_FILE": str(config), "TEMPORAL_PROFILE": "staging",
           "TEMPORAL_ADDRESS": "env.example:7233", "TEMPORAL_NAMESPACE": "env-ns"}
    got = settings(args(), env)
    assert (got.address, got.namespace, got.api_key) == ("env.example:7233", "env-ns", "profile-key")
    got = settings(args("--address", "flag.example:7233", "--namespace", "flag-ns", "--api-key", "k"), env)
    assert (got.address, got.namespace, got.api_key) == ("flag.example:7233", "flag-ns", "k")


def test_a_tls_flag_replaces_only_its_part_of_the_profile(config: Path, tmp_path: Path):
    ca = tmp_path / "ca.pem"
    ca.write_bytes(b"CA")
    got = settings(args("--profile", "staging", "--tls-ca-path", str(ca)), {"TEMPORAL_CONFIG_FILE": str(config)})
    assert (got.tls.domain, got.tls.server_root_ca_cert) == ("staging.internal", b"CA")


def test_no_address_anywhere_means_the_embedded_server(tmp_path: Path):
    got = settings(args(), {"HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)})
    assert (got.address, got.namespace) == (None, "default")


def test_a_missing_profile_or_file_is_a_clear_error(config: Path, tmp_path: Path):
    with pytest.raises(CommandError, match="Profile 'prod' not found"):
        settings(args("--profile", "prod"), {"TEMPORAL_CONFIG_FILE": str(config)})
    with pytest.raises(CommandError, match=r"config file .*nowhere.toml not found \(from TEMPORAL_CONFIG_FILE\)"):
        settings(args(), {"TEMPORAL_CONFIG_FILE": str(tmp_path / "nowhere.toml")})


@pytest.fixture
def api():
    with SampleAPI().start() as api:
        yield api


async def test_deploy_connects_with_the_profile(api, tmp_path: Path, temporal_address: str, client: Client):
    market = make_marketplace(api, tmp_path, temporal_address)
    toml = tmp_path / "temporal.toml"
    toml.write_text(f'[profile.dev]\naddress = "{temporal_address}"\n\n'
                    f'[profile.elsewhere]\naddress = "{temporal_address}"\nnamespace = "no-such-namespace"\n')
    env = market.env(TEMPORAL_CONFIG_FILE=str(toml))
    deployed = market.swfc("deploy", str(market.spec), "--profile", "dev", "--task-queue", market.task_queue,
                           "--no-worker", env=env)
    try:
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        assert "dev server" not in deployed.stdout  # no embedded server was started
        assert (await client.get_workflow_handle(market.root).describe()).id == market.root
        status = market.swfc("status", market.root, "--format", "json", env={**env, "TEMPORAL_PROFILE": "dev"})
        assert status.returncode == 0 and market.root in status.stdout, status.stderr
        elsewhere = market.swfc("status", market.root, "--profile", "elsewhere", env=env)
        assert elsewhere.returncode == 1
        assert f"namespace no-such-namespace does not exist on {temporal_address}" in elsewhere.stderr
    finally:
        await client.get_workflow_handle(market.root).terminate("test done")
