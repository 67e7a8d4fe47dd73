"""Pipelines built from data with Dagster's dependency dict, and the definition errors they
share with @pipeline."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from solidflow import (
    DependencyDefinition,
    Instance,
    Mode,
    MultiDependencyDefinition,
    PipelineDefinition,
    SolidInvocation,
    composite_solid,
    execute_pipeline,
    pipeline,
    solid,
)
from solidflow.errors import DefinitionError


@pytest.fixture
def instance(tmp_path: Any) -> Iterator[Instance]:
    with Instance(tmp_path) as opened:
        yield opened


@solid
def emit_number() -> int:
    return 1


@solid
def add_one(num: int) -> int:
    return num + 1


@solid
def multiply(num: int, factor: int = 10) -> int:
    return num * factor


@solid
def sum_all(nums: list[int]) -> int:
    return sum(nums)


@solid
def word() -> str:
    return "one"


JOBS = """
# a diamond, as a table of jobs might describe it
left:   {solid: add_one, reads: [emit_number]}
right:  {solid: multiply, reads: [emit_number]}
total:  {solid: sum_all, reads: [left, right, emit_number]}
"""


def _from_jobs(text: str) -> PipelineDefinition:
    jobs = yaml.safe_load(text)
    solids = {s.name: s for s in (emit_number, add_one, multiply, sum_all)}
    dependencies: dict[Any, Any] = {"emit_number": {}}
    for alias, job in jobs.items():
        definition = solids[job["solid"]]
        reads = [DependencyDefinition(name) for name in job["reads"]]
        [input_def] = [i for i in definition.inputs if not i.has_default]
        wired = MultiDependencyDefinition(reads) if len(reads) > 1 else reads[0]
        dependencies[SolidInvocation(job["solid"], alias=alias)] = {input_def.name: wired}
    return PipelineDefinition.from_dependencies("diamond", list(solids.values()), dependencies)


def test_a_generated_diamond_with_aliases_and_fan_in_runs(instance: Instance) -> None:
    diamond = _from_jobs(JOBS)
    assert list(diamond.nodes) == ["emit_number", "left", "right", "total"]
    result = execute_pipeline(diamond, instance=instance)
    assert result.success
    assert result.output_for("total") == 2 + 10 + 1


def test_generated_and_decorated_pipelines_have_the_same_graph() -> None:
    @pipeline
    def diamond() -> None:
        number = emit_number()
        sum_all.alias("total")(
            [add_one.alias("left")(number), multiply.alias("right")(number), number]
        )

    generated = _from_jobs(JOBS)
    assert {name: dict(node.inputs) for name, node in generated.nodes.items()} == {
        name: dict(node.inputs) for name, node in diamond.nodes.items()
    }


def test_solids_the_dependencies_do_not_mention_are_used_once_and_modes_apply(
    instance: Instance,
) -> None:
    @solid(required_resource_keys={"base"})
    def base(context) -> int:
        return context.resources.base

    generated = PipelineDefinition.from_dependencies(
        "with_modes",
        [base, add_one],
        {"add_one": {"num": DependencyDefinition("base", "result")}},
        modes=[Mode("default", {"base": 41})],
    )
    assert execute_pipeline(generated, instance=instance).output_for("add_one") == 42


def test_composite_solids_can_be_wired_from_data(instance: Instance) -> None:
    @composite_solid
    def add_two(num: int) -> Any:
        return add_one.alias("second")(add_one(num))

    generated = PipelineDefinition.from_dependencies(
        "nested", [emit_number, add_two], {"add_two": {"num": DependencyDefinition("emit_number")}}
    )
    assert execute_pipeline(generated, instance=instance).output_for("add_two.second") == 3


def _decorated_error(body: Any) -> str:
    with pytest.raises(DefinitionError) as info:
        pipeline(name="same")(body)
    return str(info.value)


def _generated_error(solids: list, dependencies: dict, **kwargs: Any) -> str:
    with pytest.raises(DefinitionError) as info:
        PipelineDefinition.from_dependencies("same", solids, dependencies, **kwargs)
    return str(info.value)


def test_a_type_mismatch_is_the_same_error_as_in_a_decorated_pipeline() -> None:
    def body() -> None:
        add_one(word())

    assert _generated_error(
        [word, add_one], {"add_one": {"num": DependencyDefinition("word")}}
    ) == _decorated_error(body)


def test_an_unknown_input_is_the_same_error_as_in_a_decorated_pipeline() -> None:
    def body() -> None:
        add_one(numb=emit_number())

    assert _generated_error(
        [emit_number, add_one], {"add_one": {"numb": DependencyDefinition("emit_number")}}
    ) == _decorated_error(body)


def test_a_missing_resource_is_the_same_error_as_in_a_decorated_pipeline() -> None:
    @solid(required_resource_keys={"db"})
    def query(context) -> int:
        return 1

    modes = [Mode("local", {"cache": 1})]
    expected = _generated_error([query], {}, modes=modes)
    with pytest.raises(DefinitionError) as info:
        pipeline(name="same", modes=modes)(lambda: query())
    assert expected == str(info.value)


@pytest.mark.parametrize(
    ("solids", "dependencies", "message"),
    [
        (
            [emit_number],
            {"nope": {}},
            "pipeline 'bad': the dependencies use solid 'nope', which is not among its solids "
            "(emit_number)",
        ),
        (
            [emit_number, add_one],
            {"add_one": {"num": DependencyDefinition("emit")}},
            "pipeline 'bad': solid 'add_one' depends on 'emit', which is not a solid of the "
            "pipeline (its solids: add_one, emit_number)",
        ),
        (
            [emit_number, add_one],
            {"add_one": {"num": DependencyDefinition("emit_number", "total")}},
            "solid 'emit_number' has no output 'total'; its outputs are result",
        ),
        (
            [add_one],
            {
                SolidInvocation("add_one", "a"): {"num": DependencyDefinition("b")},
                SolidInvocation("add_one", "b"): {"num": DependencyDefinition("a")},
            },
            "pipeline 'bad': the dependencies form a cycle: ",
        ),
        (
            [add_one, multiply],
            {SolidInvocation("add_one", "a"): {}, SolidInvocation("multiply", "a"): {}},
            "pipeline 'bad' uses the name 'a' twice",
        ),
        (
            [add_one, add_one],
            {},
            "pipeline 'bad': two solids are named 'add_one'",
        ),
    ],
)
def test_dependency_mistakes_name_the_culprit(solids: list, dependencies: dict, message) -> None:
    with pytest.raises(DefinitionError) as info:
        PipelineDefinition.from_dependencies("bad", solids, dependencies)
    assert str(info.value).startswith(message)
