"""The shape of a workflow's input (docs/runtime.md "Workflow input"). Pure.

Stage: read by the interpreter at the start of every run, before anything else. `swfc
deploy`, a parent and continue-as-new always send the right shape; a workflow started by
hand (`temporal workflow start --input ...`) may not. A wrong shape is found here, once,
so that the run can end clearly (a failed workflow saying what is wrong) instead of a
workflow task failing on it again and again. Messages name fields, never their values.
"""

from __future__ import annotations

from typing import Any, Callable

HOW_SWFC_STARTS = ("swfc starts its workflows with `swfc deploy SPEC` "
                   "(the input it gives them: docs/runtime.md, \"Workflow input\")")


def _text(v: Any) -> bool:
    return isinstance(v, str) and v != ""


def _texts(v: Any) -> bool:
    return isinstance(v, list) and all(_text(x) for x in v)


def _url_map(v: Any) -> bool:
    return isinstance(v, dict) and all(isinstance(x, str) for x in v.values())


def _positive_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v > 0


# field → (check, what it must be); every field may also be absent or null.
FIELDS: dict[str, tuple[Callable[[Any], bool], str]] = {
    "ir_hash": (_text, "the hash of a registration (text)"),
    "entity_id": (_text, "the entity's key (text)"),
    "data": (lambda v: isinstance(v, dict), "a record (object)"),
    "tokens": (lambda v: isinstance(v, dict), "an object of sealed tokens by api"),
    "api_bases": (_url_map, "an object of base URLs by api"),
    "ancestors": (_texts, "a list of workflow ids"),
    "subscribers": (lambda v: isinstance(v, list), "a list of subscribers"),
    "history_limit": (_positive_int, "a positive integer"),
    "loaded": (lambda v: isinstance(v, bool), "true or false (whether `data` is fresh from the API)"),
    "given": (lambda v: isinstance(v, dict), "an object of field values (a root's `with` values)"),
    "carried": (lambda v: isinstance(v, dict), "a carried state (object)"),
}


def shape_problems(inp: Any) -> list[str]:
    """What is wrong with the input's shape (empty if nothing): not an object, or a known
    field of the wrong type. A missing `ir_hash` is not among them (see `foreign_fields`
    and the interpreter: a hand-started workflow may still be adopted)."""
    if not isinstance(inp, dict):
        return ["the input is not a JSON object"]
    problems = [f"`{name}` must be {what}" for name, (ok, what) in FIELDS.items()
                if inp.get(name) is not None and not ok(inp[name])]
    if inp.get("carried") is not None and inp.get("ir_hash") is None:
        problems.append("`carried` comes with the `ir_hash` it was carried under (continue-as-new)")
    return problems


def foreign_fields(inp: dict[str, Any], shown: int = 10) -> list[str]:
    """The input's fields that swfc does not know (another library's start parameters),
    the first `shown` of them by name (cut to 40 characters), then how many more."""
    names = sorted(str(k)[:40] for k in inp if k not in FIELDS)
    return names[:shown] + ([f"{len(names) - shown} more"] if len(names) > shown else [])
