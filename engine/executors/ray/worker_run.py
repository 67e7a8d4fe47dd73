"""What a step-worker actor keeps for one run, and how it runs one step of it: inputs from its
own cache, the result, the object store or the intermediate store; outputs kept for the steps
sent after it, sent back with the result, or put in the object store."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import ray
import ray.cloudpickle

from solidflow.definitions.solid import SolidDefinition
from solidflow.engine.events.records import EventType, pack_payload
from solidflow.engine.executors.interrupts import CancelInterrupt, interruptible
from solidflow.engine.executors.ray.wire import (
    EXPORT,
    INLINE_LIMIT,
    KEEP,
    Status,
    Where,
    WireResult,
    WireStep,
    decode_source,
)
from solidflow.engine.plan.steps import ResourceSpec, addresses_read
from solidflow.engine.step.error_info import error_info
from solidflow.engine.step.resources import ResourceManager, SharedResources
from solidflow.engine.step.runner import run_step
from solidflow.engine.step.task import NotProduced, StepTask
from solidflow.engine.store import IntermediateStore, StoredRef
from solidflow.engine.store.serialization import MSGPACK, PICKLE, Encoded, encode
from solidflow.engine.store.write_behind import OutputWriter

_USER_EVENTS = frozenset(
    {EventType.LOG.value, EventType.MATERIALIZATION.value, EventType.EXPECTATION.value}
)


@dataclass(frozen=True, slots=True, kw_only=True)
class WorkerRunSetup:
    """What a worker needs to know about a run, sent with the first steps of the run it gets."""

    run_id: str
    pipeline_name: str
    resources: Mapping[str, ResourceSpec]
    store_root: str | None
    store_options: Mapping[str, Any] = field(default_factory=dict)
    store_backend: str | None = None
    durability: str = "run"


@dataclass(frozen=True, slots=True)
class UpstreamFailed:
    """Kept in a worker's cache for each output of a step that failed there."""

    step: str


class _Lost(Exception):
    """An input whose value could not be fetched (its owner died)."""

    def __init__(self, address: tuple[str, str]) -> None:
        super().__init__(f"output '{address[1]}' of step '{address[0]}' was lost")
        self.address = address


