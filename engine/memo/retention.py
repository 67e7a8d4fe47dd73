"""Retention: delete runs, their events, and the stored outputs that no kept run uses.

The outputs a run read or produced are found in the event log's index of output keys per
run, not in its events; an output is deleted only when no other stored run references it and
no live run holds a lease on it (checked while the leases are held, so a run starting
meanwhile either waits or has its lease seen).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from solidflow.engine.instance import Instance
from solidflow.engine.memo.inventory import instance_store
from solidflow.engine.memo.leases import Leases
from solidflow.engine.store import IntermediateStore
from solidflow.engine.store.files import Reclaimed
from solidflow.errors import ConfigError, RunRequestError

_DELETE_BATCH = 200
"""Outputs deleted per hold of the leases (runs taking a lease meanwhile wait for it)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class RetentionReport:
    """What deleting runs deleted (or would delete, on a dry run).

    Args:
        runs: the ids of the runs deleted, with their events.
        deleted_outputs: the keys of the stored outputs deleted.
        freed_bytes: the bytes their deletion freed.
        kept_outputs: outputs of those runs kept because other runs use them (or may:
            live runs' leases).
        reclaimed: the temporary files of killed writes removed.
    """

    runs: list[str]
    deleted_outputs: list[str] = field(default_factory=list)
    freed_bytes: int = 0
    kept_outputs: int = 0
    reclaimed: list[Reclaimed] = field(default_factory=list)


def delete_runs(
    instance: Instance,
    run_ids: Sequence[str],
    store: IntermediateStore | None = None,
    *,
    dry_run: bool = False,
) -> RetentionReport:
    """Delete the runs `run_ids` (none may be live), their events, and the outputs in `store`
    (default: the instance's) that they read or produced and no other run uses.

    Raises:
        RunRequestError: a run does not exist, or has not ended.
    """
    if store is None:
        with contextlib.closing(instance_store(instance)) as own:
            return delete_runs(instance, run_ids, own, dry_run=dry_run)
    for run_id in run_ids:
        run = instance.get_run(run_id)
        if run is None:
            raise RunRequestError(f"no run {run_id!r}")
        if not run.status.ended:
            raise RunRequestError(
                f"run {run_id} is {run.status.value}: cancel it (solidflow cancel) or let it "
                "end before deleting it"
            )
    storage = instance.storage
    keys = sorted(storage.output_keys(run_ids))
    if not dry_run:
        for run_id in run_ids:
            storage.delete_run(run_id)
    leases = Leases(instance)
    deleted: list[str] = []
    freed = kept = 0
    for start in range(0, len(keys), _DELETE_BATCH):
        batch = keys[start : start + _DELETE_BATCH]
        held = contextlib.nullcontext(leases.in_use()) if dry_run else leases.held()
        with held as leased:
            used = storage.referenced_keys(batch, excluding=run_ids)
            used.update(key for leased_keys in leased.values() for key in leased_keys)
            for key in batch:
                if key in used:
                    kept += 1
                    continue
                size = store.delete(key, dry_run)
                if size:  # else it was gone already
                    deleted.append(key)
                    freed += size
    return RetentionReport(
        runs=list(run_ids), deleted_outputs=deleted, freed_bytes=freed, kept_outputs=kept
    )


def collect_runs(
    instance: Instance,
    store: IntermediateStore | None = None,
    *,
    older_than: float,
    keep_last: int = 0,
    dry_run: bool = False,
) -> RetentionReport:
    """Delete the ended runs created more than `older_than` seconds ago, except the newest
    `keep_last` runs of each pipeline, as `delete_runs` does; and remove the temporary files
    of killed writes older than every live run.

    Raises:
        ConfigError: `older_than` or `keep_last` is negative.
    """
    if store is None:
        with contextlib.closing(instance_store(instance)) as own:
            return collect_runs(
                instance, own, older_than=older_than, keep_last=keep_last, dry_run=dry_run
            )
    if older_than < 0:
        raise ConfigError([("older_than", "must be 0 or more")])
    if keep_last < 0:
        raise ConfigError([("keep_last", "must be 0 or more")])
    started = time.time()
    seen: dict[str, int] = {}
    doomed, live_since = [], started
    for run in instance.runs():  # newest first; the records only, not their events
        newer = seen.get(run.pipeline_name, 0)
        seen[run.pipeline_name] = newer + 1
        if run.status.alive:
            live_since = min(live_since, run.start_time or run.create_time)
        elif newer >= keep_last and run.create_time < started - older_than:
            doomed.append(run.run_id)
    report = delete_runs(instance, doomed, store, dry_run=dry_run)
    reclaimed = store.reclaim(live_since, dry_run)
    return RetentionReport(
        runs=report.runs,
        deleted_outputs=report.deleted_outputs,
        freed_bytes=report.freed_bytes,
        kept_outputs=report.kept_outputs,
        reclaimed=reclaimed,
    )
