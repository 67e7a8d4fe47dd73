"""What the memo key of one step is made of, part by part, and what a memoized run would do
with the step."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from solidflow.definitions.pipeline import PipelineDefinition
from solidflow.engine.executors import EXECUTORS
from solidflow.engine.instance import Instance
from solidflow.engine.memo.explain import StepMemoStatus
from solidflow.engine.memo.reasons import KeyPart, key_parts
from solidflow.engine.plan.run_config import validate_run_config
from solidflow.engine.plan.steps import build_plan
from solidflow.engine.run.prepare import pipeline_mode, require_pipeline, selected_nodes
from solidflow.engine.run.preview import memo_of
from solidflow.errors import SelectionError


@dataclass(frozen=True, slots=True, kw_only=True)
class KeyedOutput:
    """One output of a step: its store key, and whether it is stored.

    Args:
        name: the output's name.
        key: its store key.
        status: "PRESENT", "MISSING" or "CORRUPT".
        run_id: the run that stored it, when it is PRESENT.
    """

    name: str
    key: str
    status: str
    run_id: str | None


@dataclass(frozen=True, slots=True, kw_only=True)
class StepKey:
    """What one step's memo key is made of.

    Args:
        pipeline: the pipeline's name.
        mode: the mode of the run whose key this is.
        step: the step key.
        memo_key: the step's memo key.
        parts: everything the key is made of, in the order it is hashed.
        outputs: the step's outputs and whether they are stored.
        memo: what a memoized run would do with the step, and why.
        warnings: what keeps the key from matching stored outputs (a value that cannot be
            fingerprinted, a data version that could not be read, a corrupt output).
    """

    pipeline: str
    mode: str
    step: str
    memo_key: str
    parts: list[KeyPart]
    outputs: list[KeyedOutput]
    memo: StepMemoStatus
    warnings: list[str]


def explain_step(
    pipeline: PipelineDefinition,
    step: str,
    run_config: Mapping[str, Any] | None = None,
    mode: str | None = None,
    *,
    instance: Instance | None = None,
) -> StepKey:
    """What the memo key of `step` in a run of `pipeline` is made of (with the run_config the
    step and its ancestors need), from the store and event log of `instance` (default:
    `Instance()`).

    Raises:
        SelectionError: the pipeline has no step `step`.
        ConfigError: there is no mode `mode`, or the run_config is invalid.
    """
    require_pipeline(pipeline)
    chosen_mode = pipeline_mode(pipeline, mode)
    selected = selected_nodes(pipeline, f"*{step}")
    config = validate_run_config(
        run_config, pipeline, chosen_mode, selected, EXECUTORS.config_schemas()
    )
    plan = build_plan(pipeline, chosen_mode.name, config, selected)
    if step not in plan.steps:  # a composite: its inner steps have keys
        inner = ", ".join(key for key in plan.steps if key.startswith(f"{step}."))
        raise SelectionError(f"'{step}' is a composite solid; explain one of its steps: {inner}")
    warnings: list[str] = []
    keys, found, statuses = memo_of(plan, config, instance or Instance(), warnings)
    outputs = [
        KeyedOutput(
            name=name,
            key=key,
            status=found[key].status.value,
            run_id=None if (present := found[key].present) is None else present.run_id,
        )
        for name, key in keys[step].output_keys.items()
    ]
    return StepKey(
        pipeline=pipeline.name,
        mode=chosen_mode.name,
        step=step,
        memo_key=keys[step].memo_key,
        parts=key_parts(keys[step]),
        outputs=outputs,
        memo=statuses[step],
        warnings=list(dict.fromkeys(warnings)),
    )
