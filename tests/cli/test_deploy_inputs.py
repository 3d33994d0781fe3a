"""What ``swfc deploy`` hands Temporal for each root (docs/runtime.md "Workflow input"):
tokens read from the deploy block's env vars and sealed, bases resolved from ``base_env``,
the memo; and what it refuses or warns about before connecting anywhere."""

from __future__ import annotations

import json

import pytest

from cli import problems
from runtime.client_errors import MissingTokens
from runtime.ir import load
from runtime.roots import bases_not_allowed, prepare_roots
from runtime.sealing import deployment, fingerprint, is_sealed_token, open_sealed
from tests.helpers import SPECS, compile_spec


@pytest.fixture(scope="module")
def desk() -> dict:
    return compile_spec(SPECS / "support_desk.swf")


def test_root_input_carries_sealed_tokens_and_resolved_bases(desk: dict) -> None:
    env = {"DESK_TOKEN": "desk-secret", "NOTES_API_KEY": "notes-secret", "NOTES_URL": "http://localhost:8787"}
    [root] = prepare_roots(load(desk), env, deployment=deployment("default", "swfc"))
    assert (root.workflow_id, root.workflow_type) == ("Organisation-acme", "OrganisationWorkflow")
    assert root.memo == {"entity": "Organisation", "id": "acme"}
    inp = root.input
    assert inp["ir_hash"] == desk["hash"] and inp["entity_id"] == "acme"
    assert inp["api_bases"] == {"desk": "http://127.0.0.1:8787", "notes": "http://localhost:8787"}
    assert (inp["data"], inp["ancestors"], inp["subscribers"], inp["carried"]) == (None, [], [], None)
    assert set(inp["tokens"]) == {"desk", "notes"}
    for api, secret in (("desk", "desk-secret"), ("notes", "notes-secret")):
        sealed = inp["tokens"][api]
        assert is_sealed_token(sealed) and sealed["fingerprint"] == fingerprint(secret)
        assert open_sealed(sealed, deployment=deployment("default", "swfc")) == secret
    assert "secret" not in json.dumps(inp)


def test_every_missing_token_variable_is_named_at_once(desk: dict) -> None:
    with pytest.raises(MissingTokens) as info:
        prepare_roots(load(desk), {"DESK_TOKEN": ""}, deployment="default/swfc")
    assert [m.variable for m in info.value.missing] == ["DESK_TOKEN", "NOTES_API_KEY"]
    message = problems.message(info.value)
    assert "DESK_TOKEN" in message and "NOTES_API_KEY" in message and message.endswith("and deploy again")
    assert problems.exit_code(info.value) == 1


def warnings(ir: dict, environ: dict[str, str]) -> list[str]:
    return [problems.base_not_allowed(b) for b in bases_not_allowed(load(ir), environ)]


def test_warns_when_a_base_override_is_outside_the_allow_list(desk: dict) -> None:
    assert warnings(desk, {"NOTES_URL": "http://localhost:8787"}) == []
    [warning] = warnings(desk, {"NOTES_URL": "https://notes.example.com"})
    assert "$NOTES_URL=https://notes.example.com" in warning and "notes" in warning
    assert "will not be sent there" in warning
    https = json.loads(json.dumps(desk))
    https["apis"]["notes"]["base"] = "https://localhost:8787"
    [downgrade] = warnings(https, {"NOTES_URL": "http://localhost:8787"})  # env() resolving to http://
    assert "over https" in downgrade and "will not be sent" in downgrade
