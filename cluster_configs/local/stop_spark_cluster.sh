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
# running does nothing.
set -euo pipefail

port="${SOLIDFLOW_SPARK_PORT:-7077}"
tmp_root="${SOLIDFLOW_SPARK_TMP:-/tmp/solidflow-spark}"
stop_timeout="${SOLIDFLOW_SPARK_STOP_TIMEOUT:-20}"
cluster_dir="$tmp_root/$port"
marker="SOLIDFLOW_SPARK_CLUSTER_DIR=$cluster_dir"

say() { echo "stop_spark_cluster: $*" >&2; }

[[ "$stop_timeout" =~ ^[0-9]+$ ]] || {
    say "error: SOLIDFLOW_SPARK_STOP_TIMEOUT must be a whole number"
    exit 1
}

# True if process $1 carries the marker in its environment.
marked() {
    [[ "$1" != "$$" && "$1" != "$BASHPID" ]] &&
        grep -qzxF -- "$marker" "/proc/$1/environ" 2>/dev/null
}

# The processes of this cluster still running: those with the marker in their environment,
# and every process in a session of the cluster (each JVM runs in a session of its own, setsid
# in start_spark_cluster.sh). A session is the cluster's if its leader is alive and marked, or
# if its leader is gone and a member is marked (a session ID is not reused while the session
# has members).
leftovers() {
    [[ -d /proc/self ]] || return 0
    local d pid stat sid
    local -A session_of=() marked_pid=() leader_alive=() ours=()
    for d in /proc/[0-9]*; do
        pid="${d#/proc/}"
        [[ "$pid" == "$$" || "$pid" == "$BASHPID" ]] && continue
        { stat="$(<"$d/stat")"; } 2>/dev/null || continue
        # Fields after the command name, which is in parentheses: state ppid pgrp session ...
        read -r _ _ _ sid _ <<<"${stat##*) }"
        session_of[$pid]=$sid
        if [[ -z "${marked_pid[$pid]:-}" ]] && marked "$pid"; then
            marked_pid[$pid]=1
        fi
    done
    for pid in "${!session_of[@]}"; do
        sid="${session_of[$pid]}"
        [[ "$pid" == "$sid" ]] && leader_alive[$sid]=1
    done
    for pid in "${!marked_pid[@]}"; do
        sid="${session_of[$pid]:-}"
        [[ -n "$sid" ]] || continue
        if [[ -z "${leader_alive[$sid]:-}" || -n "${marked_pid[$sid]:-}" ]]; then
            ours[$sid]=1
        fi
    done
    for pid in "${!session_of[@]}"; do
        if [[ -n "${marked_pid[$pid]:-}" || -n "${ours[${session_of[$pid]}]:-}" ]]; then
            echo "$pid"
        fi
    done
}

# 1. The JVMs, in the order: Connect server (a driver), worker, master.
declare -A labels=([connect]="Spark Connect server" [worker]=worker [master]=master)
pids=()
for component in connect worker master; do
    # (Without D/pids, e.g. after D was deleted, step 2 still finds the processes.)
    pid_file="$cluster_dir/pids/$component.pid"
    [[ -f "$pid_file" ]] || continue
    pid="$(cat "$pid_file")"
    if [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null &&
        { [[ ! -d /proc/self ]] || marked "$pid"; }; then
        say "stopping the ${labels[$component]} (pid $pid)"
        kill -TERM "$pid" 2>/dev/null || true
        pids+=("$pid")
        # The Connect server's application gives its executor back to the worker as it ends;
        # the worker would rather not be stopped in the middle of that.
        if [[ "$component" == connect ]]; then
            for _ in $(seq 50); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.2
            done
        fi
    fi
done
deadline=$((SECONDS + stop_timeout))
for pid in "${pids[@]}"; do
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
        sleep 0.2
    done
done

# 2. Anything of the cluster that is still there. Once signalled, a process may no longer
# look like the cluster's: the ones found are followed by PID and start time.
start_time() {
    local stat fields
    { stat="$(<"/proc/$1/stat")"; } 2>/dev/null || return 0
    read -r -a fields <<<"${stat##*) }"
    # Fields 3 and 22 of /proc/<pid>/stat: the state (Z: exited, not reaped yet), the start time.
    [[ "${fields[0]}" == Z ]] || echo "${fields[19]}"
}
mapfile -t rest < <(leftovers)
found=${#rest[@]}
if ((found)); then
    say "ending ${#rest[@]} remaining process(es): ${rest[*]}"
    declare -A started_at=()
    for pid in "${rest[@]}"; do
        started_at[$pid]="$(start_time "$pid")"
    done
    kill -TERM "${rest[@]}" 2>/dev/null || true
    for _ in $(seq 25); do
        still=()
        for pid in "${!started_at[@]}"; do
            since="${started_at[$pid]}"
            if [[ -n "$since" && "$(start_time "$pid")" == "$since" ]]; then
                still+=("$pid")
            fi
        done
        ((${#still[@]})) || break
        sleep 0.2
    done
    if ((${#still[@]})); then
        say "killing ${still[*]}"
        kill -KILL "${still[@]}" 2>/dev/null || true
        # SIGKILL takes effect asynchronously; wait until their ports are free again.
        for _ in $(seq 50); do
            gone=1
            for pid in "${still[@]}"; do
                [[ -z "$(start_time "$pid")" ]] || gone=0
            done
            ((gone)) && break
            sleep 0.1
        done
    fi
fi

if ((${#pids[@]} == 0 && found == 0)); then
    say "no processes of a cluster in $cluster_dir; nothing to stop"
else
    say "stopped the cluster in $cluster_dir"
fi
rm -f "$cluster_dir"/pids/*.pid
