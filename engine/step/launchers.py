"""Step launchers: a step whose body runs somewhere other than the executor's process (as a
Spark application, say) goes through the launcher that its solid's definition chooses.

Launchers are registered with `register_step_launcher` or through the entry points of the
group "solidflow.step_launchers", which are loaded when a solid with tags first runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from solidflow.definitions.solid import SolidDefinition
from solidflow.engine.step.context import Emit
from solidflow.engine.step.resources import ResourceManager
from solidflow.engine.step.task import StepResult, StepTask
from solidflow.engine.store import IntermediateStore
from solidflow.registry import PluginRegistry


class StepLauncher(Protocol):
    """Runs steps of the solids it `launches` elsewhere.

    `launch` records the step's events through `emit` (STEP_START first, then STEP_OUTPUT,
    STEP_SUCCESS or STEP_FAILURE...), stores its outputs in `store` under
    `task.output_keys`, and returns how the step ended; it never raises for a failure of the
    step. The other side usually runs the step with `run_step_here` (engine.step.runner),
    with the resources the step needs built there from `resources.specs_for(...)`.
    """

    def launches(self, solid: SolidDefinition) -> bool:
        """Whether steps of `solid` go through this launcher (say, because of its tags)."""
        ...

    def launch(
        self,
        task: StepTask,
        input_values: Mapping[str, Any],
        resources: ResourceManager,
        emit: Emit,
        store: IntermediateStore | None,
    ) -> StepResult:
        """Run the step elsewhere and return how it ended."""
        ...


STEP_LAUNCHERS: PluginRegistry[StepLauncher] = PluginRegistry(
    "solidflow.step_launchers", "step launcher"
)


def register_step_launcher(name: str, launcher: StepLauncher) -> StepLauncher:
    """Register `launcher` under `name`; it is asked before the launchers of entry points."""
    return STEP_LAUNCHERS.register(name, launcher)


def launcher_for(solid: SolidDefinition) -> StepLauncher | None:
    """The launcher of the first registered launcher that launches `solid`, or None to run
    its steps in the executor's process. Only solids with tags are asked about."""
    if not solid.tags:
        return None
    for launcher in reversed(STEP_LAUNCHERS.items().values()):
        if launcher.launches(solid):
            return launcher
    return None
