"""Definitions: solids, pipelines, composites, resources, modes, retry policies and every
DefinitionError they raise at decoration time."""

import threading
from collections.abc import Iterator
from typing import Any

import cloudpickle
import pytest

from solidflow import (
    CompositeSolidDefinition,
    Config,
    InitContext,
    Mode,
    Output,
    PipelineDefinition,
    ResourceDefinition,
    RetryPolicy,
    SolidDefinition,
    composite_solid,
    pipeline,
    resource,
    solid,
)
from solidflow.definitions.graph import FanIn, FromOutput, FromValue
from solidflow.errors import DefinitionError


class LimitConfig(Config):
    limit: int = 10


@solid
def one() -> int:
    return 1


@solid
def word() -> str:
    return "a"


@solid
def add(a: int, b: int = 2) -> int:
    return a + b


@solid(outs={"count": int, "label": str})
def pair() -> tuple[int, str]:
    return 1, "a"


@solid
def total(xs: list[int]) -> int:
    return sum(xs)


def raises(match: str) -> Any:
    return pytest.raises(DefinitionError, match=match)


# --- @solid ----------------------------------------------------------------------------------


def test_plain_solid_definition() -> None:
    @solid
    def scale(x: int, factor: float = 2.0) -> float:
        """Multiply x."""
        return x * factor

    assert isinstance(scale, SolidDefinition)
    assert scale.name == "scale"
    assert scale.description == "Multiply x."
    assert [(i.name, i.data_type.name, i.has_default) for i in scale.inputs] == [
        ("x", "int", False),
        ("factor", "float", True),
    ]
    assert scale.input("factor").default == 2.0
    assert scale.output_names == ("result",)
    assert scale.output("result").data_type.name == "float"
    assert not scale.takes_context
    assert not scale.takes_config
    assert scale.config_schema is None
    assert scale.fn(3) == 6.0


def test_solid_options() -> None:
    policy = RetryPolicy(max_retries=2, delay=0.5)

    @solid(
        name="renamed",
        description="given",
        version="v2",
        required_resource_keys={"db"},
        tags={"team": "data"},
        retry=policy,
    )
    def original(context) -> None:
        """Docstring loses to the explicit description."""

    assert original.name == "renamed"
    assert original.description == "given"
    assert original.version == "v2"
    assert original.required_resource_keys == frozenset({"db"})
    assert original.tags == {"team": "data"}
    assert original.retry is policy
    assert original.takes_context
    assert original.inputs == ()


def test_context_and_config_are_not_inputs() -> None:
    @solid
    def load(context, config: LimitConfig, rows: list) -> list:
        return rows[: config.limit]

    assert load.takes_context
    assert load.takes_config
    assert load.config_schema is LimitConfig
    assert [i.name for i in load.inputs] == ["rows"]


def test_unannotated_solid_accepts_anything() -> None:
    @solid
    def passthrough(x):
        return x

    assert passthrough.input("x").data_type.name == "Any"
    assert passthrough.output("result").data_type.name == "Any"


def test_outs_declare_several_typed_outputs() -> None:
    assert pair.output_names == ("count", "label")
    assert [o.data_type.name for o in pair.outputs] == ["int", "str"]


def test_generator_return_annotation_is_not_the_output_type() -> None:
    @solid
    def produce() -> Iterator[int]:
        yield Output(1)

    assert produce.output("result").data_type.name == "Any"


def test_input_and_output_lookup_by_unknown_name_raises_key_error() -> None:
    with pytest.raises(KeyError):
        add.input("c")
    with pytest.raises(KeyError):
        add.output("other")


@pytest.mark.parametrize("bad_name", ["1st", "has-dash", "with space"])
def test_invalid_solid_name(bad_name: str) -> None:
    with raises(f"solid name {bad_name!r} is not valid: use letters, digits and '_'"):

        @solid(name=bad_name)
        def fine() -> None:
            pass


def test_context_must_be_the_first_parameter() -> None:
    with raises("solid 'late': 'context' must be the first parameter"):

        @solid
        def late(x, context):
            pass


