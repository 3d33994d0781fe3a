"""The runtime's protocol: every value that crosses a boundary between workflows, the
worker's activities and the caller, as a type. Pure (no temporalio).

Stage: shared by the interpreter, its pure helpers (`children`, `signals`, `queries`,
`upgrade`), the `deliver_effects` activity and the client. What it holds:
- `Status`: the status values a workflow shows;
- `WorkflowInput`: a workflow's input (docs/runtime.md "Workflow input"), its shape checked
  once (`WorkflowInput.parse`);
- `Subscription`, `Subscriber`, `ChildRef`: who hears of a workflow's changes, and what a
  parent knows of each child (`WorkflowState.subscribers` / `children`);
- the effects of a round (`Start`, `Send`, `Cancel`, `Upgrade`), the `DeliveryItem` each
  becomes for `deliver_effects`, and its `DeliveryResult`;
- `StatusAnswer`: the answer of the `status` query;
- `StatusNode`: one workflow of the tree `swfc status` walks and shows (DESIGN.md §5).

The wire shape is the JSON of each dataclass's fields (as the SDK's converter writes a
dataclass), under the names and with the meanings of the dict shapes before these types:
histories recorded then replay, and workflows started then carry on. Every field added since
has a default, so that a payload written before it still decodes; unknown keys are ignored.
The hot ones (`to_json` / `from_json`) are written and read here, shallow: the SDK's own
dataclass conversion copies every record deeply and resolves type hints per value (a round
of 10,000 starts: seconds of a workflow task).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from enum import StrEnum
from typing import Any, Callable, Union


class Status(StrEnum):
    """What a workflow is doing; shown by `status` and set as the `SwfcStatus` attribute."""

    LOADING = "loading"
    RUNNING = "running"
    WAITING_FOR_TOKEN = "waiting_for_token"
    RATE_LIMITED = "rate_limited"
    ERROR = "error"
    UPGRADING = "upgrading"
    DELETED = "deleted"
    UNREACHABLE = "unreachable"  # the caller's word for a workflow that does not answer


def _known(cls: type, d: dict[str, Any]) -> dict[str, Any]:
    """The entries of `d` that are fields of `cls` (a newer writer's extra keys are ignored)."""
    names = cls.__dataclass_fields__  # type: ignore[attr-defined]
    return {k: v for k, v in d.items() if k in names}


def _shallow(obj: Any) -> dict[str, Any]:
    """A dataclass's fields as a dict, the values as they are (no deep copy)."""
    return {name: getattr(obj, name) for name in obj.__dataclass_fields__}


# -- subscribers and children ----------------------------------------------------------------


@dataclass(slots=True)
class Subscription:
    """`{"workflow_id", "selectors"}`: a workflow to tell of changes that match `selectors`.
    The argument of the `subscribe` signal, and an entry of an input's `subscribers`."""

    workflow_id: str
    selectors: list[str]


@dataclass(slots=True)
class Subscriber:
    """A subscriber as its workflow holds it (by workflow id): its selectors and `known`,
    the digest of the record it is believed to hold (it is sent no echo of its own change)."""

    selectors: list[str]
    known: str | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Subscriber:
        return cls(**_known(cls, d))

    def to_dict(self) -> dict[str, Any]:
        return _shallow(self)


@dataclass(slots=True)
class ChildRef:
    """What a parent knows of a child (by workflow id): the relation `field` it is on, its
    `workflow` type, `entity` and `id`; `owned` when this parent started it; `known` the
    digest of the record the child is believed to hold; `deployment` the deployment the
    child runs for, once a delivery has learnt it (None: not known yet)."""

    field: str
    workflow: str
    entity: str
    id: str
    owned: bool = False
    known: str | None = None
    deployment: str | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ChildRef:
        return cls(**_known(cls, d))

    def to_dict(self) -> dict[str, Any]:
        return _shallow(self)


# -- the workflow input --------------------------------------------------------------------

# How a run paces its work depends on the generation its hierarchy began under (carried by
# every input and every continue-as-new), never on the code of the worker that replays it: a
# change of pace needs no patch marker (each costs every run that meets it two events).
#   1 (an input without `generation`): rounds of 50 new children, 100 effects per delivery;
#   2: rounds of 200 new children, 200 effects per delivery (1 + 200 loads in one round);
#   3: as 2, and no more new subscribed children started than `REPORT_WINDOW` owe their first
#      `update` (runtime.interpreter): a parent that started 7,000 of 10,000 children in its
#      first two minutes had its task queued behind their thousands of tasks for minutes (a
#      refused continue-as-new loses the sticky queue), meanwhile 5,900 `update`s arrived,
#      and the one activation that took them all ran past the deadlock detector on every
#      retry: the parent never ran again.
#   4: as 3, and a run asks for no patch (`workflow.patched`) it is past: it checks its
#      children's deployment and, started with its record, counts its parent as holding it.
#      Each patch a run met cost a marker and a `TemporalChangeVersion` upsert (a visibility
#      write): two of a child's 14 events, 20,000 events and 10,000 writes for 10,000 children.
#   5: as 4, and a run that continues as new while its report-window timer is still to fire
#      cancels that timer and continues as new in the next workflow task (runtime.interpreter
#      `_continue_as_new_unless_signalled`): a parent with a big store takes seconds to
#      continue as new (its input is encoded and stored), and a timer that fired meanwhile
#      had the server refuse it (`UnhandledCommand`: 7 of 16 continue-as-new tasks of a
#      parent of 10,000 records of 16 KB), each refusal a replay of the run.
GENERATION = 5

# Every swfc workflow's workflow task timeout (Temporal's default: 10 s). A parent of
# thousands replays a run of ~5,000 events of 2 KB `update`s in about 7 s on a quiet worker
# (the SDK's share: ~1.3 ms an event), and must replay it after each eviction, including the
# one that follows a continue-as-new refused because signals arrived meanwhile; at 10 s, on
# a busy worker, such replays timed out and were started over (16 timeouts in one 1 + 10,000
# run of bench/scale.py). 60 s is within Temporal's maximum (120 s); the price: a task taken
# by a worker that dies during it is handed to another one after 60 s, not 10.
WORKFLOW_TASK_TIMEOUT = timedelta(seconds=60)

# ... except a leaf's (a workflow type with no child edges): its runs hold no children's
# `update`s, so its longest replay (a run of refreshes up to its history limit) is a few
# seconds. What a shorter timeout buys: a task the server hands to a worker whose poll has
# just given up (an overloaded server matches it at the poll's deadline) is lost, and runs
# again only when its timeout has passed. 1 to 4 members of 10,000 met that in each run of
# bench/scale.py (fewer since children start eagerly: `runtime.delivery`; none since the dev
# server that `deploy` starts has one partition per task queue, but a cluster's have several),
# and the hierarchy finished loading up to 60 s late.
LEAF_TASK_TIMEOUT = timedelta(seconds=20)


def task_timeout(leaf: bool) -> timedelta:
    """The workflow task timeout of a run of a leaf (`leaf`) or of a workflow with children."""
    return LEAF_TASK_TIMEOUT if leaf else WORKFLOW_TASK_TIMEOUT


HOW_SWFC_STARTS = ("swfc starts its workflows with `swfc deploy SPEC` "
                   "(the input it gives them: docs/runtime.md, \"Workflow input\")")


@dataclass
class WorkflowInput:
    """A workflow's input; only `ir_hash` is required (docs/runtime.md "Workflow input").

    `entity_id` (None: the workflow id minus `<Entity>-`), `data` the record its parent
    knows, `loaded` whether that is fresh from the API, `given` a root's `with` values,
    `tokens` sealed tokens by api, `api_bases` the deployment's bases, `ancestors` the
    workflow ids above it (root first), `subscribers`, `history_limit` (None: the default),
    `deployment` its deployment's name, `generation` the one its hierarchy began under
    (`GENERATION`; None: 1), `carried` the whole state on continue-as-new.
    """

    ir_hash: str | None = None
    entity_id: str | None = None
    data: dict[str, Any] | None = None
    loaded: bool = False
    given: dict[str, Any] = field(default_factory=dict)
    tokens: dict[str, Any] = field(default_factory=dict)
    api_bases: dict[str, str] = field(default_factory=dict)
    ancestors: list[str] = field(default_factory=list)
    subscribers: list[Subscription] = field(default_factory=list)
    history_limit: int | None = None
    deployment: str | None = None
    generation: int | None = None
    carried: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        return {**_shallow(self), "subscribers": [_shallow(sub) for sub in self.subscribers]}

    @classmethod
    def parse(cls, raw: Any) -> WorkflowInput:
        """The input of a run, from what it was started with.

        A workflow started by hand may send anything: a wrong shape raises `InvalidInput`
        naming the fields (never their values). Within a right shape, entries swfc cannot
        use (a malformed subscriber, a `given` value that is not a scalar) are left out.
        """
        problems = shape_problems(raw)
        if problems:
            raise InvalidInput("; ".join(problems))
        inp = {k: v for k, v in raw.items() if k in INPUT_FIELDS and v is not None}
        subscribers = [Subscription(s["workflow_id"], list(s["selectors"])) for s in inp.pop("subscribers", [])
                       if isinstance(s, dict) and isinstance(s.get("workflow_id"), str) and isinstance(s.get("selectors"), list)]
        given = {k: v for k, v in inp.pop("given", {}).items() if isinstance(v, (str, int, float, bool))}
        return cls(**inp, subscribers=subscribers, given=given)


class InvalidInput(ValueError):
    """A workflow input of a shape no worker can use; the text names what is wrong."""


def _text(v: Any) -> bool:
    return isinstance(v, str) and v != ""


def _texts(v: Any) -> bool:
    return isinstance(v, list) and all(_text(x) for x in v)


def _url_map(v: Any) -> bool:
    return isinstance(v, dict) and all(isinstance(x, str) for x in v.values())


def _positive_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v > 0


# field → (check, what it must be); every field may also be absent or null.
INPUT_FIELDS: dict[str, tuple[Callable[[Any], bool], str]] = {
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
    "deployment": (lambda v: isinstance(v, str), "the deployment's name (text)"),
    "generation": (_positive_int, "a positive integer (the runtime generation its hierarchy began under)"),
    "carried": (lambda v: isinstance(v, dict), "a carried state (object)"),
}


def shape_problems(inp: Any) -> list[str]:
    """What is wrong with the input's shape (empty if nothing): not an object, or a known
    field of the wrong type. A missing `ir_hash` is not among them (see `foreign_fields`
    and the interpreter: a hand-started workflow may still be adopted)."""
    if not isinstance(inp, dict):
        return ["the input is not a JSON object"]
    problems = [f"`{name}` must be {what}" for name, (ok, what) in INPUT_FIELDS.items()
                if inp.get(name) is not None and not ok(inp[name])]
    if inp.get("carried") is not None and inp.get("ir_hash") is None:
        problems.append("`carried` comes with the `ir_hash` it was carried under (continue-as-new)")
    return problems


def foreign_fields(inp: dict[str, Any], shown: int = 10) -> list[str]:
    """The input's fields that swfc does not know (another library's start parameters),
    the first `shown` of them by name (cut to 40 characters), then how many more."""
    names = sorted(str(k)[:40] for k in inp if k not in INPUT_FIELDS)
    return names[:shown] + ([f"{len(names) - shown} more"] if len(names) > shown else [])


# -- effects, delivery items and results -----------------------------------------------------


@dataclass(frozen=True)
class Send:
    """Effect: signal `signal` with `arg` to the workflow `workflow_id`."""

    workflow_id: str
    signal: str
    arg: Any


@dataclass(frozen=True)
class Cancel:
    """Effect: request cancellation of the workflow `workflow_id`."""

    workflow_id: str


@dataclass(frozen=True)
class Start:
    """Effect: start child `workflow_id` of type `workflow` with input `arg`; if that id is
    already running (another parent started it), send `attach` instead (one per entity)."""

    workflow_id: str
    workflow: str
    arg: WorkflowInput
    memo: dict[str, Any]
    attach: tuple[Send, ...]
    leaf: bool = False  # `workflow` has no child edges: see LEAF_TASK_TIMEOUT


@dataclass(frozen=True)
class Attach:
    """Effect: send `signals` to the running workflow `workflow_id` (a child on an edge
    without `autostart`, or one whose deployment is not known yet) only if it runs for this
    deployment: another spec's workflow of that id is never adopted."""

    workflow_id: str
    signals: tuple[Send, ...]


@dataclass(frozen=True)
class Upgrade:
    """Effect: ask `workflow_id` (a Temporal update, not a signal) to move to another IR:
    `arg` is `{"ir_hash", "tokens", "api_bases"}` (runtime.upgrade)."""

    workflow_id: str
    arg: dict[str, Any]


Effect = Union[Start, Attach, Send, Cancel, Upgrade]


@dataclass
class Signal:
    """One signal of a delivery item: its name and argument."""

    signal: str
    arg: Any = None


@dataclass
class StartRequest:
    """How `deliver_effects` starts a child: type, input, task queue, memo (`started_by`,
    `deployment`), the search attributes it inherits (None: the parent has none) and whether
    it is a leaf (its workflow task timeout: `task_timeout`)."""

    workflow: str
    arg: dict[str, Any]
    task_queue: str
    memo: dict[str, Any]
    search_attributes: dict[str, str] | None = None
    leaf: bool = False


@dataclass
class DeliveryItem:
    """One effect as `deliver_effects` takes it: `start` (with the `attach` signals to send
    if it already runs), else `attach` alone (sent if it runs for `deployment`), else one of
    `cancel`, `upgrade` or `signal` (with `arg`)."""

    workflow_id: str
    start: StartRequest | None = None
    attach: list[Signal] = field(default_factory=list)
    deployment: str | None = None
    cancel: bool = False
    upgrade: dict[str, Any] | None = None
    signal: str | None = None
    arg: Any = None

    @classmethod
    def of(cls, effect: Effect, task_queue: str, attributes: dict[str, str] | None = None,
           deployment: str | None = None) -> DeliveryItem:
        """An effect as an item (children run on the parent's task queue and inherit its
        search attributes, when it has them; `deployment` is the parent's)."""
        if isinstance(effect, Start):
            start = StartRequest(effect.workflow, effect.arg.to_json(), task_queue, effect.memo, attributes or None,
                                 effect.leaf)
            return cls(effect.workflow_id, start=start, attach=[Signal(a.signal, a.arg) for a in effect.attach])
        if isinstance(effect, Attach):
            return cls(effect.workflow_id, attach=[Signal(a.signal, a.arg) for a in effect.signals], deployment=deployment)
        if isinstance(effect, Cancel):
            return cls(effect.workflow_id, cancel=True)
        if isinstance(effect, Upgrade):
            return cls(effect.workflow_id, upgrade=effect.arg)
        return cls(effect.workflow_id, signal=effect.signal, arg=effect.arg)

    def to_json(self) -> dict[str, Any]:
        start = _shallow(self.start) if self.start is not None else None
        return {**_shallow(self), "start": start, "attach": [_shallow(a) for a in self.attach]}

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> DeliveryItem:
        start = StartRequest(**_known(StartRequest, d["start"])) if d.get("start") else None
        attach = [Signal(**_known(Signal, a)) for a in d.get("attach") or []]
        return cls(**{**_known(cls, d), "start": start, "attach": attach})


@dataclass
class DeliveryResult:
    """What came of one item: `ok`; else `gone` (the workflow is not running) and `error`.
    `owned`: a start this parent made (or an earlier attempt of it). `foreign`: the
    deployment another spec's workflow of that id runs for (it was not adopted).
    `deployment`: the deployment the workflow runs for, where the delivery learnt it.
    `refused`: the request cannot be made for what it holds (an id over the server's length
    limit, or not UTF-8), which no retry cures."""

    workflow_id: str
    ok: bool
    gone: bool = False
    owned: bool = False
    error: str | None = None
    foreign: str | None = None
    deployment: str | None = None
    refused: bool = False

    def to_json(self) -> dict[str, Any]:
        return _shallow(self)

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> DeliveryResult:
        return cls(**_known(cls, d))


# -- queries -----------------------------------------------------------------------------------


@dataclass
class StatusAnswer:
    """The answer of the `status` query: what `swfc status` shows of one workflow (it walks
    `children`, the workflow ids of its children)."""

    workflow_id: str
    workflow_type: str
    entity: str
    id: str
    status: Status
    loaded: bool
    last_error: str | None
    failed: bool
    checked_at: str | None
    next_try: str | None
    deployment: str | None
    api_url: str | None
    proxy: str | None
    tokens: dict[str, str | None]
    needs: list[str]
    children: list[str]


# -- the status tree (`swfc status`, DESIGN.md §5) ------------------------------------------


@dataclass
class StatusNode:
    """One workflow of a live hierarchy as ``swfc status`` shows it: its ids (``entity``,
    ``id``: the entity's key), ``status`` (the workflow's, or ``unreachable`` with the reason
    in ``last_error``), ``loaded`` (true once its data has loaded), ``failed`` (its last
    load failed for good: a bad body, a 404), the time of its last check and of its next
    try under a rate limit (ISO 8601 UTC), its api's base URL and proxy, its tokens as
    fingerprints by api (None: none held), and the workflows below it."""

    workflow_id: str
    workflow_type: str | None
    entity: str | None
    id: str | None
    status: Status | str
    loaded: bool
    last_error: str | None
    failed: bool = False
    checked_at: str | None = None
    next_try: str | None = None
    api_url: str | None = None
    proxy: str | None = None
    tokens: dict[str, str | None] = field(default_factory=dict)
    children: list[StatusNode] = field(default_factory=list)

    @classmethod
    def from_answer(cls, workflow_id: str, answer: Mapping[str, Any]) -> StatusNode:
        """The node of a workflow's ``status`` query answer, without its children (the
        answer names them: ``child_ids``)."""
        return cls(
            workflow_id=answer.get("workflow_id") or workflow_id,
            workflow_type=answer.get("workflow_type"),
            entity=answer.get("entity"),
            id=answer.get("id"),
            status=answer.get("status") or Status.UNREACHABLE,
            loaded=bool(answer.get("loaded")),
            last_error=answer.get("last_error"),
            failed=bool(answer.get("failed")),
            checked_at=answer.get("checked_at"),
            next_try=answer.get("next_try"),
            api_url=answer.get("api_url"),
            proxy=answer.get("proxy"),
            tokens=dict(answer.get("tokens") or {}),
        )

    @classmethod
    def unreachable(cls, workflow_id: str, reason: str) -> StatusNode:
        """A workflow that did not answer; its entity and key read from its id
        (``Entity-key``)."""
        entity, _, key = workflow_id.partition("-")
        return cls(workflow_id, None, entity or None, key or None, Status.UNREACHABLE, False, reason)

    def walk(self) -> Iterator[StatusNode]:
        """This node and every node below it, depth first."""
        yield self
        for child in self.children:
            yield from child.walk()

    def to_json(self) -> dict[str, Any]:
        """The nested object of ``swfc status --format json`` (DESIGN.md §5)."""
        return {**self._fields(), "children": [c.to_json() for c in self.children]}

    def to_flat_json(self, child_ids: list[str] | None = None) -> dict[str, Any]:
        """As ``to_json``, with ``children`` as the children's workflow ids (``child_ids``
        when given: a node fetched without its children)."""
        ids = child_ids if child_ids is not None else [c.workflow_id for c in self.children]
        return {**self._fields(), "children": list(ids)}

    def _fields(self) -> dict[str, Any]:
        return {"workflow_id": self.workflow_id, "workflow_type": self.workflow_type, "entity": self.entity,
                "id": self.id, "status": self.status, "loaded": self.loaded, "last_error": self.last_error,
                "failed": self.failed, "checked_at": self.checked_at, "next_try": self.next_try,
                "api_url": self.api_url, "proxy": self.proxy, "tokens": dict(self.tokens)}
