"""run_config validation: every problem with its dotted path, and the JSON Schema."""

import json
from collections.abc import Iterator
from typing import Any

import pytest

from solidflow import (
    Config,
    Instance,
    Mode,
    composite_solid,
    config_schema,
    execute_pipeline,
    pipeline,
    resource,
    solid,
)
from solidflow.engine.instance.runs import RunStatus
from solidflow.errors import ConfigError


class LoadConfig(Config):
    limit: int
    path: str = "data.csv"


class Threshold(Config):
    minimum: int = 0


@solid
def load(config: LoadConfig) -> list[int]:
    return list(range(config.limit))


@solid
def keep(config: Threshold, rows: list[int]) -> list[int]:
    return [row for row in rows if row >= config.minimum]


@solid
def count(rows: list[int], offset: int = 0) -> int:
    return len(rows) + offset


@pipeline
def etl() -> None:
    count(keep(load()))


class Factor(Config):
    factor: int


@solid
def seed() -> int:
    return 2


@solid
def scale(config: Factor, x: int) -> int:
    return x * config.factor


@composite_solid
def inner(x: int) -> Any:
    return scale(x)


@composite_solid
def outer(x: int) -> Any:
    return inner(x)


@pipeline
def nested() -> None:
    outer(seed())


class DbConfig(Config):
    url: str
    pool: int = 1


@resource(config=DbConfig)
def database(init_context):
    return init_context.config


@solid(required_resource_keys={"db"})
def read_db(context) -> str:
    return f"{context.resources.db.url}/{context.resources.db.pool}"


@pipeline(modes=[Mode("default", {"db": database})])
def with_db() -> None:
    read_db()
    seed()


@pytest.fixture
def instance(tmp_path: Any) -> Iterator[Instance]:
    with Instance(tmp_path) as opened:
        yield opened


def config_errors(instance: Instance, target: Any, run_config: Any, **kwargs: Any) -> list:
    with pytest.raises(ConfigError) as info:
        execute_pipeline(target, run_config, instance=instance, **kwargs)
    return info.value.errors


# --- valid config ----------------------------------------------------------------------------


def test_valid_config_reaches_the_solids_with_defaults(instance: Instance) -> None:
    seen = []

    @solid
    def show(context, config: LoadConfig) -> None:
        seen.append((context.config, config))

    @pipeline
    def shown() -> None:
        show()

    result = execute_pipeline(
        shown, {"solids": {"show": {"config": {"limit": 3}}}}, instance=instance
    )
    assert result.success
    [(from_context, from_param)] = seen
    assert from_param == LoadConfig(limit=3, path="data.csv")
    assert from_context is from_param


def test_config_and_omitted_all_default_config(instance: Instance) -> None:
    result = execute_pipeline(
        etl, {"solids": {"load": {"config": {"limit": 4}}}}, instance=instance
    )
    assert result.output_for("count") == 4
    result = execute_pipeline(
        etl,
        {"solids": {"load": {"config": {"limit": 4}}, "keep": {"config": {"minimum": 2}}}},
        instance=instance,
    )
    assert result.output_for("count") == 2


# --- wrong values and unknown keys -----------------------------------------------------------


def test_wrong_type_is_reported_at_its_path(instance: Instance) -> None:
    [(path, message)] = config_errors(
        instance, etl, {"solids": {"load": {"config": {"limit": "ten"}}}}
    )
    assert path == "solids.load.config.limit"
    assert message.startswith("Input should be a valid integer")


@pytest.mark.parametrize(
    ("run_config", "path", "valid"),
    [
        ({"solid": {}}, "solid", "solids, resources, execution, storage"),
        ({"solids": {"lod": {}}}, "solids.lod", "load, keep, count"),
        ({"solids": {"load": {"configs": {}}}}, "solids.load.configs", "config"),
        (
            {"solids": {"load": {"config": {"limit": 1, "limt": 2}}}},
            "solids.load.config.limt",
            "limit, path",
        ),
        ({"solids": {"count": {"config": {}}}}, "solids.count.config", "inputs"),
        ({"solids": {"count": {"inputs": {"offst": 1}}}}, "solids.count.inputs.offst", "offset"),
        ({"solids": {"load": {"inputs": {}}}}, "solids.load.inputs", "config"),
        ({"execution": {"in_process": {"threads": 2}}}, "execution.in_process.threads", "none"),
    ],
)
def test_unknown_keys_list_the_valid_keys(
    instance: Instance, run_config: dict, path: str, valid: str
) -> None:
    run_config = {"solids": {"load": {"config": {"limit": 1}}}} | run_config
    errors = config_errors(instance, etl, run_config)
    key = path.rsplit(".", 1)[-1]
    assert (path, f"unknown key '{key}' (valid keys here: {valid})") in errors


