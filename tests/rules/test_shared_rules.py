"""The rules the compiler and the runtime share (rules/), run through both stages: one
table of cases, the same answer from each side."""

from __future__ import annotations

import copy
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from compiler import compile_sources
from rules.ir import ir_hash, json_path
from rules.schema import accept_path
from runtime import ir as ir_mod
from runtime.normalize import InvalidData, normalize
from tests.runtime.irs import rehash

PATHS = [([], "$"), (["data"], "$.data"), (["listings", 1, "url"], "$.listings[1].url"),
         ([0, 2], "$[0][2]"), (["a b"], "$.a b")]


@pytest.mark.parametrize("parts,text", PATHS)
def test_json_path(parts, text):
    assert json_path(parts) == text


SPEC = """
entity Photo {
  id string key
  url string
  tags [string]
}
entity Listing {
  id string key
  price number?
  count integer
  sold boolean
  seen datetime?
  extra json
  photos [Photo]
  cover Photo?
}
workflow ListingWorkflow manages Listing {
  token none
}
"""


def compiled():
    ir, diags = compile_sources({"a.swf": SPEC}, ["a.swf"])
    assert ir is not None, diags
    return ir


def test_the_compiler_and_the_tests_hash_an_ir_alike():
    ir = compiled()
    assert ir["hash"] == ir_hash(ir)
    edited = copy.deepcopy(ir)
    edited["entities"]["Photo"]["key"] = "url"
    assert rehash(edited)["hash"] == ir_hash(edited) != ir["hash"]


GOOD = {"id": "L1", "price": None, "count": 2, "sold": False, "seen": "2026-01-01T00:00:00Z",
        "extra": {"any": [1]}, "photos": [{"id": "p1", "url": "u", "tags": []}], "cover": "p1"}
# A bad record, and where the runtime says its first problem is: the same JSON path that
# jsonschema gives the compiler's IR check, from the top of the body, and the offending
# value spelled as JSON (issue 11: never a Python repr).
BAD = [
    ({**GOOD, "count": "2"}, "$.data.count", 'expected an integer, got "2"'),
    ({**GOOD, "photos": [{"id": "p1", "url": 3, "tags": []}]}, "$.data.photos[0].url",
     "expected a string, got 3"),
    ({k: v for k, v in GOOD.items() if k != "sold"}, "$.data", 'missing required field "sold"'),
    ({**GOOD, "cover": True}, "$.data.cover", "expected a string, an integer, an object or null, got true"),
]


def test_the_compiler_names_a_bad_ir_by_the_same_json_path():
    from compiler.validate import validate_ir
    from dsl.ast import Span
    from dsl.diagnostics import Collector

    ir = compiled()
    ir["entities"]["Photo"]["fields"]["tags"]["list"] = "yes"
    diags = Collector()
    assert not validate_ir(ir, diags, Span("a.swf", 1, 1, 1, 1))
    (found,) = diags.sorted()
    assert f"at {json_path(['entities', 'Photo', 'fields', 'tags', 'list'])}: 'yes' is not of type" \
        in found.message


@pytest.mark.parametrize("record,path,message", BAD)
def test_a_bad_record_is_named_by_its_json_path(record, path, message):
    with pytest.raises(InvalidData) as err:
        normalize(ir_mod.load(compiled()), "Listing", record, ["data"])
    assert (err.value.path, err.value.reason) == (path, message)


def test_a_good_record_normalizes():
    rid, store = normalize(ir_mod.load(compiled()), "Listing", GOOD)
    assert rid == "L1" and set(store) == {"Listing", "Photo"}


def _containers(kids):
    keys = st.sampled_from(["id", "url", "tags", "x"])
    return st.lists(kids, max_size=3) | st.dictionaries(keys, kids, max_size=3)


SCALAR = (st.none() | st.booleans() | st.integers(-3, 3) | st.floats(-1, 2)
          | st.sampled_from(["", "x", "2026-01-01T00:00:00Z", "p1"]))
VALUE = st.recursive(SCALAR, _containers, max_leaves=6)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(["Listing", "Photo"]), st.sampled_from(sorted(GOOD) + ["new"]), VALUE,
       st.booleans())
def test_the_record_fast_path_agrees_with_jsonschema(entity, field, value, delete):
    schema = compiled()["entities"][entity]["schema"]
    record = json.loads(json.dumps(GOOD if entity == "Listing" else GOOD["photos"][0]))
    if delete:
        record.pop(field, None)
    else:
        record[field] = value
    assert accept_path(schema)(record) == Draft202012Validator(schema).is_valid(record)
