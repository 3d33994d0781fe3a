"""URL templates (RFC 6570, through `uritemplate`): the values a template names, and the URL.

Stage: pure; used by the interpreter (to gather a template's values from the state it holds
and check where the URL goes before any activity is scheduled) and by the HTTP activity
(which expands again from the same values, so what it checked is what it requests).

A name is a field of a record; a dotted name `owner.login` follows a relation to the
related record in the store (an embedded object was extracted there by `normalize`) or
walks into a `json` field. `{x}` escapes reserved characters (`a/b` -> `a%2Fb`), `{+x}`
keeps them. A template that expands to an absolute URL is used as it is; any other is a
path under the api's base URL.
"""

from __future__ import annotations

from typing import Any

from uritemplate import URITemplate

from runtime.ir import IR
from runtime.normalize import Store

ABSOLUTE = ("http://", "https://")


def template_values(ir: IR, entity: str, record: dict[str, Any], store: Store,
                    names: tuple[str, ...]) -> tuple[dict[str, str], list[str]]:
    """The value of every name of a template, read from `record` (a record of `entity`).

    Returns:
        `(values, missing)`: the names with a scalar value, as text; the names without one
        (absent, null, or not a scalar), in order.
    """
    values: dict[str, str] = {}
    missing: list[str] = []
    for name in names:
        value = _follow(ir, entity, record, store, name.split("."))
        if isinstance(value, bool):
            values[name] = "true" if value else "false"
        elif isinstance(value, (str, int, float)) and value != "":
            values[name] = str(value)
        else:
            missing.append(name)
    return values, missing


def _follow(ir: IR, entity: str | None, value: Any, store: Store, segments: list[str]) -> Any:
    """Walk `segments` from a record of `entity` (None: inside a `json` value)."""
    for i, seg in enumerate(segments):
        if not isinstance(value, dict):
            return None
        f = ir.entities[entity].field(seg) if entity is not None else None
        value = value.get(seg)
        if f is None or f.kind != "relation" or i == len(segments) - 1:
            entity = None
            continue
        entity = f.type
        if not isinstance(value, dict):  # a relation holds the related record's key
            value = store.get(f.type, {}).get(str(value)) if value is not None else None
    return value


def expand(base: str, template: str, values: dict[str, str]) -> str:
    """The URL of `template` with `values`: absolute as expanded, else under `base`."""
    expanded = URITemplate(template).expand(values)
    if expanded.startswith(ABSOLUTE):
        return expanded
    return base.rstrip("/") + expanded


def is_absolute(template: str, values: dict[str, str]) -> bool:
    """Whether `template` expands to an absolute URL (not one under the api's base): then
    its origin must be in the api's `allow` whether or not a token goes with it."""
    return URITemplate(template).expand({k: str(v) for k, v in values.items()}).startswith(ABSOLUTE)
