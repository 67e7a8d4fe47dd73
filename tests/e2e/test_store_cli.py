"""Memoized runs, plans that say why steps run, re-execution and the store, from the CLI."""

from __future__ import annotations

import os
import textwrap
import time
from pathlib import Path

from solidflow.engine.events.records import EventType
from solidflow.engine.instance.runs import RunStatus
from solidflow.engine.store import IntermediateStore
from tests.e2e.conftest import target

FLAKY = """
from solidflow import Config, pipeline, solid


class Scale(Config):
    factor: int = 2


@solid
def numbers() -> list:
    return [1, 2, 3]


@solid
def scaled(values: list, config: Scale) -> list:
    {body}


@solid
def total(values: list) -> int:
    return sum(values)


@solid
def count(values: list) -> int:
    return len(values)


@pipeline
def flaky():
    values = numbers()
    total(scaled(values))
    count(values)
"""


def _write(path: Path, body: str) -> str:
    path.write_text(textwrap.dedent(FLAKY).replace("{body}", body))
    return f"{path}:flaky"


def _events(instance, kind: EventType, run=None) -> list[str]:
    run = run or instance.runs(limit=1)[0]
    return [e.step for e in instance.events(run.run_id) if e.type is kind]


def test_memoized_rerun_and_plan_explain_what_changed(cli, instance, tmp_path):
    assert cli("run", target("arithmetic"), "--memoize").code == 0
    again = cli("run", target("arithmetic"), "--memoize")
    assert again.code == 0
    assert "= number" in again.out and "0 steps succeeded, 4 memoized" in again.out
    assert _events(instance, EventType.STEP_SUCCESS) == []

    (tmp_path / "seven.yaml").write_text("solids:\n  number:\n    config:\n      value: 7\n")
    plan = cli("plan", target("arithmetic"), "--memoize", "-c", "seven.yaml")
    assert plan.code == 0
    notes = {line.split()[1]: line for line in plan.out.splitlines()[1:]}
    assert "runs: config changed" in notes["number"]
    assert "runs: upstream changed (x)" in notes["double"]
    unchanged = cli("plan", target("arithmetic"), "--memoize")
    assert all(line.rstrip().endswith("memoized") for line in unchanged.out.splitlines()[1:])

    changed = cli("run", target("arithmetic"), "--memoize", "-c", "seven.yaml")
    assert changed.code == 0
    assert _events(instance, EventType.STEP_SUCCESS) == ["number", "double", "as_text", "shout"]


def test_reexecute_from_failure_through_the_cli(cli, instance, tmp_path):
    path = tmp_path / "flaky_pipeline.py"
    flaky = _write(path, "raise RuntimeError('scaling service down')")
    failed = cli("run", flaky)
    assert failed.code == 1
    parent = instance.runs()[0]
    _write(path, "return [value * config.factor for value in values]")
    fixed = cli("reexecute", parent.run_id[:10], "--from-failure")
    assert fixed.code == 0, fixed.out + fixed.err
    child = instance.runs()[0]
    assert child.parent_run_id == parent.run_id and child.status is RunStatus.SUCCESS
    assert _events(instance, EventType.STEP_SUCCESS, child) == ["scaled", "total"]
    listing = cli("runs")
    assert parent.run_id in listing.out and child.run_id in listing.out
    child_row = next(line for line in listing.out.splitlines() if child.run_id in line)
    assert parent.run_id in child_row


def test_reexecute_reports_a_missing_output_clearly(cli, instance, tmp_path):
    flaky = _write(tmp_path / "flaky_ok.py", "return values")
    assert cli("run", flaky).code == 0
    parent = instance.runs()[0]
    [key] = [
        e.payload["key"]
        for e in instance.events(parent.run_id)
        if e.type is EventType.STEP_OUTPUT and e.step == "scaled"
    ]
    store = IntermediateStore(instance.config.storage.root)
    assert store.delete(key) > 0
    store.close()
    done = cli("reexecute", parent.run_id, "--select", "total")
    assert done.code == 2
    assert "output 'result' of step 'scaled' (read by 'total')" in done.err
    assert "Traceback" not in done.err