def test_every_problem_is_listed_at_once(instance: Instance) -> None:
    with pytest.raises(ConfigError) as info:
        execute_pipeline(
            etl,
            {
                "solids": {
                    "load": {"config": {"limit": "x", "extra": 1}},
                    "keep": {"config": {"minimum": "low"}},
                    "nope": {},
                },
                "other": 1,
            },
            instance=instance,
        )
    error = info.value
    assert sorted(path for path, _ in error.errors) == [
        "other",
        "solids.keep.config.minimum",
        "solids.load.config.extra",
        "solids.load.config.limit",
        "solids.nope",
    ]
    text = str(error)
    assert text.startswith("invalid run config (5 problems):\n")
    for path, message in error.errors:
        assert f"\n  {path}: {message}" in text


def test_wired_input_is_not_a_config_key_when_its_upstream_runs(instance: Instance) -> None:
    errors = config_errors(
        instance,
        etl,
        {"solids": {"load": {"config": {"limit": 1}}, "count": {"inputs": {"rows": [1]}}}},
    )
    assert errors == [("solids.count.inputs.rows", "unknown key 'rows' (valid keys here: offset)")]


def test_non_mapping_run_config(instance: Instance) -> None:
    with pytest.raises(ConfigError) as info:
        execute_pipeline(etl, ["solids"], instance=instance)
    assert info.value.errors == [("", "run_config must be a mapping, got list")]
    assert (
        str(info.value)
        == "invalid run config (1 problem):\n  run_config must be a mapping, got list"
    )
    assert instance.get_run(info.value.run_id).status is RunStatus.FAILURE


@pytest.mark.parametrize("section", ["solids", "resources", "execution"])
def test_non_mapping_section(instance: Instance, section: str) -> None:
    errors = config_errors(instance, etl, {section: ["x"]})
    [(_, message)] = [error for error in errors if error[0] == section]
    assert message.startswith("Input should be a valid dictionary")


def test_unknown_mode(instance: Instance) -> None:
    assert config_errors(instance, etl, {}, mode="prod") == [
        ("mode", "unknown mode 'prod'; pipeline 'etl' has modes: default")
    ]


def test_unknown_executor(instance: Instance) -> None:
    expected = [
        (
            "execution",
            "unknown executor 'dask'; available: in_process, ray, ray_tasks "
            '(or give a "package.module:Class")',
        )
    ]
    assert config_errors(instance, etl, {"execution": {"dask": {}}}) == expected
    assert config_errors(instance, etl, {}, executor="dask") == expected


def test_execution_section_for_the_in_process_executor(instance: Instance) -> None:
    result = execute_pipeline(
        etl,
        {"solids": {"load": {"config": {"limit": 2}}}, "execution": {"in_process": {}}},
        instance=instance,
    )
    assert result.success
    assert result.events[0].payload["executor"] == "in_process"


# --- missing required fields -----------------------------------------------------------------


@pytest.mark.parametrize(
    "run_config",
    [None, {}, {"solids": {}}, {"solids": {"load": {}}}, {"solids": {"load": {"config": {}}}}],
)
def test_missing_required_field_is_reported_at_its_leaf(
    instance: Instance, run_config: Any
) -> None:
    assert config_errors(instance, etl, run_config) == [
        ("solids.load.config.limit", "Field required")
    ]


def test_missing_nested_config_expands_to_every_leaf(instance: Instance) -> None:
    class Credentials(Config):
        user: str
        password: str

    class Connection(Config):
        host: str
        credentials: Credentials
        port: int = 5432

    @solid
    def connect(config: Connection) -> str:
        return config.host

    @pipeline
    def connecting() -> None:
        connect()

    assert sorted(config_errors(instance, connecting, {})) == [
        ("solids.connect.config.credentials.password", "Field required"),
        ("solids.connect.config.credentials.user", "Field required"),
        ("solids.connect.config.host", "Field required"),
    ]
    errors = config_errors(
        instance, connecting, {"solids": {"connect": {"config": {"host": "h", "credentials": {}}}}}
    )
    assert sorted(errors) == [
        ("solids.connect.config.credentials.password", "Field required"),
        ("solids.connect.config.credentials.user", "Field required"),
    ]


# --- inputs from run_config ------------------------------------------------------------------


