"""DataType, TypeCheck, resolving annotations to runtime types, and edge compatibility."""

# ruff: noqa: UP007, UP045  (typing.Optional and typing.Union are what these tests resolve)

from typing import Annotated, Any, Optional, Union

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from solidflow import DataType, TypeCheck, execute_solid, pipeline, solid
from solidflow.definitions.types import ANY, resolve_type, types_compatible
from solidflow.errors import DefinitionError, StepFailure


def check(annotation: Any, value: Any) -> TypeCheck:
    return resolve_type(annotation, "test").type_check(value)


def is_even(value: Any) -> bool:
    return value % 2 == 0


EVEN = DataType("Even", is_even, "an even number")


# --- built-in class checks -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("annotation", "accepted", "rejected"),
    [
        (int, [0, -3, 10**20], ["3", 3.0, None]),
        (float, [2.5, 3, -1], ["2.5", None]),
        (str, ["", "a"], [b"a", 1]),
        (bool, [True, False], [1, 0, "True"]),
        (list, [[], [1, "a"]], [(1,), {1}]),
        (dict, [{}, {"a": 1}], [[("a", 1)]]),
    ],
)
def test_class_types_accept_instances_only(
    annotation: type, accepted: list[Any], rejected: list[Any]
) -> None:
    data_type = resolve_type(annotation)
    assert data_type.name == annotation.__name__
    for value in accepted:
        assert data_type.type_check(value).success, value
    for value in rejected:
        assert not data_type.type_check(value).success, value


@pytest.mark.parametrize(("annotation", "named"), [(int, "an int"), (float, "a float")])
def test_bool_is_not_accepted_as_a_number(annotation: type, named: str) -> None:
    outcome = check(annotation, True)
    assert not outcome.success
    assert outcome.description == f"value True of type bool is not {named}"


def test_int_is_accepted_as_float_but_float_not_as_int() -> None:
    assert check(float, 3).success
    outcome = check(int, 3.0)
    assert not outcome.success
    assert outcome.description == "value 3.0 of type float is not an int"


def test_failure_description_shortens_long_values() -> None:
    outcome = check(int, "x" * 200)
    assert not outcome.success
    assert "..." in outcome.description
    assert len(outcome.description) < 120


def test_user_class_accepts_subclass_instances() -> None:
    class Animal:
        pass

    class Dog(Animal):
        pass

    data_type = resolve_type(Animal)
    assert data_type.type_check(Dog()).success
    assert not resolve_type(Dog).type_check(Animal()).success
    assert data_type.python_types == (Animal,)


def test_any_and_none_annotations_accept_everything() -> None:
    assert resolve_type(Any) is ANY
    assert resolve_type(None) is ANY
    assert ANY.type_check(object()).success


# --- Optional and Union ----------------------------------------------------------------------


@pytest.mark.parametrize("annotation", [Optional[int], int | None, Union[None, int]])
def test_optional_accepts_none_and_the_inner_type(annotation: Any) -> None:
    data_type = resolve_type(annotation)
    assert data_type.name == "Optional[int]"
    assert data_type.type_check(None).success
    assert data_type.type_check(4).success
    outcome = data_type.type_check("4")
    assert not outcome.success
    assert outcome.description == "value '4' of type str is not an int"


def test_union_accepts_any_member_and_explains_a_miss() -> None:
    data_type = resolve_type(Union[int, str])
    assert data_type.name == "int | str"
    assert data_type.type_check(1).success
    assert data_type.type_check("a").success
    outcome = data_type.type_check(2.5)
    assert not outcome.success
    assert outcome.description.startswith("value matches none of int | str: ")
    assert "is not an int" in outcome.description
    assert "is not a str" in outcome.description


def test_optional_union_accepts_none() -> None:
    data_type = resolve_type(Optional[Union[int, str]])
    assert data_type.name == "Optional[int | str]"
    assert data_type.type_check(None).success
    assert not data_type.type_check(1.5).success


# --- parametrised collections ----------------------------------------------------------------


def test_list_of_int_checks_every_item() -> None:
    data_type = resolve_type(list[int])
    assert data_type.name == "list[int]"
    ok = data_type.type_check([1, 2, 3])
    assert ok.success
    assert ok.metadata == {"length": 3}
    bad = data_type.type_check([1, "a", 3])
    assert not bad.success
    assert bad.description == "item 1: value 'a' of type str is not an int"
    assert not data_type.type_check((1, 2)).success
    assert not data_type.type_check([True]).success


