"""Event log ingest rates: SqliteStorage.store_events by batch size, and EventSink.emit.

Run with `python benchmarks/event_log_ingest.py`; prints the median of 5 timed repetitions
after one warm-up for each case.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from solidflow.engine.events.records import EventRecord, EventType
from solidflow.engine.events.sink import EventSink
from solidflow.engine.instance.sqlite import SqliteStorage

REPETITIONS = 5
PAYLOAD = {"message": "step produced output", "output": "result", "rows": 1024}
# (batch size, events stored per repetition): small batches are slow, so fewer events.
STORE_CASES = ((1, 2_000), (100, 20_000), (1000, 50_000))
EMIT_EVENTS = 100_000


def median_rate(events: int, run: Callable[[int], None]) -> float:
    """Median events/s of `run(repetition)` over REPETITIONS timed calls after a warm-up."""
    run(-1)
    durations = []
    for repetition in range(REPETITIONS):
        start = time.perf_counter()
        run(repetition)
        durations.append(time.perf_counter() - start)
    return events / statistics.median(durations)


def store_rate(storage: SqliteStorage, batch: int, events: int) -> float:
    def run(repetition: int) -> None:
        run_id = f"store-{batch}-{repetition}"
        for start in range(0, events, batch):
            storage.store_events(
                [
                    EventRecord(
                        run_id=run_id,
                        seq=seq,
                        timestamp=time.time(),
                        type=EventType.STEP_OUTPUT,
                        step="step",
                        payload=PAYLOAD,
                    )
                    for seq in range(start, start + batch)
                ]
            )

    return median_rate(events, run)


def emit_rate(storage: SqliteStorage | None) -> float:
    def run(repetition: int) -> None:
        sink = EventSink(f"emit-{storage is not None}-{repetition}", storage)
        for _ in range(EMIT_EVENTS):
            sink.emit(EventType.STEP_OUTPUT, step="step", payload=PAYLOAD)
        sink.flush()

    return median_rate(EMIT_EVENTS, run)


def main() -> None:
    with tempfile.TemporaryDirectory() as home:
        storage = SqliteStorage(Path(home) / "events.db")
        try:
            for batch, events in STORE_CASES:
                rate = store_rate(storage, batch, events)
                print(f"store_events, batch {batch:>4}: {rate:>12,.0f} events/s")
            memory = emit_rate(None)
            print(f"EventSink.emit, in memory:  {memory:>12,.0f} events/s ({1e6 / memory:.2f} µs)")
            stored = emit_rate(storage)
            print(f"EventSink.emit, to SQLite:  {stored:>12,.0f} events/s ({1e6 / stored:.2f} µs)")
        finally:
            storage.close()


if __name__ == "__main__":
    main()
