"""A parent holding N children's records, without Temporal: what each event costs it.

`bench/scale.py`'s parent (a `GroupWorkflow` subscribed to every `MemberWorkflow`, each
member's record about 2 KB) built as `runtime.state` holds it after loading N members, for
N = 1,000 / 5,000 / 10,000. A parent that replays a history of ~5,000 events (after an
eviction) pays (a) once per `update` in it, so (a) must not grow with the store. Prints,
at each N, medians over interleaved rounds:

  (a) one `update` signal from a child (a changed record) and the round that follows it:
      `signals.apply_signal`, the interpreter's `_plan` (no backlog: it never asks Temporal
      for a patch), `children.publish`;
  (b) the first round of a run begun from a carried state (the parsed input taken on as
      `runtime.interpreter` does, `_resumed`, then one round): from a settled state (the
      children's digests are carried: it hashes no record) and from one continued as new
      right after an `update` (as during a load: it hashes that one record, the others'
      digests are carried; a state carried by swfc before 2026-12-01 had them hash all);
  (c) the continue-as-new input as `runtime.interpreter` makes it (`_carried_input`);
  (d) the worker's codec (`runtime.carried`): encoding that input, and parsing it.

(b) and (c) run inside a workflow task, under the SDK's 2 s deadlock detector (marked `!`
past 1 s: a busy worker's threads share one GIL); (d) runs outside it. Also the ratio of (a)
at the largest N to (a) at the smallest (target: near 1). `--prose` gives the records the
text `bench/scale.py --prose` serves (markdown, non-ASCII and emoji) instead of `x`s.

Usage: python bench/big_parent.py [--sizes 1000,5000,10000] [--record-bytes 2048] [--prose] [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.records import bio  # noqa: E402
from compiler import compile_sources  # noqa: E402
from runtime import carried  # noqa: E402
from runtime import ir as ir_mod  # noqa: E402
from runtime.children import publish  # noqa: E402
from runtime.interpreter import _carried_input, _plan, _resumed  # noqa: E402  (as the interpreter does them)
from runtime.protocol import ChildRef, Status, WorkflowInput  # noqa: E402
from runtime.signals import apply_signal  # noqa: E402
from runtime.state import Ctx, WorkflowState  # noqa: E402

SPEC = """\
api hr { base "http://127.0.0.1:9" auth bearer }
entity Group  { id string  name string  members [Member] }
entity Member { id string  name string  bio string }
workflow GroupWorkflow manages Group {
  source hr get "/groups/{id}"
  child members -> MemberWorkflow { autostart  subscribe update "*" }
}
workflow MemberWorkflow manages Member { source hr get "/members/{id}" }
"""
UPDATES_PER_ROUND = 200  # (a) is timed over this many updates, each to another member
PROSE = False  # --prose


def member(i: int, record_bytes: int, version: int = 0) -> dict[str, Any]:
    return {"id": f"m{i}", "name": f"member {i}", "bio": f"{version:08d}" + bio(f"m{i}", record_bytes, PROSE)}


def loaded_parent(ir: ir_mod.IR, n: int, record_bytes: int) -> Ctx:
    """The parent after loading `n` members: every child started, subscribed and heard from."""
    wf = ir.workflows["GroupWorkflow"]
    ids = [f"m{i}" for i in range(n)]
    state = WorkflowState(ir_hash=ir.hash, workflow_type=wf.name, workflow_id="Group-g", entity="Group",
                          entity_id="g", status=Status.RUNNING, loaded=True, deployment="bench")
    ctx = Ctx(ir, wf, state, checks_deployments=True)
    state.store = {"Group": {"g": {"id": "g", "name": "scale", "members": ids}},
                   "Member": {rid: member(i, record_bytes) for i, rid in enumerate(ids)}}
    for rid in ids:
        record = state.store["Member"][rid]
        state.children[f"Member-{rid}"] = ChildRef("members", "MemberWorkflow", "Member", rid, owned=True,
                                                   known=ctx.digest("Member", rid, record), deployment="bench")
    _plan(ctx)
    publish(ctx)
    return ctx


def one_round(ctx: Ctx, signals: list[tuple[str, Any]]) -> list[Any]:
    """What `runtime.interpreter.Run._cycle` does with queued signals, minus Temporal."""
    effects: list[Any] = []
    for name, arg in signals:
        effects += apply_signal(ctx, name, arg)
    return effects + _plan(ctx) + publish(ctx)


def per_update_us(ctx: Ctx, n: int, record_bytes: int, version: int) -> float:
    """Median µs of one `update` and its round, over `UPDATES_PER_ROUND` members."""
    times = []
    for k in range(UPDATES_PER_ROUND):
        i = (k * 7919 + version) % n
        arg = {"entity": "Member", "id": f"m{i}", "record": member(i, record_bytes, version), "from": f"Member-m{i}"}
        start = time.perf_counter()
        effects = one_round(ctx, [("update", arg)])
        times.append(time.perf_counter() - start)
        if effects:
            sys.exit(f"an update from the child itself was echoed back: {effects[:1]}")
    return statistics.median(times) * 1e6


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def begun(ir: ir_mod.IR, parsed: dict[str, Any]) -> Ctx:
    """(b): `_begin` of the parsed input, then its first round."""
    inp = WorkflowInput.parse(parsed)
    ctx = _resumed(ir, ir.workflows["GroupWorkflow"], inp.carried or {})
    ctx.checks_deployments = True
    one_round(ctx, [])
    return ctx


def encoded_and_parsed(value: dict[str, Any]) -> tuple[float, float, Any]:
    """(d): the codec's encoding of a carried input and its parsing: seconds, seconds, parsed."""
    seconds_out, payload = timed(lambda: carried._encoded(value))
    seconds_in, parsed = timed(lambda: json.loads(payload.data))
    return seconds_out, seconds_in, parsed


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="1000,5000,10000")
    p.add_argument("--record-bytes", type=int, default=2048)
    p.add_argument("--prose", action="store_true", help="records of issue-tracker text (default: x's)")
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    global PROSE
    PROSE = args.prose
    sizes = [int(x) for x in args.sizes.split(",")]
    doc, diags = compile_sources({"bench.swf": SPEC}, ["bench.swf"])
    if doc is None:
        sys.exit(f"the bench spec does not compile: {diags[:3]}")
    ir = ir_mod.load(doc)
    parents = {n: loaded_parent(ir, n, args.record_bytes) for n in sizes}
    update: dict[int, list[float]] = {n: [] for n in sizes}
    begin: dict[int, list[float]] = {n: [] for n in sizes}
    begin_unsettled: dict[int, list[float]] = {n: [] for n in sizes}
    carry: dict[int, list[float]] = {n: [] for n in sizes}
    encode: dict[int, list[float]] = {n: [] for n in sizes}
    parse: dict[int, list[float]] = {n: [] for n in sizes}
    size_mb: dict[int, float] = {}
    for r in range(args.rounds):  # interleaved: load on the machine weighs on every size alike
        for n in sizes:
            parent = parents[n]
            update[n].append(per_update_us(parent, n, args.record_bytes, r + 1))
            seconds, value = timed(lambda: _carried_input(parent, None))
            carry[n].append(seconds)
            seconds_out, seconds_in, parsed = encoded_and_parsed(value)
            encode[n].append(seconds_out)
            parse[n].append(seconds_in)
            size_mb[n] = len(json.dumps(value, separators=(",", ":"))) / 1e6
            seconds, ctx = timed(lambda: begun(ir, parsed))
            begin[n].append(seconds)
            if ctx.state.store != parent.state.store:
                sys.exit("the carried state does not give back the store")
            arg = {"entity": "Member", "id": "m0", "record": member(0, args.record_bytes, 1000 + r), "from": "Member-m0"}
            apply_signal(parent, "update", arg)  # merged, not yet planned: the state is not settled
            unsettled = encoded_and_parsed(_carried_input(parent, None))[2]
            seconds, _ = timed(lambda: begun(ir, unsettled))
            begin_unsettled[n].append(seconds)
            one_round(parent, [])
    text = "issue-tracker text" if PROSE else "x's"
    print(f"parent of N members ({args.record_bytes} B records of {text}, subscribed), {args.rounds} rounds, "
          f"(a) over {UPDATES_PER_ROUND} updates each; in a task: (a)-(c), `!` past 1 s")
    print(f"{'N':>7}  {'(a) update+round':>17}  {'(b) begin: settled':>19}  {'unsettled':>10}  "
          f"{'(c) carry':>10}  {'(d) encode':>11}  {'parse':>8}  {'input':>8}")

    def ms(times: list[float]) -> str:
        median = statistics.median(times)
        return f"{median * 1e3:>6.0f} ms{'!' if median > 1 else ' '}"

    for n in sizes:
        print(f"{n:>7}  {statistics.median(update[n]):>14.0f} µs  {ms(begin[n]):>19}  {ms(begin_unsettled[n]):>10}  "
              f"{ms(carry[n]):>10}  {ms(encode[n]):>11}  {ms(parse[n]):>8}  {size_mb[n]:>5.1f} MB")
    first, last = sizes[0], sizes[-1]
    ratio = statistics.median(update[last]) / statistics.median(update[first])
    print(f"ratio (a) at {last:,} / at {first:,}: {ratio:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