@pytest.mark.parametrize("kind", ["args", "kwargs"])
def test_var_args_are_rejected(kind: str) -> None:
    def star(*args):
        pass

    def double_star(**kwargs):
        pass

    with raises("solid '.*': \\*args and \\*\\*kwargs are not supported"):
        solid(star if kind == "args" else double_star)


class Engine:
    """A class that is not config: pydantic cannot validate or describe it."""


def test_config_parameter_needs_a_config_type() -> None:
    def body(config):
        pass

    with raises("solid 'body': parameter 'config' needs an annotation"):
        solid(body)
    body.__annotations__ = {"config": Engine}
    with raises(
        "solid 'body': parameter 'config' must be annotated with a Config subclass or a type "
        "such as str or list\\[int\\]; <class '.*Engine'> is not a config type"
    ):
        solid(body)


@pytest.mark.parametrize("annotation", [str, list[int], dict[str, float], LimitConfig])
def test_config_may_be_a_config_class_or_a_scalar_type(annotation: Any) -> None:
    def body(config):
        pass

    body.__annotations__ = {"config": annotation}
    assert solid(body).config_schema == annotation


def test_required_resources_need_a_context_parameter() -> None:
    with raises(
        "solid 'query' requires resources \\['db', 'warehouse'\\] but has no 'context' parameter"
    ):

        @solid(required_resource_keys={"warehouse", "db"})
        def query() -> None:
            pass


def test_resource_keys_must_be_identifiers() -> None:
    with raises("solid 'query': resource key 'my-db' is not valid"):

        @solid(required_resource_keys={"my-db"})
        def query(context) -> None:
            pass


def test_retry_must_be_a_retry_policy() -> None:
    with raises("solid 'flaky': retry must be a RetryPolicy"):

        @solid(retry=3)  # type: ignore[arg-type]
        def flaky() -> None:
            pass


def test_outs_must_not_be_empty() -> None:
    with raises("solid 'nothing': outs must name at least one output"):

        @solid(outs={})
        def nothing() -> None:
            pass


def test_output_names_must_be_identifiers() -> None:
    with raises("solid 'split' output name 'a-b' is not valid"):

        @solid(outs={"a-b": int})
        def split() -> None:
            pass


def test_unusable_input_annotation_names_the_solid_and_input() -> None:
    def body(x: 5) -> None:  # type: ignore[valid-type]
        pass

    with raises("solid 'body' input 'x': cannot use 5 as a type"):
        solid(body)


def test_unresolvable_annotation_is_a_definition_error() -> None:
    def body(x: "NoSuchType") -> None:  # type: ignore[name-defined]  # noqa: F821
        pass

    with raises("solid 'body': cannot read its type annotations \\(NameError: .*NoSuchType"):
        solid(body)


def test_solid_called_outside_a_pipeline() -> None:
    with raises(
        "solid 'one' was called outside a @pipeline or @composite_solid body; to run a solid "
        "on its own use execute_solid"
    ):
        one()


def test_failed_pipeline_body_does_not_leave_a_wiring_scope_behind() -> None:
    with raises("solid 'add' in pipeline 'broken' has no input 'c'"):

        @pipeline
        def broken() -> None:
            add(one(), c=one.alias("other")())

    with raises("was called outside a @pipeline"):
        one()


# --- RetryPolicy -----------------------------------------------------------------------------


@pytest.mark.parametrize("kwargs", [{"max_retries": -1}, {"delay": -0.1}, {"backoff": 0.5}])
def test_invalid_retry_policy(kwargs: dict[str, float]) -> None:
    with raises(
        r"RetryPolicy needs max_retries >= 0 \(a whole number\), delay >= 0 and backoff >= 1"
    ):
        RetryPolicy(**kwargs)


def test_retry_delay_grows_with_backoff() -> None:
    policy = RetryPolicy(max_retries=3, delay=0.5, backoff=2)
    assert [policy.delay_before(n) for n in (1, 2, 3)] == [0.5, 1.0, 2.0]
    assert RetryPolicy(delay=0.3).delay_before(3) == 0.3


# --- @pipeline wiring ------------------------------------------------------------------------


