"""Record validation: what each record costs on every load and `update` (runtime/normalize.py).

A compiled entity of 80 fields (every scalar type, optional and list fields, a nested seller
and a list of nested photos, as an API would embed them), and records of about 3 KB of it.
Prints, measured in one run as medians of interleaved rounds, records per second through
`runtime.normalize.normalize`:

  (a) now: the compiled predicate of `rules.schema` accepts a valid record (jsonschema only
      words a problem);
  (b) before: jsonschema's Draft202012Validator on every record (the accept path disabled);

and their ratio (a)/(b) (higher is better). Both are checked to give the same store.

Usage: python bench/record_validation.py [--records 300] [--rounds 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import runtime.normalize as normalize_mod  # noqa: E402
from compiler import compile_sources  # noqa: E402
from runtime import ir as ir_mod  # noqa: E402

TYPES = ["string", "number?", "integer", "boolean", "datetime?", "[string]", "json", "string?",
         "integer?", "[number]"]
VALUES = {"string": "a product description of some length, as APIs send them to their clients", "number?": 12.5,
          "integer": 42, "boolean": True, "datetime?": "2026-01-01T00:00:00Z",
          "[string]": ["red", "large", "cotton"], "json": {"k": [1, 2, {"x": "y"}]},
          "string?": None, "integer?": 7, "[number]": [1.5, 2.25]}
SCALARS = 76  # + id, seller, photos, updated = 80 fields


def spec() -> str:
    fields = "\n".join(f"  f{i} {TYPES[i % len(TYPES)]}" for i in range(SCALARS))
    return (f"entity Photo {{\n  id string key\n  url string\n  width integer\n  height integer\n"
            f"  tags [string]\n}}\n\n"
            f"entity Seller {{\n  id string key\n  name string\n  rating number?\n}}\n\n"
            f"entity Listing {{\n  id string key\n{fields}\n  seller Seller\n  photos [Photo]\n"
            f"  updated datetime\n}}\n")


def record(i: int) -> dict:
    return {"id": f"L{i}", **{f"f{k}": VALUES[TYPES[k % len(TYPES)]] for k in range(SCALARS)},
            "seller": {"id": f"s{i % 7}", "name": "Ann Example", "rating": 4.5},
            "photos": [{"id": f"p{i}-{j}", "url": f"https://img.example.com/{i}/{j}.jpg",
                        "width": 640, "height": 480, "tags": ["front"]} for j in range(4)],
            "updated": "2026-11-30T12:00:00Z"}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--records", type=int, default=300)
    p.add_argument("--rounds", type=int, default=7)
    args = p.parse_args()
    doc, diags = compile_sources({"bench.swf": spec()}, ["bench.swf"])
    if doc is None:
        sys.exit(f"the bench spec does not compile: {diags[:3]}")
    ir = ir_mod.load(doc)
    records = [record(i) for i in range(args.records)]
    size = statistics.mean(len(json.dumps(r)) for r in records)
    now_schemas = {}
    before_schemas = {}

    def run(schemas: dict) -> list:
        normalize_mod._SCHEMAS = schemas  # each variant keeps its own compiled schemas
        return [normalize_mod.normalize(ir, "Listing", r) for r in records]

    accept_path = normalize_mod.accept_path
    normalize_mod.accept_path = lambda schema: None  # (b): jsonschema decides every record
    before_result = run(before_schemas)
    normalize_mod.accept_path = accept_path
    if run(now_schemas) != before_result:
        sys.exit("the two paths disagree on the stores they build")
    times: dict[str, list[float]] = {"now": [], "before": []}
    for _ in range(args.rounds):
        for name, schemas in (("now", now_schemas), ("before", before_schemas)):
            start = time.perf_counter()
            run(schemas)
            times[name].append(time.perf_counter() - start)
    rate = {name: args.records / statistics.median(t) for name, t in times.items()}
    print(f"records of {len(records[0])} fields (a nested seller, 4 nested photos), "
          f"{size / 1000:.1f} KB each, {args.records} per round, {args.rounds} rounds")
    print(f"(a) now    (compiled predicate): {rate['now']:8.0f} records/s")
    print(f"(b) before (jsonschema only):    {rate['before']:8.0f} records/s")
    print(f"ratio (a)/(b): {rate['now'] / rate['before']:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
