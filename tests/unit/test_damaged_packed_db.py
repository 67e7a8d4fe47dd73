"""A damaged packed database is moved aside, said once, and what it held is computed again."""

from __future__ import annotations

import hashlib
import os
import sqlite3
from pathlib import Path

import pytest

from solidflow import Config, Instance, execute_pipeline, pipeline, solid
from solidflow.engine.events.records import EventType
from solidflow.engine.store import IntermediateStore, OutputStatus

ORIGIN = {"run_id": "run-1", "step": "make", "output": "result"}
KEYS = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(50)]


def fill(root: Path) -> None:
    store = IntermediateStore(root)
    for i, key in enumerate(KEYS):
        store.put(key, {"i": i, "pad": "x" * 3000}, **ORIGIN)
    store.put(KEYS[0][::-1], b"f" * 100_000, **ORIGIN)  # a file output, kept
    store.close()


def damage(database: Path, how: str) -> None:
    """Damage the database so that SQLite notices on the first lookup, every time: "header"
    overwrites the file header; "malformed" zeroes the page at the root of the outputs table,
    leaving no valid page type (a lookup through the intact key index must read it). Random
    bytes are not used: inside the index they can leave a lookup that misses quietly."""
    with sqlite3.connect(database) as conn:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        [root] = conn.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'outputs'"
        ).fetchone()
    conn.close()
    with open(database, "r+b") as file:
        if how == "malformed":
            file.seek((root - 1) * page_size)
            file.write(bytes(page_size))
        else:
            file.write(b"not a database" * 100)


@pytest.mark.parametrize("how", ["malformed", "header"])
def test_a_damaged_packed_database_is_moved_aside_once(tmp_path: Path, how: str) -> None:
    fill(tmp_path)
    damage(tmp_path / "packed.db", how)
    notices: list[str] = []
    store = IntermediateStore(tmp_path, warn=notices.append)
    other = IntermediateStore(tmp_path, warn=notices.append)
    statuses = store.check(KEYS[:3])
    assert {status for status, _ in statuses.values()} == {OutputStatus.MISSING}
    [moved] = [name for name in os.listdir(tmp_path) if name.startswith("packed.db.damaged-")]
    [notice] = notices
    assert str(tmp_path / "packed.db") in notice and moved in notice
    assert "computed again" in notice
    # Everything works on a fresh database, and no other process says it again.
    assert [stored.key for stored in other.list()] == [KEYS[0][::-1]]
    other.put(KEYS[1], 1, **ORIGIN)
    other.flush()
    assert store.get(KEYS[1]) == 1
    assert store.get(KEYS[0][::-1]) == b"f" * 100_000
    store.close()
    other.close()
    assert len(notices) == 1


class Value(Config):
    value: int = 1


@solid
def small(config: Value) -> dict:
    return {"value": config.value}


@solid
def plus_one(x: dict) -> int:
    return x["value"] + 1


@pipeline
def packed_outputs():
    plus_one(small())


def test_a_run_recomputes_what_a_damaged_database_held(tmp_path: Path) -> None:
    instance = Instance(tmp_path)
    assert execute_pipeline(packed_outputs, instance=instance, memoize=True).success
    database = Path(instance.config.storage.root) / "packed.db"
    damage(database, "header")
    again = execute_pipeline(packed_outputs, instance=instance, memoize=True)
    assert again.success
    ran = [e.step for e in again.events if e.type is EventType.STEP_SUCCESS]
    assert ran == ["small", "plus_one"]
    [warning] = [e for e in again.events if e.type is EventType.LOG]
    assert "packed.db.damaged-" in warning.message
    third = execute_pipeline(packed_outputs, instance=instance, memoize=True)
    assert [e.type for e in third.events if e.type is EventType.STEP_MEMOIZED] == [
        EventType.STEP_MEMOIZED
    ] * 2
    assert not [e for e in third.events if e.type is EventType.LOG]
