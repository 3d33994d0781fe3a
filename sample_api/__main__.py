"""``python -m sample_api [--port 8787] [--data FILE]``: serve the example specs' data.

Credentials come from environment variables, with demo defaults (see ``data.json``):

    CRM_TOKEN      Authorization: Bearer …  /users/, /listings/       marketplace.swf     "demo-crm-token"
    DESK_TOKEN     Authorization: Bearer …  /support/orgs|tickets/    support_desk.swf    "demo-desk-token"
    NOTES_API_KEY  X-Api-Key: …             /support/comments/        support_desk.swf    "demo-notes-key"
    CI_TOKEN       Authorization: Bearer …  /ci/repos|builds|jobs/    build_system.swf    "demo-ci-token"
                   (none)                   /ci/artifacts/            build_system.swf

Run the demo with the same values in the environment of ``swfc deploy``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path

from sample_api.server import SampleAPI

DATA = Path(__file__).with_name("data.json")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sample_api", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8787)
    parser.add_argument("--data", type=Path, default=DATA, help="entities and credentials (JSON)")
    args = parser.parse_args(argv)
    try:
        api = SampleAPI.from_file(args.data).start(port=args.port)
    except OSError as exc:
        print(f"sample_api: cannot listen on 127.0.0.1:{args.port}: {exc.strerror}", file=sys.stderr)
        return 1
    print(f"sample API on {api.url} ({len(json.loads(args.data.read_text())['entities'])} paths)")
    for rule in json.loads(args.data.read_text()).get("credentials", []):
        source = "from $" + rule["env"] if os.environ.get(rule["env"]) else f"demo default of ${rule['env']}"
        print(f"  {rule['prefix']:<14} {rule.get('header', 'Authorization')}: {source}")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        stop.wait()
    except KeyboardInterrupt:
        pass
    api.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
