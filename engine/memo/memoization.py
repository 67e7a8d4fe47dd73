"""Memoization: the keys of every step of a plan, and which steps need not run."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from solidflow.definitions.config import plain_config
from solidflow.definitions.graph import FanIn, FromOutput
from solidflow.engine.events.records import EventRecord
from solidflow.engine.events.store_keys import KEYED_EVENT_TYPES, outputs_named
from solidflow.engine.memo.code import CodeScanner
from solidflow.engine.memo.keys import (
    ResourceLineage,
    StepLineage,
    canonical_config,
    fingerprint,
    lineage_key,
    output_key,
    resource_code,
    solid_code,
)
from solidflow.engine.plan.steps import ExecutionPlan, ExecutionStep, FromLoader
from solidflow.engine.store import IntermediateStore, OutputStatus
from solidflow.engine.store.records import Assessment


@dataclass(frozen=True, slots=True, kw_only=True)
class MemoKeys:
    """A step's lineage (what its memo key is made of, as its events record it), its memo
    key, and the key of each of its outputs."""

    lineage: Mapping[str, Any]
    memo_key: str
    output_keys: Mapping[str, str]


@dataclass(frozen=True, slots=True, kw_only=True)
class DataVersionContext:
    """What a solid's `data_version` callable receives."""

    solid_name: str
    config: Any


Warn = Callable[[str | None, str], None]
OutputAddress = tuple[str, str]


def stored_outputs(events: Sequence[EventRecord]) -> dict[OutputAddress, str]:
    """The store keys of every output a run read or produced, by (step, output)."""
    keys: dict[OutputAddress, str] = {}
    for event in events:  # only the payloads of events naming keys are read
        if event.type in KEYED_EVENT_TYPES:
            keys.update(outputs_named(event))
    return keys


def _data_version(step: ExecutionStep, warn: Warn) -> str | None:
    if step.solid.data_version is None:
        return None
    try:
        return str(
            step.solid.data_version(DataVersionContext(solid_name=step.key, config=step.config))
        )
    except Exception as exc:
        warn(
            step.key,
            f"data_version of solid '{step.key}' raised {type(exc).__name__}: {exc}; "
            "the step will run",
        )
        return f"unknown:{fingerprint(object())}"


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector: computing keys allocates many small objects that
    all live until the keys are made, and in a process that has just imported a large
    pipeline the collections they trigger scan the whole heap (for 1,000 solids, more CPU
    than the keys themselves). The collections come later, when the run allocates."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def plan_keys(plan: ExecutionPlan, warn: Warn) -> dict[str, MemoKeys]:
    """Keys of every step, in plan order. `warn(step, message)` reports data versions that
    could not be read, and once per plan each value that cannot be fingerprinted (with
    step None); such steps get a key that matches nothing stored."""
    with _collector_paused():
        return _plan_keys(plan, warn)


