"""The `solidflow` command end to end: real processes, a real instance, real event log."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

from solidflow.engine.events.records import EventRecord, EventType
from solidflow.engine.instance.runs import RunRecord, RunStatus
from solidflow.engine.store import IntermediateStore
from tests.e2e.conftest import PIPELINES, SOLIDFLOW, target

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _types(events) -> list[str]:
    return [event.type.value for event in events]


def _only_run(instance):
    runs = instance.runs()
    assert len(runs) == 1
    return runs[0]


def test_run_example_pipeline_records_run_and_events(cli, instance, tmp_path):
    done = cli(
        "run",
        f"{EXAMPLES}/orders.py:orders",
        "-c",
        f"{EXAMPLES}/orders.yaml",
        "--mode",
        "local",
        "--tag",
        "team=data",
    )
    assert done.code == 0, done.err
    assert "SUCCESS" in done.out
    for step in ("generate_orders", "clean_orders", "revenue_by_category", "write_report"):
        assert f"✓ {step}" in done.out
    run = _only_run(instance)
    assert run.status is RunStatus.SUCCESS
    assert run.tags == {"team": "data"}
    assert run.target == f"{EXAMPLES / 'orders.py'}:orders"
    events = instance.events(run.run_id)
    assert events[0].type is EventType.RUN_START and events[-1].type is EventType.RUN_SUCCESS
    [materialization] = [e for e in events if e.type is EventType.MATERIALIZATION]
    report = Path(materialization.payload["metadata"]["location"])
    assert report.is_absolute() or (tmp_path / report).exists()
    written = json.loads((tmp_path / report).read_text())
    assert set(written) <= {"books", "games", "garden", "kitchen", "music"} and written


def test_config_files_merge_in_order(cli, instance, tmp_path):
    (tmp_path / "a.yaml").write_text("solids:\n  number:\n    config:\n      value: 2\n")
    (tmp_path / "b.yaml").write_text("solids:\n  number:\n    config:\n      value: 21\n")
    done = cli("run", target("arithmetic"), "-c", "a.yaml", "-c", "b.yaml")
    assert done.code == 0, done.err
    run = _only_run(instance)
    outputs = [e for e in instance.events(run.run_id) if e.type is EventType.STEP_SUCCESS]
    assert [e.step for e in outputs] == ["number", "double", "as_text", "shout"]
    assert run.run_config == {"solids": {"number": {"config": {"value": 21}}}}


def test_logs_json_and_prefix_and_latest(cli, instance):
    assert cli("run", target("arithmetic")).code == 0
    run = _only_run(instance)
    by_prefix = cli("logs", run.run_id[:8], "--json")
    latest = cli("logs", "latest", "--json")
    assert by_prefix.code == latest.code == 0
    records = [json.loads(line) for line in by_prefix.out.splitlines()]
    assert by_prefix.out == latest.out
    assert [r["seq"] for r in records] == list(range(len(records)))
    assert records[-1]["type"] == "RUN_SUCCESS"
    assert {r["run_id"] for r in records} == {run.run_id}
    plain = cli("logs", run.run_id)
    assert "RUN_SUCCESS" in plain.out and "STEP_OUTPUT" in plain.out
    unknown = cli("logs", "nope")
    assert unknown.code == 2 and "error: no run with id 'nope'" in unknown.err


def test_logs_piped_to_a_reader_that_stops_early_ends_quietly(home, instance):
    now = time.time()
    instance.add_run(
        RunRecord(run_id="long", pipeline_name="p", status=RunStatus.SUCCESS, create_time=now)
    )
    lines = [
        EventRecord(
            run_id="long", seq=seq, timestamp=now, type=EventType.LOG, payload={"message": "x" * 80}
        )
        for seq in range(5000)  # more than a pipe holds
    ]
    instance.store_events(lines)
    env = {**os.environ, "SOLIDFLOW_HOME": str(home)}
    logs = subprocess.Popen(
        [*SOLIDFLOW, "logs", "long"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    first = logs.stdout.readline()
    logs.stdout.close()
    _, err = logs.communicate(timeout=60)
    assert first.rstrip().endswith(b"x" * 80)
    assert (logs.returncode, err) == (0, b"")


def test_runs_lists_status(cli, instance):
    cli("run", target("arithmetic"))
    cli("run", target("failing"))
    listing = cli("runs")
    assert listing.code == 0
    [failed, succeeded] = instance.runs()
    assert failed.run_id in listing.out and succeeded.run_id in listing.out
    assert "FAILURE" in listing.out and "SUCCESS" in listing.out
    only_failed = cli("runs", "--status", "FAILURE")
    assert failed.run_id in only_failed.out and succeeded.run_id not in only_failed.out


def test_invalid_config_is_one_message_exit_2_and_recorded(cli, instance, tmp_path):
    (tmp_path / "bad.yaml").write_text(
        "solids:\n  number:\n    config:\n      value: lots\n  numbr: {}\n"
    )
    done = cli("run", target("arithmetic"), "-c", "bad.yaml")
    assert done.code == 2
    assert "Traceback" not in done.err + done.out
    assert "solids.number.config.value: Input should be a valid integer" in done.err
    assert "solids.numbr: unknown key 'numbr'" in done.err
    run = _only_run(instance)
    assert run.status is RunStatus.FAILURE
    [event] = instance.events(run.run_id)
    assert event.type is EventType.RUN_FAILURE and "solids.number.config.value" in event.message


def test_type_check_failure_exit_1_keeps_completed_steps(cli, instance):
    done = cli("run", target("type_failure"))
    assert done.code == 1
    assert (
        "solid 'broken_text' output 'result': expected int, type check failed: "
        "value '1' of type str is not an int"
    ) in done.out
    run = _only_run(instance)
    assert run.status is RunStatus.FAILURE
    events = instance.events(run.run_id)
    succeeded = [e.step for e in events if e.type is EventType.STEP_SUCCESS]
    skipped = [e.step for e in events if e.type is EventType.STEP_SKIPPED]
    assert succeeded == ["number"] and skipped == ["after_broken"]
    [check] = [e for e in events if e.type is EventType.STEP_OUTPUT and e.step == "broken_text"]
    assert check.payload["type_check"] is False


def test_failing_solid_shows_user_traceback_and_skips_descendants(cli, instance):
    done = cli("run", target("failing"))
    assert done.code == 1
    assert "solid 'explode' raised ValueError: cannot handle 1" in done.out
    assert f'File "{PIPELINES}"' in done.out  # the user's frame is shown
    assert "engine/step/runner.py" not in done.out  # the engine's frames are not
    assert "✓ independent" in done.out
    events = instance.events(_only_run(instance).run_id)
    [skipped] = [e for e in events if e.type is EventType.STEP_SKIPPED]
    assert skipped.step == "downstream"
    assert skipped.message == "skipped because upstream step 'explode' failed"


def test_failing_resource_init_ends_the_run_before_the_step_needing_it(cli, instance):
    done = cli("run", target("database"), "--mode", "broken_init")
    assert done.code == 1
    assert "resource 'db' failed to initialise: ConnectionError: database at db.invalid" in done.out
    events = instance.events(_only_run(instance).run_id)
    assert [e.step for e in events if e.type is EventType.STEP_START] == []
    [init] = [e for e in events if e.type is EventType.RESOURCE_INIT]
    assert init.payload["success"] is False and init.payload["resource"] == "db"
    assert events[-1].type is EventType.RUN_FAILURE
    assert events[-1].message.startswith("resource 'db' failed to initialise")


def test_failing_resource_teardown_fails_the_run(cli, instance):
    done = cli("run", target("database"), "--mode", "broken_teardown")
    assert done.code == 1
    assert "resource 'db' teardown failed: RuntimeError: could not close the connection" in done.out
    run = _only_run(instance)
    events = instance.events(run.run_id)
    assert [e.step for e in events if e.type is EventType.STEP_SUCCESS] == ["query", "number"]
    assert run.status is RunStatus.FAILURE


def test_bad_selection_suggests_names(cli, instance):
    done = cli("run", target("arithmetic"), "--select", "dobule+")
    assert done.code == 2
    assert "no solid named 'dobule' in pipeline 'arithmetic'" in done.err
    assert "'double'" in done.err
    assert "Traceback" not in done.err
    assert _only_run(instance).status is RunStatus.FAILURE


def test_selection_with_inputs_from_config(cli, instance, tmp_path):
    (tmp_path / "inputs.yaml").write_text("solids:\n  as_text:\n    inputs:\n      x: 5\n")
    done = cli("run", target("arithmetic"), "--select", "as_text*", "-c", "inputs.yaml")
    assert done.code == 0, done.out + done.err
    events = instance.events(_only_run(instance).run_id)
    assert [e.step for e in events if e.type is EventType.STEP_SUCCESS] == ["as_text", "shout"]
    missing = cli("run", target("arithmetic"), "--select", "as_text*")
    assert missing.code == 2
    assert (
        "solids.as_text.inputs.x: Field required (upstream solid 'double' is not selected"
        in missing.err
    )


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("missing.py:arithmetic", "no such file"),
        (f"{PIPELINES}:nothing", "has no attribute 'nothing'"),
        (
            f"{PIPELINES}:NumberConfig",
            f"'NumberConfig' in '{PIPELINES}' is not a pipeline but a class",
        ),
        (f"{PIPELINES}:double", f"'double' in '{PIPELINES}' is not a pipeline but a solid"),
        (PIPELINES, "defines 7 pipelines"),
        ("no_such_module:thing", "no module named 'no_such_module'"),
    ],
)
def test_unknown_target_is_a_clear_error(cli, given, message):
    done = cli("run", given)
    assert done.code == 2
    assert message in done.err
    assert "Traceback" not in done.err


def test_target_that_fails_to_import_names_the_line(cli, tmp_path):
    (tmp_path / "oops.py").write_text("from solidflow import pipeline\n\nx = undefined_name\n")
    done = cli("run", "oops.py:p")
    assert done.code == 2
    assert "NameError: name 'undefined_name' is not defined" in done.err
    assert "oops.py, line 3" in done.err
    assert "Traceback" not in done.err


def test_definition_error_in_target_is_exit_2(cli, tmp_path):
    (tmp_path / "wrong.py").write_text(
        "from solidflow import pipeline, solid\n\n"
        "@solid\ndef word() -> str:\n    return 'a'\n\n"
        "@solid\ndef needs(x: int) -> int:\n    return x\n\n"
        "@pipeline\ndef p():\n    needs(word())\n"
    )
    done = cli("run", "wrong.py:p")
    assert done.code == 2
    assert "output 'result' of solid 'word' is str but input 'x' of solid 'needs'" in done.err


def test_an_unwired_input_comes_from_the_config_file(cli, tmp_path):
    (tmp_path / "greet.py").write_text(
        "from solidflow import pipeline, solid\n\n"
        "@solid\ndef shout(word: str) -> str:\n    return word.upper()\n\n"
        "@pipeline\ndef p():\n    shout()\n"
    )
    missing = cli("run", "greet.py:p")
    assert missing.code == 2
    assert "solids.shout.inputs.word: Field required" in missing.err
    (tmp_path / "config.yaml").write_text("solids:\n  shout:\n    inputs: {word: hi}\n")
    done = cli("run", "greet.py:p", "-c", "config.yaml")
    assert done.code == 0, done.err
    assert "✓ shout" in done.out


def test_plan_and_config_schema(cli):
    plan = cli("plan", target("arithmetic"), "--select", "*as_text")
    assert plan.code == 0
    lines = [line.strip() for line in plan.out.splitlines()]
    assert lines[0].startswith("pipeline arithmetic, mode default, 3 steps")
    assert lines[1:] == [
        "1. number",
        "2. double  (x <- number.result)",
        "3. as_text  (x <- double.result)",
    ]
    schema = cli("config-schema", target("arithmetic"))
    assert schema.code == 0
    parsed = json.loads(schema.out)
    assert set(parsed["properties"]) == {"solids", "resources", "execution", "storage"}


NEEDS_CONFIG = """
from solidflow import Config, pipeline, solid


