"""Tags that solidflow itself gives runs: a run's queue priority, and the schedule tick or
sweep point it was made for."""

from __future__ import annotations

from collections.abc import Mapping

PRIORITY_TAG = "solidflow/priority"
"""The run's priority in the queue, a whole number: higher starts first (default 0)."""
SCHEDULE_TAG = "solidflow/schedule"
"""The schedule that queued the run."""
TICK_TAG = "solidflow/tick"
"""The key of the schedule tick that queued the run."""
SWEEP_TAG = "solidflow/sweep"
"""The id of the sweep the run belongs to."""
SWEEP_POINT_TAG = "solidflow/sweep_point"
"""The run's point of its sweep: the config paths it sets and their values, as JSON."""


def priority_of(tags: Mapping[str, str]) -> int:
    """The queue priority the tags give (0 when they give none, or not a whole number)."""
    try:
        return int(tags.get(PRIORITY_TAG, 0))
    except ValueError:
        return 0
