"""How fast `solidflow logs` renders events: a stored run of 200,000 log lines printed as
text (to a file, and to a terminal) and as JSON, and `logs --follow` trailing a run that logs
as fast as it can.

Run with `python benchmarks/log_rendering.py [--lines N] [--repetitions R] [--no-follow]`.
Each rendering is a `solidflow logs` process; its rate is the lines over the time it took
beyond the same command on a run of one event (the interpreter's start and imports), median
of the repetitions after a warm-up: by the clock, and by the CPU time the process used (which
other work on a busy machine does not stretch). For --follow, a real run of a solid that logs N lines is
started, the follower is started with it, and the trail is how long after the run's last
event was stored the follower had printed it (and exited).
"""

from __future__ import annotations

import argparse
import os
import pty
import resource
import select
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

from solidflow.engine import Instance, RunRecord, RunStatus
from solidflow.engine.events.records import EventRecord, EventType

SOLIDFLOW = str(Path(sys.executable).with_name("solidflow"))
LOGGER = """
from solidflow import Config, pipeline, solid


class Lines(Config):
    lines: int


@solid
def chatter(context, config: Lines) -> int:
    for line in range(config.lines):
        context.log.info(f"line {line} of the fast logger: some text that a step would log")
    return config.lines


@pipeline
def fast_logger():
    chatter()
"""


def _stored_run(instance: Instance, lines: int) -> str:
    """A finished run with `lines` LOG events, written straight into the event log."""
    run_id = f"logs-{lines}"
    now = time.time()
    instance.add_run(
        RunRecord(
            run_id=run_id,
            pipeline_name="fast_logger",
            status=RunStatus.SUCCESS,
            create_time=now,
            start_time=now,
            end_time=now,
        )
    )
    events = [
        EventRecord(
            run_id=run_id,
            seq=seq,
            timestamp=now + seq * 1e-5,
            type=EventType.LOG,
            step="chatter",
            payload={"level": "INFO", "message": f"line {seq} of a stored run: some text"},
        )
        for seq in range(lines)
    ]
    events.append(
        EventRecord(
            run_id=run_id,
            seq=lines,
            timestamp=now + lines * 1e-5,
            type=EventType.RUN_SUCCESS,
            payload={"message": "1 steps succeeded"},
        )
    )
    for start in range(0, len(events), 10_000):
        instance.store_events(events[start : start + 10_000])
    return run_id


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _to_file(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Seconds `command` takes with its output to a file, by the clock and in CPU time."""
    with tempfile.TemporaryFile() as out:
        cpu, started = _children_cpu(), time.perf_counter()
        subprocess.run(command, stdout=out, env=env, check=True)
        return time.perf_counter() - started, _children_cpu() - cpu


def _to_terminal(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """`_to_file` with the output on a pseudo-terminal that is read at once."""
    leader, follower = pty.openpty()
    cpu, started = _children_cpu(), time.perf_counter()
    process = subprocess.Popen(command, stdout=follower, env=env)
    os.close(follower)
    while True:
        ready, _, _ = select.select([leader], [], [], 1.0)
        if ready:
            try:
                if not os.read(leader, 1 << 20):
                    break
            except OSError:  # the terminal closed with the process
                break
        elif process.poll() is not None:
            break
    process.wait()
    os.close(leader)
    return time.perf_counter() - started, _children_cpu() - cpu


def _rates(lines: int, repetitions: int, time_it, command, small, env) -> tuple[float, float]:
    """Median lines/s of `command` beyond its run on `small`: by the clock, by CPU time."""
    time_it(command(small), env)  # warm-up
    clock, cpu = [], []
    for _ in range(repetitions):
        base = time_it(command(small), env)
        full = time_it(command(None), env)
        clock.append(lines / max(full[0] - base[0], 1e-9))
        cpu.append(lines / max(full[1] - base[1], 1e-9))
    return statistics.median(clock), statistics.median(cpu)


def _follow_trail(home: Path, lines: int, env: dict[str, str]) -> tuple[float, float]:
    """(seconds the follower trailed the run's last stored event, the run's lines/s)."""
    source = home.parent / "fast_logger.py"
    source.write_text(textwrap.dedent(LOGGER))
    config = home.parent / "lines.yaml"
    config.write_text(f"solids: {{chatter: {{config: {{lines: {lines}}}}}}}\n")
    instance = Instance(home)
    before = {run.run_id for run in instance.runs()}
    runner = subprocess.Popen(
        [SOLIDFLOW, "run", f"{source}:fast_logger", "-c", str(config)],
        env=env,
        stdout=subprocess.DEVNULL,
    )
    run_id = None
    while run_id is None:
        fresh = [run.run_id for run in instance.runs() if run.run_id not in before]
        run_id = fresh[0] if fresh else None
        time.sleep(0.01)
    done = threading.Event()
    follower_ended: list[float] = []

    def follow() -> None:
        with tempfile.TemporaryFile() as out:
            subprocess.run([SOLIDFLOW, "logs", run_id, "--follow"], stdout=out, env=env, check=True)
        follower_ended.append(time.time())
        done.set()

    threading.Thread(target=follow, daemon=True).start()
    runner.wait()
    done.wait()
    events = instance.events(run_id)
    logged = [e for e in events if e.type is EventType.LOG]
    rate = len(logged) / (logged[-1].timestamp - logged[0].timestamp)
    # the last event's timestamp is when it was emitted; it is stored within the sink's 0.2 s
    return follower_ended[0] - events[-1].timestamp, rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=200_000)
    parser.add_argument("--repetitions", type=int, default=3)
    parser.add_argument("--no-follow", action="store_true", help="skip logs --follow")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        home = Path(directory) / "home"
        env = {**os.environ, "SOLIDFLOW_HOME": str(home)}
        instance = Instance(home)
        big = _stored_run(instance, args.lines)
        small = _stored_run(instance, 1)
        instance.close()

        def logs(*options: str):
            return lambda run: [SOLIDFLOW, "logs", run or big, *options]

        for label, time_it, command in (
            ("text to a file", _to_file, logs()),
            ("text to a terminal", _to_terminal, logs()),
            ("--json to a file", _to_file, logs("--json")),
        ):
            clock, cpu = _rates(args.lines, args.repetitions, time_it, command, small, env)
            print(
                f"logs, {label}: {clock:,.0f} lines/s, {cpu:,.0f} lines per CPU second "
                f"({args.lines:,} lines)"
            )
        if args.no_follow:
            return
        trails, rates = [], []
        for _ in range(args.repetitions):
            trail, rate = _follow_trail(home, args.lines, env)
            trails.append(trail)
            rates.append(rate)
        print(
            f"logs --follow of a run logging {statistics.median(rates):,.0f} lines/s "
            f"({args.lines:,} lines): trailed its last event by "
            f"{statistics.median(trails):.2f} s (median; {min(trails):.2f}-{max(trails):.2f})"
        )


if __name__ == "__main__":
    main()