def _plan_keys(plan: ExecutionPlan, warn: Warn) -> dict[str, MemoKeys]:
    scanner = CodeScanner()
    resources = {
        key: (resource_code(key, spec.definition, scanner), canonical_config(spec.config))
        for key, spec in plan.resources.items()
    }
    output_keys: dict[tuple[str, str], str] = dict(plan.external)
    keys: dict[str, MemoKeys] = {}
    problems: dict[str, tuple[str, list[str]]] = {}
    for step in plan.steps.values():
        inputs: dict[str, str | tuple[str, ...]] = {}
        for name, source in step.inputs.items():
            if isinstance(source, FromOutput):
                inputs[name] = output_keys[(source.node, source.output)]
            elif isinstance(source, FanIn):
                inputs[name] = tuple(output_keys[(s.node, s.output)] for s in source.sources)
            elif isinstance(source, FromLoader):  # the loader's config, validated
                inputs[name] = fingerprint(plain_config(source.value))
            else:
                inputs[name] = fingerprint(source.value)
        loaders = [
            loader.fn
            for name, source in step.inputs.items()
            if isinstance(source, FromLoader)
            and (loader := step.solid.input(name).data_type.loader) is not None
        ]
        code = solid_code(step.solid, scanner, loaders)
        required = sorted(key for key in step.solid.required_resource_keys if key in resources)
        for found in [code, *(resources[key][0] for key in required)]:
            for name, why in found.unfingerprintable.items():
                problems.setdefault(name, (why, []))[1].append(step.key)
        lineage = StepLineage(
            solid=step.key,
            code_version=code.version,
            code=code.parts,
            config=canonical_config(step.config),
            resources={
                key: ResourceLineage(
                    code_version=resources[key][0].version,
                    code=resources[key][0].parts,
                    config=resources[key][1],
                )
                for key in required
            },
            inputs=inputs,
            data_version=_data_version(step, warn),
        )
        recorded = lineage.as_dict()
        memo_key = lineage_key(recorded)
        outputs = {name: output_key(memo_key, name) for name in step.solid.output_names}
        output_keys.update({(step.key, name): key for name, key in outputs.items()})
        keys[step.key] = MemoKeys(lineage=recorded, memo_key=memo_key, output_keys=outputs)
    for name, (why, steps) in problems.items():
        warn(None, _unfingerprintable_message(name, why, steps))
    return keys


def all_output_keys(keys: Mapping[str, MemoKeys]) -> list[str]:
    """Every output key of the steps, in plan order."""
    return [key for step in keys.values() for key in step.output_keys.values()]


def _unfingerprintable_message(name: str, why: str, steps: list[str]) -> str:
    which = "step " if len(steps) == 1 else "steps "
    return (
        f"{name} ({why}) cannot be fingerprinted, so the memo key of {which}"
        f"{', '.join(steps)} never matches and {'it' if len(steps) == 1 else 'they'} always "
        "run; pass it to solids as a resource, or declare version= on the solid or resource "
        "that reads it (and change the version when it changes)"
    )


def assess_outputs(keys: Mapping[str, MemoKeys], store: IntermediateStore) -> dict[str, Assessment]:
    """The assessment of every output key of the steps, in one pass over the store."""
    return store.assess(all_output_keys(keys))


def steps_without_outputs(keys: Mapping[str, MemoKeys], stored: Collection[str]) -> set[str]:
    """The steps none of whose output keys are among `stored`."""
    return {
        step
        for step, memo_keys in keys.items()
        if not any(key in stored for key in memo_keys.output_keys.values())
    }


def memoized_steps(
    keys: Mapping[str, MemoKeys], found: Mapping[str, Assessment], warn: Warn
) -> set[str]:
    """The steps whose outputs `found` says are all stored and intact; corrupt outputs are
    reported."""
    memoized = set()
    for step, memo_keys in keys.items():
        complete = True
        for output, key in memo_keys.output_keys.items():
            assessment = found[key]
            if assessment.status is OutputStatus.CORRUPT:
                warn(
                    step,
                    f"stored output '{output}' of step '{step}' ({key}) is corrupt: "
                    f"{assessment.reason}; the step will run",
                )
            complete &= assessment.status is OutputStatus.PRESENT
        if complete:
            memoized.add(step)
    return memoized


def memoized_payloads(
    keys: Mapping[str, MemoKeys], memoized: set[str], found: Mapping[str, Assessment]
) -> dict[str, dict[str, Any]]:
    """The STEP_MEMOIZED payload of each step of `memoized` (in the order of `keys`): the
    run that stored its outputs, their keys, its memo key and lineage, from what `found`
    says of its outputs."""
    payloads: dict[str, dict[str, Any]] = {}
    for step in (key for key in keys if key in memoized):
        memo_keys = keys[step]
        first = found[next(iter(memo_keys.output_keys.values()))].present
        source_run = first.run_id if first is not None else None
        payloads[step] = {
            "message": f"outputs already stored by run {source_run}",
            "source_run": source_run,
            "output_keys": dict(memo_keys.output_keys),
            "memo_key": memo_keys.memo_key,
            "lineage": memo_keys.lineage,
        }
    return payloads
