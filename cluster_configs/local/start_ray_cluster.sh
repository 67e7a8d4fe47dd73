#!/usr/bin/env bash
# Start a local Ray cluster of three nodes on this host (Linux): a head node and two worker
# nodes, each its own `ray start --block` (own raylet and object store); the workers offer the
# custom resources `node_a` and `node_b` (1000 each) so tasks can be pinned to them. Waits
# until all three nodes are alive, then prints the address (127.0.0.1:<port>) as the last line
# on stdout; everything else goes to stderr. If the cluster is already up, it only prints the
# address. stop_ray_cluster.sh stops it; cluster_configs/ray/README.md has more.
#
# Environment (all optional): SOLIDFLOW_RAY_PORT (6390), SOLIDFLOW_RAY_TMP (/tmp/solidflow-ray;
# keep it short, Ray puts unix sockets below it), SOLIDFLOW_RAY_HEAD_CPUS (1),
# SOLIDFLOW_RAY_WORKER_CPUS (1), SOLIDFLOW_RAY_OBJECT_STORE_MB (256, per node),
# SOLIDFLOW_RAY_TIMEOUT (90 s), SOLIDFLOW_RAY_DASHBOARD (0; 1 starts the head's dashboard with
# its job server on 127.0.0.1:P+2, which Ray job submission and solidflow's ray_jobs launcher
# need, and waits until it answers), RAY_BIN (the `ray` next to `python`), RAY_AUTH_MODE
# (disabled, or token: then Ray reads the token from RAY_AUTH_TOKEN, RAY_AUTH_TOKEN_PATH or
# ~/.ray/auth_token, and drivers must use it too).
#
# Ports, with P = SOLIDFLOW_RAY_PORT (the cluster uses P .. P+249): P GCS, P+1 Ray Client
# server, P+2 dashboard head (Ray starts a minimal one even without the dashboard), P+3
# autoscaler metrics, P+4 dashboard metrics. Node i (0 head, 1 node_a, 2 node_b), with
# Q = P+10+10*i: Q node manager, Q+1 object manager, Q+2 and Q+3 dashboard agent (http, grpc),
# Q+4 runtime env agent, Q+5 metrics export; its worker processes P+100+50*i .. P+149+50*i.
#
# Files, with D = $SOLIDFLOW_RAY_TMP/<port>: D/{head,node_a,node_b} are the nodes' Ray temp
# dirs, D/<node>/work their working directories (each node's own, as on hosts without a
# shared disk), D/pids/<node>.pid the PIDs of the `ray start --block` processes,
# D/logs/<node>.out their output.
#
# Its process functions are in process_tools.sh, beside it.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=process_tools.sh
source "$(dirname "${BASH_SOURCE[0]}")/process_tools.sh"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

port="${SOLIDFLOW_RAY_PORT:-6390}"
tmp_root="${SOLIDFLOW_RAY_TMP:-/tmp/solidflow-ray}"
head_cpus="${SOLIDFLOW_RAY_HEAD_CPUS:-1}"
worker_cpus="${SOLIDFLOW_RAY_WORKER_CPUS:-1}"
store_mb="${SOLIDFLOW_RAY_OBJECT_STORE_MB:-256}"
timeout="${SOLIDFLOW_RAY_TIMEOUT:-90}"
dashboard="${SOLIDFLOW_RAY_DASHBOARD:-0}"

[[ "$dashboard" == 0 || "$dashboard" == 1 ]] || die "SOLIDFLOW_RAY_DASHBOARD must be 0 or 1, got '$dashboard'"
for name in port head_cpus worker_cpus store_mb timeout; do
    [[ "${!name}" =~ ^[0-9]+$ ]] || die "$name must be a whole number, got '${!name}'"
done
((port >= 1024 && port + 249 <= 65535)) || die "SOLIDFLOW_RAY_PORT must be in 1024..65286"
((store_mb >= 75)) || die "SOLIDFLOW_RAY_OBJECT_STORE_MB must be at least 75 (Ray's minimum)"

# The `ray` executable: $RAY_BIN, else the one next to `python` (or `python3`) on PATH, else
# `ray` on PATH, else the repository's .venv.
find_ray() {
    if [[ -n "${RAY_BIN:-}" ]]; then
        echo "$RAY_BIN"
        return
    fi
    local py
    for py in python python3; do
        if command -v "$py" >/dev/null 2>&1; then
            local candidate
            candidate="$(dirname "$(command -v "$py")")/ray"
            if [[ -x "$candidate" ]]; then
                echo "$candidate"
                return
            fi
        fi
    done
    if command -v ray >/dev/null 2>&1; then
        command -v ray
        return
    fi
    echo "$here/../../.venv/bin/ray"
}
ray_bin="$(find_ray)"
[[ -x "$ray_bin" ]] || die "no ray executable at '$ray_bin' (install solidflow[ray] or set RAY_BIN)"
# The Python that runs `ray` (from its #! line) checks ports and polls the cluster.
python_bin="$(head -n 1 "$ray_bin" | sed -n 's/^#![[:space:]]*//p' | awk '{print $1}')"
if [[ "$(basename "$python_bin")" != python* || ! -x "$python_bin" ]]; then
    python_bin="$(dirname "$ray_bin")/python"
