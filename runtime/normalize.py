"""API data → the normalized entity store. Pure and deterministic.

Stage: called by the HTTP activity on a response body, and by the workflow on records that
arrive by `update` signal. Takes an `IR`, an entity name and a JSON value; gives
`(record_id, store)` where `store` is `{Entity: {id: record}}`, every nested entity
extracted into its own table and every relation holding ids (strings) only.
Each record is validated against its entity's JSON Schema first (the compiled predicate of
`rules.schema` accepts a valid one, ~50x faster than jsonschema; jsonschema words a problem);
the first problem is reported with its JSON path from the top of the body
(`$.data.listings[1].photos[0].url`) and at most `MAX_SHOWN` characters of the offending
value, spelled as JSON (`null`, `true`): never a whole body, never a Python repr.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from jsonschema import Draft202012Validator, ValidationError

from rules.ir import json_path
from rules.schema import accept_path
from runtime.ir import IR, Entity

Store = dict[str, dict[str, dict[str, Any]]]


class _RecordSchema:
    """An entity's schema, compiled once per process: the fast predicate decides a valid
    record, jsonschema (built only when a record fails it) says what is wrong."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema
        self.accepts: Callable[[Any], bool] | None = accept_path(schema)
        self._validator: Draft202012Validator | None = None

    def errors(self, value: Any) -> list[Any]:
        if self.accepts is not None and self.accepts(value):
            return []
        if self._validator is None:
            self._validator = Draft202012Validator(self.schema)
        return list(self._validator.iter_errors(value))


_SCHEMAS: dict[tuple[str, str], _RecordSchema] = {}
MAX_SHOWN = 120
_TYPE_WORDS = {"object": "an object", "array": "a list", "string": "a string", "integer": "an integer",
               "number": "a number", "boolean": "true or false", "null": "null"}


class InvalidData(ValueError):
    """Data does not match its entity: `path` is the JSON path of the first problem."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path
        self.reason = message


def digest(value: Any) -> str:
    """A short stable hash of a JSON value (what a peer is believed to know)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    # surrogatepass: JSON may hold a lone surrogate (`"\ud83d"`, a string a JavaScript
    # service cut inside an emoji); valid text encodes to the same bytes either way.
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def shown(value: Any) -> str:
    """A JSON value as an error message quotes it: JSON, at most `MAX_SHOWN` characters."""
    return cut(json.dumps(value, ensure_ascii=False, default=str))


def cut(text: str) -> str:
    """Text an error message quotes as it is (a workflow id made of an API's key): at most
    `MAX_SHOWN` characters, a lone surrogate spelled as JSON spells it (`\\ud83d`), so that
    the text prints and encodes wherever it goes."""
    text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text if len(text) <= MAX_SHOWN else text[:MAX_SHOWN - 1] + "…"


def problem(error: ValidationError) -> str:
    """What a JSON Schema error means, in words and JSON (jsonschema's own message is a
    Python repr of the whole offending value, however large)."""
    kind, expected, value = error.validator, error.validator_value, error.instance
    if kind == "type":
        return f"expected {_types(expected)}, got {shown(value)}"
    if kind == "anyOf":
        types = [t for sub in expected for t in _as_list(sub.get("type"))]
        return f"expected {_types(types)}, got {shown(value)}"
    if kind == "required" and isinstance(value, dict):
        missing = next((k for k in expected if k not in value), None)
        return f"missing required field {shown(missing)}"
    if kind == "enum":
        return f"expected one of {shown(expected)}, got {shown(value)}"
    return f"{shown(value)} does not satisfy {kind} {shown(expected)}"


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [] if value is None else [value]


def _types(types: Any) -> str:
    words = list(dict.fromkeys(_TYPE_WORDS.get(t, str(t)) for t in _as_list(types)))
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def select(body: Any, path: tuple[str, ...] | None) -> tuple[Any, list[Any]]:
    """Walk `select` into a response body; returns the value and the path walked."""
    walked: list[Any] = []
    for key in path or ():
        if not isinstance(body, dict) or key not in body:
            got = f"an object without {shown(key)}" if isinstance(body, dict) else shown(body)
            raise InvalidData(json_path(walked), f"`select` expected an object with {shown(key)}, got {got}")
        body = body[key]
        walked.append(key)
    return body, walked


def normalize(ir: IR, entity: str, value: Any, at: list[Any] | None = None) -> tuple[str, Store]:
    """Validate `value` as a record of `entity` and extract its nested entities.

    Args:
        ir: the registration (entities and their schemas).
        entity: the entity `value` is a record of.
        value: the record as an API gives it (relations as ids or nested objects).
        at: the JSON path of `value` inside the body, for error messages.
    Returns:
        The record's id and the store holding it and everything nested in it.
    Raises:
        InvalidData with the path of the first problem.
    """
    deep = too_deep(value)
    if deep is not None:
        raise InvalidData(cut(json_path([*(at or []), *deep])), f"nested deeper than {MAX_DEPTH} levels")
    store: Store = {}
    rid = _extract(ir, ir.entities[entity], value, list(at or []), store)
    return rid, store


