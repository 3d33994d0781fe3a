"""Moving a running workflow to another registration (an edited spec). Pure helpers.

Stage: used by `runtime.interpreter`. `swfc deploy` asks a running root to upgrade through
a Temporal *update* named `upgrade` (not a signal: the documented signals stay the only
signals, and the caller learns at once whether this worker can do it). The workflow
continues as new under the new `ir_hash` with its state carried over, reloads, and in
its next run's first round passes the upgrade down to each child, with the tokens of
that child's edge in the new spec, so the whole hierarchy moves.

Request: `{"ir_hash": "sha256:…", "tokens": {api: SealedToken}, "api_bases": {api: url}}`
(`tokens` and `api_bases` optional).

What an upgrade may not do (`upgrade_refusal`, checked by the update's validator, so a
refusal never enters history): move to a registration that no worker was started with (the
IRs a worker keeps for older workflows are no target: no rolling back by request), point an
api with auth at a base outside the new spec's `allow`, or carry a token sealed for another
api than the one it is given for.
"""

from __future__ import annotations

from typing import Any

from runtime.ir import IR
from runtime.sealing import is_sealed_token, sealed_at
from runtime.protocol import GENERATION, Status, Upgrade
from runtime.state import Ctx


def upgrade_problem(ctx: Ctx, request: Any, new_ir: IR | None) -> str | None:
    """Why `request` cannot be carried out by this workflow on this worker, or None."""
    if not isinstance(request, dict) or not isinstance(request.get("ir_hash"), str):
        return 'expected {"ir_hash": "sha256:...", "tokens": {...}, "api_bases": {...}}'
    if new_ir is None:
        return (f"this worker does not hold IR {request['ir_hash']}: run workers with the new "
                f"spec first (swfc worker), then deploy again")
    new_wf = new_ir.workflows.get(ctx.wf.name)
    if new_wf is None:
        return f"the new spec has no workflow {ctx.wf.name}"
    if new_wf.entity != ctx.wf.entity:
        return f"{ctx.wf.name} manages {new_wf.entity} in the new spec, not {ctx.wf.entity}"
    return _shape_problem(request)


def _shape_problem(request: dict[str, Any]) -> str | None:
    tokens = request.get("tokens") or {}
    if not isinstance(tokens, dict) or not all(is_sealed_token(t) for t in tokens.values()):
        return "upgrade tokens must be sealed tokens"
    bases = request.get("api_bases") or {}
    if not isinstance(bases, dict) or not all(isinstance(v, str) for v in bases.values()):
        return "api_bases must map api names to URLs"
    return None


def upgrade_refusal(request: dict[str, Any], new_ir: IR, current: bool) -> str | None:
    """Why a well-formed upgrade request (see `upgrade_problem`) must not be carried out,
    or None. Needs no workflow state, so the validator can check it in every activation.

    Args:
        current: a worker of this process was started with `new_ir` (`registry.is_current`).
    """
    shape = _shape_problem(request)
    if shape:
        return shape
    if not current:
        return ("that registration is one this worker only keeps for workflows started under it; "
                "an upgrade goes to the spec a worker was started with")
    for api, token in (request.get("tokens") or {}).items():
        if token["api"] != api:
            return "an upgrade token was sealed for another api than the one it is given for"
    for name, url in (request.get("api_bases") or {}).items():
        api = new_ir.apis.get(name)
        if api is None:
            return "api_bases names an api the new spec does not have"
        if api.needs_token and not api.allows(url):
            return (f"the base given for api {name} is outside its allow list {list(api.allow)} "
                    f"(over {api.scheme} only)")
    return None


def carried_state(ctx: Ctx, request: dict[str, Any]) -> dict[str, Any]:
    """The state the next run starts from: this one's, under the new hash and the current
    generation, with the request's tokens and bases added, and a note to pass the upgrade down."""
    carried = ctx.state.to_dict()
    carried["ir_hash"] = request["ir_hash"]
    # A token older than the one held (copied from an old history) does not replace it.
    newer = {api: t for api, t in (request.get("tokens") or {}).items()
             if sealed_at(t) >= sealed_at(carried["tokens"].get(api))}
    carried["tokens"] = {**carried["tokens"], **newer}
    carried["api_bases"] = {**carried["api_bases"], **(request.get("api_bases") or {})}
    carried["upgrade_children"] = True
    carried["generation"] = GENERATION  # a new run under a new spec: the pace of this worker's code
    return carried


def adopt(ctx: Ctx) -> None:
    """First thing in a run that an upgrade started: keep only the tokens the new spec
    needs here, and reload (the source, `select` or schema may have changed, so the reload
    is unconditional: a 304 would keep data read under the old spec)."""
    s = ctx.state
    s.tokens = {api: t for api, t in s.tokens.items() if api in ctx.wf.needs}
    s.stale = ctx.wf.source is not None
    s.validators = {}
    if s.status == Status.UPGRADING:
        s.status = Status.LOADING if s.stale else Status.RUNNING


def child_upgrades(ctx: Ctx) -> list[Upgrade]:
    """One upgrade per child whose edge still exists, with that edge's tokens."""
    s, out = ctx.state, []
    for wid, child in sorted(s.children.items()):
        edge = ctx.wf.edge(child.field)
        if edge is None or edge.workflow != child.workflow:
            continue  # the edge is gone or changed: `plan` lets the child go
        tokens = {api: s.tokens[api] for api in edge.tokens if s.tokens.get(api)}
        out.append(Upgrade(wid, {"ir_hash": s.ir_hash, "tokens": tokens, "api_bases": s.api_bases}))
    return out
