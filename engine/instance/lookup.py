"""Find a run by its id, a unique prefix of it, or "latest"."""

from __future__ import annotations

from solidflow.engine.instance.instance import Instance
from solidflow.engine.instance.runs import RunRecord
from solidflow.errors import RunNotFoundError

LATEST = "latest"


def find_run(instance: Instance, run_id: str) -> RunRecord:
    """The run with this id, the one run whose id starts with it, or the newest run for
    "latest".

    Raises:
        RunNotFoundError: no run matches, or several runs start with the prefix.
    """
    if not run_id:
        raise RunNotFoundError("give a run id, a unique prefix of one, or 'latest'")
    if run_id == LATEST:
        newest = instance.runs(limit=1)
        if not newest:
            raise RunNotFoundError(f"there are no runs in {instance.home}")
        return newest[0]
    found = instance.get_run(run_id)
    if found is not None:
        return found
    matches = [run for run in instance.runs() if run.run_id.startswith(run_id)]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise RunNotFoundError(
            f"run id prefix '{run_id}' matches {len(matches)} runs; give more of it"
        )
    raise RunNotFoundError(f"no run with id '{run_id}' in {instance.home}")
