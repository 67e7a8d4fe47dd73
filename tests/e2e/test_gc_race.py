"""`store gc` racing real runs: it never deletes what a live run wrote or may still read."""

from __future__ import annotations

import os
import subprocess
import textwrap
from pathlib import Path

from solidflow.engine.events.records import EventType
from solidflow.engine.instance.runs import RunStatus
from tests.e2e.conftest import SOLIDFLOW
from tests.waiting import wait_for

RACING = """
import time
from pathlib import Path

import pyarrow as pa
from solidflow import Config, pipeline, solid


class Value(Config):
    value: int = 1


class Gate(Config):
    path: str = ""


@solid
def source(config: Value) -> pa.Table:
    return pa.table({"x": list(range(config.value * 1000))})


@solid
def early(config: Value) -> int:
    return config.value


@solid
def gated(x: int, config: Gate) -> int:
    while config.path and not Path(config.path).exists():
        time.sleep(0.05)
    return x


@solid
def combine(table: pa.Table, x: int) -> int:
    return table.num_rows + x


@pipeline
def racing():
    combine(source(), gated(early()))
"""


def _config(path: Path, source: int, early: int, gate: str = "") -> str:
    path.write_text(
        textwrap.dedent(f"""
        solids:
          source: {{config: {{value: {source}}}}}
          early: {{config: {{value: {early}}}}}
          gated: {{config: {{path: "{gate}"}}}}
        """)
    )
    return str(path)


def _output_keys(instance, run_id: str) -> dict[str, str]:
    keys = {}
    for event in instance.events(run_id):
        if event.type is EventType.STEP_OUTPUT:
            keys[event.step] = event.payload["key"]
        elif event.type is EventType.STEP_MEMOIZED:
            keys[event.step] = event.payload["output_keys"]["result"]
    return keys


def test_gc_keeps_what_a_live_run_wrote_and_will_read(cli, instance, home, tmp_path):
    (tmp_path / "racing.py").write_text(RACING)
    target = f"{tmp_path / 'racing.py'}:racing"
    gate = tmp_path / "gate"
    assert cli("run", target, "-c", _config(tmp_path / "one.yaml", 1, 1)).code == 0
    [first] = instance.runs()

    # The second run finds `source` stored (memoized), stores `early`, then waits at `gated`.
    env = {**os.environ, "SOLIDFLOW_HOME": str(home)}
    second_config = _config(tmp_path / "two.yaml", 1, 2, str(gate))
    live = subprocess.Popen(
        [*SOLIDFLOW, "run", target, "--memoize", "-c", second_config],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        second = wait_for(
            lambda: next((r for r in instance.runs() if r.run_id != first.run_id), None),
            "the second run to start",
        )
        wait_for(
            lambda: any(
                e.type is EventType.STEP_START and e.step == "gated"
                for e in instance.events(second.run_id)
            ),
            "the second run to reach the gated step",
        )
        # A third run becomes the newest of the pipeline, so events no longer protect the
        # second run's outputs.
        assert cli("run", target, "-c", _config(tmp_path / "three.yaml", 3, 3)).code == 0
        second_keys = _output_keys(instance, second.run_id)
        assert set(second_keys) == {"source", "early"}

        collected = cli("store", "gc", "--keep-last", "1")
        assert collected.code == 0, collected.err
        gate.touch()
        out, err = live.communicate(timeout=60)
    finally:
        if live.poll() is None:
            live.kill()
            live.communicate()
    assert live.returncode == 0, out + err
    assert "Traceback" not in err
    assert instance.get_run(second.run_id).status is RunStatus.SUCCESS

    first_keys = _output_keys(instance, first.run_id)
    # The first run's outputs that the second run did not use are gone; what it read is kept.
    assert "deleted 3 outputs" in collected.out, collected.out
    assert "in use by 1 live run" in collected.out, collected.out
    listed = cli("store", "ls").out
    for step in ("early", "gated", "combine"):
        assert first_keys[step][:16] not in listed
    for key in second_keys.values():
        assert key[:16] in listed