def _freed(out: str) -> str:
    [line] = [line for line in out.splitlines() if " outputs, " in line]
    return line.split(" outputs, ")[1].split(";")[0]


def test_store_ls_and_gc(cli, instance, tmp_path):
    (tmp_path / "one.yaml").write_text("solids:\n  number:\n    config:\n      value: 1\n")
    (tmp_path / "two.yaml").write_text("solids:\n  number:\n    config:\n      value: 2\n")
    assert cli("run", target("arithmetic"), "-c", "one.yaml").code == 0
    first = instance.runs()[0]
    assert cli("run", target("arithmetic"), "-c", "two.yaml").code == 0
    second = instance.runs()[0]

    listing = cli("store", "ls")
    assert listing.code == 0
    assert "8 outputs" in listing.out
    only_first = cli("store", "ls", "--run", first.run_id)
    assert "4 outputs" in only_first.out and "number.result" in only_first.out

    # What a killed write leaves: a temporary file that no process holds any more.
    stale = Path(instance.config.storage.root) / "ab" / f".{'ab' * 32}.0123.data.tmp"
    stale.parent.mkdir(exist_ok=True)
    stale.write_bytes(b"x" * 3000)
    os.utime(stale, (time.time() - 60, time.time() - 60))
    dry = cli("store", "gc", "--keep-last", "1", "--dry-run")
    assert dry.code == 0 and "would delete 4 outputs" in dry.out
    assert "would delete 1 temporary file of killed writes, 2.9 KiB" in dry.out
    assert "8 outputs" in cli("store", "ls").out and stale.exists()
    done = cli("store", "gc", "--keep-last", "1")
    assert "deleted 4 outputs" in done.out and "kept 4" in done.out
    assert "deleted 1 temporary file of killed writes, 2.9 KiB" in done.out
    assert _freed(dry.out) == _freed(done.out)  # what a dry run says is what a run frees
    assert not stale.exists()
    remaining = cli("store", "ls")
    assert "4 outputs" in remaining.out
    assert "4 outputs" in cli("store", "ls", "--run", second.run_id).out
    assert cli("store", "gc").code == 2  # says what to give


def test_a_damaged_packed_database_is_said_once_and_recomputed(cli, instance, tmp_path):
    assert cli("run", target("arithmetic"), "--memoize").code == 0
    database = Path(instance.config.storage.root) / "packed.db"
    with open(database, "r+b") as file:
        file.write(b"\0" * 4096)  # its header: not a database any more
    listing = cli("store", "ls")
    assert listing.code == 0, listing.err
    assert "Traceback" not in listing.err
    [warning] = [line for line in listing.err.splitlines() if line.startswith("warning:")]
    assert "packed.db.damaged-" in warning and "computed again" in warning
    assert "0 outputs" in listing.out
    again = cli("run", target("arithmetic"), "--memoize")
    assert again.code == 0 and "Traceback" not in again.err
    assert "4 steps succeeded" in again.out
    assert "warning" not in again.err + again.out  # said once, by `store ls`
    assert "4 outputs" in cli("store", "ls").out


def test_a_run_says_once_that_it_found_the_packed_database_damaged(cli, instance, tmp_path):
    assert cli("run", target("arithmetic"), "--memoize").code == 0
    database = Path(instance.config.storage.root) / "packed.db"
    with open(database, "r+b") as file:
        file.write(b"\0" * 4096)
    again = cli("run", target("arithmetic"), "--memoize")
    assert again.code == 0, again.out + again.err
    assert "Traceback" not in again.err
    assert (again.out + again.err).count("packed.db.damaged-") == 1, again.out + again.err