def test_dict_of_str_to_int_checks_keys_and_values() -> None:
    data_type = resolve_type(dict[str, int])
    assert data_type.name == "dict[str, int]"
    assert data_type.type_check({"a": 1, "b": 2}).success
    bad_value = data_type.type_check({"a": "b"})
    assert not bad_value.success
    assert bad_value.description == "value at 'a': value 'b' of type str is not an int"
    bad_key = data_type.type_check({1: 1})
    assert not bad_key.success
    assert bad_key.description == "key 1: value 1 of type int is not a str"


def test_fixed_and_variable_length_tuples() -> None:
    pair = resolve_type(tuple[int, str])
    assert pair.name == "tuple[int, str]"
    assert pair.type_check((1, "a")).success
    assert pair.type_check((1,)).description == "length: expected 2 items, got 1"
    assert pair.type_check(("a", 1)).description.startswith("item 0: ")

    many = resolve_type(tuple[int, ...])
    assert many.name == "tuple[int, ...]"
    assert many.type_check(()).success
    assert many.type_check((1, 2, 3)).success
    assert many.type_check((1, 2, "x")).description.startswith("item 2: ")


def test_nested_collections() -> None:
    data_type = resolve_type(dict[str, list[int]])
    assert data_type.type_check({"a": [1], "b": []}).success
    outcome = data_type.type_check({"a": [1, "x"]})
    assert not outcome.success
    assert outcome.description == "value at 'a': item 1: value 'x' of type str is not an int"


def test_set_of_int() -> None:
    data_type = resolve_type(set[int])
    assert data_type.type_check({1, 2}).success
    assert not data_type.type_check({1, "a"}).success
    assert not data_type.type_check([1]).success


# --- DataType and TypeCheck ------------------------------------------------------------------


def test_datatype_with_bool_check() -> None:
    assert EVEN.name == "Even"
    assert EVEN.description == "an even number"
    assert EVEN.type_check(4) == TypeCheck(success=True)
    outcome = EVEN.type_check(3)
    assert not outcome.success
    assert outcome.description == "value of type int is not an Even"


def test_datatype_check_may_return_a_typecheck_with_metadata() -> None:
    def positive(value: Any) -> TypeCheck:
        return TypeCheck(
            success=value > 0, description=f"{value} must be > 0", metadata={"value": value}
        )

    data_type = DataType("Positive", positive)
    assert data_type.type_check(5) == TypeCheck(
        success=True, description="5 must be > 0", metadata={"value": 5}
    )
    outcome = data_type.type_check(-1)
    assert not outcome.success
    assert outcome.metadata == {"value": -1}


def test_raising_check_counts_as_a_failed_check() -> None:
    def explode(value: Any) -> bool:
        raise ZeroDivisionError("no way")

    outcome = DataType("Boom", explode).type_check(1)
    assert not outcome.success
    assert outcome.description == "type check of Boom raised ZeroDivisionError: no way"


def test_check_returning_neither_bool_nor_typecheck_fails() -> None:
    outcome = DataType("Truthy", lambda value: 1).type_check(1)
    assert not outcome.success
    assert outcome.description == "type check of Truthy returned int, expected bool or TypeCheck"


def test_check_may_return_a_boolean_scalar_of_an_array_library() -> None:
    assert DataType("Positive", lambda value: np.int64(value) > 0).type_check(2).success
    assert not DataType("Positive", lambda value: np.int64(value) > 0).type_check(-2).success
    outcome = DataType("Count", lambda value: np.int64(value)).type_check(1)
    assert outcome.description == "type check of Count returned int64, expected bool or TypeCheck"


def test_datatype_needs_a_callable_check() -> None:
    with pytest.raises(DefinitionError, match="DataType 'X': type_check_fn must be callable"):
        DataType("X", "not callable")  # type: ignore[arg-type]


def test_datatype_annotation_is_used_as_is() -> None:
    assert resolve_type(EVEN) is EVEN


def test_annotated_checks_the_base_class_then_the_datatype() -> None:
    data_type = resolve_type(Annotated[int, EVEN])
    assert data_type.name == "Even"
    assert data_type.python_types == (int,)
    assert data_type.type_check(4).success
    # the base class check runs first, so a str never reaches is_even (which would raise)
    assert data_type.type_check("4").description == "value '4' of type str is not an int"
    assert data_type.type_check(3).description == "value of type int is not an Even"