def test_input_default_can_be_overridden(instance: Instance) -> None:
    result = execute_pipeline(
        etl,
        {"solids": {"load": {"config": {"limit": 3}}, "count": {"inputs": {"offset": 10}}}},
        instance=instance,
    )
    assert result.output_for("count") == 13


def test_input_of_a_solid_whose_upstream_is_not_selected_is_required(instance: Instance) -> None:
    assert config_errors(instance, etl, {}, solid_selection="count") == [
        (
            "solids.count.inputs.rows",
            "Field required (upstream solid 'keep' is not selected, so give the value here)",
        )
    ]


def test_unselected_solids_need_no_config(instance: Instance) -> None:
    result = execute_pipeline(
        etl,
        {"solids": {"count": {"inputs": {"rows": [5, 6]}}}},
        solid_selection="count",
        instance=instance,
    )
    assert result.output_for("count") == 2


@pytest.mark.parametrize(
    ("inputs", "path", "message"),
    [
        (
            {"rows": ["a"]},
            "solids.count.inputs.rows",
            "expected list[int]: item 0: value 'a' of type str is not an int",
        ),
        (
            {"rows": [1], "offset": True},
            "solids.count.inputs.offset",
            "expected int: value True of type bool is not an int",
        ),
        (
            {"rows": "12"},
            "solids.count.inputs.rows",
            "expected list[int]: value '12' of type str is not a list",
        ),
    ],
)
def test_input_values_are_type_checked(
    instance: Instance, inputs: dict, path: str, message: str
) -> None:
    errors = config_errors(
        instance, etl, {"solids": {"count": {"inputs": inputs}}}, solid_selection="count"
    )
    assert errors == [(path, message)]


def test_input_type_errors_are_all_reported(instance: Instance) -> None:
    errors = config_errors(
        instance,
        etl,
        {"solids": {"count": {"inputs": {"rows": [None], "offset": "1"}}}},
        solid_selection="count",
    )
    assert [path for path, _ in errors] == [
        "solids.count.inputs.rows",
        "solids.count.inputs.offset",
    ]


# --- resources -------------------------------------------------------------------------------


def test_resource_config_is_validated_and_reaches_the_resource(instance: Instance) -> None:
    assert config_errors(instance, with_db, {}) == [("resources.db.config.url", "Field required")]
    [(path, message)] = config_errors(
        instance, with_db, {"resources": {"db": {"config": {"url": "u", "pool": "big"}}}}
    )
    assert path == "resources.db.config.pool"
    assert message.startswith("Input should be a valid integer")
    result = execute_pipeline(
        with_db,
        {"resources": {"db": {"config": {"url": "sqlite://", "pool": 4}}}},
        instance=instance,
    )
    assert result.output_for("read_db") == "sqlite:///4"


def test_unknown_resource_key(instance: Instance) -> None:
    errors = config_errors(
        instance, with_db, {"resources": {"db": {"config": {"url": "u"}}, "cache": {}}}
    )
    assert errors == [("resources.cache", "unknown key 'cache' (valid keys here: db)")]


def test_resource_config_is_not_required_when_no_selected_solid_needs_it(
    instance: Instance,
) -> None:
    result = execute_pipeline(with_db, {}, solid_selection="seed", instance=instance)
    assert result.success
    assert result.output_for("seed") == 2


def test_configured_resource_needs_no_run_config(instance: Instance) -> None:
    @pipeline(modes=[Mode("default", {"db": database.configured({"url": "bound"})})])
    def bound() -> None:
        read_db()

    assert execute_pipeline(bound, instance=instance).output_for("read_db") == "bound/1"
    assert config_errors(instance, bound, {"resources": {"db": {"config": {"url": "x"}}}}) == [
        ("resources.db", "unknown key 'db' (valid keys here: none)")
    ]


def test_invalid_configured_resource_is_a_config_error(instance: Instance) -> None:
    @pipeline(modes=[Mode("default", {"db": database.configured({"pool": "many"})})])
    def badly_bound() -> None:
        read_db()

    with pytest.raises(ConfigError) as info:
        execute_pipeline(badly_bound, instance=instance)
    paths = sorted(path for path, _ in info.value.errors)
    assert paths == ["resources.db.config.pool", "resources.db.config.url"]
    assert all("configured" in message for _, message in info.value.errors)
    assert instance.get_run(info.value.run_id).status is RunStatus.FAILURE


# --- composites ------------------------------------------------------------------------------


def test_composite_config_nests_under_solids(instance: Instance) -> None:
    run_config = {
        "solids": {"outer": {"solids": {"inner": {"solids": {"scale": {"config": {"factor": 5}}}}}}}
    }
    result = execute_pipeline(nested, run_config, instance=instance)
    assert result.output_for("outer.inner.scale") == 10


