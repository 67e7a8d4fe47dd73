"""Free space in the intermediate store without losing outputs that recent runs refer to."""

from __future__ import annotations

import contextlib
import re
import time
from dataclasses import dataclass, field

from solidflow.engine.instance import Instance
from solidflow.engine.memo.inventory import instance_store
from solidflow.engine.memo.store_leases import leases_of
from solidflow.engine.store import IntermediateStore, StoredOutput
from solidflow.engine.store.files import Reclaimed

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_age(text: str) -> float:
    """Seconds in an age such as "45s", "30m", "12h", "7d" or "2w"; ValueError for other text."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*", text)
    if match is None:
        raise ValueError(f"'{text}' is not an age like 30m, 12h, 7d or 2w")
    return float(match.group(1)) * _UNITS[match.group(2)]


_SUPERSEDED_GRACE = 60.0
"""A run that started as a sidecar was being replaced may still have read the one before."""
_DELETE_BATCH = 200
"""Outputs deleted per hold of the leases' lock (runs starting meanwhile wait for it)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class GcReport:
    """What a garbage collection deleted (or would delete, on a dry run) and kept.

    Args:
        deleted: the sidecars of the outputs deleted.
        freed_bytes: the bytes their deletion freed, `superseded_bytes` included.
        kept: the number of outputs kept, `in_use` included.
        in_use: the outputs kept only because live runs may read or write them.
        live_runs: the ids of those live runs, sorted.
        reclaimed: the temporary files of killed writes removed.
        superseded_bytes: the bytes of Parquet datasets that later writes of their keys
            replaced, deleted.
    """

    deleted: list[StoredOutput]
    freed_bytes: int
    kept: int
    in_use: int = 0
    live_runs: list[str] = field(default_factory=list)
    reclaimed: list[Reclaimed] = field(default_factory=list)
    superseded_bytes: int = 0


def protected_keys(instance: Instance, runs_per_pipeline: int) -> set[str]:
    """Keys of outputs read or produced by the newest `runs_per_pipeline` runs of each pipeline."""
    counts: dict[str, int] = {}
    kept: list[str] = []
    for run in instance.runs():  # newest first
        seen = counts.get(run.pipeline_name, 0)
        if seen >= runs_per_pipeline:
            continue
        counts[run.pipeline_name] = seen + 1
        kept.append(run.run_id)
    return instance.storage.output_keys(kept)  # the index, not the runs' events


def collect_garbage(
    instance: Instance,
    store: IntermediateStore | None = None,
    *,
    keep_last: int | None = None,
    older_than: float | None = None,
    include_latest: bool = False,
    dry_run: bool = False,
) -> GcReport:
    """Delete stored outputs that the newest `keep_last` runs of each pipeline do not use,
    or that are older than `older_than` seconds (or both conditions, when both are given),
    from `store` (default: the store under the instance's storage root).

    Outputs of the newest run of each pipeline are always kept unless `include_latest`.
    Whatever the options, outputs stored since the collection started and outputs that a
    live run may read or write (its lease) are kept. Temporary files of killed writes are
    removed: those older than the collection and than every live run, that no live process
    holds. So are Parquet datasets that later writes of their keys replaced before the
    collection and every live run started (no run that may read them is going).

    Raises:
        ValueError: neither `keep_last` nor `older_than` is given, or `keep_last` < 0.
    """
    if store is None:
        own = instance_store(instance)
        try:
            return collect_garbage(
                instance,
                own,
                keep_last=keep_last,
                older_than=older_than,
                include_latest=include_latest,
                dry_run=dry_run,
            )
        finally:
            own.close()
    if keep_last is None and older_than is None:
        raise ValueError("collect_garbage needs keep_last or older_than")
    if keep_last is not None and keep_last < 0:
        raise ValueError(f"keep_last must be 0 or more, not {keep_last}")
    started = time.time()
    keep_runs = keep_last if keep_last is not None else 0
    if not include_latest:
        keep_runs = max(keep_runs, 1)
    keep = protected_keys(instance, keep_runs) if keep_runs else set()
    cutoff = started - (older_than or 0)
    candidates, kept = [], 0
    for stored in store.list():
        if stored.key in keep or stored.created >= cutoff:
            kept += 1
        else:
            candidates.append(stored)
    leases = leases_of(instance, store)
    deleted: list[StoredOutput] = []
    freed, in_use, live = 0, 0, set()
    remaining = candidates[::-1]  # popped from the end: in the order listed
    while remaining:
        # Leases are read again for every batch, and no run takes one while it is deleted.
        held = contextlib.nullcontext(leases.in_use()) if dry_run else leases.held()
        with held as leased:
            users = {key: run_id for run_id, keys in leased.items() for key in keys}
            for _ in range(min(_DELETE_BATCH, len(remaining))):
                if not (dry_run or leases.may_delete()):
                    break  # in the next batch
                stored = remaining.pop()
                if stored.key in users:
                    in_use += 1
                    live.add(users[stored.key])
                    continue
                deleted.append(stored)
                freed += store.delete(stored.key, dry_run)
    driven = (run.start_time or run.create_time for run in instance.runs() if run.status.alive)
    before = min([started, *driven])
    superseded = store.collect_superseded(before - _SUPERSEDED_GRACE, dry_run=dry_run)
    return GcReport(
        deleted=deleted,
        freed_bytes=freed + superseded,
        kept=kept + in_use,
        in_use=in_use,
        live_runs=sorted(live),
        reclaimed=store.reclaim(before, dry_run),
        superseded_bytes=superseded,
    )
