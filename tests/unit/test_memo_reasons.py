"""Why a step runs, said precisely, and what its key is made of."""

from __future__ import annotations

from typing import Any

import pytest

from solidflow import Config, Instance, execute_pipeline, pipeline, solid
from solidflow.engine import explain_step
from solidflow.engine.memo.keys import KEY_RECIPE_VERSION, ResourceLineage, StepLineage
from solidflow.engine.memo.memoization import MemoKeys
from solidflow.engine.memo.reasons import PreviousRun, key_parts, rerun_causes
from solidflow.engine.store import OutputStatus
from solidflow.engine.store.records import Assessment
from solidflow.errors import SelectionError

MISSING = Assessment(status=OutputStatus.MISSING)


def _lineage(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "solid": "expensive",
        "code_version": "function:aa",
        "code": {
            "pricing.discount": "function:11",
            "queries.Q5": "value:22",
            "pyarrow": "package:14.0",
        },
        "config": "null",
        "resources": {"warehouse": ResourceLineage(code_version="function:33", config='{"n":1}')},
        "inputs": {"values": "k1"},
        "data_version": None,
    }
    return StepLineage(**{**base, **changes}).as_dict()


def _causes(
    before: Any, mode_before: str | None = "prod", mode: str = "prod", **changes: Any
) -> list[tuple[str, str]]:
    current = _lineage(**changes)
    keys = MemoKeys(lineage=current, memo_key="k", output_keys={"result": "ab"})
    previous = PreviousRun(lineage=before, mode=mode_before)
    return [(c.kind, c.message) for c in rerun_causes(keys, previous, MISSING, mode)]


def _why(before: Any, mode_before: str | None = "prod", mode: str = "prod", **changes: Any) -> str:
    return "; ".join(message for _, message in _causes(before, mode_before, mode, **changes))


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({}, "output missing"),
        ({"code_version": "function:ab"}, "code changed"),
        (
            {
                "code": {
                    "pricing.discount": "function:12",
                    "queries.Q5": "value:22",
                    "pyarrow": "package:14.0",
                }
            },
            "helper changed: pricing.discount",
        ),
        (
            {
                "code": {
                    "pricing.discount": "function:11",
                    "queries.Q5": "value:23",
                    "pyarrow": "package:14.0",
                }
            },
            "constant changed: queries.Q5",
        ),
        (
            {
                "code": {
                    "pricing.discount": "function:11",
                    "queries.Q5": "value:22",
                    "pyarrow": "package:15.0",
                }
            },
            "library changed: pyarrow 14.0 -> 15.0",
        ),
        ({"config": '{"rows":2}'}, "config changed"),
        (
            {
                "resources": {
                    "warehouse": ResourceLineage(code_version="function:33", config='{"n":2}')
                }
            },
            "resource changed: warehouse (config changed)",
        ),
        ({"data_version": "etag-2"}, "data version changed"),
        ({"inputs": {"values": "k2"}}, "upstream changed (values)"),
    ],
)
def test_each_change_is_named(changes, reason):
    assert _why(_lineage(), **changes) == reason


def test_causes_say_their_kind():
    changed = {"pricing.discount": "function:12", "queries.Q5": "value:23", "pyarrow": "package:15"}
    assert [kind for kind, _ in _causes(_lineage(), code=changed, config="1")] == [
        "helper_changed",
        "constant_changed",
        "library_changed",
        "config_changed",
    ]
    assert _causes({"recipe": 1}) == [
        (
            "key_recipe_changed",
            "its key is made differently since it last ran (an older solidflow ran it)",
        )
    ]


def test_several_changes_of_one_kind_are_named_together():
    changed = {"pricing.discount": "function:12", "pricing._round": "function:44"}
    before = _lineage(code={"pricing.discount": "function:11", "pricing._round": "function:43"})
    assert _why(before, code=changed) == "helpers changed: pricing._round, pricing.discount"


def test_a_mode_switch_names_the_resources_it_changes():
    dev = {"warehouse": ResourceLineage(code_version="function:99", config="null")}
    assert _why(_lineage(), mode="dev", resources=dev) == (
        "resource changed: warehouse (mode prod -> dev)"
    )
    assert _why(_lineage(), mode="dev") == "output missing"  # same resource in both modes


def test_declared_versions_and_values_that_cannot_be_fingerprinted():
    before = _lineage(code_version="version:1", code={})
    assert _why(before, code_version="version:2", code={}) == "version changed (1 -> 2)"
    lock = {"locked.LOCK": "unfingerprintable:0f0f"}
    assert _why(_lineage(code=lock), code=lock) == "locked.LOCK cannot be fingerprinted"


@pytest.mark.parametrize(
    "before",
    [
        {"recipe": 1, "solid": "expensive", "code_version": "source:aa", "config": "null"},
        {"recipe": KEY_RECIPE_VERSION, "code": "not a mapping", "resources": [1], "inputs": None},
        "not a lineage",
        None,
    ],
)
def test_older_or_damaged_lineages_give_a_coarse_reason(before):
    reason = _why(before)
    assert reason
    if isinstance(before, dict) and before.get("recipe") == 1:
        assert reason == "its key is made differently since it last ran (an older solidflow ran it)"


def test_key_parts_list_every_part_in_order():
    keys = MemoKeys(lineage=_lineage(), memo_key="k", output_keys={"result": "ab"})
    listed = [(part.part, part.name) for part in key_parts(keys)]
    assert listed == [
        ("solid", "expensive"),
        ("code", "expensive"),
        ("reads", "pricing.discount"),
        ("reads", "pyarrow"),
        ("reads", "queries.Q5"),
        ("config", "config"),
        ("resource", "warehouse code"),
        ("resource", "warehouse config"),
        ("input", "values"),
        ("data version", "data_version"),
    ]


class Rows(Config):
    rows: int = 3


@solid
def load(config: Rows) -> list:
    return list(range(config.rows))


@solid
def total(values: list) -> int:
    return sum(values)


@pipeline
def summed():
    total(load())


def test_explain_step_gives_the_parts_of_a_key_and_whether_its_outputs_are_stored(tmp_path):
    instance = Instance(tmp_path)
    before = explain_step(summed, "total", instance=instance)
    assert [(p.part, p.name) for p in before.parts][:2] == [("solid", "total"), ("code", "total")]
    assert [(o.name, o.status, o.run_id) for o in before.outputs] == [("result", "MISSING", None)]
    assert before.memo.reason == "runs: no earlier run of this step"
    run = execute_pipeline(summed, instance=instance)
    after = explain_step(summed, "total", instance=instance)
    assert after.memo_key == before.memo_key and after.memo.memoized
    assert [(o.status, o.run_id) for o in after.outputs] == [("PRESENT", run.run_id)]
    changed = explain_step(
        summed, "total", {"solids": {"load": {"config": {"rows": 4}}}}, instance=instance
    )
    assert changed.memo.reason == "runs: upstream changed (values)"
    with pytest.raises(SelectionError, match="did you mean 'total'"):
        explain_step(summed, "totl", instance=instance)
