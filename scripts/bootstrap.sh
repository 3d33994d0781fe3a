#!/usr/bin/env bash
# Creates .venv (Python >= 3.11) and installs swfc into it, non-editable, so that what
# runs is what a user gets from `pip install .`. Sourced by scripts/demo.sh and test.sh.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

pick_python() {
  for candidate in "${PYTHON:-}" python3.11 python3.12 python3.13 python3; do
    [ -n "$candidate" ] || continue
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
      echo "$candidate"; return 0
    fi
  done
  echo "swfc needs Python 3.11 or newer on PATH (or set PYTHON=...)" >&2
  return 1
}

if [ ! -x .venv/bin/python ]; then
  "$(pick_python)" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip >/dev/null 2>&1 || true
# This machine's pip config names local mirror folders that may be absent; pip's
# warnings about them are noise, everything else it says is kept.
.venv/bin/python -m pip install --quiet "${1:-.}" 2> >(grep -v "^WARNING: Location 'file://" >&2)