def test_pipeline_graph() -> None:
    @pipeline(description="adds", tags={"team": "data"})
    def adding() -> None:
        add(one(), b=one.alias("other")())

    assert isinstance(adding, PipelineDefinition)
    assert list(adding.nodes) == ["one", "other", "add"]
    assert adding.nodes["add"].inputs == {
        "a": FromOutput("one", "result"),
        "b": FromOutput("other", "result"),
    }
    assert adding.nodes["other"].solid is one
    assert adding.upstream() == {"one": [], "other": [], "add": ["one", "other"]}
    assert adding.description == "adds"
    assert adding.tags == {"team": "data"}
    assert adding.mode_names == ["default"]
    assert adding.mode(None).name == "default"


def test_pipeline_description_defaults_to_docstring() -> None:
    @pipeline(name="named")
    def body() -> None:
        """The docstring."""
        one()

    assert body.name == "named"
    assert body.description == "The docstring."


def test_unwired_input_with_default_has_no_binding() -> None:
    @pipeline
    def defaults() -> None:
        add(one())

    assert defaults.nodes["add"].inputs == {"a": FromOutput("one", "result")}


def test_multiple_outputs_unpack_or_pick_by_name() -> None:
    @solid
    def describe(n: int, label: str) -> str:
        return label * n

    @pipeline
    def unpacked() -> None:
        count, label = pair()
        describe(count, label)

    @pipeline
    def by_name() -> None:
        outputs = pair()
        # 'count' is also a tuple method: the output must win
        describe(label=outputs.label, n=outputs.count)

    for defined in (unpacked, by_name):
        assert defined.nodes["describe"].inputs == {
            "n": FromOutput("pair", "count"),
            "label": FromOutput("pair", "label"),
        }


def test_list_of_outputs_fans_in_in_order() -> None:
    @pipeline
    def fanned() -> None:
        total([one.alias("b")(), one.alias("a")(), one.alias("c")()])

    assert fanned.nodes["total"].inputs == {
        "xs": FanIn(
            (FromOutput("b", "result"), FromOutput("a", "result"), FromOutput("c", "result"))
        )
    }
    assert fanned.upstream()["total"] == ["b", "a", "c"]


def test_an_unwired_input_without_default_is_left_to_run_config() -> None:
    @pipeline
    def unwired() -> None:
        add()

    assert dict(unwired.nodes["add"].inputs) == {}


def test_type_mismatch_names_both_ends() -> None:
    with raises(
        "type mismatch: output 'result' of solid 'word' is str but input 'a' of solid 'add' "
        "expects int"
    ):

        @pipeline
        def mismatched() -> None:
            add(word())


def test_fan_in_element_type_mismatch() -> None:
    with raises(
        "type mismatch: output 'result' of solid 'word' is str but input 'xs' of solid "
        "'total' \\(an element of the list\\) expects int"
    ):

        @pipeline
        def mixed() -> None:
            total([one(), word()])


def test_duplicate_solid_name_suggests_an_alias() -> None:
    with raises(
        "pipeline 'twice' uses the name 'one' twice; give the second use another name with "
        "\\.alias\\('one_2'\\)"
    ):

        @pipeline
        def twice() -> None:
            one()
            one()


def test_alias_that_clashes_with_another_solid() -> None:
    with raises("pipeline 'clash' uses the name 'add' twice"):

        @pipeline
        def clash() -> None:
            add(one())
            one.alias("add")()


def test_invalid_alias_name() -> None:
    with raises("solid name 'bad name' is not valid"):

        @pipeline
        def aliased() -> None:
            one.alias("bad name")()


def test_plain_value_for_an_input() -> None:
    with raises(
        "input 'a' of solid 'add' got the plain value 3; inputs must be wired to solid outputs"
    ):

        @pipeline
        def plain() -> None:
            add(3)


def test_single_output_cannot_be_unpacked() -> None:
    with raises("output 'result' of solid 'one' is a single output and cannot be unpacked"):

        @pipeline
        def unpack() -> None:
            _first, _second = one()


