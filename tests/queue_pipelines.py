"""Pipelines and schedules for the tests of the run queue, the daemon, schedules and sweeps."""

from __future__ import annotations

import os
import signal
import time

from solidflow import Config, Materialization, Output, pipeline, schedule, solid


class NapConfig(Config):
    seconds: float = 0.0
    ignore_interrupts: bool = False


@solid
def nap(context, config: NapConfig) -> float:
    if config.ignore_interrupts:  # a step that a cooperative cancel cannot stop
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    context.log.info(f"going to sleep in process {os.getpid()}")
    time.sleep(config.seconds)
    context.log.info("woke up")
    return config.seconds


@pipeline
def napper():
    nap()


class PrepareConfig(Config):
    seconds: float = 0.0


@solid
def prepare(context, config: PrepareConfig) -> list:
    context.log.info(f"preparing in process {os.getpid()}")
    time.sleep(config.seconds)
    return list(range(10))


class TrainConfig(Config):
    lr: float = 0.1
    depth: int = 3


@solid
def train(config: TrainConfig, data: list) -> float:
    return config.lr * config.depth * len(data)


@solid
def evaluate(model: float):
    yield Materialization("auc", metadata={"auc": 1 / (1 + model)})
    yield Output(model)


@pipeline
def trainer():
    evaluate(train(prepare()))


@schedule(cron="0 * * * *", pipeline=napper, timezone="Europe/Berlin")
def hourly(context):
    """Every hour, with the tick's local hour in the log."""
    hour = context.scheduled_time.hour
    return {"solids": {"nap": {"config": {"seconds": hour / 1000}}}}


@schedule(cron="30 2 * * *", pipeline=napper, timezone="Europe/Berlin", catchup="all")
def nightly(context):
    return {}


@schedule(cron="*/10 * * * *", pipeline=napper, catchup="none")
def every_ten_minutes(context):
    return {}


@schedule(cron="*/10 * * * *", pipeline=napper, catchup="all", catchup_window=1800)
def every_ten_minutes_all(context):
    return {}


@schedule(cron="0 12 * * *", pipeline=napper)
def broken_config(context):
    return {"solids": {"nap": {"config": {"seconds": "soon"}}}}


@schedule(cron="0 12 * * *", pipeline=napper)
def raising(context):
    raise RuntimeError("no data for today")


@schedule(cron="0 12 * * *", pipeline=napper)
def weekdays_only(context):
    return None if context.scheduled_time.weekday() >= 5 else {}
