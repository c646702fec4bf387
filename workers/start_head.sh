#!/usr/bin/env bash
# Start the Ray head node of a nas-attn cluster (the machine that runs `nas-attn search`).
# See workers/README.md for the whole set-up.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: workers/start_head.sh [options]

Start a Ray head node for nas-attn. By default the head offers no CPU or GPU to trials:
it runs only the search driver (`nas-attn search --ray-address auto ...`) and Ray's own
services; GPU worker nodes (workers/start_worker.sh) join it and run the trials.

Options (each has an environment variable; the option wins):
  --port N              GCS port the workers join            RAY_HEAD_PORT        (6379)
  --num-cpus N          CPUs the head offers to trials       RAY_HEAD_NUM_CPUS    (0)
  --num-gpus N          GPUs the head offers to trials       RAY_HEAD_NUM_GPUS    (0)
  --dashboard-host H    Ray dashboard bind address           RAY_DASHBOARD_HOST   (127.0.0.1)
  --dashboard-port N    Ray dashboard port                   RAY_DASHBOARD_PORT   (8265)
  --node-ip-address IP  address the workers reach this node  RAY_NODE_IP          (Ray's choice)
  --auth MODE           token | disabled (Ray token auth)    NAS_ATTN_RAY_AUTH    (token)
  --wait-gpus N         after starting, wait until the cluster offers N GPUs
                                                             NAS_ATTN_WAIT_GPUS   (0: no wait)
  --wait-timeout S      give up waiting after S seconds      NAS_ATTN_WAIT_TIMEOUT (1800)
  --block               stay in the foreground (Ctrl-C stops the head)
  --dry-run             print the `ray start` command and exit
  -h, --help            show this help

With --auth token (the default) the head requires Ray's authentication token: it uses
RAY_AUTH_TOKEN, or the file in RAY_AUTH_TOKEN_PATH, or ~/.ray/auth_token (created here if
none exists). Every worker and driver needs the same token.

Environment: RAY (the ray executable, default: ray on PATH), NAS_ATTN_PYTHON (the Python
that has ray, for --wait-gpus; default python3).
EOF
}

die() {
    echo "start_head.sh: error: $*" >&2
    exit 1
}

port="${RAY_HEAD_PORT:-6379}"
num_cpus="${RAY_HEAD_NUM_CPUS:-0}"
num_gpus="${RAY_HEAD_NUM_GPUS:-0}"
dashboard_host="${RAY_DASHBOARD_HOST:-127.0.0.1}"
dashboard_port="${RAY_DASHBOARD_PORT:-8265}"
node_ip="${RAY_NODE_IP:-}"
auth="${NAS_ATTN_RAY_AUTH:-token}"
wait_gpus="${NAS_ATTN_WAIT_GPUS:-0}"
wait_timeout="${NAS_ATTN_WAIT_TIMEOUT:-1800}"
block=0
dry_run=0

need_value() {
    [ "$2" -ge 2 ] || die "$1 needs a value; see --help"
}

while [ "$#" -gt 0 ]; do
    case "$1" in
        -h | --help) usage; exit 0 ;;
        --port) need_value "$1" "$#"; port="$2"; shift 2 ;;
        --num-cpus) need_value "$1" "$#"; num_cpus="$2"; shift 2 ;;
        --num-gpus) need_value "$1" "$#"; num_gpus="$2"; shift 2 ;;
        --dashboard-host) need_value "$1" "$#"; dashboard_host="$2"; shift 2 ;;
        --dashboard-port) need_value "$1" "$#"; dashboard_port="$2"; shift 2 ;;
        --node-ip-address) need_value "$1" "$#"; node_ip="$2"; shift 2 ;;
        --auth) need_value "$1" "$#"; auth="$2"; shift 2 ;;
        --wait-gpus) need_value "$1" "$#"; wait_gpus="$2"; shift 2 ;;
        --wait-timeout) need_value "$1" "$#"; wait_timeout="$2"; shift 2 ;;
        --block) block=1; shift ;;
        --dry-run) dry_run=1; shift ;;
        *) die "unknown argument '$1'; see --help" ;;
    esac
done

