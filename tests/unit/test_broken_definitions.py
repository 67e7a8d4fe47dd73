"""One bad definition in a module disables only itself: when solidflow loads the module, the
other pipelines (and a pipeline's other modes) load and run; the broken one is reported,
naming it, when it is asked for. Importing the module yourself still raises at once."""

from __future__ import annotations

import importlib.util
import textwrap
from pathlib import Path

import pytest

from solidflow import Instance, execute_pipeline
from solidflow.engine.run.targets import load_pipeline
from solidflow.errors import ConfigError, DefinitionError, TargetError

MODULE = """
from solidflow import Config, Mode, pipeline, resource, solid


@solid
def number() -> int:
    return 1


@solid
def shout(text: str) -> str:
    return text.upper()


@solid(required_resource_keys={"db"})
def query(context) -> str:
    return context.resources.db


@resource
def db(init_context):
    return "rows"


@solid
def bad_config(config: 42) -> int:
    return 1


@pipeline
def p():
    number()


@pipeline
def q():
    number.alias("other")()


@pipeline
def s():
    shout(number())  # an int wired to a str input


@pipeline
def t():
    bad_config()


@pipeline(modes=[Mode("good", resources={"db": db}), Mode("bad", resources={})])
def m():
    query()


@pipeline(modes=[Mode("default", resources={}), Mode("other", resources={"db": db})])
def d():
    query()
"""


@pytest.fixture
def module(tmp_path: Path) -> Path:
    path = tmp_path / "several.py"
    path.write_text(textwrap.dedent(MODULE))
    return path


@pytest.fixture
def instance(tmp_path: Path) -> Instance:
    return Instance(tmp_path / "home")


def test_the_good_pipelines_of_a_module_load_and_run(module, instance):
    for name in ("p", "q"):
        pipeline, target = load_pipeline(f"{module}:{name}")
        assert execute_pipeline(pipeline, instance=instance, target=target).success


def test_the_broken_pipeline_is_reported_naming_it(module):
    with pytest.raises(DefinitionError) as raised:
        load_pipeline(f"{module}:s")
    message = str(raised.value)
    assert "pipeline 's'" in message and "type mismatch" in message
    with pytest.raises(DefinitionError) as raised:
        load_pipeline(f"{module}:t")
    message = str(raised.value)
    assert "pipeline 't'" in message and "solid 'bad_config'" in message


def test_a_module_without_a_name_lists_its_broken_pipelines(module):
    with pytest.raises(TargetError) as raised:
        load_pipeline(str(module))
    message = str(raised.value)
    assert "(d, m, p, q; failed to define: s, t)" in message


def test_a_mode_missing_a_resource_disables_only_that_mode(module, instance):
    pipeline, target = load_pipeline(f"{module}:m")
    good = execute_pipeline(pipeline, mode="good", instance=instance, target=target)
    assert good.success and good.output_for("query") == "rows"
    with pytest.raises(DefinitionError) as raised:
        execute_pipeline(pipeline, mode="bad", instance=instance, target=target)
    message = str(raised.value)
    assert "mode 'bad' of pipeline 'm'" in message and "resource 'db'" in message
    with pytest.raises(ConfigError, match="choose one with mode="):
        execute_pipeline(pipeline, instance=instance, target=target)


def test_a_broken_default_mode_is_reported_when_no_mode_is_given(module, instance):
    pipeline, target = load_pipeline(f"{module}:d")
    with pytest.raises(DefinitionError, match="mode 'default' of pipeline 'd'"):
        execute_pipeline(pipeline, instance=instance, target=target)
    assert execute_pipeline(pipeline, mode="other", instance=instance, target=target).success


def test_importing_the_module_yourself_raises_at_the_first_bad_definition(module):
    spec = importlib.util.spec_from_file_location("several_strict", module)
    imported = importlib.util.module_from_spec(spec)
    with pytest.raises(DefinitionError, match="solid 'bad_config'"):
        spec.loader.exec_module(imported)


def test_the_modes_listed_for_a_run_without_one_include_the_broken(module, instance):
    pipeline, target = load_pipeline(f"{module}:m")
    with pytest.raises(
        ConfigError, match=r"choose one with mode= \(--mode\): good, bad \(broken\)"
    ):
        execute_pipeline(pipeline, instance=instance, target=target)