def test_all_outputs_of_a_multi_output_solid_into_one_input() -> None:
    with raises("input 'a' of solid 'add' got all outputs of solid 'pair'; unpack them"):

        @pipeline
        def whole() -> None:
            add(pair())


def test_unknown_output_name() -> None:
    with raises("solid 'pair' has no output 'size'; its outputs are count, label"):

        @pipeline
        def unknown_output() -> None:
            add(pair().size)


def test_unknown_keyword_input() -> None:
    with raises("solid 'add' in pipeline 'extra' has no input 'c'; its inputs are a, b"):

        @pipeline
        def extra() -> None:
            add(one(), c=one.alias("other")())


def test_input_given_twice() -> None:
    with raises("solid 'add' in pipeline 'dup_input' got input 'a' twice"):

        @pipeline
        def dup_input() -> None:
            value = one()
            add(value, a=value)


def test_too_many_positional_inputs() -> None:
    with raises(
        "solid 'add' in pipeline 'too_many' takes 2 input\\(s\\) but was called with 3 positional"
    ):

        @pipeline
        def too_many() -> None:
            value = one()
            add(value, value, value)


def test_pipeline_without_solids() -> None:
    with raises("pipeline 'empty' wires no solids"):

        @pipeline
        def empty() -> None:
            pass


def test_pipeline_body_takes_no_parameters() -> None:
    with raises("pipeline 'params': the body takes no parameters"):

        @pipeline
        def params(x) -> None:
            one()


def test_invalid_pipeline_name() -> None:
    with raises("pipeline name 'my pipeline' is not valid"):

        @pipeline(name="my pipeline")
        def body() -> None:
            one()


# --- modes and resources ---------------------------------------------------------------------


@solid(required_resource_keys={"db"})
def query(context) -> int:
    return context.resources.db


def test_modes_provide_resources() -> None:
    local = Mode("local", {"db": 1})
    prod = Mode("prod", {"db": 2}, description="production")

    @pipeline(modes=[local, prod])
    def queried() -> None:
        query()

    assert queried.mode_names == ["local", "prod"]
    assert queried.default_mode is None  # several modes, none named "default"
    with pytest.raises(KeyError):
        queried.mode(None)
    assert queried.mode("prod") is prod
    with pytest.raises(KeyError):
        queried.mode("staging")


def test_unknown_resource_key_for_a_mode_names_solid_resource_and_mode() -> None:
    with raises(
        "solid 'query' requires resource 'db', which mode 'test' of pipeline 'partial' does not "
        "provide \\(it provides: cache\\)"
    ):

        @pipeline(modes=[Mode("local", {"db": 1}), Mode("test", {"cache": 2})])
        def partial() -> None:
            query()


def test_default_mode_provides_no_resources() -> None:
    with raises("which mode 'default' of pipeline 'bare' does not provide \\(it provides: none\\)"):

        @pipeline
        def bare() -> None:
            query()


def test_resource_requirements_inside_composites_are_checked() -> None:
    @composite_solid
    def wrapped(x: int) -> Any:
        return add(x, query())

    with raises("solid 'wrapped.query' requires resource 'db', which mode 'default'"):

        @pipeline
        def nested() -> None:
            wrapped(one())


def test_duplicate_mode_names() -> None:
    with raises("pipeline 'two_modes' has two modes named 'local'"):

        @pipeline(modes=[Mode("local"), Mode("local")])
        def two_modes() -> None:
            one()


def test_modes_must_be_mode_objects() -> None:
    with raises("pipeline 'not_modes': modes must be Mode objects, got 'local'"):

        @pipeline(modes=["local"])  # type: ignore[list-item]
        def not_modes() -> None:
            one()


def test_invalid_mode_name_and_resource_key() -> None:
    with raises("mode name 'my-mode' must be an identifier"):
        Mode("my-mode")
    with raises("mode 'local': resource key 'my db' must be an identifier"):
        Mode("local", {"my db": 1})


def test_plain_objects_in_a_mode_become_resources_returning_them() -> None:
    connection = object()
    definitions = Mode("local", {"db": connection}).resource_definitions()
    assert isinstance(definitions["db"], ResourceDefinition)
    context = InitContext(config=None, resource_key="db", run_id="r", log=None)
    assert definitions["db"].call(context) is connection