fi
[[ -x "$python_bin" ]] || die "cannot find the Python interpreter of '$ray_bin'"

# Explicit for every node: left unset, a head started while ~/.ray/auth_token exists turns token
# authentication on, and worker nodes without RAY_AUTH_MODE=token then cannot join.
export RAY_AUTH_MODE="${RAY_AUTH_MODE:-disabled}"
[[ "$RAY_AUTH_MODE" == disabled || "$RAY_AUTH_MODE" == token ]] ||
    die "RAY_AUTH_MODE must be 'disabled' or 'token', got '$RAY_AUTH_MODE'"

cluster_dir="$tmp_root/$port"
address="127.0.0.1:$port"
nodes=(head node_a node_b)

# Ray puts unix sockets at <temp dir>/session_<date>_<pid>/sockets/<name>; a socket path
# must stay under 108 bytes, which leaves about 55 for the temp dir.
if ((${#cluster_dir} + 7 > 55)); then
    die "'$cluster_dir/node_a' is too long for Ray's unix sockets; use a shorter SOLIDFLOW_RAY_TMP"
fi

pid_of() { cat "$cluster_dir/pids/$1.pid" 2>/dev/null || true; }
# Runs a command for at most $1 seconds (a Ray driver can wait forever for an unreachable GCS,
# and ignores SIGTERM while it does).
limited() {
    local seconds=$1
    shift
    if command -v timeout >/dev/null 2>&1; then
        timeout -s KILL "$seconds" "$@"
    else
        "$@"
    fi
}
alive() { [[ -n "$1" ]] && kill -0 "$1" 2>/dev/null; }

# Waits until the cluster at $address has the head and both worker nodes alive. Arguments: the
# seconds to wait, then the PIDs of the `ray start` processes (it gives up when one exits).
wait_for_nodes() {
    limited $(($1 + 30)) "$python_bin" - "$address" "$@" <<'EOF'
import os
import socket
import sys
import time

address, timeout, pids = sys.argv[1], float(sys.argv[2]), [int(p) for p in sys.argv[3:]]
deadline = time.monotonic() + timeout
host, port = address.rsplit(":", 1)


def check_processes():
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            sys.exit(f"the `ray start` process {pid} exited")


while True:  # the GCS accepts connections
    check_processes()
    try:
        socket.create_connection((host, int(port)), timeout=1).close()
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit(f"nothing listens on {address}")
        time.sleep(0.2)

import ray  # noqa: E402

ray.init(address=address, logging_level="ERROR", log_to_driver=False)
try:
    while True:
        check_processes()
        alive = [n for n in ray.nodes() if n["Alive"]]
        found = {"head": 0, "node_a": 0, "node_b": 0}
        for n in alive:
            resources = n["Resources"]
            if "node_a" in resources:
                found["node_a"] += 1
            elif "node_b" in resources:
                found["node_b"] += 1
            else:
                found["head"] += 1
        if found == {"head": 1, "node_a": 1, "node_b": 1}:
            break
        if time.monotonic() > deadline:
            sys.exit(f"alive nodes: {found}")
        time.sleep(0.5)
finally:
    ray.shutdown()
EOF
}

# Already running? Then only print the address.
all_alive=1
any_pid=0
for node in "${nodes[@]}"; do
    pid="$(pid_of "$node")"
    [[ -n "$pid" ]] && any_pid=1
    alive "$pid" || all_alive=0
done
if ((any_pid)); then
    if ((all_alive)) &&
        wait_for_nodes 15 "$(pid_of head)" "$(pid_of node_a)" "$(pid_of node_b)" >&2; then
        say "the cluster at $address is already running"
        echo "$address"
        exit 0
    fi
    say "found a partly running cluster in $cluster_dir; stopping it first"
    SOLIDFLOW_RAY_PORT="$port" SOLIDFLOW_RAY_TMP="$tmp_root" "$here/stop_ray_cluster.sh" >&2
fi

# Every fixed port must be free (worker port ranges are not checked: Ray skips busy ones).
fixed_ports=("$port" $((port + 1)) $((port + 2)) $((port + 3)) $((port + 4)))
for i in 0 1 2; do
    for j in 0 1 2 3 4 5; do
        fixed_ports+=($((port + 10 + 10 * i + j)))
    done
done
check_ports_free "$python_bin" start_ray_cluster "${fixed_ports[@]}" ||
    die "choose another SOLIDFLOW_RAY_PORT"

mkdir -p "$cluster_dir/pids" "$cluster_dir/logs"
rm -f "$cluster_dir"/pids/*.pid

start_node() {
    local node=$1 index=$2
    shift 2
    local q=$((port + 10 + 10 * index))
    local w=$((port + 100 + 50 * index))
    mkdir -p "$cluster_dir/$node/work"
    # Each node works in a directory of its own (D/<node>/work), as the nodes of a real
    # cluster share no disk. setsid: the node survives the end of the calling shell or
    # terminal. The marker variable is inherited by every process of the node, so
    # stop_ray_cluster.sh finds stragglers.
    (cd "$cluster_dir/$node/work" && exec env \
        SOLIDFLOW_RAY_CLUSTER_DIR="$cluster_dir" \
        RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S="${RAY_GRACEFUL_SHUTDOWN_DRAIN_TIMEOUT_S:-0}" \
        RAY_USAGE_STATS_ENABLED=0 \
        AUTOSCALER_METRIC_PORT=$((port + 3)) \
        DASHBOARD_METRIC_PORT=$((port + 4)) \
        setsid "$ray_bin" start --block \
        --temp-dir="$cluster_dir/$node" \
        --object-store-memory=$((store_mb * 1024 * 1024)) \
        --node-manager-port=$q \
        --object-manager-port=$((q + 1)) \
        --dashboard-agent-listen-port=$((q + 2)) \
        --dashboard-agent-grpc-port=$((q + 3)) \
        --runtime-env-agent-port=$((q + 4)) \
        --metrics-export-port=$((q + 5)) \
        --min-worker-port=$w \
        --max-worker-port=$((w + 49)) \
        --disable-usage-stats \
        --log-style=record \
        "$@") \
        </dev/null >"$cluster_dir/logs/$node.out" 2>&1 &
    echo $! >"$cluster_dir/pids/$node.pid"
}

# Says why the cluster did not come up, shows the nodes' logs, stops what started and exits.
give_up() {
    say "$1"
    show_log_tails "$cluster_dir/logs" "${nodes[@]}"
    SOLIDFLOW_RAY_PORT="$port" SOLIDFLOW_RAY_TMP="$tmp_root" "$here/stop_ray_cluster.sh" >&2 || true
    exit 1
}

started=$SECONDS
say "starting the head node on $address (ray: $ray_bin)"
dashboard_options=(--include-dashboard=false)
if ((dashboard)); then
    dashboard_options=(--include-dashboard=true --dashboard-host=127.0.0.1)
fi
start_node head 0 --head --port="$port" --num-cpus="$head_cpus" \
    "${dashboard_options[@]}" --dashboard-port=$((port + 2)) \
    --ray-client-server-port=$((port + 1))
# The worker nodes need a running GCS to join.
if ! wait_for_head="$("$python_bin" - "$port" "$timeout" "$(pid_of head)" 2>&1 <<'EOF'
import os
import socket
import sys
import time

port, timeout, pid = int(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
deadline = time.monotonic() + timeout
while True:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        sys.exit("the head's `ray start` process exited")
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit(f"nothing listens on port {port} after {timeout:.0f}s")
        time.sleep(0.2)
EOF
)"; then
    give_up "the head node did not come up: $wait_for_head"
fi

say "starting the worker nodes node_a and node_b"
start_node node_a 1 --address="$address" --num-cpus="$worker_cpus" --resources='{"node_a": 1000}'
start_node node_b 2 --address="$address" --num-cpus="$worker_cpus" --resources='{"node_b": 1000}'

remaining=$((timeout - (SECONDS - started)))
((remaining > 1)) || remaining=1
node_pids=()
for node in "${nodes[@]}"; do
    node_pids+=("$(pid_of "$node")")
done
if ! problem="$(wait_for_nodes "$remaining" "${node_pids[@]}" 2>&1)"; then
    give_up "the cluster did not come up within ${timeout}s: $(tail -n 1 <<<"${problem:-timed out}")"
fi

if ((dashboard)); then
    remaining=$((timeout - (SECONDS - started)))
    ((remaining > 1)) || remaining=1
    if ! problem="$("$python_bin" - "$((port + 2))" "$remaining" 2>&1 <<'EOF'
import sys
import time
import urllib.request

port, timeout = int(sys.argv[1]), float(sys.argv[2])
deadline = time.monotonic() + timeout
while True:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/jobs/", timeout=2) as answer:
            if answer.status == 200:
                break
    except OSError:
        pass
    if time.monotonic() > deadline:
        sys.exit(f"the job server on port {port} did not answer")
    time.sleep(0.5)
EOF
)"; then
        give_up "the dashboard did not come up within ${timeout}s: $problem"
    fi
    say "the dashboard and job server answer on http://127.0.0.1:$((port + 2))"
fi

say "3 nodes alive after $((SECONDS - started))s; stop with $here/stop_ray_cluster.sh"
echo "$address"
