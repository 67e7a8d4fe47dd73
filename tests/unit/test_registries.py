"""Plug-ins by name: a third-party executor, storage backend and event log found through an
entry point of an installed distribution or a "package.module:Class", without engine changes."""

import json
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

from solidflow import Instance, config_schema, execute_pipeline, pipeline, solid
from solidflow.engine.executors import EXECUTORS, Executor
from solidflow.engine.executors.in_process import InProcessExecutor
from solidflow.engine.instance import InstanceConfigError
from solidflow.engine.instance.sqlite import SqliteStorage
from solidflow.engine.registry import PluginError
from solidflow.engine.store import IntermediateStore
from solidflow.engine.store.local import LocalStore
from solidflow.errors import ConfigError

PLUGIN = textwrap.dedent(
    '''
    """A third-party executor: steps on a thread pool."""

    import concurrent.futures as cf

    from solidflow import Config
    from solidflow.engine.executors import Executor
    from solidflow.engine.registry import Deferred
    from solidflow.engine.step.resources import ResourceManager
    from solidflow.engine.step.runner import run_step


    class ThreadedConfig(Config):
        threads: int = 2


    class ThreadedExecutor(Executor):
        name = "threaded"
        config_schema = ThreadedConfig

        def init(self, run, sink):
            self.pool = cf.ThreadPoolExecutor(run.config.threads, "threaded-step")
            self.sink = sink
            self.resources = ResourceManager(run.run_id, run.resources, sink.emit)
            self.futures = set()

        def submit(self, task):
            self.futures.add(
                self.pool.submit(run_step, task, self.load, self.resources, self.sink.emit)
            )

        def can_submit(self):
            return True

        def wait(self, timeout=None):
            done, self.futures = cf.wait(self.futures, timeout, cf.FIRST_COMPLETED)
            return [future.result() for future in done]

        def finalize(self):
            self.pool.shutdown()
            return self.resources.teardown()


    class NeedyConfig(Config):
        gpus: int = 1


    NEEDY = Deferred(
        implementation="engine_not_installed.core:NeedyExecutor",
        config_schema=NeedyConfig,
        extra="needy",
    )
    '''
)


def install_plugin(directory: Path, entry_points: str) -> None:
    """A distribution `thirdparty` in `directory` (put it on sys.path), with `entry_points`."""
    (directory / "thirdparty.py").write_text(PLUGIN)
    info = directory / "thirdparty-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: thirdparty\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points))


@pytest.fixture
def plugin_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "site"
    directory.mkdir()
    install_plugin(
        directory,
        """
        [solidflow.executors]
        threaded = thirdparty:ThreadedExecutor
        needy = thirdparty:NEEDY
        """,
    )
    monkeypatch.syspath_prepend(str(directory))
    yield directory
    sys.modules.pop("thirdparty", None)


@pytest.fixture
def instance(tmp_path: Path) -> Instance:
    with Instance(tmp_path / "home") as opened:
        yield opened


@solid
def where() -> str:
    return threading.current_thread().name


@solid
def shout(name: str) -> str:
    return name.upper()


@pipeline
def threads() -> None:
    shout(where())


def test_an_executor_registered_by_entry_point_runs_with_its_settings(plugin_path, instance):
    assert {"in_process", "ray", "threaded", "needy"} <= set(EXECUTORS.names())
    result = execute_pipeline(
        threads, {"execution": {"threaded": {"threads": 3}}}, instance=instance
    )
    assert result.success
    assert result.output_for("where").startswith("threaded-step")
    assert instance.get_run(result.run_id).executor == "threaded"
    with pytest.raises(ConfigError) as error:
        execute_pipeline(
            threads, {"execution": {"threaded": {"threads": "many"}}}, instance=instance
        )
    assert [path for path, _ in error.value.errors] == ["execution.threaded.threads"]