class Rows(Config):
    rows: int


@solid
def load(config: Rows) -> list:
    return list(range(config.rows))


@solid
def count(values: list) -> int:
    return len(values)


@pipeline
def needs_config():
    count(load())
"""


def test_plan_shows_the_structure_without_config(cli, tmp_path):
    (tmp_path / "needs.py").write_text(NEEDS_CONFIG)
    structure = ["1. load", "2. count  (values <- load.result)"]
    plain = cli("plan", "needs.py")
    assert plain.code == 0, plain.err
    lines = [line.strip() for line in plain.out.splitlines()]
    assert lines == ["pipeline needs_config, mode default, 2 steps", *structure]

    memoized = cli("plan", "needs.py", "--memoize")
    assert memoized.code == 2
    assert [line.strip() for line in memoized.out.splitlines()][1:] == structure
    assert "memo status needs a valid run_config" in memoized.err
    assert "solids.load.config.rows: Field required" in memoized.err
    assert "Traceback" not in memoized.err

    (tmp_path / "bad.yaml").write_text("solids:\n  load:\n    config:\n      rows: many\n")
    bad = cli("plan", "needs.py", "-c", "bad.yaml")
    assert bad.code == 2
    assert [line.strip() for line in bad.out.splitlines()][1:] == structure
    assert "solids.load.config.rows: Input should be a valid integer" in bad.err

    (tmp_path / "good.yaml").write_text("solids:\n  load:\n    config:\n      rows: 3\n")
    good = cli("plan", "needs.py", "--memoize", "-c", "good.yaml")
    assert good.code == 0, good.err
    assert [line.strip() for line in good.out.splitlines()][1:] == [
        f"{line}  runs: no earlier run of this step" for line in structure
    ]


def test_logs_follow_streams_a_live_run(home, tmp_path, instance):
    (tmp_path / "slow.yaml").write_text("solids:\n  nap:\n    config:\n      seconds: 1.5\n")
    env = {**os.environ, "SOLIDFLOW_HOME": str(home)}
    runner = subprocess.Popen(
        [*SOLIDFLOW, "run", target("sleepy"), "-c", "slow.yaml"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while not instance.runs() and time.monotonic() < deadline:
            time.sleep(0.05)
        run_id = instance.runs()[0].run_id
        follower = subprocess.run(
            [*SOLIDFLOW, "logs", run_id, "--follow", "--json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    finally:
        runner.wait(timeout=60)
    records = [json.loads(line) for line in follower.stdout.splitlines()]
    assert records[-1]["type"] == "RUN_SUCCESS"
    assert [r["seq"] for r in records] == list(range(len(records)))
    logs = [r["payload"]["message"] for r in records if r["type"] == "LOG"]
    assert logs == ["going to sleep", "woke up"]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_sigint_and_sigterm_cancel_the_run_cleanly(home, tmp_path, instance, signum):
    (tmp_path / "slow.yaml").write_text("solids:\n  nap:\n    config:\n      seconds: 30\n")
    env = {**os.environ, "SOLIDFLOW_HOME": str(home)}
    runner = subprocess.Popen(
        [*SOLIDFLOW, "run", target("sleepy"), "-c", "slow.yaml"],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        runs = instance.runs()
        if runs and any(
            e.payload.get("message") == "going to sleep" for e in instance.events(runs[0].run_id)
        ):
            break
        time.sleep(0.05)
    started = time.monotonic()
    runner.send_signal(signum)
    _, err = runner.communicate(timeout=30)
    assert time.monotonic() - started < 10  # the 30 s step was interrupted
    assert runner.returncode == 130
    assert "run canceled" in err and "Traceback" not in err
    run = _only_run(instance)
    assert run.status is RunStatus.CANCELED
    events = instance.events(run.run_id)
    assert events[-1].type is EventType.RUN_CANCELED
    assert events[-1].payload["reason"] == f"{signal.Signals(signum).name} received"
    assert events[-1].payload["completed_steps"] == ["start"]
    assert [e.step for e in events if e.type is EventType.STEP_SUCCESS] == ["start"]
    [interrupted] = [e for e in events if e.type is EventType.STEP_FAILURE]
    assert interrupted.step == "nap" and interrupted.payload["kind"] == "interrupted"
    [kept] = IntermediateStore(instance.config.storage.root).list()
    assert kept.step == "start"


def test_version_and_help(cli):
    version = cli("--version")
    assert version.code == 0 and version.out.strip().endswith("version 0.1.0")
    shown = cli("--help")
    assert shown.code == 0
    listed = shown.out.split("Commands:", 1)[1].split()
    for command in ("run", "reexecute", "plan", "config-schema", "runs", "logs", "store", "bench"):
        assert command in listed


def test_terminal_shows_live_progress(home, tmp_path):
    import pty

    leader, follower = pty.openpty()
    env = {**os.environ, "SOLIDFLOW_HOME": str(home), "TERM": "xterm", "COLUMNS": "120"}
    env.pop("CI", None)
    process = subprocess.Popen(
        [*SOLIDFLOW, "run", target("arithmetic")],
        stdout=follower,
        stderr=follower,
        env=env,
        cwd=tmp_path,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    assert process.wait(timeout=60) == 0
    screen = b"".join(chunks).decode(errors="replace")
    assert "steps 4/4 done" in screen  # the live status line
    assert "\x1b[" in screen  # drawn with terminal control codes
    assert "SUCCESS" in screen


@pytest.mark.parametrize(
    ("arguments", "names"),
    [
        (("run", target("arithmetic"), "--tag", "team"), "'--tag': tag 'team' must look like"),
        (("run", target("arithmetic"), "-c", "missing.yaml"), "'--config': cannot read config"),
        (("store", "gc", "--older-than", "soon"), "'--older-than': 'soon' is not an age"),
        (("store", "gc", "--keep-last", "-1"), "'--keep-last': -1 is not in the range"),
        (
            (
                "store",
                "gc",
            ),
            "give --keep-last N or --older-than AGE",
        ),
    ],
)
def test_a_bad_argument_is_a_usage_error_not_a_run_config_error(cli, instance, arguments, names):
    done = cli(*arguments)
    assert done.code == 2
    assert names in done.err
    assert "invalid run config" not in done.err and "Traceback" not in done.err
    assert instance.runs() == []
