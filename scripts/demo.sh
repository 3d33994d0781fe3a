#!/usr/bin/env bash
# Installs swfc into .venv, starts the bundled sample API on 127.0.0.1:8787, and deploys
# specs/marketplace.swf onto an embedded Temporal dev server, showing the live hierarchy.
# Extra arguments go to `swfc deploy` (e.g. --until-loaded --timeout 120).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/bootstrap.sh . || exit 1

# Demo credentials: the sample API accepts exactly these (see sample_api/).
export CRM_TOKEN="${CRM_TOKEN:-demo-crm-token}"

.venv/bin/python -m sample_api --port 8787 &
api_pid=$!
trap 'kill "$api_pid" 2>/dev/null' EXIT

.venv/bin/swfc deploy specs/marketplace.swf "$@"
