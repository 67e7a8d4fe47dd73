"""A loaded pipeline described as plain JSON values: what the UI draws and the API returns.

Where each input comes from is the engine's plan of the whole pipeline (no config needed);
types, descriptions, config schemas and tags come from the solid definitions. This runs in
the code server process, next to the user's code."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from solidflow import PipelineDefinition, config_schema
from solidflow.engine import plan_pipeline


def _plain(value: Any) -> Any:
    """`value` as JSON values; what JSON cannot hold becomes its repr."""
    return json.loads(json.dumps(value, default=repr))


def _solid(step: Any, node: Any) -> dict[str, Any]:
    solid = node.solid
    types = {each.name: each.data_type.name for each in solid.inputs}
    inputs = [
        {
            "name": planned.name,
            "type": types[planned.name],
            "kind": planned.kind,
            "sources": [{"node": s.step, "output": s.output} for s in planned.sources],
            "text": planned.text,
        }
        for planned in step.inputs
    ]
    return {
        "name": step.key,
        "solid": solid.name,
        "description": solid.description,
        "version": solid.version,
        "inputs": inputs,
        "outputs": [{"name": o.name, "type": o.data_type.name} for o in solid.outputs],
        "config_schema": solid.config_schema.model_json_schema() if solid.config_schema else None,
        "required_resources": sorted(solid.required_resource_keys),
        "tags": _plain(dict(solid.tags)),
        "retry": None if solid.retry is None else repr(solid.retry),
        "composite": step.key.rpartition(".")[0] or None,
    }


def describe_pipeline(pipeline: PipelineDefinition, target: str) -> dict[str, Any]:
    """The pipeline's solids, wiring, types, tags, modes and run_config schema per mode."""
    plan = plan_pipeline(pipeline)
    return {
        "name": pipeline.name,
        "target": target,
        "description": pipeline.description,
        "tags": _plain(dict(pipeline.tags)),
        "modes": [
            {
                "name": mode.name,
                "resources": sorted(mode.resources),
                "config_schema": config_schema(pipeline, mode=mode.name),
            }
            for mode in pipeline.modes
        ],
        "solids": [_solid(step, pipeline.nodes[step.key]) for step in plan.steps],
        "composites": [
            {"name": name, "description": composite.description}
            for name, composite in pipeline.composites.items()
        ],
    }


def as_json(record: Any) -> Any:
    """An engine result (a frozen dataclass of plain values) as JSON values."""
    return _plain(dataclasses.asdict(record))