def test_an_executor_named_by_its_class_needs_no_registration(tmp_path, monkeypatch, instance):
    (tmp_path / "thirdparty.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    reference = "thirdparty:ThreadedExecutor"
    assert "threaded" not in EXECUTORS.names()
    result = execute_pipeline(
        threads, {"execution": {reference: {"threads": 1}}}, instance=instance
    )
    assert result.success and result.output_for("shout").startswith("THREADED-STEP")
    assert instance.get_run(result.run_id).executor == reference
    result = execute_pipeline(threads, executor=reference, instance=instance)
    assert result.success
    sys.modules.pop("thirdparty", None)


def test_an_executor_instance_is_used_as_it_is(instance):
    class Counting(InProcessExecutor):
        submitted = 0

        def submit(self, task):
            Counting.submitted += 1
            return super().submit(task)

    result = execute_pipeline(threads, executor=Counting(), instance=instance)
    assert result.success and Counting.submitted == 2
    recorded = instance.get_run(result.run_id).executor
    assert recorded.endswith("test_an_executor_instance_is_used_as_it_is.<locals>.Counting")
    plain = execute_pipeline(threads, executor=InProcessExecutor(), instance=instance)
    assert instance.get_run(plain.run_id).executor == "in_process"


def test_unknown_or_broken_executors_say_what_is_wrong(plugin_path, instance):
    def problem(executor: str) -> str:
        with pytest.raises(ConfigError) as error:
            execute_pipeline(threads, executor=executor, instance=instance)
        [(path, message)] = error.value.errors
        assert path == "execution"
        return message

    assert problem("dask").startswith("unknown executor 'dask'; available: in_process, needy,")
    assert problem("needy") == (
        "executor 'needy' needs engine_not_installed: pip install 'solidflow[needy]'"
    )
    assert problem("thirdparty:Nothing") == (
        "executor 'thirdparty:Nothing' cannot be loaded from 'thirdparty:Nothing': "
        "AttributeError: module 'thirdparty' has no attribute 'Nothing'"
    )
    assert problem("thirdparty:NeedyConfig").startswith(
        "executor 'thirdparty:NeedyConfig' is <class 'thirdparty.NeedyConfig'>, not a subclass "
        "of Executor"
    )
    assert problem("nowhere.at.all:Executor") == (
        "executor 'nowhere.at.all:Executor' cannot be loaded from 'nowhere.at.all:Executor': "
        "no module named 'nowhere'"
    )


def test_a_deferred_executors_settings_are_known_without_its_engine(plugin_path):
    schema = config_schema(threads)
    execution = schema["$defs"]["execution"]["properties"]
    assert {"in_process", "ray", "threaded", "needy"} <= set(execution)
    needy = schema["$defs"][execution["needy"]["$ref"].rsplit("/", 1)[-1]]
    assert needy["properties"]["gpus"]["default"] == 1


def test_without_ray_the_schema_knows_its_settings_and_a_run_names_the_extra(tmp_path):
    """In a process where Ray cannot be imported."""
    code = textwrap.dedent(
        f"""
        import json, sys
        sys.modules["ray"] = None  # importing ray fails, as when it is not installed
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_registries import threads
        from solidflow import Instance, config_schema, execute_pipeline
        from solidflow.errors import ConfigError

        schema = config_schema(threads)
        ray = schema["$defs"]["execution"]["properties"]["ray"]["$ref"].rsplit("/", 1)[-1]
        try:
            execute_pipeline(threads, executor="ray", instance=Instance({str(tmp_path)!r}))
        except ConfigError as error:
            message = error.errors[0][1]
        print(json.dumps([sorted(schema["$defs"][ray]["properties"]), message]))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    properties, message = json.loads(done.stdout.splitlines()[-1])
    assert "address" in properties and "max_concurrent_steps" in properties
    assert message == "executor 'ray' needs ray: pip install 'solidflow[ray]'"


class CountingStore(LocalStore):
    """A storage backend of a third party: the local one, counting writes."""

    writes = 0

    def write(self, key, encoded, describe, replace=False):
        CountingStore.writes += 1
        return super().write(key, encoded, describe, replace)


class QuietSqlite(SqliteStorage):
    """An event log backend of a third party."""


def test_storage_and_event_log_backends_named_in_solidflow_yaml(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "solidflow.yaml").write_text(
        f"event_log: {{backend: '{__name__}:QuietSqlite', path: log.db}}\n"
        f"storage: {{backend: '{__name__}:CountingStore'}}\n"
    )
    CountingStore.writes = 0
    with Instance(home) as instance:
        result = execute_pipeline(threads, instance=instance)
        assert result.success and CountingStore.writes == 2
        assert isinstance(instance.storage, QuietSqlite)
        assert instance.storage.path == home / "log.db"
    store = IntermediateStore(tmp_path / "other", backend="local")
    assert type(store._backend) is LocalStore
    with pytest.raises(PluginError, match="unknown storage backend 's4'; available: fsspec, local"):
        IntermediateStore(tmp_path / "other", backend="s4")


def test_a_bad_event_log_backend_is_reported_with_the_file(tmp_path):
    (tmp_path / "solidflow.yaml").write_text(
        f"event_log: {{backend: '{__name__}:CountingStore'}}\n"
    )
    with pytest.raises(InstanceConfigError, match="not a subclass of InstanceStorage"):
        Instance(tmp_path)
    (tmp_path / "solidflow.yaml").write_text(
        f"event_log: {{backend: '{__name__}:QuietSqlite', url: x}}\n"
    )
    with pytest.raises(
        InstanceConfigError, match=r"event_log\.url: Extra inputs are not permitted"
    ):
        Instance(tmp_path)


def test_one_registry_serves_every_kind():
    from solidflow.engine.instance.storage import EVENT_LOGS
    from solidflow.engine.run.launch import RUN_LAUNCHERS
    from solidflow.engine.store.backend import STORAGES

    assert EVENT_LOGS.names() == ["postgresql", "sqlite"]
    assert RUN_LAUNCHERS.names() == ["in_process", "ray_jobs", "subprocess"]
    assert STORAGES.names() == ["fsspec", "local", "s3"]
    assert issubclass(EXECUTORS.load("in_process"), Executor)
