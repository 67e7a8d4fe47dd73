"""Where and when the steps of a run go to step-worker actors: the driver's bookkeeping of
steps and outputs, with no Ray calls.

A step is sent once every output it reads exists or is promised by a step sent to the same
worker (actors run their calls in order, so it finds that output in the worker's cache).
Steps go in batches whose size follows how long steps of the solid take, several batches in
flight per worker, so that workers never wait for the driver.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from solidflow.engine.executors.ray.pool import Worker, WorkerPool
from solidflow.engine.executors.ray.step_tracking import (
    DONE,
    EXPORTING,
    QUEUED,
    SENT,
    WAITING,
    Output,
    Promise,
    Step,
    StepTimes,
)
from solidflow.engine.executors.ray.wire import EXPORT, KEEP, Where, WireStep, encode_source
from solidflow.engine.plan.steps import addresses_read
from solidflow.engine.step.task import OutputAddress, StepTask
from solidflow.engine.store import StoredRef

TARGET_BATCH_SECONDS = 0.01
"""About how long one batch of steps should keep a worker busy."""
MAX_BATCH = 256
"""Most steps in one batch."""
BATCHES_IN_FLIGHT = 3
"""Batches sent to a worker ahead of the results of the first."""


class Dispatcher:
    """The steps and outputs of one run and the queues they wait in."""

    def __init__(self, limit: int | None = None) -> None:
        self.steps: dict[str, Step] = {}
        self.outputs: dict[OutputAddress, Output] = {}
        self.limit = limit
        self.in_flight = 0
        self.estimates = StepTimes()
        self._free: dict[WorkerPool, deque[Step]] = {}
        self._pinned: dict[Worker, deque[Step]] = {}
        self._waiters: dict[str, list[Step]] = {}
        self.exports: dict[Worker, list[list[str]]] = {}
        self.releases: dict[Worker, list[list[str]]] = {}
        self.skipped: list[tuple[Step, str]] = []
        """Steps that will never run because a step they depend on failed, and that step."""

    # -- submission ----------------------------------------------------------------------

    def add(self, task: StepTask, token: int, pool: WorkerPool, readers: dict[str, int]) -> Step:
        """Track a submitted step; `readers` counts the steps reading each of its outputs."""
        flags = {}
        for name in task.solid.output_names:
            count = readers.get(name, 0)
            self.outputs[(task.step_key, name)] = Output(task.step_key, name, count)
            if count:
                flags[name] = KEEP | (EXPORT if count > 1 else 0)
        step = Step(
            task=task,
            token=token,
            pool=pool,
            addresses=addresses_read(task.inputs),
            inputs={name: encode_source(source) for name, source in task.inputs.items()},
            flags=flags,
        )
        self.steps[task.step_key] = step
        self._prepare(step)
        return step

    def _producers(self, step: Step) -> list[Step]:
        if not step.addresses:
            return []
        handles = step.task.handles
        keys = dict.fromkeys(a[0] for a in step.addresses if type(handles[a]) is Promise)
        return [self.steps[key] for key in keys]

    def _prepare(self, step: Step) -> None:
        """Queue `step`, or make it wait for producers that are not sent yet."""
        step.state = WAITING
        step.blockers = 0
        for producer in self._producers(step):
            failed = self._failure_of(producer)
            if failed is not None:
                self._skip(step, failed)
                return
            if producer.state in (WAITING, QUEUED):
                step.blockers += 1
                self._waiters.setdefault(producer.key, []).append(step)
        if not step.blockers:
            self._place(step)

    def _failure_of(self, producer: Step) -> str | None:
        for name in producer.task.solid.output_names:
            failed = self.outputs[(producer.key, name)].failed
            if failed is not None:
                return failed
        return None

    def _place(self, step: Step) -> None:
        """Queue a step whose producers were all sent: to the worker its inputs are (or will
        be) in, or for any worker; or make it wait for producers in flight on several
        workers to end; or ask for the outputs it needs from other workers' caches."""
        pending: set[Worker] = set()
        cached: dict[Worker, int] = {}
        exporting: set[str] = set()
        for address in step.addresses:
            if type(step.task.handles[address]) is not Promise:
                continue
            output = self.outputs[address]
            if output.failed is not None:
                self._skip(step, output.failed)
                return
            if output.wire is None:
                producer = self.steps[address[0]].worker
                assert producer is not None  # the producers were all sent
                pending.add(producer)
            elif output.wire[0] == Where.WORKER:
                keeper = output.worker
                assert keeper is not None  # an output kept by a worker names it
                cached[keeper] = cached.get(keeper, 0) + 1
            elif output.wire[0] == EXPORTING:
                exporting.add(address[0])
        if exporting:  # asked for by another step: wait for them, then place it again
            step.state = WAITING
            step.blockers = len(exporting)
            for key in exporting:
                self._waiters.setdefault(key, []).append(step)
            return
        own = step.pool
        foreign = {worker for worker in pending | cached.keys() if worker.pool is not own}
        if pending - foreign and len(pending | cached.keys()) == 1 and not foreign:
            [worker] = pending
            if self._room(worker) > 0:  # sent after its producer, to the same worker
                step.state = QUEUED
                self._pinned.setdefault(worker, deque()).append(step)
                return
        if pending:  # wait until they end, then place it again
            self._wait_for_end(step)
            return
        if not cached:
            step.state = QUEUED
            self._free.setdefault(own, deque()).append(step)
            return
        ours = {worker: count for worker, count in cached.items() if worker.pool is own}
        target = max(ours, key=ours.__getitem__) if ours else None
        if len(cached) == 1 and target is not None:
            step.state = QUEUED
            self._pinned.setdefault(target, deque()).append(step)
            return
        self._ask_exports(step, target)

    def _wait_for_end(self, step: Step) -> None:
        step.state = WAITING
        for producer in self._producers(step):
            if producer.state == SENT:
                step.blockers += 1
                self._waiters.setdefault(producer.key, []).append(step)

    def _ask_exports(self, step: Step, target: Worker | None) -> None:
        """Ask the workers caching outputs that `step` reads (but `target`) to put them in
        the object store; the step is placed again once they did."""
        step.state = WAITING
        for address in step.addresses:
            output = self.outputs.get(address)
            if (
                output is not None
                and output.wire is not None
                and output.wire[0] == Where.WORKER
                and output.worker is not target
            ):
                self.exports.setdefault(output.worker, []).append(list(address))  # type: ignore[arg-type]
                output.wire = [EXPORTING]  # until `exported`
                step.blockers += 1
                self._waiters.setdefault(address[0], []).append(step)

    def _skip(self, step: Step, failed: str) -> None:
        """`step` will never run: its producer `failed` failed (or was skipped)."""
        if step.state == DONE:
            return
        step.state = DONE
        self.skipped.append((step, failed))
        for name in step.task.solid.output_names:
            self.outputs[(step.key, name)].failed = failed
        self._wake(step.key)

    def _wake(self, key: str) -> None:
        """Steps waiting for step `key`: one blocker fewer; placed again when none is left."""
        for waiter in self._waiters.pop(key, ()):
            if waiter.state != WAITING:
                continue
            failed = None
            producer = self.steps[key]
            failed = self._failure_of(producer)
            if failed is not None:
                self._skip(waiter, failed)
                continue
            waiter.blockers -= 1
            if waiter.blockers <= 0:
                self._place(waiter)

    # -- sending ---------------------------------------------------------------------------

    def _batch_size(self, step: Step) -> int:
        return max(1, min(MAX_BATCH, int(TARGET_BATCH_SECONDS / self.estimates.of(step.token))))

    def _room(self, worker: Worker) -> int:
        """Steps that may still be sent to `worker` (pinned ones count as sent)."""
        pinned = len(self._pinned.get(worker, ()))
        queue_head = self._pinned.get(worker) or self._free.get(worker.pool)
        size = self._batch_size(queue_head[0]) if queue_head else MAX_BATCH
        return size * BATCHES_IN_FLIGHT - worker.steps - pinned

    def batches(self, workers: list[Worker]) -> Iterator[tuple[Worker, list[Step]]]:
        """Batches to send now, one per worker that has room and steps waiting for it."""
        for worker in workers:
            if worker.dead or worker.batches >= BATCHES_IN_FLIGHT:
                continue
            batch: list[Step] = []
            seconds = 0.0
            while True:  # sending a step may queue its readers: look again each time
                queue = self._pinned.get(worker) or self._free.get(worker.pool)
                if not queue or (self.limit is not None and self.in_flight >= self.limit):
                    break
                step = queue[0]
                if step.state != QUEUED:
                    queue.popleft()
                    continue
                estimate = self.estimates.of(step.token)
                if batch and seconds + estimate > TARGET_BATCH_SECONDS:
                    break
                if len(batch) >= MAX_BATCH:
                    break
                queue.popleft()
                seconds += estimate
                batch.append(step)
                self._sent(step, worker)
            if batch:
                worker.batches += 1
                worker.steps += len(batch)
                yield worker, batch

    def _sent(self, step: Step, worker: Worker) -> None:
        step.state = SENT
        step.worker = worker
        self.in_flight += 1
        self._wake(step.key)

    def wire_step(self, step: Step) -> WireStep:
        """What the worker the step was sent to needs to run it."""
        task = step.task
        handles = []
        for address in step.addresses:
            handle = task.handles[address]
            if type(handle) is StoredRef:
                handles.append([Where.STORE, handle.key])
                continue
            wire = self.outputs[address].wire
            if wire is None or wire[0] == Where.WORKER:
                handles.append([Where.WORKER, address[0], address[1]])
            elif wire[0] == Where.STORE:
                handles.append([Where.STORE, self.steps[address[0]].task.output_keys[address[1]]])
            else:
                handles.append(wire)
        return [
            task.step_key,
            step.token,
            task.config,
            step.inputs,
            handles,
            task.output_keys,
            task.memo_key,
            task.lineage,
            task.outputs_missing,
            task.replace_outputs,
            step.attempt,
            step.flags,
        ]

    # -- results ---------------------------------------------------------------------------

    def ended(self, step: Step, outputs: dict[str, list[Any]] | None, failed: str | None) -> None:
        """`step` ended on its worker: succeeded with `outputs` (wire outputs), or `failed`
        names the step that failed (itself, or an upstream step on the same worker)."""
        worker = step.worker
        step.state = DONE
        self.in_flight -= 1
        if worker is not None:
            worker.steps -= 1
        if failed is not None:
            for name in step.task.solid.output_names:
                self.outputs[(step.key, name)].failed = failed
        else:
            for name, wire in (outputs or {}).items():
                output = self.outputs[(step.key, name)]
                output.wire = wire
                output.worker = worker if step.flags.get(name, 0) & KEEP else None
        if not step.rerun:
            self._read_by(step)
        self._wake(step.key)

    def _read_by(self, step: Step) -> None:
        """`step` will not read its inputs again: release those no other step reads."""
        for address in step.addresses:
            output = self.outputs.get(address)
            if output is None or type(step.task.handles[address]) is not Promise:
                continue
            output.readers -= 1
            if output.readers > 0:
                continue
            if output.worker is not None and not output.worker.dead:
                self.releases.setdefault(output.worker, []).append(list(address))
            output.worker = None
            if output.wire is not None and output.wire[0] in (Where.WORKER, Where.REF):
                output.wire = [Where.STORE]  # the driver loads it from the store if asked

    def exported(self, worker: Worker, exported: list[list[Any]]) -> None:
        """Outputs asked for from `worker`'s cache are now in the object store."""
        for step, name, ref in exported:
            output = self.outputs[(step, name)]
            output.wire = [Where.REF, ref] if ref is not None else [Where.WORKER]
            self._wake(step)

    def unsent(self) -> list[Step]:
        """The steps not sent yet, which will not be sent any more (the run was canceled)."""
        found = [step for step in self.steps.values() if step.state in (WAITING, QUEUED)]
        for step in found:
            step.state = DONE
        return found

    def abandon(self, step: Step) -> None:
        """`step` will not be sent (it failed before): the steps reading it are skipped."""
        if step.state == SENT:
            self.in_flight -= 1
        step.state = DONE
        for name in step.task.solid.output_names:
            self.outputs[(step.key, name)].failed = step.key
        self._wake(step.key)

    def output_lost(self, address: OutputAddress) -> None:
        """An output's value is gone (its worker or object died): it must be made again."""
        output = self.outputs[address]
        output.wire = None
        output.worker = None

    def requeue(self, steps: list[tuple[Step, int]]) -> None:
        """Send steps again (their worker died), each as the attempt given: all are taken
        back first, so that none is placed after a producer that is not sent again yet."""
        for step, attempt in steps:
            if step.state == SENT:
                self.in_flight -= 1
            step.state = WAITING
            step.attempt = attempt
            step.worker = None
        for step, _ in steps:
            self._prepare(step)

    def forget_worker(self, worker: Worker, rerun: Callable[[Step], None]) -> list[Step]:
        """`worker` died: returns the steps that waited to be sent to it (to `requeue`), and
        calls `rerun(producer)` for the outputs in its cache that steps still read."""
        pinned = [step for step in self._pinned.pop(worker, deque()) if step.state == QUEUED]
        self.exports.pop(worker, None)
        self.releases.pop(worker, None)
        for output in self.outputs.values():
            if output.worker is worker:
                output.worker = None
                if output.readers > 0 and output.wire is not None:
                    output.wire = None
                    rerun(self.steps[output.step])
        return pinned
