"""A running workflow's whole state, and the context its pure helpers work on.

Stage: owned by `runtime.interpreter` (behind the thin `runtime.workflow` shell);
`signals.py`, `children.py`, `queries.py` and `upgrade.py` read and change it.
Everything a workflow knows lives in one `WorkflowState` (JSON-friendly fields only), so
continue-as-new carries it whole as the `carried` field of the next run's input.
Tokens are held sealed; nothing here ever sees a plain token.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from runtime.ir import IR, Child, Workflow
from runtime.normalize import Store, digest
from runtime.protocol import ChildRef, Status, Subscriber

MAX_ERRORS = 20
DEFAULT_HISTORY_LIMIT = 5000


@dataclass
class WorkflowState:
    """All of one workflow's state.

    `store` is the normalized entity store; `tokens` the sealed token per needed api (or
    None); `api_bases` the deployment's base URLs (flow down unchanged), `api_urls` this
    workflow's own overrides (by `apiUrl` signal, never propagated); `subscribers` and
    `children` by workflow id (`runtime.protocol.Subscriber`, `ChildRef`); `published` the own record as last published to subscribers; `next_load_ms` the
    workflow-clock time of the next `every` reload, `retry_ms` of the next attempt at child
    starts that failed, `rate_limited_until_ms` of the first request the api allows again
    (none before it). `validators` `{url: {"etag", "last_modified", "digest"}}`: what makes
    the next load of a URL conditional, valid while the own record's digest is `digest`
    (the data that response gave); `checked_at` when the api last confirmed or gave the data;
    `failed` whether the last load failed for good (it will not retry by itself before its
    next `every` or a signal). `deployment` names the deployment (spec) the hierarchy belongs
    to; `foreign` `{workflow_id: deployment}` the related workflows that run for another one
    and were not adopted; `unstartable` the children the server refused to start for good
    (`DeliveryResult.refused`: an id over its length limit), never tried again. `given` holds a root's `with` values (its templates' values before
    the first load); `listings` each collection's listing state by field (`runtime.listing`);
    `awaiting` the started children whose first `update` is still owed (`REPORT_WINDOW`).
    """

    ir_hash: str
    workflow_type: str
    workflow_id: str
    entity: str
    entity_id: str
    tokens: dict[str, Any] = field(default_factory=dict)
    api_bases: dict[str, str] = field(default_factory=dict)
    api_urls: dict[str, str] = field(default_factory=dict)
    ancestors: list[str] = field(default_factory=list)
    store: Store = field(default_factory=dict)
    subscribers: dict[str, Subscriber] = field(default_factory=dict)
    children: dict[str, ChildRef] = field(default_factory=dict)
    published: dict[str, Any] | None = None
    stale: bool = False
    status: Status = Status.RUNNING
    loaded: bool = False
    last_error: str | None = None
    errors: list[dict[str, Any]] = field(default_factory=list)
    next_load_ms: int | None = None
    retry_ms: int | None = None
    rate_limited_until_ms: int | None = None
    validators: dict[str, dict[str, Any]] = field(default_factory=dict)
    checked_at: str | None = None
    failed: bool = False
    deployment: str | None = None
    foreign: dict[str, str] = field(default_factory=dict)
    unstartable: dict[str, bool] = field(default_factory=dict)
    loads: int = 0
    proxy: str | None = None  # the origin of the proxy the last load went through (None: direct)
    history_limit: int = DEFAULT_HISTORY_LIMIT
    generation: int = 1  # the one its hierarchy began under (`runtime.protocol.GENERATION`)
    upgrade_children: bool = False  # set by an `upgrade`: pass it on in the next run's first round
    # Set at continue-as-new when every child's `known` is its record's digest (`Ctx.settled`):
    # the next run's first round takes them as they are instead of hashing every record.
    children_current: bool = False
    # Else, set at continue-as-new: the children whose `known` may not be their record's
    # digest (`Ctx.unsettled_children`); the next run hashes only theirs. None: not known
    # (a state carried before it), every record is hashed.
    children_unsettled: list[str] | None = None
    given: dict[str, Any] = field(default_factory=dict)
    listings: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Subscribed children this workflow started that have not sent their first `update` yet:
    # workflow id -> when it was started (workflow clock, ms). Generation 3 on (the window).
    awaiting: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The state as JSON-friendly values, for continue-as-new to encode at once: the
        store's records themselves, not copies (`dataclasses.asdict` deep-copied a big
        parent's 20 MB in the last workflow task of each of its runs: 0.5 s at 10,000; on
        its 10,000 children alone, 0.2 s)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["subscribers"] = {w: sub.to_dict() for w, sub in self.subscribers.items()}
        out["children"] = {w: child.to_dict() for w, child in self.children.items()}
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> WorkflowState:
        """The state `to_dict` gave (a carried state: JSON, or one of an older version)."""
        names = {f.name for f in dataclasses.fields(cls)}
        state = cls(**{k: v for k, v in d.items() if k in names})
        state.status = Status(state.status)
        state.subscribers = {w: Subscriber.from_dict(sub) for w, sub in state.subscribers.items()}
        state.children = {w: ChildRef.from_dict(child) for w, child in state.children.items()}
        return state


@dataclass
class PlanBasis:
    """What a full `plan` left (no backlog): the own record (the object: records are
    replaced, never changed in place) and the sizes of the indexes only rounds and deliveries
    change, and each wanted child's place, edge and id: a round in which only `update`s
    merged records gives the same effects from them alone (a parent of 10,000 children
    replays ~2,500 `update`s after an eviction: one walk of all its children each was
    quadratic)."""

    record: Any
    sizes: tuple[int, int, int]
    wanted: dict[str, tuple[int, Child, str]]  # workflow id -> (place in the relation, edge, id)


@dataclass
class Ctx:
    """What the pure helpers need: the registration, this workflow's type, its state and
    the workflow clock (`now`, ISO text; `now_ms`, epoch milliseconds). `backlog`: the new
    children the last `plan` left for later rounds. Neither it nor the digest cache is
    carried by continue-as-new: both follow from the state. `checks_deployments`: signals to
    a child not known to run for this deployment go as `Attach` (checked before they are
    sent); off for a run begun before that check existed (`runtime.interpreter`)."""

    ir: IR
    wf: Workflow
    state: WorkflowState
    now: str = ""
    now_ms: int = 0
    backlog: int = 0
    winding_down: bool = False  # the run nears continue-as-new: it starts no new children
    heard_ms: int = 0  # when the run last took a signal (workflow clock): a winding down run waits for quiet
    checks_deployments: bool = False
    _digests: dict[tuple[str | None, str], tuple[Any, str]] = field(default_factory=dict, repr=False)
    # What a round may plan from (`runtime.children.plan`): `changed` the records `update`
    # signals merged since the last plan, tracked only where the interpreter plans (it
    # calls `replan` wherever else children or their records change; None: plan in full);
    # `planned` what the last full plan left (None: a backlog, or none yet).
    changed: set[tuple[str, str]] | None = field(default=None, repr=False)
    planned: PlanBasis | None = field(default=None, repr=False)

    def replan(self) -> None:
        """The next round plans every child again: its state changed other than by `touched`."""
        self.changed = None

    def settled(self) -> bool:
        """Whether the last full plan still holds and no `update` merged a record since (the
        conditions under which `children.plan` looks at changed records only, and none
        changed): then every child's `known` is the digest of the record this state holds."""
        basis = self.planned
        return (basis is not None and self.changed == set() and basis.record is self.record
                and basis.sizes == self.index_sizes())

    def trust_known(self, unsettled: Collection[str] = ()) -> None:
        """Take each child's `known` as its record's digest, except the `unsettled` children's
        (a state carried when `settled`, or with `unsettled_children`): the first round of a
        run hashes no other record (10,000 records of 2 KB: 0.3 s; of 16 KB of text, 0.6 s)."""
        store = self.state.store
        for wid, child in self.state.children.items():
            record = store.get(child.entity, {}).get(child.id)
            if record is not None and child.known is not None and wid not in unsettled:
                self._digests[(child.entity, child.id)] = (record, child.known)

    def unsettled_children(self) -> list[str]:
        """The children whose `known` may not be the digest of the record this state holds:
        every one whose record, as it is now, this run has not hashed (or trusted) to exactly
        its `known`. Hashes nothing: records are replaced, never changed in place."""
        store, unsettled = self.state.store, []
        for wid, child in self.state.children.items():
            record = store.get(child.entity, {}).get(child.id)
            if record is None:
                continue  # nothing to hash (`trust_known` passes it by)
            cached = self._digests.get((child.entity, child.id))
            if child.known is None or cached is None or cached[0] is not record or cached[1] != child.known:
                unsettled.append(wid)
        return unsettled

    def touched(self, store: Store) -> None:
        """Note the records an `update` merged: the next round looks at their children only."""
        if self.changed is not None:
            self.changed.update((entity, rid) for entity, table in store.items() for rid in table)

    def digest(self, entity: str | None, rid: str, record: Any) -> str:
        """`normalize.digest(record)`, computed once per version of the record: records are
        replaced, never changed in place, so the same object has the same digest. A round of
        a parent of 10,000 children hashes what changed, not all 10,000."""
        cached = self._digests.get((entity, rid))
        if cached is not None and cached[0] is record:
            return cached[1]
        value = digest(record)
        self._digests[(entity, rid)] = (record, value)
        return value

    @property
    def record(self) -> dict[str, Any] | None:
        """This workflow's own record in the store, or None before it has any data."""
        return self.state.store.get(self.state.entity, {}).get(self.state.entity_id)

    def error(self, kind: str, message: str) -> None:
        """Record an error: visible in the `state`/`status` queries (last 20 kept)."""
        self.state.errors.append({"at": self.now, "kind": kind, "message": message})
        del self.state.errors[:-MAX_ERRORS]
        self.state.last_error = message

    def api_url(self, api: str) -> str:
        """The base URL this workflow uses for `api`: own override, deployment's, IR's."""
        s = self.state
        return s.api_urls.get(api) or s.api_bases.get(api) or self.ir.apis[api].base

    def index_sizes(self) -> tuple[int, int, int]:
        s = self.state
        return len(s.children), len(s.foreign), len(s.unstartable)

    def related_ids(self, field_name: str) -> list[str]:
        """Ids the own record holds in relation `field_name` (in order, no repeats)."""
        value = (self.record or {}).get(field_name)
        values = value if isinstance(value, list) else [value]
        seen: dict[str, None] = {}
        for v in values:
            if isinstance(v, (str, int)) and not isinstance(v, bool) and str(v) != "":
                seen.setdefault(str(v), None)
        return list(seen)
