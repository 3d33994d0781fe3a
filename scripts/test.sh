#!/usr/bin/env bash
# Installs swfc with its test extras into .venv and runs the whole test suite, including
# the integration tests against a real Temporal dev server and real loopback HTTP APIs.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/bootstrap.sh ".[test]" || exit 1
.venv/bin/python -m pytest -q "$@"
status=$?
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: that is a failure, not a pass" >&2
  exit 1
fi
exit "$status"