is_count() { [[ "$1" =~ ^[0-9]+$ ]]; }
is_count "$port" || die "--port must be a number, got '$port'"
is_count "$num_cpus" || die "--num-cpus must be a whole number, got '$num_cpus'"
is_count "$num_gpus" || die "--num-gpus must be a whole number, got '$num_gpus'"
is_count "$dashboard_port" || die "--dashboard-port must be a number, got '$dashboard_port'"
is_count "$wait_gpus" || die "--wait-gpus must be a whole number, got '$wait_gpus'"
is_count "$wait_timeout" || die "--wait-timeout must be a number of seconds, got '$wait_timeout'"
case "$auth" in
    token | disabled) ;;
    *) die "--auth must be 'token' or 'disabled', got '$auth'" ;;
esac
if [ "$block" -eq 1 ] && [ "$wait_gpus" -gt 0 ]; then
    die "--block and --wait-gpus exclude each other (a blocking head never returns to wait)"
fi

ray_bin="${RAY:-ray}"
cmd=("$ray_bin" start --head
    --port "$port"
    --num-cpus "$num_cpus"
    --num-gpus "$num_gpus"
    --dashboard-host "$dashboard_host"
    --dashboard-port "$dashboard_port"
    --disable-usage-stats)
[ -z "$node_ip" ] || cmd+=(--node-ip-address "$node_ip")
[ "$block" -eq 0 ] || cmd+=(--block)

if [ "$dry_run" -eq 1 ]; then
    echo "RAY_AUTH_MODE=$auth ${cmd[*]}"
    exit 0
fi

command -v "$ray_bin" >/dev/null 2>&1 || die "'$ray_bin' not found; activate the nas-attn environment (or set RAY)"
export RAY_AUTH_MODE="$auth"
if [ "$auth" = token ] && [ -z "${RAY_AUTH_TOKEN:-}" ] && [ -z "${RAY_AUTH_TOKEN_PATH:-}" ] \
    && [ ! -s "$HOME/.ray/auth_token" ]; then
    "$ray_bin" get-auth-token --generate >/dev/null
    echo "start_head.sh: created a Ray auth token in $HOME/.ray/auth_token" >&2
fi

advertised="$node_ip"
if [ -z "$advertised" ]; then
    advertised="$(hostname -I 2>/dev/null | awk '{print $1}')" || true
    advertised="${advertised:-HEAD_IP}"
fi

echo "start_head.sh: ${cmd[*]}" >&2
if [ "$block" -eq 1 ]; then
    echo "start_head.sh: workers join with: workers/start_worker.sh $advertised:$port" >&2
    exec "${cmd[@]}"
fi
"${cmd[@]}"

cat <<EOF
Ray head is up. Workers join with:
    workers/start_worker.sh $advertised:$port
EOF
if [ "$auth" = token ]; then
    echo "  (each worker needs this cluster's token: copy ~/.ray/auth_token there, or set RAY_AUTH_TOKEN)"
fi
cat <<EOF
Run the search here (the driver is the only process that talks to the database):
    nas-attn search --space SPACE.yaml --ray-address auto --device cuda --storage postgresql+psycopg://USER@DBHOST/DB
Ray dashboard: http://$dashboard_host:$dashboard_port   Stop this node: ray stop
EOF

if [ "$wait_gpus" -gt 0 ]; then
    echo "start_head.sh: waiting up to ${wait_timeout}s for $wait_gpus GPU(s) to join..." >&2
    "${NAS_ATTN_PYTHON:-python3}" - "$wait_gpus" "$wait_timeout" <<'PY'
import logging
import sys
import time

import ray

want, timeout = float(sys.argv[1]), float(sys.argv[2])
deadline = time.monotonic() + timeout
ray.init(address="auto", logging_level=logging.ERROR, log_to_driver=False)
while True:
    have = ray.cluster_resources().get("GPU", 0.0)
    if have >= want:
        print(f"start_head.sh: the cluster offers {have:g} GPU(s)", file=sys.stderr)
        sys.exit(0)
    if time.monotonic() > deadline:
        print(
            f"start_head.sh: error: only {have:g} of {want:g} GPU(s) joined within {timeout:g}s; "
            "start workers with workers/start_worker.sh HEAD:PORT",
            file=sys.stderr,
        )
        sys.exit(1)
    time.sleep(5)
PY
fi
