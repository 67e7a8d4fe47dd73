"""Every class of user mistake through the CLI: exit code 2 for usage, target, definition and
config mistakes and 1 for a run that fails, one message that names the thing, no traceback,
and what was committed before (a run, its events, its stored outputs) is still there."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from solidflow.engine import Instance
from solidflow.engine.instance.runs import RunStatus
from tests.e2e.conftest import SOLIDFLOW, Completed, target

FILES = {
    "good.yaml": "solids:\n  number:\n    config:\n      value: 2\n",
    "typo.yaml": "solids:\n  numbr:\n    config:\n      value: 2\n",
    "wrong_type.yaml": "solids:\n  number:\n    config:\n      value: two\n",
    "not_yaml.yaml": "solids: [\n",
    "a_list.yaml": "- 1\n",
    "dask.yaml": "execution:\n  dask: {}\n",
    "syntax.py": "from solidflow import pipeline\n\ndef broken(:\n",
}


class Home:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.env = {**os.environ, "SOLIDFLOW_HOME": str(directory / "home"), "COLUMNS": "200"}

    def cli(self, *args: str) -> Completed:
        done = subprocess.run(
            [*SOLIDFLOW, *args],
            capture_output=True,
            text=True,
            env=self.env,
            cwd=self.directory,
            timeout=120,
        )
        return Completed(done.returncode, done.stdout, done.stderr)

    def committed(self) -> tuple[object, ...]:
        """The first run, its events and the stored outputs: what no mistake may lose."""
        with Instance(self.directory / "home") as instance:
            first = instance.runs()[-1]
            events = [(e.seq, e.type, e.step) for e in instance.events(first.run_id)]
        return (
            first.run_id,
            first.status,
            events,
            self.cli("store", "ls", "--run", first.run_id).out,
        )


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Home]:
    directory = tmp_path_factory.mktemp("bad-input")
    for name, text in FILES.items():
        (directory / name).write_text(text)
    home = Home(directory)
    done = home.cli("run", target("arithmetic"), "-c", "good.yaml", "--memoize")
    assert done.code == 0, done.err
    yield home


MISTAKES = [
    # usage
    (("frobnicate",), 2, "No such command 'frobnicate'"),
    (("run",), 2, "Missing argument 'TARGET'"),
    (("run", target("arithmetic"), "--bogus"), 2, "No such option '--bogus'"),
    (("run", target("arithmetic"), "--tag", "team"), 2, "tag 'team' must look like key=value"),
    (("run", target("arithmetic"), "-c", "gone.yaml"), 2, "cannot read config file gone.yaml"),
    (("store", "gc", "--older-than", "soon"), 2, "'soon' is not an age"),
    # targets and definitions
    (("run", "nope.py:arithmetic"), 2, "no such file"),
    (("run", "no_such_module:arithmetic"), 2, "no module named 'no_such_module'"),
    (("run", target("nopipe")), 2, "has no attribute 'nopipe'"),
    (("run", target("number")), 2, "'number' in"),
    (("run", "syntax.py:broken"), 2, "'syntax.py': SyntaxError: invalid syntax (/"),
    # config and run arguments
    (("run", target("arithmetic"), "-c", "typo.yaml"), 2, "solids.numbr: unknown key 'numbr'"),
    (("run", target("arithmetic"), "-c", "wrong_type.yaml"), 2, "solids.number.config.value"),
    (("run", target("arithmetic"), "-c", "not_yaml.yaml"), 2, "not_yaml.yaml is not valid YAML"),
    (("run", target("arithmetic"), "-c", "a_list.yaml"), 2, "a_list.yaml must hold a mapping"),
    (("run", target("arithmetic"), "-c", "good.yaml", "-c", "dask.yaml"), 2, "execution:"),
    (("run", target("arithmetic"), "-c", "good.yaml", "--mode", "fast"), 2, "mode 'fast'"),
    (("run", target("arithmetic"), "-c", "good.yaml", "--executor", "dask"), 2, "'dask'"),
    (("run", target("arithmetic"), "-c", "good.yaml", "--select", "dobule"), 2, "'dobule'"),
    # runs that do not exist
    (("logs", "nosuchrun"), 2, "no run with id 'nosuchrun'"),
    (("reexecute", "nosuchrun"), 2, "no run with id 'nosuchrun'"),
    (("cancel", "nosuchrun"), 2, "no run with id 'nosuchrun'"),
    # a run that fails
    (("run", target("failing")), 1, "1 of 4 steps failed: explode"),
]


@pytest.mark.parametrize(("arguments", "code", "names"), MISTAKES, ids=lambda v: str(v))
def test_a_mistake_gets_one_message_and_its_exit_code(home, arguments, code, names):
    before = home.committed()
    done = home.cli(*arguments)
    assert done.code == code, done.err
    output = done.err if code == 2 else done.out
    assert names in output
    if code == 2:
        assert "Traceback" not in done.err
        said = [line for line in done.err.splitlines() if line.lower().startswith("error:")]
        assert len(said) == 1, done.err
    assert home.committed() == before
    assert before[1] is RunStatus.SUCCESS
