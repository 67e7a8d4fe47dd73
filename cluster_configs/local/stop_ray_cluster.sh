#!/usr/bin/env bash
# Stop the local Ray cluster that start_ray_cluster.sh started with the same SOLIDFLOW_RAY_PORT
# and SOLIDFLOW_RAY_TMP. Other Ray clusters on this host are left alone: it does not run
# `ray stop`, which would end every Ray process of the user.
#
# What it does, with D = $SOLIDFLOW_RAY_TMP/<port>:
#   1. sends SIGTERM to the `ray start --block` processes whose PIDs are in D/pids/; each shuts
#      down the processes of its node (raylet, object store, agents, workers; on the head also
#      the GCS) and exits;
#   2. after up to SOLIDFLOW_RAY_STOP_TIMEOUT seconds (default 20), ends every process of the
#      cluster still there: SIGTERM, then SIGKILL 5 s later. It finds them in /proc (Linux
#      only) by SOLIDFLOW_RAY_CLUSTER_DIR=D in their environment (start_ray_cluster.sh sets it
#      for the nodes, and all their processes inherit it) and by their session (each node runs
#      in a session of its own).
# The nodes' temp dirs and logs in D stay for inspection; delete D to drop them. Running it
# when nothing is running does nothing. Its process functions are in process_tools.sh, beside
# it.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=process_tools.sh
source "$(dirname "${BASH_SOURCE[0]}")/process_tools.sh"

port="${SOLIDFLOW_RAY_PORT:-6390}"
tmp_root="${SOLIDFLOW_RAY_TMP:-/tmp/solidflow-ray}"
stop_timeout="${SOLIDFLOW_RAY_STOP_TIMEOUT:-20}"
cluster_dir="$tmp_root/$port"
marker="SOLIDFLOW_RAY_CLUSTER_DIR=$cluster_dir"

[[ "$stop_timeout" =~ ^[0-9]+$ ]] || die "SOLIDFLOW_RAY_STOP_TIMEOUT must be a whole number"

# 1. The `ray start --block` processes, worker nodes first.
pids=()
for node in node_b node_a head; do
    # (Without D/pids, e.g. after D was deleted, step 2 still finds the processes.)
    pid="$(terminate_from_pid_file "$marker" "$cluster_dir/pids/$node.pid" "$node")" || continue
    pids+=("$pid")
done
wait_for_exit "$stop_timeout" "${pids[@]}"

# 2. Anything of the cluster that is still there: the processes with the marker in their
# environment, and, since Ray renames some processes (setproctitle), which can blank
# /proc/<pid>/environ, every process in a session of the cluster (each node's `ray start
# --block` runs in a session of its own, setsid in start_ray_cluster.sh). Drivers connected to
# the cluster are not marked (they have logs below D open too, but they are not the cluster's to
# end). Once signalled, a process may close its logs and so no longer look like the cluster's:
# the ones found are followed by PID and start time. Then the pid files go.
finish_stop_cluster "$marker" "$cluster_dir" "${#pids[@]}"
