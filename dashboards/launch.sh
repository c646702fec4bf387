#!/usr/bin/env bash
# Launch optuna-dashboard on a nas-attn study, with the trials' artifacts (arch YAML, learning
# curve). Loopback only unless NAS_ATTN_DASHBOARD_HOST says otherwise.
#   NAS_ATTN_STORAGE=postgresql+psycopg://user:pass@db/nas dashboards/launch.sh
set -euo pipefail
exec nas-attn dashboard \
    --storage "${NAS_ATTN_STORAGE:-sqlite:///nas_attn.db}" \
    --host "${NAS_ATTN_DASHBOARD_HOST:-127.0.0.1}" \
    --port "${NAS_ATTN_DASHBOARD_PORT:-8080}"
