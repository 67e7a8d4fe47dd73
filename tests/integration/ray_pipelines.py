"""Pipelines run on the local Ray cluster by the integration tests."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

from solidflow import (
    Config,
    DataType,
    Mode,
    Out,
    Output,
    RetryPolicy,
    pipeline,
    resource,
    solid,
    type_loader,
)


@solid
def seed() -> int:
    return 3


@solid(tags={"ray": {"resources": {"node_a": 1}}})
def on_a(x: int) -> str:
    import ray

    return ray.get_runtime_context().get_node_id()


@solid(tags={"ray": {"resources": {"node_b": 1}}})
def on_b(x: int) -> str:
    import ray

    return ray.get_runtime_context().get_node_id()


@solid
def gather(nodes: list[str]) -> int:
    return len(set(nodes))


@pipeline
def spread():
    x = seed()
    gather([on_a.alias(f"a{i}")(x) for i in range(3)] + [on_b.alias(f"b{i}")(x) for i in range(3)])


class MarkerConfig(Config):
    marker: str


@solid(retry=RetryPolicy(max_retries=2))
def dies_once(config: MarkerConfig) -> int:
    marker = Path(config.marker)
    if not marker.exists():
        marker.write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    return 42


@solid
def plus_one(x: int) -> int:
    return x + 1


@pipeline
def fragile():
    plus_one(dies_once())


class ChatterConfig(Config):
    marker: str
    lines: int


@solid(retry=RetryPolicy(max_retries=1))
def logs_then_dies(context, config: ChatterConfig) -> int:
    """Logs `lines` lines; on its first attempt its worker process then dies at once (the
    lines are left to the engine to keep: nothing is flushed)."""
    marker = Path(config.marker)
    attempt = 2 if marker.exists() else 1
    for line in range(config.lines):
        context.log.info(f"attempt {attempt}: line {line}")
    if attempt == 1:
        marker.write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    return config.lines


@pipeline
def chatter_dies():
    plus_one(logs_then_dies())


class SizeConfig(Config):
    rows: int = 1000


@solid
def big_table(config: SizeConfig) -> pa.Table:
    return pa.table({"x": np.arange(config.rows, dtype=np.float64)})


@solid
def table_rows(table: pa.Table) -> int:
    return table.num_rows


@pipeline
def big_data():
    table_rows(big_table())


@solid(tags={"ray": {"resources": {"gpu_x": 1}}})
def needs_special_hardware() -> int:
    return 1


@pipeline
def unsatisfiable():
    needs_special_hardware()
    seed()


class SlowConfig(Config):
    seconds: float = 0.0


@solid
def slow(context, config: SlowConfig) -> int:
    context.log.info("started sleeping")
    time.sleep(config.seconds)
    context.log.info("done sleeping")
    return 1


@pipeline
def sleepy():
    plus_one(slow())


@solid
def slow_after(context, config: SlowConfig, x: int) -> int:
    context.log.info("started sleeping")
    time.sleep(config.seconds)
    return x


@pipeline
def seeded_sleep():
    plus_one(slow_after(seed()))


class LedgerConfig(Config):
    ledger: str


@resource(config=LedgerConfig)
def counted(init_context):
    ledger = Path(init_context.config.ledger)
    with ledger.open("a") as file:
        file.write(f"init {os.getpid()}\n")
    yield os.getpid()
    with ledger.open("a") as file:
        file.write(f"teardown {os.getpid()}\n")


@solid(required_resource_keys={"counter"})
def use_counter(context, x: int) -> int:
    return context.resources.counter


@pipeline(modes=[Mode("default", resources={"counter": counted})])
def with_resources():
    x = seed()
    for i in range(6):
        use_counter.alias(f"use_{i}")(x)


@solid
def explodes() -> int:
    raise ValueError("boom")


@pipeline
def failing():
    plus_one.alias("after")(plus_one.alias("below")(explodes()))
    seed()


@solid(outs={"hot": Out(int, is_required=False), "cold": Out(int, is_required=False)})
def split_by(config: str):
    yield Output(7, config)


@solid
def add_up(xs: list[int]) -> int:
    return sum(xs)


@pipeline
def conditional():
    hot, cold = split_by()
    plus_one.alias("after_after")(plus_one.alias("after_hot")(hot))
    plus_one.alias("after_cold")(cold)
    add_up([hot, cold])


@resource
def unreachable(init_context):
    raise ConnectionError("warehouse is down")


@solid(required_resource_keys={"warehouse"})
def query_warehouse(context, x: int) -> int:
    return x


@pipeline(modes=[Mode("default", resources={"warehouse": unreachable})])
def broken_resource():
    plus_one(query_warehouse(seed()))


class Lock:
    """A value that cannot be pickled."""

    def __init__(self) -> None:
        import threading

        self.lock = threading.Lock()


@solid
def give_lock() -> object:
    return Lock()


@solid
def use_lock(lock: object) -> int:
    return 1


@pipeline
def unpicklable():
    use_lock(give_lock())


@solid
def worker_pid() -> int:
    return os.getpid()


@solid(tags={"ray": {"resources": {"node_a": 1}}})
def pinned_pid() -> int:
    return os.getpid()


@pipeline
def shapes():
    for i in range(4):
        worker_pid.alias(f"plain_{i}")()
        pinned_pid.alias(f"pinned_{i}")()


class GateConfig(Config):
    gate: str


@solid
def early() -> int:
    return 1


@solid
def waits_for_gate(context, x: int, config: GateConfig) -> int:
    Path(config.gate).with_suffix(".reached").write_text(str(os.getpid()))
    while not Path(config.gate).exists():
        time.sleep(0.05)
    return x


@pipeline
def gated():
    waits_for_gate(plus_one(early()))


@resource(config=LedgerConfig, shared=True)
def shared_counter(init_context):
    ledger = Path(init_context.config.ledger)
    with ledger.open("a") as file:
        file.write(f"init {os.getpid()}\n")
    yield os.getpid()
    with ledger.open("a") as file:
        file.write(f"teardown {os.getpid()}\n")


@pipeline(modes=[Mode("default", resources={"counter": shared_counter})])
def with_shared_resource():
    x = seed()
    for i in range(6):
        use_counter.alias(f"use_{i}")(x)


@solid
def nap(context, config: SlowConfig) -> str:
    import ray

    node_id = ray.get_runtime_context().get_node_id()
    [node] = [node for node in ray.nodes() if node["NodeID"] == node_id]
    where = "node_b" if "node_b" in node["Resources"] else "elsewhere"
    context.log.info(f"started sleeping on {where}")
    time.sleep(config.seconds)
    return node_id


@pipeline
def naps():
    for i in range(4):
        nap.alias(f"nap_{i}")()


class RangeSource(Config):
    stop: int


@type_loader(RangeSource)
def load_range(context, config: RangeSource) -> list[int]:
    return list(range(config.stop))


Numbers = DataType(
    "Numbers", lambda value: isinstance(value, list), "a list of numbers", loader=load_range
)


@solid
def total(numbers: Numbers) -> int:
    return sum(numbers)


@pipeline
def loaded():
    total()
