#!/usr/bin/env bash
# Docker HEALTHCHECK of the nas-attn image: healthy when this container's role works.
#   head, worker: the node is part of a live Ray cluster (`ray status` answers)
#   otherwise:    NAS_ATTN_HEALTH_URL answers (e.g. the dashboard), or nothing to check
set -euo pipefail

if [ "${1:-}" = -h ] || [ "${1:-}" = --help ]; then
    echo "Usage: docker/healthcheck.sh   (run by Docker inside the nas-attn image; exit 0 = healthy)"
    exit 0
fi

role="$(cat /tmp/nas-attn-role 2>/dev/null || echo starting)"
case "$role" in
    head | worker) exec ray status >/dev/null 2>&1 ;;
esac
if [ -n "${NAS_ATTN_HEALTH_URL:-}" ]; then
    exec python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=5)' \
        "$NAS_ATTN_HEALTH_URL" >/dev/null 2>&1
fi
exit 0