def test_annotated_any_is_the_datatype_itself() -> None:
    assert resolve_type(Annotated[Any, EVEN]) is EVEN


def test_annotated_without_datatype_is_the_base_type() -> None:
    data_type = resolve_type(Annotated[int, "just a note"])
    assert data_type.name == "int"
    assert not data_type.type_check("1").success


@pytest.mark.parametrize("annotation", [3, "int", [int]])
def test_unusable_annotation_is_a_definition_error(annotation: Any) -> None:
    with pytest.raises(DefinitionError) as info:
        resolve_type(annotation, "solid 's' input 'x'")
    assert str(info.value).startswith(f"solid 's' input 'x': cannot use {annotation!r} as a type")


# --- tables ----------------------------------------------------------------------------------


def test_table_classes_are_checked() -> None:
    assert check(pa.Table, pa.table({"a": [1, 2, 3]})).success
    assert not check(pa.Table, {"a": [1, 2, 3]}).success
    assert check(pa.RecordBatch, pa.record_batch({"a": [1, 2]})).success
    assert check(pd.DataFrame, pd.DataFrame({"a": [1, 2]})).success
    rejected = check(pd.DataFrame, pa.table({"a": [1]}))
    assert not rejected.success
    assert rejected.description.endswith("is not a DataFrame")


def test_table_metadata_is_recorded_in_the_output_event() -> None:
    @solid
    def make() -> pa.Table:
        return pa.table({"a": [1, 2, 3, 4]})

    result = execute_solid(make)
    [output] = [e for e in result.events if e.type.value == "STEP_OUTPUT"]
    assert output.payload["type"] == "Table"
    assert output.payload["metadata"]["rows"] == 4
    assert output.payload["metadata"]["columns"] == 1


def test_custom_check_failure_fails_the_step_with_its_description() -> None:
    def non_empty(value: Any) -> TypeCheck:
        return TypeCheck(success=value.num_rows > 0, description=f"{value.num_rows} rows")

    NonEmpty = DataType("NonEmptyTable", non_empty)

    @solid
    def count(table: Annotated[pa.Table, NonEmpty]) -> int:
        return table.num_rows

    assert execute_solid(count, {"table": pa.table({"a": [1]})}).output_value() == 1
    with pytest.raises(StepFailure) as info:
        execute_solid(count, {"table": pa.table({"a": pa.array([], pa.int64())})})
    assert str(info.value) == (
        "solid 'count' input 'table': expected NonEmptyTable, type check failed: 0 rows"
    )


# --- edge compatibility ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("output", "input", "compatible"),
    [
        (int, int, True),
        (int, float, True),
        (float, int, False),
        (int, str, False),
        (bool, int, False),
        (int, bool, False),
        (bool, float, False),
        (bool, bool, True),
        (Optional[int], int, True),
        (int, Optional[str], False),
        (Union[int, str], str, True),
        (list[int], list, True),
        (list[int], dict, False),
        (Any, str, True),
        (EVEN, str, True),  # a DataType without python_types can be wired to anything
        (Annotated[int, EVEN], str, False),
    ],
)
def test_types_compatible(output: Any, input: Any, compatible: bool) -> None:
    assert types_compatible(resolve_type(output), resolve_type(input)) is compatible


def test_subclass_edges_are_compatible_in_both_directions() -> None:
    class Base:
        pass

    class Child(Base):
        pass

    assert types_compatible(resolve_type(Child), resolve_type(Base))
    assert types_compatible(resolve_type(Base), resolve_type(Child))


def test_int_output_can_feed_a_float_input() -> None:
    @solid
    def three() -> int:
        return 3

    @solid
    def half(x: float) -> float:
        return x / 2

    @pipeline
    def halves() -> None:
        half(three())

    assert halves.nodes["half"].inputs["x"].node == "three"


def test_bool_output_cannot_feed_an_int_input() -> None:
    @solid
    def flag() -> bool:
        return True

    @solid
    def double(x: int) -> int:
        return 2 * x

    with pytest.raises(DefinitionError) as info:

        @pipeline
        def doubled() -> None:
            double(flag())

    assert str(info.value) == (
        "type mismatch: output 'result' of solid 'flag' is bool but input 'x' of solid "
        "'double' expects int"
    )
