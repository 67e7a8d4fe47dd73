#!/usr/bin/env bash
# Start a local Spark standalone cluster on 127.0.0.1 (Linux): a master, one worker and, unless
# SOLIDFLOW_SPARK_CONNECT=0, a Spark Connect server whose application runs on that cluster.
# Each is its own JVM, started with the `spark-class` of a Spark installation (by default the
# one bundled with the pip package pyspark, which has everything, Spark Connect included). Waits
# until the master is up with the worker registered and ALIVE and the Connect server accepts
# connections, then prints the master URL (spark://127.0.0.1:<port>) and, unless the Connect
# server is skipped, the Connect URL (sc://127.0.0.1:<port>) as the last two lines on stdout;
# everything else goes to stderr. If the cluster is already up, it only prints the URLs.
# stop_spark_cluster.sh stops it; cluster_configs/spark/README.md has more.
#
# Needs Java 17 or newer (JAVA_HOME/bin/java, else `java` on PATH): Spark 4 runs on nothing
# older. On Debian/Ubuntu: apt-get install openjdk-17-jre-headless.
#
# Environment (all optional):
#   SOLIDFLOW_SPARK_PORT (7077)            the master's port; the other ports derive from it
#   SOLIDFLOW_SPARK_TMP (/tmp/solidflow-spark)  the cluster's files go to <this>/<port>
#   SOLIDFLOW_SPARK_WORKER_CORES (2)       cores the worker offers to applications
#   SOLIDFLOW_SPARK_WORKER_MEMORY (1g)     memory the worker offers to executors
#   SOLIDFLOW_SPARK_TIMEOUT (120)          seconds to wait for the cluster to come up
#   SOLIDFLOW_SPARK_CONNECT (1)            0: no Spark Connect server
#   SOLIDFLOW_SPARK_CONNECT_CORES (1)      spark.cores.max of the Connect server's application;
#                                          the rest of the worker's cores stay free for others
#                                          (with the defaults: 1 core and 512m, so another
#                                          application must ask for spark.cores.max=1 and
#                                          spark.executor.memory=512m: Spark's default
#                                          executor, 1g, would never get a place)
#   SOLIDFLOW_SPARK_CONNECT_DRIVER_MEMORY (512m), SOLIDFLOW_SPARK_CONNECT_EXECUTOR_MEMORY (512m)
#                                          the Connect server's own heap, and its executor's
#   SOLIDFLOW_SPARK_JAVA_OPTS ("-XX:TieredStopAtLevel=1 -XX:+UseSerialGC")  JVM options of the
#                                          master, the worker, the Connect server and its
#                                          executor; the default trades peak speed for JVMs
#                                          that start with half the CPU time; set it empty to
#                                          drop it
#   SPARK_HOME                             the Spark installation; else the pyspark package of
#                                          SOLIDFLOW_SPARK_PYTHON, else of the first `python`
#                                          or `python3` on PATH that has it, else of the
#                                          repository's .venv
#   SOLIDFLOW_SPARK_PYTHON                 the Python of pyspark; it also runs the Connect
#                                          server's Python UDFs (PYSPARK_PYTHON), and its
#                                          directory comes first on the JVMs' PATH, so the
#                                          Python workers of applications that do not name a
#                                          Python (pyspark's default is `python3`) use it too
# The master and worker daemons get SPARK_DAEMON_MEMORY=512m. The Spark settings of the caller's
# environment (SPARK_CONF_DIR, SPARK_MASTER_*, SPARK_WORKER_*, SPARK_REMOTE, HADOOP_CONF_DIR,
# ...) are not used: the cluster has an empty conf dir of its own.
#
# Ports, with P = SOLIDFLOW_SPARK_PORT (the cluster uses P .. P+7; all on 127.0.0.1 only):
#   P master (spark://), P+1 master web UI (its JSON: http://127.0.0.1:<P+1>/json/),
#   P+2 worker, P+3 worker web UI, P+4 Spark Connect (sc://), P+5 the Connect server's Spark UI,
#   P+6 and P+7 the Connect server's driver RPC and block manager.
# Executors listen on ports the kernel picks. spark.port.maxRetries is 0, so a busy port is an
# error instead of silently moving a service to the next port; the master's REST submission
# server (normally on 6066) is off.
#
# Files, with D = $SOLIDFLOW_SPARK_TMP/<port>: D/pids/{master,worker,connect}.pid the PIDs of the
# JVMs, D/logs/{master,worker,connect}.out their output, D/work the worker's dir (one subdir per
# application with each executor's stdout and stderr), D/local scratch space (shuffle and spill
# files), D/warehouse the Connect server's spark.sql.warehouse.dir, D/conf the (empty) Spark
# conf dir. Each JVM runs with D as its working directory.
#
# Its process functions are in process_tools.sh, beside it.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=process_tools.sh
source "$(dirname "${BASH_SOURCE[0]}")/process_tools.sh"

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

