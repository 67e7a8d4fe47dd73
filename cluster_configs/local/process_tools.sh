# shellcheck shell=bash
# Process tools shared by the local cluster scripts in this directory (start_ray_cluster.sh,
# stop_ray_cluster.sh, start_spark_cluster.sh, stop_spark_cluster.sh). They source it with
#   source "$(dirname "${BASH_SOURCE[0]}")/process_tools.sh"
# It only defines functions; it is not a script to run. The functions are written for scripts
# that run under `set -euo pipefail`; they write their messages with say (one line to stderr,
# after the name of the running script).
#
# A cluster's processes are found by a marker: an assignment NAME=VALUE (e.g.
# SOLIDFLOW_RAY_CLUSTER_DIR=/tmp/solidflow-ray/6390) that the start script puts into the
# environment of the processes it starts, and that everything they start inherits. Each of those
# processes is started with setsid, in a session of its own. Reading another process's
# environment and session needs /proc (Linux); without it, has_marker is false and the
# functions that use it say what they do instead.
#
# Functions:
#   say MESSAGE...                   MESSAGE on stderr, after the running script's name
#   die MESSAGE...                   says "error: MESSAGE" and exits 1
#   has_marker MARKER PID            true if process PID has MARKER in its environment
#   is_cluster_process MARKER PID    true if PID is a running process of the cluster
#   terminate_from_pid_file MARKER PIDFILE LABEL
#                                    SIGTERM to the cluster's process in PIDFILE; prints its PID
#   wait_for_exit SECONDS PID...     waits, at most SECONDS in all, until the PIDs have exited
#   cluster_processes MARKER         prints the PIDs of every process of the cluster still there
#   process_start_time PID           prints when PID started (nothing once it is gone)
#   end_processes PID...             SIGTERM, then SIGKILL 5 s later, and waits until they are gone
#   finish_stop_cluster MARKER CLUSTER_DIR SIGNALLED
#                                    the end of a stop script: ends what is left, says what it
#                                    did, removes CLUSTER_DIR/pids/*.pid
#   check_ports_free PYTHON PROGRAM PORT...
#                                    fails, saying which, if one of the TCP ports is in use
#   show_log_tails LOG_DIR NAME...   the last lines of LOG_DIR/NAME.out, for each NAME, on stderr

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    echo "process_tools.sh: source it from a script; it only defines functions" >&2
    exit 1
fi

say() { echo "$(basename "$0" .sh): $*" >&2; }

die() {
    say "error: $*"
    exit 1
}

# True if process $2 has the marker $1 in its environment. Never true for this shell or the
# subshell that asks (they may have inherited the marker from their caller).
has_marker() {
    [[ "$2" != "$$" && "$2" != "$BASHPID" ]] &&
        grep -qzxF -- "$1" "/proc/$2/environ" 2>/dev/null
}

# True if $2 is the PID of a running process of the cluster with marker $1: one with the marker
# in its environment (without /proc: any running process).
is_cluster_process() {
    [[ "$2" =~ ^[0-9]+$ ]] && kill -0 "$2" 2>/dev/null &&
        { [[ ! -d /proc/self ]] || has_marker "$1" "$2"; }
}

# If the pid file $2 exists and names a running process of the cluster with marker $1
# (is_cluster_process), says "stopping $3 (pid <pid>)", sends that process SIGTERM and prints
# its PID. Fails, doing nothing, otherwise. Use it as `pid="$(terminate_from_pid_file ...)" || ...`.
terminate_from_pid_file() {
    local pid
    [[ -f "$2" ]] || return 1
    pid="$(cat "$2")" || return 1
    is_cluster_process "$1" "$pid" || return 1
    say "stopping $3 (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    echo "$pid"
}

# Waits until the processes $2... have exited, for at most $1 seconds in all.
wait_for_exit() {
    local deadline=$((SECONDS + $1)) pid
    shift
    for pid in "$@"; do
        while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
            sleep 0.2
        done
    done
}

