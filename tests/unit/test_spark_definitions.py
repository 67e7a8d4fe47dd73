"""Spark pieces that need no Spark cluster: definitions, config, errors, spark-submit logs."""

from __future__ import annotations

import re
import socket
import threading

import pandas as pd
import pyarrow as pa
import pytest
from pyspark.sql import DataFrame

from solidflow import Instance, Mode, execute_pipeline, pipeline, solid
from solidflow.engine.events.records import EventType
from solidflow.engine.step.error_info import error_info
from solidflow.errors import ConfigError, DefinitionError
from solidflow.integrations.spark import jobs
from solidflow.integrations.spark.errors import spark_error_message
from solidflow.integrations.spark.submit import _driver_error
from solidflow.integrations.spark.submit_options import SubmitOptions, submit_options
from solidflow.resources import spark_resource

pytestmark = pytest.mark.spark


@solid(required_resource_keys={"spark"})
def frame(context) -> DataFrame:
    return context.resources.spark.range(3)


@pytest.mark.parametrize("declared", [pa.Table, pd.DataFrame, DataFrame])
def test_a_spark_dataframe_output_may_feed_table_inputs(declared: type) -> None:
    def consume(value):
        return 1

    consume.__annotations__ = {"value": declared, "return": int}
    consume = solid(consume)

    @pipeline(modes=[Mode("default", resources={"spark": spark_resource})])
    def mixed():
        consume(frame())

    assert mixed.upstream() == {"frame": [], "consume": ["frame"]}


def test_a_spark_dataframe_output_cannot_feed_an_int_input() -> None:
    @solid
    def count(value: int) -> int:
        return value

    with pytest.raises(DefinitionError, match="output 'result' of solid 'frame' is DataFrame"):

        @pipeline(modes=[Mode("default", resources={"spark": spark_resource})])
        def wrong():
            count(frame())


def test_unknown_spark_submit_options_are_a_definition_error_listing_the_valid_ones() -> None:
    with pytest.raises(DefinitionError) as raised:

        @solid(tags={"spark": {"submit": {"mastr": "local[1]"}}})
        def typo() -> int:
            return 1

    assert "unknown spark-submit option 'mastr'" in str(raised.value)
    assert "master, deploy_mode, conf" in str(raised.value)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"deploy_mode": "cluster"}, "option 'deploy_mode' must be 'client'"),
        ({"timeout": 0}, "option 'timeout' must be seconds > 0"),
        ({"conf": {"spark.x": [1]}}, "option 'conf' must be a mapping"),
        ("local", "tags['spark']['submit'] must be a mapping"),
    ],
)
def test_invalid_spark_submit_options_are_named(options: object, message: str) -> None:
    with pytest.raises(DefinitionError, match=re.escape(message)):

        @solid(tags={"spark": {"submit": options}})
        def submitted() -> int:
            return 1


def test_submit_options_of_tags() -> None:
    tagged = {"spark": {"submit": {"master": "spark://h:7077", "py_files": ["a.py"]}}}
    assert submit_options(tagged) == SubmitOptions(master="spark://h:7077", py_files=("a.py",))
    assert submit_options({"ray": {"num_cpus": 1}}) is None


def _spark_pipeline():
    @solid(required_resource_keys={"spark"})
    def rows(context) -> int:
        return context.resources.spark.range(3).count()

    @pipeline(modes=[Mode("default", resources={"spark": spark_resource})])
    def spark_rows():
        rows()

    return spark_rows


def test_master_and_remote_together_are_a_config_error(tmp_path) -> None:
    config = {"resources": {"spark": {"config": {"master": "local[1]", "remote": "sc://h:1"}}}}
    with pytest.raises(ConfigError) as raised:
        execute_pipeline(_spark_pipeline(), run_config=config, instance=Instance(tmp_path))
    assert [path for path, _ in raised.value.errors] == ["resources.spark.config"]
    assert "either master or remote" in raised.value.errors[0][1]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize("endpoint", ["master", "remote"])
def test_an_unreachable_spark_fails_the_step_at_once_with_its_address(tmp_path, endpoint) -> None:
    port = _closed_port()
    url = f"spark://127.0.0.1:{port}" if endpoint == "master" else f"sc://127.0.0.1:{port}"
    config = {"resources": {"spark": {"config": {endpoint: url, "connect_timeout": 2}}}}
    result = execute_pipeline(_spark_pipeline(), run_config=config, instance=Instance(tmp_path))
    assert not result.success
    failure_message = result.result_for("rows").failure_message
    assert failure_message == (
        f"resource 'spark' failed to initialise: SparkResourceError: Spark at {url} is "
        f"unreachable (127.0.0.1:{port}: Connection refused)"
    )


class _JavaThrowable:
    def __init__(self, text: str, cause: _JavaThrowable | None = None) -> None:
        self._text, self._cause = text, cause

    def toString(self) -> str:
        return self._text

    def getCause(self) -> _JavaThrowable | None:
        return self._cause


class Py4JLikeError(Exception):
    def __init__(self, java_exception: _JavaThrowable) -> None:
        super().__init__("An error occurred while calling o42.parquet.\n" + "\tat x\n" * 50)
        self.java_exception = java_exception


