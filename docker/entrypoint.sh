#!/usr/bin/env bash
# Entry point of the nas-attn image: the first argument picks the role (see docker/README.md).
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: docker run IMAGE ROLE [ARGS...]

Roles:
  head [DRIVER...]   start the Ray head (no CPU/GPU for trials), wait for NAS_ATTN_WAIT_GPUS
                     GPUs (default 1) to join, then run DRIVER (e.g. nas-attn search
                     --ray-address auto ...); the head stays up afterwards for more commands
                     (docker compose exec ray-head nas-attn ...) until the container stops
  worker             join the head at RAY_HEAD_ADDRESS (default ray-head:6379) with this
                     container's GPUs; NAS_ATTN_GPU_CLAIM=1 (default) takes one free GPU per
                     container, so `--scale gpu-worker=N` spreads N workers over N GPUs
  help               this text
  anything else      run as a command (e.g. nas-attn dashboard --host 0.0.0.0, nas-attn front ...)

Secrets (files, never environment values): /run/secrets/postgres_password becomes the libpq
password (PGPASSWORD) of this container's nas-attn commands, so storage URLs carry no password;
RAY_AUTH_TOKEN_PATH points Ray at its token file.
EOF
}

NAS_ATTN_HOME="${NAS_ATTN_HOME:-/opt/nas-attn}"
role_file="/tmp/nas-attn-role"

load_secrets() {
    local pg_secret="${NAS_ATTN_PG_PASSWORD_FILE:-/run/secrets/postgres_password}"
    if [ -r "$pg_secret" ] && [ -z "${PGPASSWORD:-}" ]; then
        PGPASSWORD="$(tr -d '\r\n' <"$pg_secret")"
        [ -n "$PGPASSWORD" ] || {
            echo "entrypoint: error: the postgres_password secret is empty; set POSTGRES_PASSWORD in docker/.env" >&2
            exit 1
        }
        export PGPASSWORD
    fi
    if [ "${NAS_ATTN_RAY_AUTH:-token}" = token ] && [ -n "${RAY_AUTH_TOKEN_PATH:-}" ] \
        && [ ! -s "$RAY_AUTH_TOKEN_PATH" ]; then
        echo "entrypoint: error: Ray token file $RAY_AUTH_TOKEN_PATH is missing or empty; set RAY_AUTH_TOKEN in docker/.env" >&2
        exit 1
    fi
}

run_head() {
    echo head >"$role_file"
    "$NAS_ATTN_HOME/workers/start_head.sh" \
        --num-cpus "${RAY_HEAD_NUM_CPUS:-0}" --num-gpus "${RAY_HEAD_NUM_GPUS:-0}" \
        --dashboard-host "${RAY_DASHBOARD_HOST:-0.0.0.0}" \
        --wait-gpus "${NAS_ATTN_WAIT_GPUS:-1}" --wait-timeout "${NAS_ATTN_WAIT_TIMEOUT:-1800}"
    trap 'ray stop >/dev/null 2>&1 || true' EXIT
    if [ "$#" -gt 0 ]; then
        # The driver gets Ctrl-C semantics on `docker stop`: the first SIGINT stops new trials,
        # the second fails the running ones with a reason and re-enqueues them (resumable).
        "$@" &
        local driver=$!
        trap 'kill -INT "$driver" 2>/dev/null || true; sleep 2; kill -INT "$driver" 2>/dev/null || true' TERM INT
        local status=0
        wait "$driver" || status=$?
        if kill -0 "$driver" 2>/dev/null; then  # interrupted: let the driver finish its clean-up
            wait "$driver" || status=$?
            exit "$status"
        fi
        echo "entrypoint: driver exited with status $status; the Ray head stays up (docker compose stop ray-head ends it)" >&2
    fi
    trap 'exit 0' TERM INT
    sleep infinity &
    wait $!
}

run_worker() {
    echo worker >"$role_file"
    local args=(--block)
    if [ "${NAS_ATTN_GPU_CLAIM:-1}" = 1 ]; then
        args+=(--claim-gpu "${NAS_ATTN_GPU_CLAIM_DIR:-/var/lib/nas-attn/gpu-locks}")
    fi
    exec "$NAS_ATTN_HOME/workers/start_worker.sh" "${args[@]}" "${RAY_HEAD_ADDRESS:-ray-head:6379}"
}

role="${1:-help}"
[ "$#" -eq 0 ] || shift
case "$role" in
    -h | --help | help) usage ;;
    head) load_secrets; run_head "$@" ;;
    worker) load_secrets; run_worker ;;
    *)
        load_secrets
        echo "$role" >"$role_file"
        exec "$role" "$@"
        ;;
esac
