"""The example specs and the sample API's data (sample_api/data.json) fit each other:
walking every deployment's hierarchy through the data, each record the runtime would
load is found at its source path and is valid against its entity's record schema."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator

from compiler import compile_files
from tests.compiler.helpers import ROOT

DATA = json.loads((ROOT / "sample_api" / "data.json").read_text(encoding="utf-8"))["entities"]


class Walk:
    def __init__(self, ir: dict):
        self.ir = ir
        self.seen: set[tuple[str, str]] = set()
        self.loaded: list[str] = []

    def workflow(self, name: str, ident, record: dict | None = None) -> None:
        if (name, str(ident)) in self.seen:
            return
        self.seen.add((name, str(ident)))
        wf = self.ir["workflows"][name]
        entity = self.ir["entities"][wf["entity"]]
        if wf["source"] is not None:
            record = self.load(wf["source"], entity, ident)
        assert record is not None, f"{name} {ident}: no source and no nested data"
        errors = [e.message for e in Draft202012Validator(entity["schema"]).iter_errors(record)]
        assert errors == [], f"{name} {ident}: {errors}"
        for child in wf["children"]:
            self.child(child, record.get(child["field"]))

    def load(self, source: dict, entity: dict, ident) -> dict:
        path = source["path"]
        for field in source["placeholders"]:
            assert field == entity["key"], "the walk only fills the key"
            path = path.replace("{" + field + "}", str(ident))
        assert path in DATA, f"sample API has no {path}"
        self.loaded.append(path)
        body = DATA[path]
        for segment in source["select"] or []:
            body = body[segment]
        return body

    def child(self, child: dict, value) -> None:
        key = self.ir["entities"][child["entity"]]["key"]
        for item in (value or []) if child["many"] else ([value] if value is not None else []):
            nested = item if isinstance(item, dict) else None
            self.workflow(child["workflow"], nested[key] if nested else item, nested)


@pytest.mark.parametrize("stem", ["marketplace", "support_desk", "build_system"])
def test_every_workflow_of_the_example_loads_from_the_sample_api(stem, at_root):
    ir, _ = compile_files([f"specs/{stem}.swf"])
    walk = Walk(ir)
    for dep in ir["deployments"]:
        walk.workflow(dep["workflow"], dep["id"])
    reached = {name for name, _ in walk.seen}
    assert reached == set(ir["workflows"]), "every workflow is exercised by the data"