def test_store_ls_of_a_reexecution_lists_what_it_stored(cli, instance, tmp_path):
    assert cli("run", target("arithmetic")).code == 0
    parent = instance.runs()[0]
    assert cli("reexecute", parent.run_id, "--select", "as_text*").code == 0
    child = instance.runs()[0]
    # Same code and inputs: the child's outputs have the keys the parent stored them under.
    listing = cli("store", "ls", "--run", child.run_id)
    assert listing.code == 0
    assert "2 outputs" in listing.out, listing.out
    assert "as_text.result" in listing.out and "shout.result" in listing.out
    assert "number.result" not in listing.out


SHOP = """
from solidflow import Config, Mode, pipeline, resource, solid
import pricing
from queries import Q5


class Scale(Config):
    factor: int = 1


@resource(config=Scale)
def warehouse(init_context):
    return init_context.config.factor


@resource
def dev_warehouse(init_context):
    return 100


@solid
def orders() -> list:
    return [10.0, 20.0, 30.0]


@solid
def priced(values: list) -> list:
    return [pricing.discount(value) for value in values]


@solid(required_resource_keys={"warehouse"})
def expensive(context, values: list) -> int:
    scale = context.resources.warehouse
    return sum(1 for value in values if value * scale > 15) + len(Q5)


@pipeline(
    modes=[
        Mode("prod", resources={"warehouse": warehouse}),
        Mode("dev", resources={"warehouse": dev_warehouse}),
    ]
)
def shop():
    expensive(priced(orders()))
"""


def _notes(completed) -> dict[str, str]:
    return {line.split()[1]: line for line in completed.out.splitlines()[1:]}


def test_plan_names_the_helper_constant_or_resource_that_changed(cli, tmp_path):
    (tmp_path / "shop.py").write_text(SHOP)
    (tmp_path / "pricing.py").write_text(
        "def _round(value):\n    return round(value, 2)\n\n"
        "def discount(value):\n    return _round(value * 0.9)\n"
    )
    (tmp_path / "queries.py").write_text("Q5 = \"r_name = 'ASIA'\"\n")
    shop = f"{tmp_path / 'shop.py'}:shop"
    assert cli("run", shop, "--memoize", "--mode", "prod").code == 0

    pricing = tmp_path / "pricing.py"
    pricing.write_text(pricing.read_text().replace("2)", "3)"))
    notes = _notes(cli("plan", shop, "--memoize", "--mode", "prod"))
    assert notes["orders"].endswith("memoized")
    assert notes["priced"].endswith("runs: helper changed: pricing._round")
    assert notes["expensive"].endswith("runs: upstream changed (values)")

    queries = tmp_path / "queries.py"
    queries.write_text(queries.read_text().replace("ASIA", "EUROPE"))
    notes = _notes(cli("plan", shop, "--memoize", "--mode", "dev"))
    assert notes["expensive"].endswith(
        "runs: constant changed: queries.Q5; resource changed: warehouse (mode prod -> dev); "
        "upstream changed (values)"
    )

    explained = cli("explain", shop, "expensive", "--mode", "dev")
    assert explained.code == 0, explained.err
    lines = explained.out.splitlines()
    assert lines[0].startswith("step expensive of pipeline shop, mode dev: runs: ")
    assert lines[1].startswith("memo key ")
    rows = {" ".join(line.split()[:-1]): line.split()[-1] for line in lines[3:-1]}
    assert rows["code expensive"].startswith("function:")
    assert rows["reads queries.Q5"].startswith("value:")
    assert rows["resource warehouse code"].startswith("function:")  # the dev resource's code
    assert rows["resource warehouse config"] == "null"
    assert lines[-1].startswith("output result: ") and lines[-1].endswith("(missing)")

    unknown = cli("explain", shop, "expensiv", "--mode", "prod")
    assert unknown.code == 2
    assert "no solid named 'expensiv' in pipeline 'shop'; did you mean 'expensive'?" in unknown.err