MAX_DEPTH = 100  # objects and lists within a record: the workflow's own code walks records recursively


def too_deep(value: Any, limit: int = MAX_DEPTH) -> list[Any] | None:
    """The path to the first value nested deeper than `limit` objects and lists, or None.
    A record any deeper would stop the workflow code that copies and compares records
    (Python's recursion limit) and fail its workflow task, so it is refused as invalid here,
    where a bad record is a recorded error. Walked without recursion."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return _path_to_depth(value, limit + 1)
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
    return None


def _path_to_depth(value: Any, depth: int) -> list[Any]:
    """The path of the first value at `depth` (one is known to exist)."""
    stack: list[tuple[Any, list[Any]]] = [(value, [])]
    while stack:
        node, path = stack.pop()
        if len(path) == depth:
            return path
        if isinstance(node, dict):
            stack.extend((v, [*path, k]) for k, v in reversed(node.items()))
        elif isinstance(node, list):
            stack.extend((v, [*path, i]) for i, v in reversed(list(enumerate(node))))
    return []


def _extract(ir: IR, ent: Entity, value: Any, at: list[Any], store: Store) -> str:
    _validate(ir, ent, value, at)
    record = dict(value)
    for name in ent.collections:  # filled from its own list endpoint, never from a body
        record.pop(name, None)
    for rel in ent.relations:
        if rel.name not in record or record[rel.name] is None:
            continue
        target = ir.entities[rel.type]
        if rel.list:
            record[rel.name] = [
                _ref(ir, target, v, at + [rel.name, i], store) for i, v in enumerate(record[rel.name])
            ]
        else:
            record[rel.name] = _ref(ir, target, record[rel.name], at + [rel.name], store)
    rid = str(record[ent.key])  # the store is keyed by text; the record keeps the key's own type
    table = store.setdefault(ent.name, {})
    table[rid] = {**table.get(rid, {}), **record}
    return rid


def _ref(ir: IR, target: Entity, value: Any, at: list[Any], store: Store) -> str:
    if isinstance(value, dict):
        return _extract(ir, target, value, at, store)
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidData(json_path(at), f"a {target.name} reference must be an id or an object, got {shown(value)}")
    return str(value)


def _validate(ir: IR, ent: Entity, value: Any, at: list[Any]) -> None:
    key = (ir.hash, ent.name)
    schema = _SCHEMAS.get(key)
    if schema is None:
        schema = _SCHEMAS[key] = _RecordSchema(dict(ent.schema))
    errors = schema.errors(value)
    if not errors:
        if value.get(ent.key) in (None, ""):
            raise InvalidData(json_path(at + [ent.key]), f"{ent.name} key {shown(ent.key)} is empty")
        return
    first = min(errors, key=lambda e: (len(e.absolute_path), [str(p) for p in e.absolute_path]))
    raise InvalidData(json_path(at + list(first.absolute_path)), problem(first))


def merge_stores(into: Store, other: Store) -> bool:
    """Merge `other` into `into` record by record (shallow); True if anything changed."""
    changed = False
    for entity, table in other.items():
        dest = into.setdefault(entity, {})
        for rid, record in table.items():
            merged = {**dest.get(rid, {}), **record}
            if dest.get(rid) != merged:
                dest[rid] = merged
                changed = True
    return changed


def nested(ir: IR, entity: str, record: dict[str, Any], store: Store,
           leave: frozenset[tuple[str, str]] = frozenset()) -> dict[str, Any]:
    """`record` (a record of `entity` in `store`) as a body would give it: each relation's
    key replaced by the related record `store` holds, nested the same way; `normalize` of
    the result gives back `record` and those records. Each record is nested once (a later
    reference, a cycle, and `leave` keep the key); relations filled by a collection, which a
    body never carries, keep their keys.

    A child started with an item of its parent's collection takes the item this way, so that
    it holds what its own load of the same body would give (`{user.login}`, the embedded
    user's record) and not keys to records it lacks."""
    return _nested(ir, ir.entities[entity], record, store, set(leave))


def _nested(ir: IR, ent: Entity, record: dict[str, Any], store: Store, seen: set[tuple[str, str]]) -> dict[str, Any]:
    out = dict(record)
    for rel in ent.relations:
        if rel.collection or out.get(rel.name) is None:
            continue
        if rel.list:
            out[rel.name] = [_nested_ref(ir, rel.type, rid, store, seen) for rid in out[rel.name]]
        else:
            out[rel.name] = _nested_ref(ir, rel.type, out[rel.name], store, seen)
    return out


def _nested_ref(ir: IR, entity: str, rid: Any, store: Store, seen: set[tuple[str, str]]) -> Any:
    related = store.get(entity, {}).get(str(rid))
    if related is None or (entity, str(rid)) in seen:
        return rid
    seen.add((entity, str(rid)))
    return _nested(ir, ir.entities[entity], related, store, seen)
