"""The search attributes that make a hierarchy visible in Temporal's Web UI and CLI.

Stage: shared by the CLI (registers the attributes, starts roots with them), the delivery
activity (starts children with them) and the interpreter (keeps `SwfcStatus` current).
Takes and gives plain `{name: value}` dicts at the boundaries (activity inputs are JSON);
`typed` turns one into the SDK's `TypedSearchAttributes`.

Every workflow of a hierarchy carries five Keyword attributes:
- `SwfcRoot`: the workflow id of its root (the root's own id on the root);
- `SwfcParent`: the id of the workflow that started it (absent on a root);
- `SwfcSpec`: the deployment's name (the spec file's stem);
- `SwfcStatus`: the status it settled in (`waiting_for_token`, `error`, `running`, ...),
  upserted when it settles in another one, so a refresh that loads and succeeds as before
  adds nothing to history. `starting` until it first settles.
- `SwfcProblem`: the kind of the error a workflow holds as its `last_error` (`signal`,
  `load`, `list`, `item`, `child`, `input`: what `Ctx.error` records), `none` while it holds
  none. So a workflow that keeps `running` with a recorded problem (a refused signal) is
  found by a visibility query, at any hierarchy size, as the `status` query and `--tree`
  show it (`runtime.status_tree.needs_attention`: its `last_error` is set). It is cleared
  when `last_error` is: a good load answers a failed load, a good listing a failed listing;
  a refused signal or a failed child start stays until a later error of a load or listing is
  answered that way. A kind, not the message: a kind is one of a few words written in the
  code, never text from a request, a response or a signal, so it cannot hold a token; and a
  kind changes far less often than the time of the last error would (the same signal
  refused a hundred times upserts once). Upserted with `SwfcStatus`, in one command, only
  when one of them changes.

A workflow carries them only if it was started with them: the CLI starts roots with them
once the namespace has them, and a parent hands its own down to the children it starts.
So a namespace without them (an operator who may not create them) runs exactly as before,
and no workflow ever upserts an attribute the server does not know (which would fail its
workflow tasks). The same holds for `SwfcProblem` alone: it came after the other four, so a
namespace may have the four without it (its Keyword attributes used up): roots then start
with the four, and a workflow started without `SwfcProblem` (there, or before it existed)
never upserts it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from temporalio.common import SearchAttributeKey, SearchAttributePair, TypedSearchAttributes

ROOT, PARENT, SPEC, STATUS, PROBLEM = "SwfcRoot", "SwfcParent", "SwfcSpec", "SwfcStatus", "SwfcProblem"
NAMES = (ROOT, PARENT, SPEC, STATUS, PROBLEM)
STARTING = "starting"
NO_PROBLEM = "none"
KEYS = {name: SearchAttributeKey.for_keyword(name) for name in NAMES}


def for_root(workflow_id: str, spec: str, *, with_problem: bool = True) -> dict[str, str]:
    """The attributes a root starts with (without `SwfcProblem` where the namespace lacks it)."""
    return {ROOT: workflow_id, SPEC: spec, STATUS: STARTING, **({PROBLEM: NO_PROBLEM} if with_problem else {})}


def for_child(parent: TypedSearchAttributes, parent_id: str) -> dict[str, str] | None:
    """The attributes a child of `parent_id` starts with: its parent's root and spec, and
    `SwfcProblem` if the parent has it; None when the parent has none (the namespace may
    not know them)."""
    root, spec = parent.get(KEYS[ROOT]), parent.get(KEYS[SPEC])
    if root is None:
        return None
    problem = {PROBLEM: NO_PROBLEM} if parent.get(KEYS[PROBLEM]) is not None else {}
    return {ROOT: root, PARENT: parent_id, SPEC: spec or "", STATUS: STARTING, **problem}


def updates(current: TypedSearchAttributes, status: str, problem: str | None) -> list[Any]:
    """The upsert that records `status` and `problem` (the kind of the error held, None for
    none): [] when both are recorded already or the workflow carries no swfc attributes;
    `SwfcProblem` only if the workflow was started with it."""
    if current.get(KEYS[ROOT]) is None:
        return []
    changed = [] if current.get(KEYS[STATUS]) == status else [KEYS[STATUS].value_set(status)]
    held = current.get(KEYS[PROBLEM])
    if held is not None and held != (problem or NO_PROBLEM):
        changed.append(KEYS[PROBLEM].value_set(problem or NO_PROBLEM))
    return changed


def typed(values: Mapping[str, str] | None) -> TypedSearchAttributes | None:
    """`{name: value}` as the SDK takes it at a start (None for none)."""
    if not values:
        return None
    return TypedSearchAttributes([SearchAttributePair(KEYS[name], value) for name, value in values.items()])


# A cluster on SQL visibility may refuse attributes created a moment ago until its namespace
# cache refreshes (about 10 s; temporalio/temporal#4017, #6195): a start waits that long.
SETTLING_WAITS = (0.5, 1, 2, 4, 4)


def not_yet_known(exc: Exception) -> bool:
    """True if a start was refused because the server does not know an attribute (yet)."""
    return "no mapping defined for search attribute" in str(getattr(exc, "message", exc))


def create_command(namespace: str, names: list[str]) -> str:
    """The command an operator runs to create `names` (as Temporal's CLI spells it)."""
    names_flags = " ".join(f"--name {name}" for name in names)
    return f"temporal operator search-attribute create --namespace {namespace} {names_flags} --type Keyword"


@dataclass(frozen=True)
class NotRegistered:
    """Attributes missing on `namespace` that could not be created here (no permission,
    Temporal Cloud, the namespace's limit of Keyword attributes): `reason` is the server's,
    `command` the one an operator runs to create them."""

    namespace: str
    missing: tuple[str, ...]
    reason: str

    @property
    def command(self) -> str:
        return create_command(self.namespace, list(self.missing))

    @property
    def only_problem(self) -> bool:
        """Only `SwfcProblem` is missing: roots still start with the other four."""
        return self.missing == (PROBLEM,)


async def ensure_registered(client: Any) -> NotRegistered | None:
    """Make sure the client's namespace has the five attributes, creating the missing ones.

    Returns:
        None when they are there (now); else what is missing and why it could not be created.
    """
    from temporalio.api.enums.v1 import IndexedValueType
    from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
    from temporalio.service import RPCError

    namespace, missing = client.namespace, list(NAMES)
    try:
        listed = await client.operator_service.list_search_attributes(
            ListSearchAttributesRequest(namespace=namespace))
        missing = [n for n in NAMES if n not in listed.custom_attributes]
        if missing:
            await client.operator_service.add_search_attributes(AddSearchAttributesRequest(
                namespace=namespace,
                search_attributes={n: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD for n in missing}))
    except RPCError as exc:
        return NotRegistered(namespace, tuple(missing), exc.message)
    return None