def test_composite_config_errors_use_nested_paths(instance: Instance) -> None:
    assert config_errors(instance, nested, {}) == [
        ("solids.outer.solids.inner.solids.scale.config.factor", "Field required")
    ]
    errors = config_errors(
        instance,
        nested,
        {
            "solids": {
                "outer": {
                    "config": {},
                    "solids": {
                        "inner": {"solids": {"scale": {"config": {"factor": 1.5}}, "x": {}}}
                    },
                }
            }
        },
    )
    assert sorted(errors) == [
        ("solids.outer.config", "unknown key 'config' (valid keys here: solids)"),
        (
            "solids.outer.solids.inner.solids.scale.config.factor",
            "Input should be a valid integer, got a number with a fractional part",
        ),
        ("solids.outer.solids.inner.solids.x", "unknown key 'x' (valid keys here: scale)"),
    ]


def test_composite_input_from_run_config_when_upstream_not_selected(instance: Instance) -> None:
    errors = config_errors(
        instance,
        nested,
        {
            "solids": {
                "outer": {"solids": {"inner": {"solids": {"scale": {"config": {"factor": 3}}}}}}
            }
        },
        solid_selection="outer",
    )
    assert errors == [
        (
            "solids.outer.solids.inner.solids.scale.inputs.x",
            "Field required (upstream solid 'seed' is not selected, so give the value here)",
        )
    ]
    scale_entry = {"config": {"factor": 3}, "inputs": {"x": 7}}
    result = execute_pipeline(
        nested,
        {"solids": {"outer": {"solids": {"inner": {"solids": {"scale": scale_entry}}}}}},
        solid_selection="outer",
        instance=instance,
    )
    assert result.output_for("outer.inner.scale") == 21


# --- JSON Schema -----------------------------------------------------------------------------


def resolve(schema: dict, node: dict) -> dict:
    """`node` with a `$ref` replaced by the definition it points to."""
    while "$ref" in node:
        node = schema["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def at(schema: dict, *keys: str) -> dict:
    node = schema
    for key in keys:
        node = resolve(schema, resolve(schema, node)["properties"][key])
    return resolve(schema, node)


def test_config_schema_of_a_pipeline() -> None:
    schema = config_schema(etl)
    json.dumps(schema)
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert list(schema["properties"]) == ["solids", "resources", "execution", "storage"]
    assert schema["required"] == ["solids"]
    solids = at(schema, "solids")
    assert list(solids["properties"]) == ["load", "keep", "count"]
    assert solids["required"] == ["load"]
    assert at(schema, "solids", "load")["required"] == ["config"]
    load_config = at(schema, "solids", "load", "config")
    assert load_config["properties"]["limit"]["type"] == "integer"
    assert load_config["properties"]["path"]["default"] == "data.csv"
    assert load_config["required"] == ["limit"]
    assert load_config["additionalProperties"] is False
    assert "required" not in at(schema, "solids", "keep")
    assert list(at(schema, "solids", "count", "inputs")["properties"]) == ["offset"]
    assert "in_process" in at(schema, "execution")["properties"]


def test_config_schema_follows_the_selection() -> None:
    schema = config_schema(etl, solid_selection="count")
    solids = at(schema, "solids")
    assert solids["required"] == ["count"]
    assert at(schema, "solids", "count", "inputs")["required"] == ["rows"]
    assert "required" not in at(schema, "solids", "load")


def test_config_schema_of_resources_and_composites() -> None:
    resources = at(config_schema(with_db), "resources")
    assert resources["required"] == ["db"]
    db_config = at(config_schema(with_db), "resources", "db", "config")
    assert db_config["required"] == ["url"]
    assert db_config["properties"]["pool"]["default"] == 1
    assert "required" not in at(config_schema(with_db, solid_selection="seed"), "resources")

    nested_schema = config_schema(nested)
    factor = at(nested_schema, "solids", "outer", "solids", "inner", "solids", "scale", "config")
    assert factor["required"] == ["factor"]
    assert nested_schema["required"] == ["solids"]


def test_config_schema_without_required_config() -> None:
    @pipeline
    def simple() -> None:
        seed()

    schema = config_schema(simple)
    assert "required" not in schema
    assert list(at(schema, "solids")["properties"]) == ["seed"]


def test_config_schema_with_an_unknown_mode() -> None:
    with pytest.raises(ConfigError) as info:
        config_schema(etl, mode="prod")
    assert info.value.errors[0][0] == "mode"
