#!/usr/bin/env bash
# Stop the local Spark cluster that start_spark_cluster.sh started with the same
# SOLIDFLOW_SPARK_PORT and SOLIDFLOW_SPARK_TMP. Other Spark processes on this host (other
# clusters, drivers, pyspark's local JVMs) are left alone.
#
# What it does, with D = $SOLIDFLOW_SPARK_TMP/<port> (default /tmp/solidflow-spark/7077):
#   1. sends SIGTERM to the JVMs whose PIDs are in D/pids/ (the Spark Connect server first, then
#      the worker, which ends the executors it launched, then the master) and waits for them
#      to exit;
#   2. after up to SOLIDFLOW_SPARK_STOP_TIMEOUT seconds (default 20), ends every process of the
#      cluster still there: SIGTERM, then SIGKILL 5 s later. It finds them in /proc (Linux
#      only) by SOLIDFLOW_SPARK_CLUSTER_DIR=D in their environment (start_spark_cluster.sh
#      sets it for the JVMs, and everything they start inherits it: executors, their Python
#      workers) and by their session (each JVM runs in a session of its own).
# Drivers connected to the cluster (a SparkSession with master spark://..., a Spark Connect
# client) are not its processes and keep running; their executors on the worker end. The logs
# and the work dir in D stay for inspection; delete D to drop them. Running it when nothing is
# running does nothing. Its process functions are in process_tools.sh, beside it.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=process_tools.sh
source "$(dirname "${BASH_SOURCE[0]}")/process_tools.sh"

port="${SOLIDFLOW_SPARK_PORT:-7077}"
tmp_root="${SOLIDFLOW_SPARK_TMP:-/tmp/solidflow-spark}"
stop_timeout="${SOLIDFLOW_SPARK_STOP_TIMEOUT:-20}"
cluster_dir="$tmp_root/$port"
marker="SOLIDFLOW_SPARK_CLUSTER_DIR=$cluster_dir"

[[ "$stop_timeout" =~ ^[0-9]+$ ]] || die "SOLIDFLOW_SPARK_STOP_TIMEOUT must be a whole number"

# 1. The JVMs, in the order: Connect server (a driver), worker, master.
declare -A labels=([connect]="Spark Connect server" [worker]=worker [master]=master)
pids=()
for component in connect worker master; do
    # (Without D/pids, e.g. after D was deleted, step 2 still finds the processes.)
    pid_file="$cluster_dir/pids/$component.pid"
    pid="$(terminate_from_pid_file "$marker" "$pid_file" "the ${labels[$component]}")" || continue
    pids+=("$pid")
    # The Connect server's application gives its executor back to the worker as it ends; the
    # worker would rather not be stopped in the middle of that.
    if [[ "$component" == connect ]]; then
        wait_for_exit 10 "$pid"
    fi
done
wait_for_exit "$stop_timeout" "${pids[@]}"

# 2. Anything of the cluster that is still there: the processes with the marker in their
# environment, and every process in a session of the cluster (each JVM runs in a session of its
# own, setsid in start_spark_cluster.sh). Once signalled, a process may no longer look like the
# cluster's: the ones found are followed by PID and start time. Then the pid files go.
finish_stop_cluster "$marker" "$cluster_dir" "${#pids[@]}"
