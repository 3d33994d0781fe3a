"""The runtime raises facts (``runtime.client_errors``); the command line words them
(``cli/problems.py``): every error has its words, and they name variables, never tokens."""

from __future__ import annotations

import dataclasses

from cli import problems
from runtime import client_errors as errors


def _instance(kind: type) -> errors.ClientError:
    if kind is errors.MissingTokens:
        return kind([errors.MissingToken("DESK_TOKEN", "desk", "OrganisationWorkflow", "acme", "Organisation-acme")])
    values = {"str": "x", "list[str]": ["crm"]}
    return kind(**{f.name: values[f.type] for f in dataclasses.fields(kind)})


def test_every_runtime_error_is_worded_with_exit_status_1() -> None:
    kinds = [k for k in vars(errors).values()
             if isinstance(k, type) and issubclass(k, errors.ClientError)
             and k not in (errors.ClientError, errors.Unusable)]  # the bases: never raised alone
    assert len(kinds) == 10
    for kind in kinds:
        exc = _instance(kind)
        assert not problems.message(exc).startswith(kind.__name__), kind  # not the fallback
        assert problems.exit_code(exc) == 1


def test_what_to_do_next_is_said_by_the_command_line() -> None:
    missing = problems.message(_instance(errors.MissingTokens))
    assert missing.startswith("missing token environment variable(s) DESK_TOKEN:\n  $DESK_TOKEN: the desk token")
    assert missing.endswith("export them (e.g. `export DESK_TOKEN=...`) and deploy again")
    assert "run where `swfc deploy` created .swfc/seal.key" in problems.message(errors.NoSealKey("no key"))
    assert problems.message(errors.BadToken("CRM_TOKEN", "crm", "the token is empty")) == \
        "$CRM_TOKEN cannot be used as the crm token: the token is empty"
