"""What the schema migrations of instance storages share: the refusal of a schema newer than
the code, and the batched filling of new tables from the stored events, which writers
interleave with.

A backend keeps a list of migrations, each the statements that take its schema from one
version to the next; a migration that adds a table derived from the events (the index of
output keys per run) then fills it in batches, and records its version only once it is
filled. Its statements must be safe to run again (IF NOT EXISTS): a migration interrupted
during its backfill runs again from the start."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from solidflow.engine.instance.storage import SchemaVersionError

BATCH_SECONDS = 0.2
"""How long one batch of a backfill should hold its transaction."""
_FIRST_BATCH = 2_000
_LARGEST_BATCH = 200_000


@dataclass(frozen=True, slots=True, kw_only=True)
class Backfilled:
    """What a backfill did: its batches (transactions), the rows they read, the longest
    batch in seconds, and the id of the last row read."""

    batches: int = 0
    rows: int = 0
    longest: float = 0.0
    last_id: int = 0


def backfill(
    batch: Callable[[int, int], tuple[int, int]], *, pause: float = 0.0, after_id: int = 0
) -> Backfilled:
    """Run `batch(after_id, limit)` (one transaction over the rows with id > `after_id`, at
    most `limit` of them, returning the last id it read and how many rows) until it reads
    fewer rows than asked. A batch reads only rows that were stored when the backfill began,
    leaving those stored meanwhile to the caller's last transaction, so that writers faster
    than the batches cannot keep it from ending. The limit adapts so that each
    batch takes about BATCH_SECONDS; `pause` seconds between batches let writers that wait
    for the lock in (a database whose waiting writers retry, as SQLite's, needs it)."""
    limit, batches, rows, longest = _FIRST_BATCH, 0, 0, 0.0
    while True:
        started = time.perf_counter()
        last_id, count = batch(after_id, limit)
        took = time.perf_counter() - started
        batches, rows, longest = batches + 1, rows + count, max(longest, took)
        after_id = max(after_id, last_id)
        if count < limit:
            return Backfilled(batches=batches, rows=rows, longest=longest, last_id=after_id)
        time.sleep(pause)
        if took < BATCH_SECONDS / 2:
            limit = min(limit * 2, _LARGEST_BATCH)
        elif took > BATCH_SECONDS:
            limit = max(limit // 2, 100)


def check_version(found: int, known: int, location: str) -> None:
    """Refuse a schema newer than this solidflow knows.

    Raises:
        SchemaVersionError: `found` is greater than `known`.
    """
    if found > known:
        raise SchemaVersionError(
            f"{location} has schema version {found}, newer than this solidflow knows "
            f"({known}): upgrade solidflow on this host"
        )