class UrlConfig(Config):
    url: str
    timeout: float = 1.0


def test_resource_definitions() -> None:
    @resource
    def plain(init_context):
        """A plain resource."""
        return init_context.resource_key

    @resource(config=UrlConfig, description="with config")
    def configured(init_context):
        yield init_context.config.url

    @resource
    def no_context():
        return 42

    assert plain.description == "A plain resource."
    assert plain.config_schema is None
    assert not plain.is_generator
    assert configured.config_schema is UrlConfig
    assert configured.description == "with config"
    assert configured.is_generator
    assert plain.name == "plain"
    context = InitContext(config=None, resource_key="key", run_id="r", log=None)
    assert plain.call(context) == "key"
    assert no_context.call(context) == 42


def test_configured_binds_config_without_changing_the_original() -> None:
    @resource(config=UrlConfig)
    def client(init_context):
        return init_context.config

    bound = client.configured({"url": "http://x"})
    assert bound.bound_config == {"url": "http://x"}
    assert client.bound_config is None
    from_object = client.configured(UrlConfig(url="http://y", timeout=2))
    assert from_object.bound_config == {"url": "http://y", "timeout": 2.0}


def test_configured_needs_a_config_schema() -> None:
    @resource
    def plain(init_context):
        return 1

    with raises("resource 'plain' takes no config"):
        plain.configured({"a": 1})


def test_resource_takes_one_argument() -> None:
    with raises("resource 'two' must take one argument \\(init_context\\), takes 2"):

        @resource
        def two(a, b):
            pass


def test_resource_config_must_be_a_config_type() -> None:
    with raises(
        "resource 'bad': config must be a Config subclass or a type such as str or "
        "list\\[int\\]; <class '.*Engine'> is not a config type"
    ):

        @resource(config=Engine)
        def bad(init_context):
            pass


def test_config_rejects_unknown_keys_and_is_frozen() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        LimitConfig(limit=1, other=2)  # type: ignore[call-arg]
    config = LimitConfig(limit=3)
    with pytest.raises(ValidationError):
        config.limit = 4  # type: ignore[misc]


class _Client:
    """Stands for a Spark session or a database client: it holds a lock and cannot be pickled."""

    def __init__(self) -> None:
        self.lock = threading.Lock()


def test_config_class_defined_next_to_unpicklable_locals_still_pickles() -> None:
    client = _Client()

    class Local(Config):
        size: int = 1

    restored = cloudpickle.loads(cloudpickle.dumps(Local(size=3)))
    assert restored.model_dump() == {"size": 3}
    assert type(restored).model_validate({"size": 4}).size == 4
    assert client.lock is not None  # the client was alive while pickling


# --- @composite_solid ------------------------------------------------------------------------


@composite_solid
def add_twice(x: int) -> Any:
    """Adds two, twice."""
    return add.alias("second")(add(x))


def test_composite_definition() -> None:
    assert isinstance(add_twice, CompositeSolidDefinition)
    assert add_twice.name == "add_twice"
    assert add_twice.description == "Adds two, twice."
    assert [(i.name, i.data_type.name) for i in add_twice.inputs] == [("x", "int")]


def test_composite_nodes_are_prefixed_and_wired_through() -> None:
    @pipeline
    def wrapped() -> None:
        add(add_twice(one()))

    assert list(wrapped.nodes) == ["one", "add_twice.add", "add_twice.second", "add"]
    assert wrapped.nodes["add_twice.add"].inputs == {"a": FromOutput("one", "result")}
    assert wrapped.nodes["add_twice.second"].inputs == {"a": FromOutput("add_twice.add", "result")}
    assert wrapped.nodes["add"].inputs == {"a": FromOutput("add_twice.second", "result")}
    assert wrapped.composites == {"add_twice": add_twice}


