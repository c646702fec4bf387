#!/usr/bin/env bash
# Join a GPU worker node to the Ray head of a nas-attn cluster. See workers/README.md.
set -euo pipefail

usage() {
    cat <<'EOF'
Usage: workers/start_worker.sh [options] HEAD_HOST:PORT

Join this machine to the Ray cluster whose head listens at HEAD_HOST:PORT (what
workers/start_head.sh printed, e.g. 10.0.0.5:6379). The node offers its GPUs and CPUs to
nas-attn's trial actors; it needs no database access and no dataset path.

Options (each has an environment variable; the option wins):
  HEAD_HOST:PORT        the head's address                   RAY_HEAD_ADDRESS
  --num-gpus N          GPUs to offer                        RAY_WORKER_NUM_GPUS
                        (default: counted with nvidia-smi, or CUDA_VISIBLE_DEVICES when set;
                        finding none is an error: pass --num-gpus 0 for a CPU-only worker)
  --num-cpus N          CPUs to offer                        RAY_WORKER_NUM_CPUS  (all: nproc)
  --node-ip-address IP  address the head reaches this node   RAY_NODE_IP          (Ray's choice)
  --claim-gpu DIR       take ONE free GPU of this machine by locking DIR/gpu-ID.lock and offer
                        only it (for several worker containers on one host; implies --block)
                                                             NAS_ATTN_GPU_CLAIM_DIR
  --auth MODE           token | disabled (must match the head) NAS_ATTN_RAY_AUTH  (token)
  --block               stay in the foreground (Ctrl-C leaves the cluster)
  --dry-run             print the `ray start` command and exit
  -h, --help            show this help

With --auth token the worker needs the head's token: RAY_AUTH_TOKEN, the file in
RAY_AUTH_TOKEN_PATH, or ~/.ray/auth_token copied from the head.

Environment: RAY (the ray executable, default: ray on PATH).
EOF
}

die() {
    echo "start_worker.sh: error: $*" >&2
    exit 1
}

address="${RAY_HEAD_ADDRESS:-}"
num_gpus="${RAY_WORKER_NUM_GPUS:-}"
num_cpus="${RAY_WORKER_NUM_CPUS:-}"
node_ip="${RAY_NODE_IP:-}"
claim_dir="${NAS_ATTN_GPU_CLAIM_DIR:-}"
auth="${NAS_ATTN_RAY_AUTH:-token}"
block=0
dry_run=0

need_value() {
    [ "$2" -ge 2 ] || die "$1 needs a value; see --help"
}

while [ "$#" -gt 0 ]; do
    case "$1" in
        -h | --help) usage; exit 0 ;;
        --num-gpus) need_value "$1" "$#"; num_gpus="$2"; shift 2 ;;
        --num-cpus) need_value "$1" "$#"; num_cpus="$2"; shift 2 ;;
        --node-ip-address) need_value "$1" "$#"; node_ip="$2"; shift 2 ;;
        --claim-gpu) need_value "$1" "$#"; claim_dir="$2"; shift 2 ;;
        --auth) need_value "$1" "$#"; auth="$2"; shift 2 ;;
        --block) block=1; shift ;;
        --dry-run) dry_run=1; shift ;;
        -*) die "unknown option '$1'; see --help" ;;
        *)
            [ -z "${positional_seen:-}" ] || die "one HEAD_HOST:PORT only, got also '$1'"
            positional_seen=1
            address="$1"
            shift
            ;;
    esac
done

[ -n "$address" ] || die "the head's address is missing: workers/start_worker.sh HEAD_HOST:PORT (see --help)"
[[ "$address" =~ ^[^:[:space:]]+:[0-9]+$ ]] || die "address must be HEAD_HOST:PORT (e.g. 10.0.0.5:6379), got '$address'"
case "$auth" in
    token | disabled) ;;
    *) die "--auth must be 'token' or 'disabled', got '$auth'" ;;
esac

# The GPUs this process can see: CUDA_VISIBLE_DEVICES when set, else nvidia-smi's indices.
visible_gpus() {
    if [ -n "${CUDA_VISIBLE_DEVICES+set}" ]; then
        local ids
        IFS=',' read -r -a ids <<<"$CUDA_VISIBLE_DEVICES"
        for id in "${ids[@]}"; do
            case "$id" in "" | -1) ;; *) echo "$id" ;; esac
        done
    elif command -v nvidia-smi >/dev/null 2>&1; then
        nvidia-smi --query-gpu=index --format=csv,noheader 2>/dev/null | tr -d ' ' | grep -E '^[0-9]+$' || true
    fi
}

if [ -n "$claim_dir" ]; then
    [ -z "$num_gpus" ] || [ "$num_gpus" = 1 ] || die "--claim-gpu offers exactly one GPU; drop --num-gpus $num_gpus"
    command -v flock >/dev/null 2>&1 || die "--claim-gpu needs flock (util-linux)"
    mkdir -p "$claim_dir"
    mapfile -t gpus < <(visible_gpus)
    [ "${#gpus[@]}" -gt 0 ] || die "--claim-gpu: this machine has no visible NVIDIA GPU"
    claimed=""
    for id in "${gpus[@]}"; do
        exec {lock_fd}>"$claim_dir/gpu-$id.lock"
        if flock -n "$lock_fd"; then
            claimed="$id"
            break  # the lock lives as long as this process (and `ray start --block`, exec'd below)
        fi
        exec {lock_fd}>&-
    done
    [ -n "$claimed" ] || die "--claim-gpu: all ${#gpus[@]} GPU(s) of this machine are taken by other workers"
    export CUDA_VISIBLE_DEVICES="$claimed"
    num_gpus=1
    block=1
    echo "start_worker.sh: claimed GPU $claimed" >&2
fi

if [ -z "$num_gpus" ]; then
    num_gpus="$(visible_gpus | wc -l | tr -d ' ')"
    [ "$num_gpus" -gt 0 ] || die "no NVIDIA GPU found (nvidia-smi missing or lists none); pass --num-gpus 0 for a CPU-only worker"
fi
num_cpus="${num_cpus:-$(nproc)}"
[[ "$num_gpus" =~ ^[0-9]+$ ]] || die "--num-gpus must be a whole number, got '$num_gpus'"
[[ "$num_cpus" =~ ^[0-9]+$ ]] || die "--num-cpus must be a whole number, got '$num_cpus'"

ray_bin="${RAY:-ray}"
cmd=("$ray_bin" start --address "$address" --num-gpus "$num_gpus" --num-cpus "$num_cpus" --disable-usage-stats)
[ -z "$node_ip" ] || cmd+=(--node-ip-address "$node_ip")
[ "$block" -eq 0 ] || cmd+=(--block)

if [ "$dry_run" -eq 1 ]; then
    echo "RAY_AUTH_MODE=$auth CUDA_VISIBLE_DEVICES=${CUDA_VISIBLE_DEVICES-} ${cmd[*]}"
    exit 0
fi

command -v "$ray_bin" >/dev/null 2>&1 || die "'$ray_bin' not found; activate the nas-attn environment (or set RAY)"
export RAY_AUTH_MODE="$auth"
if [ "$auth" = token ] && [ -z "${RAY_AUTH_TOKEN:-}" ] && [ -z "${RAY_AUTH_TOKEN_PATH:-}" ] \
    && [ ! -s "$HOME/.ray/auth_token" ]; then
    die "no Ray auth token: copy ~/.ray/auth_token from the head, or set RAY_AUTH_TOKEN (or --auth disabled on both)"
fi

echo "start_worker.sh: ${cmd[*]}" >&2
exec "${cmd[@]}"
