"""The instance storage backends that the shared storage tests run against: SQLite (a file in
the test's directory) and PostgreSQL (a new database on the session's server)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml

from solidflow.engine.events.records import EventRecord, EventType
from solidflow.engine.instance import Instance
from solidflow.engine.instance.runs import RunRecord, RunStatus
from solidflow.engine.instance.storage import InstanceStorage


def event(run_id: str, seq: int, **kwargs: Any) -> EventRecord:
    """An event of `run_id` (a LOG unless `type` is given), stamped after its seq."""
    kwargs.setdefault("type", EventType.LOG)
    return EventRecord(run_id=run_id, seq=seq, timestamp=1000.0 + seq, **kwargs)


def run(run_id: str, create_time: float, status: RunStatus = RunStatus.STARTED) -> RunRecord:
    """A run of the pipeline "hello" driven by a process on another host."""
    return RunRecord(
        run_id=run_id,
        pipeline_name="hello",
        status=status,
        create_time=create_time,
        pid=1234,
        hostname="elsewhere",
    )


@dataclass
class Backend:
    """One backend under test: `open()` gives a new storage on the same database (as another
    process would have), `instance(home)` an instance at `home` that uses it."""

    name: str
    settings: dict[str, Any]
    opener: Callable[[], InstanceStorage]
    opened: list[InstanceStorage] = field(default_factory=list)

    def open(self) -> InstanceStorage:
        storage = self.opener()
        self.opened.append(storage)
        return storage

    def instance(self, home: Path) -> Instance:
        """An instance at `home` whose event log is this backend's database."""
        home.mkdir(parents=True, exist_ok=True)
        (home / "solidflow.yaml").write_text(yaml.safe_dump({"event_log": self.settings}))
        instance = Instance(home)
        self.opened.append(instance.storage)
        return instance

    def close(self) -> None:
        for storage in self.opened:
            storage.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    """Each instance storage backend in turn."""
    if request.param == "sqlite":
        from solidflow.engine.instance.sqlite import SqliteStorage

        path = tmp_path / "shared" / "events.db"
        found = Backend(
            "sqlite",
            {"backend": "sqlite", "path": str(path)},
            lambda: SqliteStorage(path),
        )
    else:
        from solidflow.integrations.postgres.storage import PostgresStorage

        url = request.getfixturevalue("postgres_url")
        found = Backend("postgres", {"url": url}, lambda: PostgresStorage(url))
    try:
        yield found
    finally:
        found.close()


@pytest.fixture
def storage(backend: Backend) -> InstanceStorage:
    """A storage of each backend."""
    return backend.open()
