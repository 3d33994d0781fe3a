"""Where the runtime commands connect: flags over `TEMPORAL_*` variables over a profile.

Stage: the CLI, before any connection. Takes the parsed arguments and the environment; gives
`Settings` (address or None for the embedded dev server, namespace, API key, TLS, gRPC
metadata). The order is Temporal's own CLI's: a flag wins over its `TEMPORAL_*` variable,
which wins over the profile of Temporal's environment configuration (`temporal.toml`: the
file at `--config-file`, else `TEMPORAL_CONFIG_FILE`, else Temporal's default place; the
profile `--profile`, else `TEMPORAL_PROFILE`, else `default`), read by the SDK's own
`temporalio.envconfig` so that swfc reads a profile exactly as every other Temporal tool does.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cli.process import CommandError


@dataclass(frozen=True)
class Settings:
    """What to connect with. `address` None: no address anywhere, so `deploy` starts the
    embedded dev server; `tls` None: TLS only with an API key."""

    address: str | None
    namespace: str
    api_key: str | None = None
    tls: Any = None  # bool | temporalio.service.TLSConfig | None
    rpc_metadata: Mapping[str, str] = field(default_factory=dict)
    profile: str | None = None  # the profile named by --profile / TEMPORAL_PROFILE, for messages


def settings(args: Any, environ: Mapping[str, str] | None = None) -> Settings:
    """The connection settings of a runtime command (see the module docstring).

    Raises:
        CommandError when the named config file or profile does not exist or cannot be read.
    """
    environ = dict(os.environ if environ is None else environ)
    profile = _load_profile(args, environ)
    address = _flag(args, "address") or profile.address or None
    namespace = _flag(args, "namespace") or profile.namespace or "default"
    api_key = _flag(args, "api_key") or profile.api_key or None
    return Settings(address, namespace, api_key, _tls(args, environ, profile), dict(profile.grpc_meta),
                    _flag(args, "profile") or environ.get("TEMPORAL_PROFILE") or None)


def _flag(args: Any, name: str) -> Any:
    return getattr(args, name, None)


def _load_profile(args: Any, environ: dict[str, str]) -> Any:
    """The profile with the `TEMPORAL_*` variables applied over it (the SDK does that part)."""
    from temporalio.envconfig import ClientConfigProfile

    config_file = _flag(args, "config_file") or environ.get("TEMPORAL_CONFIG_FILE")
    if config_file and not Path(config_file).is_file():
        raise CommandError(f"Temporal config file {config_file} not found "
                           f"(from {'--config-file' if _flag(args, 'config_file') else 'TEMPORAL_CONFIG_FILE'})")
    name = _flag(args, "profile") or environ.get("TEMPORAL_PROFILE") or None
    try:
        return ClientConfigProfile.load(name, config_source=Path(config_file) if config_file else None,
                                        override_env_vars=environ)
    except Exception as exc:  # the SDK's ConfigError: a missing profile, a bad TOML file
        where = f" in {config_file}" if config_file else ""
        raise CommandError(f"cannot read the Temporal connection profile{where}: {exc}") from None


def _tls(args: Any, environ: dict[str, str], profile: Any) -> Any:
    """TLS from the flags (or the variables Temporal's CLI reads for them) over the profile's."""
    from runtime.temporal_client import tls_config

    files = {name: _flag(args, f"tls_{name}_path") or environ.get(f"TEMPORAL_TLS_{name.upper()}")
             for name in ("cert", "key", "ca")}
    server_name = _flag(args, "tls_server_name")
    from_profile = profile.tls.to_connect_tls_config() if profile.tls is not None else None
    flagged = tls_config(files["cert"], files["key"], files["ca"], server_name)
    if flagged is not None:
        if dataclasses.is_dataclass(from_profile):  # a flag replaces only its own part
            changes = {k: v for k, v in dataclasses.asdict(flagged).items() if v is not None}
            return dataclasses.replace(from_profile, **changes)
        return flagged
    if _flag(args, "tls"):
        return from_profile if dataclasses.is_dataclass(from_profile) else True
    return from_profile