port="${SOLIDFLOW_SPARK_PORT:-7077}"
tmp_root="${SOLIDFLOW_SPARK_TMP:-/tmp/solidflow-spark}"
worker_cores="${SOLIDFLOW_SPARK_WORKER_CORES:-2}"
worker_memory="${SOLIDFLOW_SPARK_WORKER_MEMORY:-1g}"
timeout="${SOLIDFLOW_SPARK_TIMEOUT:-120}"
connect="${SOLIDFLOW_SPARK_CONNECT:-1}"
connect_cores="${SOLIDFLOW_SPARK_CONNECT_CORES:-1}"
connect_driver_memory="${SOLIDFLOW_SPARK_CONNECT_DRIVER_MEMORY:-512m}"
connect_executor_memory="${SOLIDFLOW_SPARK_CONNECT_EXECUTOR_MEMORY:-512m}"
default_java_opts="-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
java_opts="${SOLIDFLOW_SPARK_JAVA_OPTS-$default_java_opts}" # set but empty: no options

declare -A setting_of=([port]=PORT [worker_cores]=WORKER_CORES [timeout]=TIMEOUT
    [connect_cores]=CONNECT_CORES [worker_memory]=WORKER_MEMORY
    [connect_driver_memory]=CONNECT_DRIVER_MEMORY
    [connect_executor_memory]=CONNECT_EXECUTOR_MEMORY)
for name in port worker_cores timeout connect_cores; do
    [[ "${!name}" =~ ^[0-9]+$ ]] ||
        die "SOLIDFLOW_SPARK_${setting_of[$name]} must be a whole number, got '${!name}'"
done
for name in worker_memory connect_driver_memory connect_executor_memory; do
    [[ "${!name}" =~ ^[0-9]+[kKmMgGtT]?$ ]] ||
        die "SOLIDFLOW_SPARK_${setting_of[$name]} must look like 512m or 1g, got '${!name}'"
done
[[ "$connect" == 0 || "$connect" == 1 ]] || die "SOLIDFLOW_SPARK_CONNECT must be 0 or 1, got '$connect'"
((port >= 1024 && port + 7 <= 65535)) || die "SOLIDFLOW_SPARK_PORT must be in 1024..65528"
((worker_cores >= 1)) || die "SOLIDFLOW_SPARK_WORKER_CORES must be at least 1"
((connect_cores >= 1 && connect_cores <= worker_cores)) ||
    die "SOLIDFLOW_SPARK_CONNECT_CORES must be in 1..SOLIDFLOW_SPARK_WORKER_CORES"

# Java 17 or newer, the one spark-class runs.
if [[ -n "${JAVA_HOME:-}" ]]; then
    java_bin="$JAVA_HOME/bin/java"
else
    java_bin="$(command -v java || true)"
