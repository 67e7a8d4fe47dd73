"""Build a run's resources once per process, on first use, and tear them down at the end."""

from __future__ import annotations

import atexit
import inspect
import time
from collections.abc import Collection, Generator, Mapping
from typing import Any

from pydantic import BaseModel

from solidflow.definitions.resource import InitContext
from solidflow.engine.events.records import EventType
from solidflow.engine.plan.steps import ResourceSpec
from solidflow.engine.step.context import Emit, Resources, SolidLogger
from solidflow.engine.step.error_info import ErrorInfo, error_info


class ResourceInitError(Exception):
    """A resource failed to initialise; `info` describes the original error."""

    def __init__(self, key: str, info: ErrorInfo) -> None:
        super().__init__(
            f"resource '{key}' failed to initialise: {info.error_class}: {info.message}"
        )
        self.key = key
        self.info = info


_NONE = object()


class SharedResources:
    """The shared resources a process keeps for the runs that follow (see ResourceDefinition),
    by resource key, function and config; torn down when the process ends normally."""

    def __init__(self) -> None:
        self.values: dict[tuple[str, str, str], Any] = {}
        self.owner = ResourceManager("", {}, lambda *_: None)
        atexit.register(self.owner.teardown)

    @staticmethod
    def key(key: str, spec: ResourceSpec) -> tuple[str, str, str]:
        config = spec.config
        plain = config.model_dump() if isinstance(config, BaseModel) else config
        fn = spec.definition.fn
        return (key, f"{fn.__module__}.{fn.__qualname__}", repr(plain))


class ResourceManager:
    """Creates each resource at most once (a failure is remembered too) and tears them down;
    a shared resource comes from (and stays in) `shared`, and is not torn down with the run."""

    def __init__(
        self,
        run_id: str,
        specs: Mapping[str, ResourceSpec],
        emit: Emit,
        shared: SharedResources | None = None,
    ) -> None:
        self._run_id = run_id
        self._specs = specs
        self._emit = emit
        self._shared = shared
        self._values: dict[str, Any] = {}
        self._failures: dict[str, ResourceInitError] = {}
        self._generators: list[tuple[str, Generator[Any, None, None]]] = []

    def resources_for(self, keys: Collection[str], owner: str) -> Resources:
        """The resources `keys`, building those not built yet; raises ResourceInitError."""
        for key in sorted(keys):
            if key not in self._values:
                self._build(key)
        return Resources({key: self._values[key] for key in keys}, owner)

    def specs_for(self, keys: Collection[str]) -> dict[str, ResourceSpec]:
        """The specs of the resources `keys` (to build them in another process)."""
        return {key: self._specs[key] for key in keys if key in self._specs}

    def _build(self, key: str) -> None:
        if key in self._failures:
            raise self._failures[key]
        spec = self._specs[key]
        shared = self._shared if spec.definition.shared else None
        if shared is not None:
            found = shared.values.get(SharedResources.key(key, spec), _NONE)
            if found is not _NONE:
                self._values[key] = found
                return
        started = time.perf_counter()
        context = InitContext(
            config=spec.config,
            resource_key=key,
            run_id=self._run_id,
            log=SolidLogger(self._emit, None),
        )
        try:
            value = spec.definition.call(context)
            if inspect.isgenerator(value):
                generator = value
                try:
                    value = next(generator)
                except StopIteration:
                    raise RuntimeError("the resource generator finished without yielding") from None
                owner = self if shared is None else shared.owner
                owner._generators.append((key, generator))
        except Exception as exc:
            failure = ResourceInitError(key, error_info(exc))
            self._failures[key] = failure
            self._emit(
                EventType.RESOURCE_INIT,
                None,
                {
                    "resource": key,
                    "success": False,
                    "message": str(failure),
                    "error": failure.info.as_dict(),
                },
            )
            raise failure from exc
        self._values[key] = value
        if shared is not None:
            shared.values[SharedResources.key(key, spec)] = value
        self._emit(
            EventType.RESOURCE_INIT,
            None,
            {
                "resource": key,
                "success": True,
                "shared": shared is not None,
                "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                "message": f"resource '{key}' initialised",
            },
        )

    @property
    def holds_resources(self) -> bool:
        """Whether any resource was built (and so may need a teardown)."""
        return bool(self._values)

    def teardown(self) -> list[str]:
        """Run every teardown (last built first); returns the failure messages."""
        failures = []
        while self._generators:
            key, generator = self._generators.pop()
            started = time.perf_counter()
            try:
                next(generator)
            except StopIteration:
                message = None
            except BaseException as exc:  # one failing teardown never skips the others
                info = error_info(exc)
                message = f"resource '{key}' teardown failed: {info.error_class}: {info.message}"
            else:
                generator.close()
                message = f"resource '{key}' yielded more than once; teardown stopped"
            payload: dict[str, Any] = {
                "resource": key,
                "success": message is None,
                "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                "message": message or f"resource '{key}' torn down",
            }
            self._emit(EventType.RESOURCE_TEARDOWN, None, payload)
            if message:
                failures.append(message)
        self._values.clear()
        return failures