def test_composite_alias_and_nesting() -> None:
    @composite_solid
    def outer(x: int) -> Any:
        return add_twice.alias("inner")(x)

    @pipeline
    def nested() -> None:
        outer(add_twice(one()))

    assert list(nested.nodes) == [
        "one",
        "add_twice.add",
        "add_twice.second",
        "outer.inner.add",
        "outer.inner.second",
    ]
    assert nested.nodes["outer.inner.add"].inputs == {"a": FromOutput("add_twice.second", "result")}
    assert set(nested.composites) == {"add_twice", "outer", "outer.inner"}


def test_composite_with_several_outputs() -> None:
    @composite_solid
    def both(x: int) -> Any:
        count, label = pair()
        return {"sum": add(x, count), "label": label}

    @solid
    def describe(n: int, label: str) -> str:
        return label * n

    @pipeline
    def multi() -> None:
        outputs = both(one())
        describe(outputs.sum, outputs.label)

    assert multi.nodes["describe"].inputs == {
        "n": FromOutput("both.add", "result"),
        "label": FromOutput("both.pair", "label"),
    }


def test_composite_returning_a_tuple_unpacks() -> None:
    @composite_solid
    def two_values() -> Any:
        return pair()

    @solid
    def describe(n: int, label: str) -> str:
        return label * n

    @pipeline
    def unpacked() -> None:
        n, label = two_values()
        describe(n, label)

    assert unpacked.nodes["describe"].inputs["label"] == FromOutput("two_values.pair", "label")


def test_composite_input_default_becomes_a_fixed_value() -> None:
    @composite_solid
    def from_default(x: int = 5) -> Any:
        return add(x)

    @pipeline
    def defaulted() -> None:
        from_default()

    assert defaulted.nodes["from_default.add"].inputs == {"a": FromValue(5)}


def test_composite_without_solids() -> None:
    with raises("composite solid 'hollow' wires no solids"):

        @composite_solid
        def hollow(x: int) -> Any:
            return x


def test_composite_returning_a_plain_value() -> None:
    with raises("composite solid 'plain' must return an output of a solid, a tuple or dict"):

        @composite_solid
        def plain() -> Any:
            one()
            return 3


def test_type_mismatch_inside_a_composite_is_found_at_decoration() -> None:
    with raises(
        "type mismatch: input 'text' of composite solid 'inner' is str but input 'a' of solid "
        "'inner.add' expects int"
    ):

        @composite_solid
        def inner(text: str) -> Any:
            return add(text)


def test_type_mismatch_wiring_a_composite_input() -> None:
    with raises(
        "type mismatch: output 'result' of solid 'word' is str but input 'x' of composite solid "
        "'add_twice' expects int"
    ):

        @pipeline
        def mismatched() -> None:
            add_twice(word())


def test_an_unwired_composite_input_leaves_its_readers_to_run_config() -> None:
    @pipeline
    def unwired() -> None:
        add_twice()

    assert dict(unwired.nodes["add_twice.add"].inputs) == {}
    assert unwired.nodes["add_twice.second"].inputs["a"] == FromOutput("add_twice.add", "result")


def test_duplicate_names_inside_a_composite() -> None:
    with raises("composite solid 'dup' uses the name 'dup.one' twice"):

        @composite_solid
        def dup() -> Any:
            one()
            return one()


def test_composite_and_solid_with_the_same_name() -> None:
    with raises("pipeline 'shadow' uses the name 'add_twice' twice"):

        @pipeline
        def shadow() -> None:
            add_twice(one())
            one.alias("add_twice")()


def test_composite_rejects_var_args() -> None:
    with raises("composite solid 'star': \\*args and \\*\\*kwargs are not supported"):

        @composite_solid
        def star(*xs):
            return one()


def test_unknown_ray_options_are_a_definition_error():
    with pytest.raises(
        DefinitionError, match="unknown Ray option 'num_cpu'; valid options: num_cpus"
    ):

        @solid(tags={"ray": {"num_cpu": 2}})
        def typo() -> int:
            return 1

    with pytest.raises(DefinitionError, match="Ray option 'num_gpus' must be a number of GPUs"):

        @solid(tags={"ray": {"num_gpus": "one"}})
        def wrong() -> int:
            return 1
