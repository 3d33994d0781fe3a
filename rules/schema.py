"""A fast accept-path for JSON Schema: a schema compiled into Python closures.

Stage: a pure rule shared by `compiler/validate.py` (the IR against `ir.schema.json`) and
`runtime/normalize.py` (each record against its entity's schema, on every load and
`update`). jsonschema's `Draft202012Validator` stays the authority: it checks the schema
itself and words every error. But it pays ~10 µs of bookkeeping per node: ~3 ms for a
record of 80 fields, 0.8 s for the IR of a 10,000-line spec. This module compiles the
keywords those schemas use (and only those: any other keyword raises `Unsupported`, and
the caller then uses jsonschema alone) into one predicate. When the predicate accepts, the
value is valid; when it rejects, the caller asks jsonschema why. Tests check the two agree
on every example IR and record and on many mutated ones (tests/compiler/test_ir_schema_fast_path.py,
tests/rules/test_shared_rules.py); bench/record_validation.py measures the gain.
Standard library only.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable

Check = Callable[[object], bool]

OBJECT = {"required", "properties", "additionalProperties", "propertyNames"}
ANNOTATIONS = {"$schema", "$id", "$defs", "title", "description", "format", "$comment"}
TYPES: dict[str, Check] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool))
    or (isinstance(v, float) and v.is_integer()),
}

# The JSON types that are exactly one Python class each (`bool` is not an int here: True
# is no `integer`, and 1 is no `boolean`, since `isinstance(1, bool)` is False).
CLASSES: dict[str, type] = {"object": dict, "array": list, "string": str, "boolean": bool,
                            "null": type(None)}


def accept(v) -> bool:
    return True


class Unsupported(Exception):
    """The schema uses a keyword this module does not compile."""


def json_equal(a, b) -> bool:
    """Equality as JSON means it: `true` is not `1`."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(map(json_equal, a, b))
    return a == b


class Compiler:
    """Compiles one schema document; `$ref`s to `#/$defs/NAME` are compiled once each."""

    def __init__(self, root: dict):
        self.root = root
        self.refs: dict[str, Check] = {}

    def ref(self, ref: str) -> Check:
        if not ref.startswith("#/$defs/"):
            raise Unsupported(ref)
        if ref not in self.refs:
            self.refs[ref] = lambda v: target(v)  # placeholder for recursive schemas
            target = self.compile(self.root["$defs"][ref[len("#/$defs/"):]])
            self.refs[ref] = target
        return self.refs[ref]

    def compile(self, schema) -> Check:
        if schema is True or schema == {}:
            return accept
        if schema is False:
            return lambda v: False
        rest = {k: v for k, v in schema.items() if k not in ANNOTATIONS and k not in OBJECT}
        checks = [self.keyword(k, val, schema) for k, val in rest.items()]
        if OBJECT & schema.keys():
            checks.append(self.object(schema))
        checks = [c for c in checks if c is not None]
        if len(checks) == 1:
            return checks[0]
        if len(checks) == 2:
            first, second = checks
            return lambda v: first(v) and second(v)
        return lambda v: all(c(v) for c in checks)

    def keyword(self, key: str, val, schema: dict) -> Check | None:
        method = getattr(self, "kw_" + key.lstrip("$"), None)
        if method is None:
            raise Unsupported(key)
        return method(val, schema)

    def kw_ref(self, val, schema):
        return self.ref(val)

    def kw_type(self, val, schema):
        names = [val] if isinstance(val, str) else list(val)
        if all(n in CLASSES for n in names):  # one isinstance for `["string", "null"]` and the like
            classes = tuple(CLASSES[n] for n in names)
            return lambda v: isinstance(v, classes)
        tests = [TYPES[t] for t in names]
        if len(tests) == 1:
            return tests[0]
        return lambda v: any(t(v) for t in tests)

    def kw_const(self, val, schema):
        return lambda v: json_equal(v, val)

    def kw_enum(self, val, schema):
        return lambda v: any(json_equal(v, e) for e in val)

    def kw_pattern(self, val, schema):
        search = re.compile(val).search
        return lambda v: not isinstance(v, str) or search(v) is not None

    def kw_minLength(self, val, schema):
        return lambda v: not isinstance(v, str) or len(v) >= val

    def kw_minimum(self, val, schema):
        return lambda v: not TYPES["number"](v) or v >= val

    def kw_minItems(self, val, schema):
        return lambda v: not isinstance(v, list) or len(v) >= val

    def kw_uniqueItems(self, val, schema):
        if not val:
            return None
        canon = lambda x: json.dumps(x, sort_keys=True)  # noqa: E731
        return lambda v: not isinstance(v, list) or len({canon(x) for x in v}) == len(v)

    def kw_items(self, val, schema):
        item = self.compile(val)
        return lambda v: not isinstance(v, list) or all(map(item, v))

    def object(self, schema: dict) -> Check:
        """`required`, `properties`, `additionalProperties` and `propertyNames` in one
        loop over the object's items (the shape of every object in the IR schema)."""
        if "patternProperties" in schema:
            raise Unsupported("patternProperties")
        required = tuple(schema.get("required", ()))
        props = {k: self.compile(sub) for k, sub in schema.get("properties", {}).items()}
        extra = self.compile(schema.get("additionalProperties", True))
        name = self.compile(schema["propertyNames"]) if "propertyNames" in schema else None

        def check(v) -> bool:
            if not isinstance(v, dict):
                return True  # these keywords say nothing about other types
            for k in required:
                if k not in v:
                    return False
            for k, x in v.items():
                if not props.get(k, extra)(x) or (name is not None and not name(k)):
                    return False
            return True

        return check

    def kw_oneOf(self, val, schema):
        subs = [self.compile(s) for s in val]
        return lambda v: sum(1 for s in subs if s(v)) == 1

    def kw_anyOf(self, val, schema):
        subs = [self.compile(s) for s in val]
        return lambda v: any(s(v) for s in subs)


def compile_schema(schema: dict) -> Check:
    """A predicate that is True exactly when `schema` accepts the instance.

    Raises:
        Unsupported: the schema uses a keyword not compiled here.
    """
    return Compiler(schema).compile(schema)


def accept_path(schema: dict) -> Check | None:
    """`compile_schema(schema)`, or None when the schema needs jsonschema alone."""
    try:
        return compile_schema(schema)
    except Unsupported:
        return None
