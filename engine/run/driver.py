"""The driver of a launched run in its own process:
`python -m solidflow.engine.run.driver RUN_ID --home HOME` (see SubprocessRunLauncher).

Exit codes: 0 the run succeeded, 1 it failed, 2 it could not start (the message says why,
and the run records it), 130 it was canceled.
"""

from __future__ import annotations

import argparse
import signal
import sys

from solidflow.engine.instance import Instance
from solidflow.engine.instance.runs import RunRecord, RunStatus
from solidflow.engine.run.drive import drive_run
from solidflow.engine.run.launch import target_of
from solidflow.engine.run.monitor import terminate_as_interrupt
from solidflow.engine.run.targets import load_pipeline
from solidflow.errors import SolidflowError

EXIT_CODES = {RunStatus.SUCCESS: 0, RunStatus.FAILURE: 1, RunStatus.CANCELED: 130}
EXIT_CANNOT_START = 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {__spec__.name if __spec__ else 'driver'}")
    parser.add_argument("run_id")
    parser.add_argument("--home", required=True)
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, terminate_as_interrupt)
    try:
        instance = Instance(args.home)
        run = instance.get_run(args.run_id)
        if run is None:
            print(f"error: no run with id '{args.run_id}' in {instance.home}", file=sys.stderr)
            return EXIT_CANNOT_START
        try:
            pipeline, _ = load_pipeline(target_of(run))
        except SolidflowError as error:
            _end_unstarted(instance, run, RunStatus.FAILURE, f"cannot load the pipeline: {error}")
            raise
        except KeyboardInterrupt:
            _end_unstarted(instance, run, RunStatus.CANCELED, "run canceled before it started")
            raise
        result = drive_run(run, pipeline, instance)
    except SolidflowError as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_CANNOT_START
    except KeyboardInterrupt:
        return EXIT_CODES[RunStatus.CANCELED]
    return EXIT_CODES[result.status]


def _end_unstarted(instance: Instance, run: RunRecord, status: RunStatus, message: str) -> None:
    instance.end_run(run, status, message, expected=[RunStatus.STARTING, RunStatus.CANCELING])


if __name__ == "__main__":
    sys.exit(main())