# Prints, one a line, the PIDs of the processes of the cluster with marker $1 still running
# (without /proc: none). Those are the processes with the marker in their environment, and every
# process in a session of the cluster, which also finds those whose environment no longer shows
# the marker (a process can blank it, e.g. Ray's when they rename themselves with setproctitle).
# A session is the cluster's if its leader is alive and marked, or if its leader is gone and a
# member is marked (a session ID is not reused while the session has members). Processes
# connected to the cluster but not started by it (drivers, clients) are not marked, and are not
# its processes.
cluster_processes() {
    [[ -d /proc/self ]] || return 0
    local marker=$1 d pid stat sid
    local -A session_of=() marked_pid=() leader_alive=() ours=()
    for d in /proc/[0-9]*; do
        pid="${d#/proc/}"
        [[ "$pid" == "$$" || "$pid" == "$BASHPID" ]] && continue
        { stat="$(<"$d/stat")"; } 2>/dev/null || continue
        # Fields after the command name, which is in parentheses: state ppid pgrp session ...
        read -r _ _ _ sid _ <<<"${stat##*) }"
        session_of[$pid]=$sid
        if [[ -z "${marked_pid[$pid]:-}" ]] && has_marker "$marker" "$pid"; then
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

# Prints the start time of process $1 (field 22 of /proc/<pid>/stat), or nothing if it is gone
# or has exited (a zombie, not reaped yet). PID and start time together name one process, even
# after the PID is reused.
process_start_time() {
    local stat fields
    { stat="$(<"/proc/$1/stat")"; } 2>/dev/null || return 0
    read -r -a fields <<<"${stat##*) }"
    # Fields 3 and 22 of /proc/<pid>/stat: the state (Z: exited, not reaped yet), the start time.
    [[ "${fields[0]}" == Z ]] || echo "${fields[19]}"
}

# Ends the processes $@ (at least one): SIGTERM, then SIGKILL to those still there 5 s later,
# and then waits up to 5 s until those are gone. It follows them by PID and start time: once
# signalled, a process may no longer look like the cluster's, and its PID may be reused.
end_processes() {
    local pid since gone still=()
    local -A started_at=()
    say "ending $# remaining process(es): $*"
    for pid in "$@"; do
        started_at[$pid]="$(process_start_time "$pid")"
    done
    kill -TERM "$@" 2>/dev/null || true
    for _ in $(seq 25); do
        still=()
        for pid in "${!started_at[@]}"; do
            since="${started_at[$pid]}"
            if [[ -n "$since" && "$(process_start_time "$pid")" == "$since" ]]; then
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
                [[ -z "$(process_start_time "$pid")" ]] || gone=0
            done
            ((gone)) && break
            sleep 0.1
        done
    fi
}

# The end of a stop script, once it has signalled the processes in the pid files and waited for
# them: ends every process of the cluster with marker $1 still there (cluster_processes,
# end_processes), says whether there was anything to stop ($3: how many processes the script
# signalled before), and removes the pid files $2/pids/*.pid ($2: the cluster's directory).
finish_stop_cluster() {
    local marker=$1 cluster_dir=$2 signalled=$3
    local -a rest
    mapfile -t rest < <(cluster_processes "$marker")
    if ((${#rest[@]})); then
        end_processes "${rest[@]}"
    fi
    if ((signalled == 0 && ${#rest[@]} == 0)); then
        say "no processes of a cluster in $cluster_dir; nothing to stop"
    else
        say "stopped the cluster in $cluster_dir"
    fi
    rm -f "$cluster_dir"/pids/*.pid
}

# Fails if one of the TCP ports $3... cannot be bound (on all addresses), after writing
# "$2: error: ports in use: [...]" to stderr. $1 is the Python that checks.
check_ports_free() {
    local python=$1
    shift
    "$python" - "$@" <<'EOF'
import socket
import sys

program, busy = sys.argv[1], []
for port in map(int, sys.argv[2:]):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("", port))
        except OSError:
            busy.append(port)
if busy:
    sys.exit(f"{program}: error: ports in use: {busy}")
EOF
}

# For each name $2..., the last 15 lines of $1/<name>.out, if it is not empty, under a heading
# (say), on stderr.
show_log_tails() {
    local log_dir=$1 name
    shift
    for name in "$@"; do
        if [[ -s "$log_dir/$name.out" ]]; then
            say "---- last lines of $log_dir/$name.out"
            tail -n 15 "$log_dir/$name.out" >&2
        fi
    done
}
