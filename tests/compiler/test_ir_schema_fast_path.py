"""The compiled accept-path (rules/schema.py) agrees with jsonschema's Draft202012Validator on
the IR schema: on every example IR, and on IRs with random parts replaced."""

from __future__ import annotations

import copy

from hypothesis import given, settings
from hypothesis import strategies as st

from compiler import compile_files
from compiler.validate import fast_check, validator
from tests.compiler.helpers import ROOT

IRS = [compile_files([str(p)])[0] for p in sorted((ROOT / "specs").glob("*.swf"))
       if p.stem in ("marketplace", "support_desk", "build_system")]
JSON = st.recursive(st.none() | st.booleans() | st.integers(-2, 70000) | st.floats(-1, 2)
                    | st.sampled_from(["", "x", "GET", "none", "sha256:" + "a" * 64, "a b",
                                       "http://h:1", "h:80", "/p", "Bad-Name"]),
                    lambda kids: st.lists(kids, max_size=3)
                    | st.dictionaries(st.sampled_from(["a", "id", "env", "scheme"]), kids,
                                      max_size=3), max_leaves=6)


def paths(node, prefix=()):
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from paths(v, prefix + (i,))


def test_examples_accepted_by_both():
    assert fast_check() is not None
    for ir in IRS:
        assert fast_check()(ir) and validator().is_valid(ir)


@settings(max_examples=400, deadline=None)
@given(st.data())
def test_agrees_with_jsonschema_on_mutations(data):
    ir = copy.deepcopy(data.draw(st.sampled_from(IRS)))
    path = data.draw(st.sampled_from(list(paths(ir))[1:]))
    parent = ir
    for part in path[:-1]:
        parent = parent[part]
    action = data.draw(st.sampled_from(["replace", "delete", "add"]))
    if isinstance(parent, dict) and action == "delete":
        del parent[path[-1]]
    elif isinstance(parent, dict) and action == "add":
        parent[data.draw(st.sampled_from(["extra", "9bad", "ok_name"]))] = data.draw(JSON)
    else:
        parent[path[-1]] = data.draw(JSON)
    assert fast_check()(ir) == validator().is_valid(ir)