def test_a_java_error_becomes_one_line_naming_the_root_cause() -> None:
    root = _JavaThrowable("java.io.IOException: disk full\n\tat a.b.C(C.java:1)")
    outer = _JavaThrowable("org.apache.spark.SparkException: Job aborted.\n\tat x", root)
    assert spark_error_message(Py4JLikeError(outer)) == (
        "org.apache.spark.SparkException: Job aborted. (caused by java.io.IOException: disk full)"
    )


def test_other_spark_errors_keep_their_message_lines_without_jvm_frames() -> None:
    error = ValueError(
        "\n[UNRESOLVED_COLUMN] A column `x` cannot be resolved.\nDid you mean `y`?\n"
        "JVM stacktrace:\norg.apache.spark.sql.AnalysisException\n\tat a.b(C.scala:1)\n"
    )
    assert spark_error_message(error) == (
        "[UNRESOLVED_COLUMN] A column `x` cannot be resolved. Did you mean `y`?"
    )


def test_a_python_worker_error_is_the_exception_that_ends_its_traceback() -> None:
    error = RuntimeError(
        "\n  An exception was thrown from the Python worker. Please see the stack trace below.\n"
        "Traceback (most recent call last):\n"
        '  File "/tmp/x.py", line 3, in explode\n'
        '    raise ValueError(f"cannot handle value {value}")\n'
        "ValueError: cannot handle value 0\n"
    )
    assert spark_error_message(error) == (
        "An exception was thrown from the Python worker. Please see the stack trace below: "
        "ValueError: cannot handle value 0"
    )


def test_py4j_and_pyspark_errors_are_described_by_the_spark_error_formatter() -> None:
    from py4j.protocol import Py4JError

    dump = "An error occurred while calling o1.parquet.\n\tat a.b.C(C.java:1)\n"
    try:
        raise Py4JError(dump)
    except Py4JError as exc:
        info = error_info(exc)
    assert info.message == "An error occurred while calling o1.parquet."
    assert info.traceback.endswith("Py4JError: An error occurred while calling o1.parquet.\n")


def test_the_driver_error_is_the_last_error_line_of_its_log() -> None:
    log = "\n".join(
        [
            "24/11/26 10:00:00 INFO SparkContext: Running Spark version 4.0.0",
            "Traceback (most recent call last):",
            '  File "submitted_step.py", line 3, in <module>',
            "ModuleNotFoundError: No module named 'pipelines'",
            "24/11/26 10:00:01 INFO ShutdownHookManager: Shutdown hook called",
        ]
    )
    assert _driver_error(log) == "ModuleNotFoundError: No module named 'pipelines'"
    assert _driver_error("") == "it printed nothing"
    assert _driver_error("Error: Master must either be yarn or start with spark") == (
        "Error: Master must either be yarn or start with spark"
    )


def test_a_spark_submit_that_cannot_run_fails_its_step_with_the_reason(tmp_path) -> None:
    missing = str(tmp_path / "no-spark" / "spark-submit")

    @solid(tags={"spark": {"submit": {"master": "local[1]", "spark_submit": missing}}})
    def submitted() -> int:
        return 1

    @pipeline
    def submitting():
        submitted()

    result = execute_pipeline(submitting, instance=Instance(tmp_path / "home"))
    assert not result.success
    assert result.result_for("submitted").failure_message == (
        f"solid 'submitted' submitted with spark-submit to local[1] failed: Error: cannot run "
        f"{missing}: No such file or directory"
    )


def test_a_submitted_solid_with_an_input_that_cannot_be_pickled_fails_only_its_step(
    tmp_path,
) -> None:
    missing = str(tmp_path / "no-spark" / "spark-submit")  # never reached

    @solid
    def lock() -> object:
        return threading.Lock()

    @solid(tags={"spark": {"submit": {"master": "local[1]", "spark_submit": missing}}})
    def submitted(held: object) -> int:
        return 1

    @solid
    def independent() -> int:
        return 2

    @pipeline
    def submitting():
        submitted(lock())
        independent()

    result = execute_pipeline(submitting, instance=Instance(tmp_path / "home"))
    assert not result.success
    assert result.result_for("independent").success
    message = result.result_for("submitted").failure_message
    assert message.startswith(
        "solid 'submitted' cannot be submitted with spark-submit: its inputs and resource "
        "configs must be picklable (TypeError: "
    )
    types = [e.type for e in result.events if e.step == "submitted"]
    assert types == [EventType.STEP_START, EventType.STEP_FAILURE]


def test_the_stages_of_a_job_group_are_counted_once(monkeypatch) -> None:
    class Job:
        def __init__(self, stages: list[int]) -> None:
            self.stageIds, self.status = stages, "SUCCEEDED"

    class Stage:
        numTasks = 4

    class Tracker:
        def getJobIdsForGroup(self, group: str) -> list[int]:
            return [1, 2]

        def getJobInfo(self, job_id: int) -> Job:
            return {1: Job([3]), 2: Job([3, 4])}[job_id]  # job 2 reuses (skips) stage 3

        def getStageInfo(self, stage_id: int) -> Stage:
            return Stage()

    class Context:
        def statusTracker(self) -> Tracker:
            return Tracker()

    monkeypatch.setattr(
        jobs, "_stage_records", lambda context, stage: {"input_rows": 10, "output_rows": stage}
    )
    found = jobs._jobs_of_group(Context(), "group")
    assert found == {"job_ids": [1, 2], "stages": 2, "tasks": 8, "input_rows": 20, "output_rows": 7}
