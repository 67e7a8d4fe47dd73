"""Inputs fed from run_config, type loaders and scalar config, as Dagster programs use them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pyarrow as pa
import pyarrow.csv
import pytest

from solidflow import (
    Config,
    DataType,
    Instance,
    Mode,
    config_schema,
    execute_pipeline,
    execute_solid,
    pipeline,
    resource,
    solid,
    type_loader,
)
from solidflow.engine.events.records import EventType
from solidflow.engine.instance.runs import RunStatus
from solidflow.errors import ConfigError


@pytest.fixture
def instance(tmp_path: Any) -> Iterator[Instance]:
    with Instance(tmp_path / "home") as opened:
        yield opened


def _errors(instance: Instance, target: Any, run_config: dict) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as info:
        execute_pipeline(target, run_config, instance=instance)
    run = instance.get_run(info.value.run_id)
    assert run.status is RunStatus.FAILURE
    assert not [e for e in instance.events(run.run_id) if e.type is EventType.STEP_START]
    return info.value.errors


@solid
def hello(context, word: str) -> str:
    return f"hello, {word}"


@pipeline
def greeting() -> None:
    hello()


def test_an_unwired_input_takes_its_value_from_run_config(instance: Instance) -> None:
    run_config = {"solids": {"hello": {"inputs": {"word": "world"}}}}
    result = execute_pipeline(greeting, run_config, instance=instance)
    assert result.output_for("hello") == "hello, world"


def test_a_missing_config_input_is_an_error_with_its_path(instance: Instance) -> None:
    assert _errors(instance, greeting, {}) == [
        (
            "solids.hello.inputs.word",
            "Field required (the input is not wired to a solid, so give its value here)",
        )
    ]


def test_a_config_input_of_the_wrong_type_names_both_types(instance: Instance) -> None:
    assert _errors(instance, greeting, {"solids": {"hello": {"inputs": {"word": 5}}}}) == [
        ("solids.hello.inputs.word", "expected str: value 5 of type int is not a str")
    ]


def test_a_mapping_for_a_plain_input_says_to_give_the_value_itself(instance: Instance) -> None:
    run_config = {"solids": {"hello": {"inputs": {"word": {"value": "world"}}}}}
    assert _errors(instance, greeting, run_config) == [
        (
            "solids.hello.inputs.word",
            "got a mapping, but input 'word' takes a str: give the value itself (such as "
            "'word: ...'), not a mapping like {value: ...}",
        )
    ]


def test_execute_solid_takes_the_value_of_an_unwired_input() -> None:
    assert execute_solid(hello, inputs={"word": "you"}).output_value() == "hello, you"
    with pytest.raises(ConfigError) as info:
        execute_solid(hello)
    assert info.value.errors == [("inputs.word", "Field required")]


class CsvSource(Config):
    csv: str
    delimiter: str = ","


@type_loader(CsvSource)
def load_csv(context, config: CsvSource) -> pa.Table:
    context.log.info(f"reading {config.csv}")
    options = pyarrow.csv.ParseOptions(delimiter=config.delimiter)
    return pyarrow.csv.read_csv(config.csv, parse_options=options)


CsvTable = DataType(
    "CsvTable",
    lambda value: isinstance(value, pa.Table) and value.num_columns > 0,
    "a table read from a CSV file",
    loader=load_csv,
)


@solid
def count_rows(cereals: Annotated[pa.Table, CsvTable]) -> int:
    return cereals.num_rows


@solid
def sum_calories(cereals: CsvTable) -> int:  # type: ignore[valid-type]
    return sum(cereals.column("calories").to_pylist())


@pipeline
def cereal_stats() -> None:
    count_rows()
    sum_calories()


def _cereals(tmp_path: Path) -> str:
    path = tmp_path / "cereal.csv"
    path.write_text("name;calories\nBran;70\nWheat;100\nMaypo;95\n")
    return str(path)


def test_a_type_loader_builds_an_input_from_its_config(instance: Instance, tmp_path) -> None:
    source = {"csv": _cereals(tmp_path), "delimiter": ";"}
    run_config = {
        "solids": {
            "count_rows": {"inputs": {"cereals": source}},
            "sum_calories": {"inputs": {"cereals": source}},
        }
    }
    result = execute_pipeline(cereal_stats, run_config, instance=instance)
    assert result.output_for("count_rows") == 3
    assert result.output_for("sum_calories") == 265
    [read] = [e for e in result.events if e.type is EventType.STEP_INPUT and e.step == "count_rows"]
    assert read.payload["type"] == "CsvTable" and read.payload["type_check"] is True
    logs = [e.message for e in result.events if e.type is EventType.LOG]
    assert logs == [f"reading {source['csv']}"] * 2


def test_a_step_whose_input_a_loader_builds_is_memoized_by_the_loaders_config(
    instance: Instance, tmp_path
) -> None:
    source = {"csv": _cereals(tmp_path), "delimiter": ";"}
    run_config = {
        "solids": {
            "count_rows": {"inputs": {"cereals": source}},
            "sum_calories": {"inputs": {"cereals": source}},
        }
    }
    execute_pipeline(cereal_stats, run_config, instance=instance)
    again = execute_pipeline(cereal_stats, run_config, instance=instance, memoize=True)
    assert {e.step for e in again.events if e.type is EventType.STEP_MEMOIZED} == {
        "count_rows",
        "sum_calories",
    }
    run_config["solids"]["count_rows"]["inputs"]["cereals"] = {**source, "delimiter": ","}
    changed = execute_pipeline(cereal_stats, run_config, instance=instance, memoize=True)
    assert [e.step for e in changed.events if e.type is EventType.STEP_START] == ["count_rows"]


def test_a_type_loaders_config_is_validated_before_the_run(instance: Instance) -> None:
    run_config = {
        "solids": {
            "count_rows": {"inputs": {"cereals": {"path": "x.csv"}}},
            "sum_calories": {"inputs": {"cereals": {"csv": "x.csv"}}},
        }
    }
    assert _errors(instance, cereal_stats, run_config) == [
        ("solids.count_rows.inputs.cereals.csv", "Field required"),
        (
            "solids.count_rows.inputs.cereals.path",
            "unknown key 'path' (valid keys here: csv, delimiter)",
        ),
    ]


def test_a_failing_type_loader_fails_the_step_naming_the_loader(
    instance: Instance, tmp_path
) -> None:
    missing = {"csv": str(tmp_path / "missing.csv")}
    run_config = {
        "solids": {
            "count_rows": {"inputs": {"cereals": missing}},
            "sum_calories": {"inputs": {"cereals": missing}},
        }
    }
    result = execute_pipeline(cereal_stats, run_config, instance=instance)
    message = result.result_for("count_rows").failure_message
    assert message.startswith(
        "solid 'count_rows' input 'cereals': the loader of CsvTable raised FileNotFoundError"
    )


def test_the_loaders_config_is_in_the_json_schema() -> None:
    schema = config_schema(cereal_stats)
    entry = schema["$defs"]["count_rows_inputs"]["properties"]["cereals"]
    assert entry["description"] == "config of the loader of CsvTable"
    source = schema["$defs"][entry["$ref"].rsplit("/", 1)[-1]]
    assert source["required"] == ["csv"]
    assert set(source["properties"]) == {"csv", "delimiter"}


@solid
def greet_all(config: list[str]) -> str:
    return ", ".join(config)


@solid
def repeat(config: int, text: str = "x") -> str:
    return text * config


@resource(config=str)
def url(init_context) -> str:
    return f"connected to {init_context.config}"


@solid(required_resource_keys={"database"})
def connect(context) -> str:
    return context.resources.database


@pipeline(modes=[Mode("default", {"database": url})])
def scalars() -> None:
    greet_all()
    repeat()
    connect()


def test_scalar_config_for_solids_and_resources(instance: Instance) -> None:
    run_config = {
        "solids": {"greet_all": {"config": ["ann", "bob"]}, "repeat": {"config": 3}},
        "resources": {"database": {"config": "sqlite:///db"}},
    }
    result = execute_pipeline(scalars, run_config, instance=instance)
    assert result.output_for("greet_all") == "ann, bob"
    assert result.output_for("repeat") == "xxx"
    assert result.output_for("connect") == "connected to sqlite:///db"


def test_scalar_config_is_validated_with_paths(instance: Instance) -> None:
    run_config = {
        "solids": {"greet_all": {"config": ["ann", 5]}, "repeat": {"config": "many"}},
        "resources": {"database": {"config": {"url": "x"}}},
    }
    assert _errors(instance, scalars, run_config) == [
        ("solids.greet_all.config.1", "Input should be a valid string"),
        (
            "solids.repeat.config",
            "Input should be a valid integer, unable to parse string as an integer",
        ),
        ("resources.database.config", "Input should be a valid string"),
    ]
    assert _errors(instance, scalars, {}) == [
        ("solids.greet_all.config", "Field required"),
        ("solids.repeat.config", "Field required"),
        ("resources.database.config", "Field required"),
    ]


def test_scalar_config_is_in_the_json_schema() -> None:
    schema = config_schema(scalars)["$defs"]

    def config_of(entry: str) -> dict:
        described = schema[entry]["properties"]["config"]
        return {key: value for key, value in described.items() if key != "title"}

    assert config_of("greet_all_entry") == {"items": {"type": "string"}, "type": "array"}
    assert config_of("repeat_entry") == {"type": "integer"}
    assert config_of("database_resource") == {"type": "string"}
    assert schema["greet_all_entry"]["required"] == ["config"]


def test_scalar_config_with_execute_solid_and_configured_resources() -> None:
    assert execute_solid(repeat, config=2, inputs={"text": "ab"}).output_value() == "abab"
    result = execute_solid(connect, resources={"database": url.configured("pg://host")})
    assert result.output_value() == "connected to pg://host"
    with pytest.raises(ConfigError) as info:
        execute_solid(repeat, config="twice")
    assert info.value.errors[0][0] == "config"
