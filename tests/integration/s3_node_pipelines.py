"""A pipeline whose steps run on the two worker nodes of the local Ray cluster, each step
saying where it ran: for tests of a store that the nodes share only through S3."""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa

from solidflow import pipeline, solid


def _where() -> dict:
    import ray

    return {"node": ray.get_runtime_context().get_node_id(), "cwd": os.getcwd()}


@solid(tags={"ray": {"resources": {"node_a": 1}}})
def made_on_a() -> pa.Table:
    return pa.table({"x": np.arange(200_000), "cwd": [os.getcwd()] * 200_000})


@solid(tags={"ray": {"resources": {"node_b": 1}}})
def read_on_b(made_on_a: pa.Table) -> dict:
    return {**_where(), "rows": made_on_a.num_rows, "from": made_on_a.column("cwd")[0].as_py()}


@solid(tags={"ray": {"resources": {"node_a": 1}}})
def read_on_a(read_on_b: dict) -> dict:
    return {**_where(), "rows": read_on_b["rows"]}


@pipeline
def across_nodes():
    read_on_a(read_on_b(made_on_a()))
