"""The demo data (sample_api/data.json) serves every example spec: walking each deployed
hierarchy from its root as the runtime would — source path, credentials, `select`, the
entity's JSON Schema, child relations — reaches a valid record for every workflow."""

from pathlib import Path

import httpx
import jsonschema
import pytest

from sample_api import SampleAPI
from sample_api.__main__ import DATA
from tests.helpers import SPECS, compile_spec

# The walk below follows relations inside records; a spec with collections (lists from
# their own endpoints: github.swf) is deployed on the demo data by
# tests/runtime/test_collections.py instead.
EXAMPLES = sorted(p for p in SPECS.glob("*.swf") if "deploy " in p.read_text() and "\n    from " not in p.read_text())
DEMO_TOKENS = {"CRM_TOKEN": "demo-crm-token", "DESK_TOKEN": "demo-desk-token",
               "NOTES_API_KEY": "demo-notes-key", "CI_TOKEN": "demo-ci-token"}


@pytest.fixture(scope="module")
def demo():
    with SampleAPI.from_file(DATA, env={}).start() as api:
        yield api


def credentials(ir: dict, api_name: str, root_tokens: dict) -> dict:
    auth = ir["apis"][api_name]["auth"]
    token = DEMO_TOKENS[root_tokens[api_name]["env"]] if auth["scheme"] != "none" else None
    if auth["scheme"] == "bearer":
        return {"Authorization": f"Bearer {token}"}
    return {auth["header"]: token} if auth["scheme"] == "header" else {}


def walk(ir: dict, demo: SampleAPI, workflow: str, key, data: dict | None, tokens: dict, seen: set) -> int:
    """Load one workflow's record like the runtime does; recurse into children; count them."""
    wf = ir["workflows"][workflow]
    entity = ir["entities"][wf["entity"]]
    if (workflow, key) in seen:
        return 0
    seen.add((workflow, key))
    record = data
    if wf["source"]:
        src = wf["source"]
        path = src["path"].replace(f"{{{entity['key']}}}", str(key))
        response = httpx.get(demo.url + path, headers=credentials(ir, src["api"], tokens))
        assert response.status_code == 200, f"{workflow} {path}: HTTP {response.status_code}"
        record = response.json()
        for part in src["select"] or []:
            record = record[part]
    assert record is not None, f"{workflow} {key}: no data"
    jsonschema.validate(record, entity["schema"])
    count = 1
    for edge in wf["children"]:
        values = record.get(edge["field"])
        for value in (values if edge["many"] else [values]) if values is not None else []:
            child_key = value[ir["entities"][edge["entity"]]["key"]] if isinstance(value, dict) else value
            count += walk(ir, demo, edge["workflow"], child_key, value if isinstance(value, dict) else None, tokens, seen)
    return count


@pytest.mark.parametrize("spec", EXAMPLES, ids=lambda p: p.stem)
def test_every_deployed_hierarchy_loads_from_the_demo_data(spec: Path, demo: SampleAPI) -> None:
    ir = compile_spec(spec)
    assert ir["deployments"]
    for dep in ir["deployments"]:
        assert walk(ir, demo, dep["workflow"], dep["id"], None, dep["tokens"], set()) >= 3


def test_demo_tokens_match_the_specs_deploy_blocks() -> None:
    used = {ref["env"] for spec in EXAMPLES for dep in compile_spec(spec)["deployments"]
            for ref in dep["tokens"].values()}
    assert used <= set(DEMO_TOKENS)