fi
install_java="install Java 17 or newer (Debian/Ubuntu: apt-get install openjdk-17-jre-headless) and put its java on PATH or set JAVA_HOME"
[[ -n "$java_bin" && -x "$java_bin" ]] || die "no Java found (JAVA_HOME='${JAVA_HOME:-}'); $install_java"
java_version="$("$java_bin" -version 2>&1 | sed -n 's/.* version "\([^"]*\)".*/\1/p' | head -n 1)"
java_major="${java_version#1.}" # 1.8.0_412 -> 8.0_412; 17.0.15 stays
java_major="${java_major%%[!0-9]*}"
if [[ -z "$java_major" ]] || ((java_major < 17)); then
    die "Spark 4 needs Java 17 or newer, $java_bin is '${java_version:-unknown}'; $install_java"
fi

# The Python of pyspark, and SPARK_HOME.
has_pyspark() { [[ -x "$1" ]] && "$1" -c 'import pyspark' >/dev/null 2>&1; }
python_bin=""
if [[ -n "${SOLIDFLOW_SPARK_PYTHON:-}" ]]; then
    python_bin="$SOLIDFLOW_SPARK_PYTHON"
    [[ -x "$python_bin" ]] || die "SOLIDFLOW_SPARK_PYTHON '$python_bin' is not an executable"
    [[ -n "${SPARK_HOME:-}" ]] || has_pyspark "$python_bin" ||
        die "SOLIDFLOW_SPARK_PYTHON '$python_bin' cannot import pyspark (and SPARK_HOME is not set)"
else
    for candidate in "$(command -v python || true)" "$(command -v python3 || true)" \
        "$here/../../.venv/bin/python"; do
        if [[ -n "$candidate" ]] && has_pyspark "$candidate"; then
            python_bin="$candidate"
            break
        fi
    done
fi
if [[ -n "${SPARK_HOME:-}" ]]; then
    spark_home="$SPARK_HOME"
elif [[ -n "$python_bin" ]]; then
    spark_home="$("$python_bin" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')"
else
    die "no Python with pyspark found (install solidflow[spark], or set SOLIDFLOW_SPARK_PYTHON or SPARK_HOME)"
fi
[[ -x "$spark_home/bin/spark-class" ]] || die "no bin/spark-class in SPARK_HOME '$spark_home'"
spark_class="$spark_home/bin/spark-class"
# Without pyspark, any Python 3 does for the checks below.
poll_python="${python_bin:-$(command -v python3 || true)}"
[[ -n "$poll_python" ]] || die "no python3 on PATH"
if ((connect)); then
    compgen -G "$spark_home/jars/spark-connect_*.jar" >/dev/null ||
        die "no spark-connect jar in $spark_home/jars (Spark 4 has it; for Spark 3.5 it is a separate package); set SOLIDFLOW_SPARK_CONNECT=0 to start without Spark Connect"
fi

cluster_dir="$tmp_root/$port"
master_url="spark://127.0.0.1:$port"
connect_url="sc://127.0.0.1:$((port + 4))"
marker="SOLIDFLOW_SPARK_CLUSTER_DIR=$cluster_dir"
components=(master worker)
((connect)) && components+=(connect)

print_urls() {
    echo "$master_url"
    if ((connect)); then
        echo "$connect_url"
    fi
}

pid_of() { cat "$cluster_dir/pids/$1.pid" 2>/dev/null || true; }

# Waits until the cluster is up. Arguments: what (master: the master is the elected leader;
# all: also the worker is registered and ALIVE, and the Connect server, if any, accepts
# connections), the seconds to wait, then the PIDs of the JVMs (it gives up when one exits).
wait_for() {
    local connect_port=0
    ((connect)) && connect_port=$((port + 4))
    "$poll_python" - "$1" "$port" "$connect_port" "$2" "${@:3}" <<'EOF'
import json
import os
import socket
import sys
import time
import urllib.request

what, port, connect_port, timeout = sys.argv[1], *map(int, sys.argv[2:4]), float(sys.argv[4])
pids = [int(p) for p in sys.argv[5:]]
deadline = time.monotonic() + timeout
# Straight to 127.0.0.1, whatever http_proxy says.
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def check_processes():
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            sys.exit(f"the JVM with pid {pid} exited")


def accepts(p):
    try:
        socket.create_connection(("127.0.0.1", p), timeout=1).close()
    except OSError:
        return False
    return True


def master_state():
    try:
        with opener.open(f"http://127.0.0.1:{port + 1}/json/", timeout=2) as response:
            return json.load(response)
    except (OSError, ValueError):
        return None


problem = "the master did not answer"
while True:
    check_processes()
    state = master_state() if accepts(port) else None
    if state is not None:
        problem = f"the master's status is {state.get('status')}"
        if state.get("status") == "ALIVE":
            if what == "master":
                break
            workers = [w for w in state.get("workers", []) if w.get("port") == port + 2]
            problem = f"the worker on port {port + 2} is {[w.get('state') for w in workers] or 'not registered'}"
            if any(w.get("state") == "ALIVE" for w in workers):
                problem = f"nothing listens on the Spark Connect port {connect_port}"
                if not connect_port or accepts(connect_port):
                    break
    if time.monotonic() > deadline:
        sys.exit(problem)
    time.sleep(0.3)
EOF
}

# Already running? Then only print the URLs.
all_ours=1
any_pid=0
pids=()
for component in master worker connect; do
    pid="$(pid_of "$component")"
    [[ -n "$pid" ]] && any_pid=1
    if [[ " ${components[*]} " == *" $component "* ]]; then
        pids+=("$pid")
        is_cluster_process "$marker" "$pid" || all_ours=0
    fi
done
if ((any_pid)); then
    if ((all_ours)) && wait_for all 15 "${pids[@]}" >&2; then
        say "the cluster at $master_url is already running"
        print_urls
        exit 0
    fi
    say "found a partly running cluster in $cluster_dir; stopping it first"
    SOLIDFLOW_SPARK_PORT="$port" SOLIDFLOW_SPARK_TMP="$tmp_root" "$here/stop_spark_cluster.sh" >&2
fi

# Every port must be free.
mapfile -t all_ports < <(seq "$port" $((port + 7)))
check_ports_free "$poll_python" start_spark_cluster "${all_ports[@]}" ||
    die "choose another SOLIDFLOW_SPARK_PORT"

mkdir -p "$cluster_dir"/{pids,logs,work,local,warehouse,conf}
rm -f "$cluster_dir"/pids/*.pid

# The environment of every JVM: nothing of the caller's Spark setup, everything on 127.0.0.1,
# all files below D.
unset SPARK_ENV_LOADED SPARK_REMOTE SPARK_API_MODE SPARK_PUBLIC_DNS SPARK_SUBMIT_OPTS \
    SPARK_MASTER_HOST SPARK_MASTER_PORT SPARK_MASTER_WEBUI_PORT SPARK_WORKER_PORT \
    SPARK_WORKER_WEBUI_PORT SPARK_WORKER_CORES SPARK_WORKER_MEMORY SPARK_WORKER_INSTANCES \
    SPARK_DRIVER_MEMORY SPARK_EXECUTOR_MEMORY SPARK_EXECUTOR_CORES MASTER \
    HADOOP_CONF_DIR YARN_CONF_DIR
export SPARK_HOME="$spark_home"
export SPARK_CONF_DIR="$cluster_dir/conf"
export SPARK_LOCAL_IP=127.0.0.1
export SPARK_LOCAL_HOSTNAME=127.0.0.1 # what executors and drivers advertise, not the host name
export SPARK_LOG_DIR="$cluster_dir/logs"
export SPARK_PID_DIR="$cluster_dir/pids"
export SPARK_WORKER_DIR="$cluster_dir/work"
export SPARK_LOCAL_DIRS="$cluster_dir/local"
export SPARK_DAEMON_MEMORY=512m
export SPARK_DAEMON_JAVA_OPTS="$java_opts -Dspark.port.maxRetries=0"
export SPARK_MASTER_OPTS="-Dspark.master.rest.enabled=false"
export SPARK_WORKER_OPTS=""
export SPARK_CONNECT_MODE=0 # as in sbin/start-connect-server.sh: the server, not a client
export PYTHONHASHSEED=0     # as bin/spark-submit sets it
if [[ -n "$python_bin" ]]; then
    export PYSPARK_PYTHON="$python_bin"
    # Executors start Python workers with the Python their application names, by default
    # `python3` from PATH (a pyspark driver without PYSPARK_PYTHON or spark.pyspark.python):
    # that is then the one of pyspark, with the driver's packages, not the system's.
    PATH="$(dirname "$python_bin"):$PATH"
    export PATH
fi

start_jvm() {
    local component=$1
    shift
    # setsid: the JVM survives the end of the calling shell or terminal. The marker variable is
    # inherited by every process of the cluster (the worker passes its environment on to the
    # executors it launches, and they to their Python workers), so stop_spark_cluster.sh finds
    # stragglers. spark-class execs the JVM, so $! is the JVM's PID.
    (cd "$cluster_dir" && exec env SOLIDFLOW_SPARK_CLUSTER_DIR="$cluster_dir" setsid "$@") \
        </dev/null >"$cluster_dir/logs/$component.out" 2>&1 &
    echo $! >"$cluster_dir/pids/$component.pid"
}

give_up() {
    say "$1"
    show_log_tails "$cluster_dir/logs" "${components[@]}"
    SOLIDFLOW_SPARK_PORT="$port" SOLIDFLOW_SPARK_TMP="$tmp_root" "$here/stop_spark_cluster.sh" >&2 || true
    exit 1
}

started=$SECONDS
say "starting the master on $master_url (java $java_version, SPARK_HOME $spark_home)"
start_jvm master "$spark_class" org.apache.spark.deploy.master.Master \
    --host 127.0.0.1 --port "$port" --webui-port $((port + 1))
# The worker and the Connect server register with the master when they start, and wait long
# before they try again if it is not there yet (or not yet the elected leader).
if ! problem="$(wait_for master "$timeout" "$(pid_of master)" 2>&1)"; then
    give_up "the master did not come up: $(tail -n 1 <<<"${problem:-timed out}")"
fi

say "starting a worker with $worker_cores core(s) and $worker_memory"
start_jvm worker "$spark_class" org.apache.spark.deploy.worker.Worker \
    --host 127.0.0.1 --port $((port + 2)) --webui-port $((port + 3)) \
    --cores "$worker_cores" --memory "$worker_memory" --work-dir "$cluster_dir/work" \
    "$master_url"

if ((connect)); then
    say "starting the Spark Connect server on $connect_url"
    connect_args=(
        --class org.apache.spark.sql.connect.service.SparkConnectServer
        --name "Spark Connect server"
        --master "$master_url"
        --driver-memory "$connect_driver_memory"
        --conf spark.cores.max="$connect_cores"
        --conf spark.executor.memory="$connect_executor_memory"
        --conf spark.driver.host=127.0.0.1
        --conf spark.driver.bindAddress=127.0.0.1
        --conf spark.driver.port=$((port + 6))
        --conf spark.driver.blockManager.port=$((port + 7))
        --conf spark.ui.port=$((port + 5))
        --conf spark.port.maxRetries=0
        --conf spark.connect.grpc.binding.address=127.0.0.1
        --conf spark.connect.grpc.binding.port=$((port + 4))
        --conf spark.sql.warehouse.dir="$cluster_dir/warehouse"
    )
    if [[ -n "$java_opts" ]]; then
        connect_args+=(--driver-java-options "$java_opts"
            --conf spark.executor.extraJavaOptions="$java_opts")
    fi
    if [[ -n "$python_bin" ]]; then
        connect_args+=(--conf spark.pyspark.python="$python_bin")
    fi
    # What sbin/start-connect-server.sh runs, without spark-daemon.sh around it.
    start_jvm connect "$spark_class" org.apache.spark.deploy.SparkSubmit "${connect_args[@]}"
fi

remaining=$((timeout - (SECONDS - started)))
((remaining > 1)) || remaining=1
pids=()
for component in "${components[@]}"; do
    pids+=("$(pid_of "$component")")
done
if ! problem="$(wait_for all "$remaining" "${pids[@]}" 2>&1)"; then
    give_up "the cluster did not come up within ${timeout}s: $(tail -n 1 <<<"${problem:-timed out}")"
fi

uis="master web UI http://127.0.0.1:$((port + 1)), worker web UI http://127.0.0.1:$((port + 3))"
if ((connect)); then
    uis+=", the Connect server's Spark UI http://127.0.0.1:$((port + 5))"
fi
say "up after $((SECONDS - started))s ($uis); stop with $here/stop_spark_cluster.sh"
print_urls