class WorkerRun:
    """One run as one worker actor sees it: its resources, its store writer, the outputs its
    steps made that later steps sent here read, and the events of the step running now."""

    def __init__(
        self,
        setup: WorkerRunSetup,
        store: IntermediateStore | None,
        node_id: str,
        journal: Any = None,
        shared: SharedResources | None = None,
    ) -> None:
        self.setup = setup
        self.store = store
        self.writer = OutputWriter(store, setup.durability) if store is not None else None
        self.cache: dict[tuple[str, str], Any] = {}
        self.canceled = False
        self._loaded: dict[str, Any] = {}
        self._origin = {"node_id": node_id, "pid": os.getpid()}
        self._journal = journal
        self._events: list[list[Any]] = []
        self._lock = threading.Lock()
        self._live_sent = 0
        self.running: tuple[str, int] | None = None
        self.resources = ResourceManager(setup.run_id, setup.resources, self.emit, shared)

    # -- events ------------------------------------------------------------------------

    def emit(self, type: EventType, step: str | None, payload: dict[str, Any]) -> None:
        """Record an event of the step running now (or of resource setup and teardown)."""
        event = [type.value, step, pack_payload({**payload, **self._origin}), time.time()]
        with self._lock:
            self._events.append(event)
        if self._journal is not None and (type is EventType.STEP_START or event[0] in _USER_EVENTS):
            self._journal.write(self.setup.run_id, self.running, event)

    def take_events(self) -> list[list[Any]]:
        """The events recorded since the last call (or since the last live drain)."""
        with self._lock:
            events = self._events[self._live_sent :]
            self._events = []
            self._live_sent = 0
        return events

    def drain_live(self) -> tuple[tuple[str, int] | None, list[list[Any]]]:
        """The step running now and its events not sent yet; they are not sent again."""
        with self._lock:
            events = self._events[self._live_sent :]
            self._live_sent += len(events)
            return self.running, events

    # -- steps ---------------------------------------------------------------------------

    def load(self, handle: Any) -> Any:
        """The value of an input handle: stored outputs are read once per run."""
        if type(handle) is not StoredRef:
            return handle
        key = handle.key
        if key not in self._loaded:
            if self.store is None:
                raise RuntimeError("this run has no intermediate store to read outputs from")
            self._loaded[key] = self.store.get(key)
        return self._loaded[key]

    def _input(self, address: tuple[str, str], handle: list[Any], fetched: dict[Any, Any]) -> Any:
        where = handle[0]
        if where == Where.WORKER:
            try:
                return self.cache[address]
            except KeyError:
                raise _Lost(address) from None
        if where == Where.VALUE:
            return handle[1]
        if where == Where.REF:
            value = fetched.get(handle[1], _MISSING)
            if value is _MISSING:
                raise _Lost(address)
            return value
        if where == Where.PICKLED:
            return ray.cloudpickle.loads(handle[1])
        return StoredRef(handle[1])

    def run(self, solid: SolidDefinition, wire: WireStep, fetched: dict[Any, Any]) -> WireResult:
        """Run one step sent to this worker; `fetched` holds the values of the object refs
        its batch named."""
        (key, _, config, encoded, handles, output_keys, memo_key, lineage) = wire[:8]
        missing, replace, attempt, flags = wire[8:12]
        inputs = {name: decode_source(source) for name, source in encoded.items()}
        values = {}
        try:
            for address, handle in zip(addresses_read(inputs), handles, strict=True):
                value = values[address] = self._input(address, handle, fetched)
                if type(value) is UpstreamFailed:
                    self._mark_failed(key, solid, flags)
                    return [key, Status.SKIPPED, [], None, None, value.step, None, attempt]
        except _Lost as lost:
            return [key, Status.LOST_INPUT, [], str(lost), None, list(lost.address), None, attempt]
        task = StepTask(
            run_id=self.setup.run_id,
            pipeline_name=self.setup.pipeline_name,
            step_key=key,
            solid=solid,
            config=config,
            inputs=inputs,
            handles=values,
            output_keys=output_keys,
            memo_key=memo_key,
            lineage=lineage,
            outputs_missing=missing,
            replace_outputs=replace,
        )
        self.running = (key, attempt)
        try:
            with interruptible():
                result = run_step(
                    task,
                    self.load,
                    self.resources,
                    self.emit,
                    self.writer,
                    retry_number=attempt - 1,
                )
        except CancelInterrupt:  # the run was canceled while the step ran
            self._mark_failed(key, solid, flags)
            message = f"solid '{key}' was canceled"
            return [key, Status.CANCELED, self.take_events(), message, None, None, None, attempt]
        finally:
            self.running = None
        if result.missing_inputs:
            absent = {name: NotProduced(key, name) for name in solid.output_names}
            if flags:
                self.cache.update({(key, name): value for name, value in absent.items()})
            missing = list(result.missing_inputs)
            return [
                key,
                Status.NOT_PRODUCED,
                self.take_events(),
                None,
                None,
                missing,
                None,
                attempt,
            ]
        if not result.success:
            self._mark_failed(key, solid, flags)
            error = result.error.as_dict() if result.error is not None else None
            status = Status.FAILURE
            because = None
            if result.resource_failure is not None:
                status, because = Status.RESOURCE_FAILED, result.resource_failure
            events = self.take_events()
            return [key, status, events, result.message, error, because, None, attempt]
        try:
            outputs = {
                name: self._send(key, name, result.outputs[name], output_keys, flags.get(name, 0))
                for name in solid.output_names
            }
        except _NotTransportable as failure:
            self._mark_failed(key, solid, flags)
            return self._failed_after_success(key, failure, attempt)
        return [key, Status.SUCCESS, self.take_events(), None, None, None, outputs, attempt]

    def _mark_failed(self, key: str, solid: SolidDefinition, flags: Mapping[str, int]) -> None:
        if flags:
            failed = UpstreamFailed(key)
            for name in solid.output_names:
                self.cache[(key, name)] = failed

    def _send(
        self, key: str, name: str, value: Any, output_keys: Mapping[str, str], flags: int
    ) -> list[Any]:
        """How output `name` travels: with the result when small, else kept here (KEEP) and
        put in the object store (EXPORT)."""
        if flags & KEEP:
            self.cache[(key, name)] = value
        encoded = self._encoded(output_keys.get(name), value, key, name)
        payload, arrow = encoded.payload, encoded.arrow
        if payload is not None and len(payload) <= INLINE_LIMIT:
            if encoded.serializer == MSGPACK:
                return [Where.VALUE, value]
            if encoded.serializer == PICKLE:
                return [Where.PICKLED, payload]
        if arrow is not None and arrow.nbytes <= INLINE_LIMIT:
            return [Where.VALUE, value]
        if flags & EXPORT:
            return [Where.REF, ray.put(value)]
        return [Where.WORKER] if flags & KEEP else [Where.STORE]

    def _encoded(self, output_key: str | None, value: Any, key: str, name: str) -> Encoded:
        """The stored form of the value (made by the store writer, or now)."""
        encoded = None
        if self.writer is not None and output_key is not None:
            encoded = self.writer.take_encoded(output_key)
        if encoded is not None:
            return encoded
        try:
            return encode(value)
        except Exception as exc:
            raise _NotTransportable(key, name, value, exc) from None

    def _failed_after_success(
        self, key: str, failure: _NotTransportable, attempt: int
    ) -> WireResult:
        """The result of a step whose body succeeded but one of whose outputs cannot leave
        this process: its STEP_SUCCESS becomes a STEP_FAILURE."""
        events = [e for e in self.take_events() if e[0] != EventType.STEP_SUCCESS.value]
        info = error_info(failure.error)
        message = str(failure)
        self.emit(
            EventType.STEP_FAILURE, key, {**info.as_dict(), "message": message, "kind": "output"}
        )
        events.extend(self.take_events())
        return [key, Status.FAILURE, events, message, info.as_dict(), None, None, attempt]

    def release(self, addresses: list[list[str]]) -> None:
        """Forget outputs that no step sent here later reads."""
        for step, output in addresses:
            self.cache.pop((step, output), None)

    def export(self, addresses: list[list[str]]) -> list[list[Any]]:
        """Put cached outputs in the object store: [[step, output, ref or None], ...]."""
        exported = []
        for step, output in addresses:
            value = self.cache.get((step, output), _MISSING)
            ref = None if value is _MISSING or type(value) is UpstreamFailed else ray.put(value)
            exported.append([step, output, ref])
        return exported


class _NotTransportable(Exception):
    def __init__(self, step: str, output: str, value: Any, error: Exception) -> None:
        kind = type(value)
        super().__init__(
            f"output '{output}' of solid '{step}' cannot be sent to other workers: it cannot be "
            f"pickled ({type(error).__name__}: {error}; the value is a "
            f"{kind.__module__}.{kind.__qualname__})"
        )
        self.error = error


_MISSING = object()
