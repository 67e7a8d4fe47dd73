"""Pipelines the web server serves in the web tests."""

from __future__ import annotations

import time

from solidflow import (
    Config,
    ExpectationResult,
    Materialization,
    Output,
    composite_solid,
    pipeline,
    schedule,
    solid,
)


class LoadConfig(Config):
    rows: int


@solid
def load(config: LoadConfig) -> int:
    """How many rows there are."""
    return config.rows


@solid
def double(context, x: int):
    context.log.info(f"doubling {x}")
    yield ExpectationResult(success=x >= 0, label="not negative", metadata={"x": x})
    yield Materialization("doubled", {"value": x * 2})
    yield Output(x * 2)


@solid
def total(x: int) -> int:
    return x + 1


@pipeline
def hello():
    """Load, double and add one."""
    total(double(load()))


class NapConfig(Config):
    seconds: float = 60.0


@solid
def nap(context, config: NapConfig) -> int:
    deadline = time.monotonic() + config.seconds
    while time.monotonic() < deadline:
        time.sleep(0.05)
    return 1


@pipeline
def sleepy():
    nap()


@composite_solid
def prepare(x: int) -> int:
    return double(x)


@pipeline
def nested():
    total(prepare(load()))


@schedule(cron="0 * * * *", pipeline=nested, timezone="Europe/Berlin", catchup="all")
def hourly_nested(context):
    """Nested, every hour; the odd hours have no config."""
    hour = context.scheduled_time.hour
    if hour % 2:
        raise ValueError(f"no rows at {hour}:00")
    return {"solids": {"load": {"config": {"rows": hour}}}}


@schedule(cron="30 2 * * *", pipeline=hello, tags={"team": "web"})
def nightly_hello():
    return {"solids": {"load": {"config": {"rows": "many"}}}}
