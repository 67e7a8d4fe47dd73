"""Pipelines used by the command-line tests; each shows one behaviour."""

from __future__ import annotations

import time

from solidflow import Config, Mode, RetryPolicy, pipeline, resource, solid


class NumberConfig(Config):
    value: int = 1


@solid
def number(config: NumberConfig) -> int:
    return config.value


@solid
def double(x: int) -> int:
    return x * 2


@solid
def as_text(x: int) -> str:
    return str(x)


@solid
def shout(text: str) -> str:
    return text.upper() + "!"


@pipeline
def arithmetic():
    shout(as_text(double(number())))


@solid
def broken_text(x: int) -> int:
    """Declares int but hands on text: fails its output type check."""
    return f"{x}"  # type: ignore[return-value]


@solid
def after_broken(x: int) -> int:
    return x


@pipeline
def type_failure():
    after_broken(broken_text(number()))


@solid
def explode(x: int) -> int:
    raise ValueError(f"cannot handle {x}")


@solid(retry=RetryPolicy(max_retries=1))
def independent() -> int:
    return 7


@pipeline
def failing():
    double.alias("downstream")(explode(number()))
    independent()


class SleepConfig(Config):
    seconds: float = 0.0


@solid
def nap(context, config: SleepConfig) -> float:
    context.log.info("going to sleep")
    time.sleep(config.seconds)
    context.log.info("woke up")
    return config.seconds


@pipeline
def sleepy():
    double.alias("after_nap")(number.alias("start")())
    nap()


@resource
def broken_connection(init_context):
    raise ConnectionError("database at db.invalid refused the connection")


@resource
def leaky_connection(init_context):
    yield "connection"
    raise RuntimeError("could not close the connection")


@solid(required_resource_keys={"db"})
def query(context) -> str:
    return f"rows from {context.resources.db}"


@pipeline(
    modes=[
        Mode("broken_init", resources={"db": broken_connection}),
        Mode("broken_teardown", resources={"db": leaky_connection}),
    ]
)
def database():
    query()
    number()


@solid
def stall(context, config: SleepConfig, x: int) -> int:
    context.log.info("going to sleep")
    time.sleep(config.seconds)
    return x + 1


@pipeline
def interruptible():
    double.alias("finish")(stall(number()))
    as_text.alias("side")(number.alias("other")())


class ChatterConfig(Config):
    lines: int = 10


@solid
def chatter(context, config: ChatterConfig) -> int:
    for line in range(config.lines):
        context.log.info(f"chatting {line}")
    return config.lines


@pipeline
def chatty():
    chatter()
