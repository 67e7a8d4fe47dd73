"""Random pipelines of real modules under random edits: after each edit, a memoized run
executes exactly the steps whose key inputs changed (and their descendants), never fewer
(a stale output served) and never more, and every output has its current value.

The pipeline's solids call helpers (which call other helpers and read constants of another
module), read constants, require resources that differ between two modes, take config and
have a data version. Edits rewrite the modules on disk, which are imported again as a new
process would."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from solidflow import Instance, execute_pipeline
from solidflow.engine.events.records import EventType
from tests.unit.user_code import Project

HELPERS = 4
CONSTANTS = 3
EDITS = (
    "helper",
    "constant",
    "solid",
    "config",
    "mode",
    "resource_config",
    "data",
    "unused_helper",
    "comment",
)


@dataclass
class Model:
    """The pipeline as data, the state of every editable thing, and the source it makes."""

    parents: list[list[int]]
    helper_calls: list[list[int]]  # helper j calls helpers k > j
    helper_constants: list[list[int]]
    solid_helpers: list[list[int]]
    solid_constants: list[list[int]]
    solid_resources: list[list[str]]
    helper_literals: list[int] = field(default_factory=lambda: [10 * j for j in range(HELPERS)])
    constants: list[int] = field(default_factory=lambda: [100 + c for c in range(CONSTANTS)])
    solid_literals: list[int] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)
    data: list[int] = field(default_factory=list)
    factors: dict[str, int] = field(default_factory=lambda: {"a": 1, "b": 1})
    mode: str = "prod"
    unused: int = 0
    comments: int = 0

    example: int = 0
    """Makes the keys of every example differ from those of the others (they share a store)."""

    def __post_init__(self) -> None:
        size = len(self.parents)
        self.solid_literals = [1000 * i + 10**6 * self.example for i in range(size)]
        self.offsets = [0] * size
        self.data = [0] * size

    # -- what the model says ----------------------------------------------------------

    def _helper_reach(self, helpers: list[int]) -> set[int]:
        reached, stack = set(), list(helpers)
        while stack:
            j = stack.pop()
            if j not in reached:
                reached.add(j)
                stack.extend(self.helper_calls[j])
        return reached

    def helper_value(self, j: int, x: int) -> int:
        return (
            x
            + self.helper_literals[j]
            + sum(self.helper_value(k, x) for k in self.helper_calls[j])
            + sum(self.constants[c] for c in self.helper_constants[j])
        )

    def resource_value(self, key: str) -> int:
        if key == "a":
            return 3 * self.factors["a"] if self.mode == "prod" else 7
        return 5 * self.factors["b"]

    def _resource_signature(self, key: str) -> tuple:
        if key == "a":
            return ("a", self.mode, self.factors["a"]) if self.mode == "prod" else ("a", "dev")
        return ("b", self.factors["b"])

    def signature(self, i: int) -> tuple:
        """Everything the key of step i depends on."""
        helpers = self._helper_reach(self.solid_helpers[i])
        constants = set(self.solid_constants[i]).union(*(self.helper_constants[j] for j in helpers))
        return (
            self.solid_literals[i],
            self.offsets[i],
            self.data[i],
            tuple(sorted((j, self.helper_literals[j]) for j in helpers)),
            tuple(sorted((c, self.constants[c]) for c in constants)),
            tuple(self._resource_signature(key) for key in self.solid_resources[i]),
            tuple(self.signature(p) for p in self.parents[i]),
        )

    def values(self) -> list[int]:
        found: list[int] = []
        for i, parents in enumerate(self.parents):
            found.append(
                sum(found[p] for p in parents)
                + self.offsets[i]
                + self.solid_literals[i]
                + sum(self.helper_value(j, 1) for j in self.solid_helpers[i])
                + sum(self.constants[c] for c in self.solid_constants[i])
                + sum(self.resource_value(key) for key in self.solid_resources[i])
                + self.data[i]
            )
        return found

    # -- the modules ----------------------------------------------------------------

    def constants_source(self) -> str:
        return "".join(f"C{c} = {value}\n" for c, value in enumerate(self.constants))

    def helpers_source(self, names: dict[str, str]) -> str:
        lines = [f"import {names['constants']}", f"from {names['constants']} import C0, C2", ""]
        for j in range(HELPERS):
            terms = [f"x + {self.helper_literals[j]}"]
            terms += [f"h{k}(x)" for k in self.helper_calls[j]]
            terms += [  # C0 and C2 as imported names, C1 through the module
                f"{names['constants']}.C{c}" if c == 1 else f"C{c}"
                for c in self.helper_constants[j]
            ]
            comment = "    # a comment\n" * (self.comments if j == 0 else 0)
            lines.append(f"def h{j}(x):\n{comment}    return {' + '.join(terms)}\n")
        lines.append(f"def unused(x):\n    return x + {self.unused}\n")
        return "\n".join(lines)

    def pipeline_source(self, names: dict[str, str], data: Path) -> str:
        lines = [
            f"import {names['helpers']}",
            f"import {names['constants']}",
            "from solidflow import Config, Mode, pipeline, resource, solid",
            "",
            "class Offset(Config):",
            "    k: int = 0",
            "",
            "class Factor(Config):",
            "    factor: int = 1",
            "",
            "@resource(config=Factor)",
            "def prod_a(init_context):",
            "    return 3 * init_context.config.factor",
            "",
            "@resource",
            "def dev_a(init_context):",
            "    return 7",
            "",
            "@resource(config=Factor)",
            "def shared_b(init_context):",
            "    return 5 * init_context.config.factor",
            "",
            f"DATA = {str(data)!r}",
            "",
            "def data_version(context):",
            "    with open(f'{DATA}/{context.solid_name}') as file:",
            "        return file.read()",
            "",
        ]
        for i, parents in enumerate(self.parents):
            terms = ["config.k", str(self.solid_literals[i])]
            terms += ["sum(values)"] if parents else []
            terms += [f"{names['helpers']}.h{j}(1)" for j in self.solid_helpers[i]]
            terms += [f"{names['constants']}.C{c}" for c in self.solid_constants[i]]
            terms += [f"context.resources.{key}" for key in self.solid_resources[i]]
            keys = "{" + ", ".join(repr(key) for key in self.solid_resources[i]) + "}"
            inputs = "values: list, " if parents else ""
            lines += [
                f"@solid(required_resource_keys={keys or 'set()'}, data_version=data_version)",
                f"def n{i}(context, {inputs}config: Offset) -> int:",
                f"    with open(f'{{DATA}}/n{i}') as file:",
                f"        return int(file.read()) + {' + '.join(terms)}",
                "",
            ]
        lines += [
            "@pipeline(modes=[Mode('prod', resources={'a': prod_a, 'b': shared_b}),",
            "                 Mode('dev', resources={'a': dev_a, 'b': shared_b})])",
            "def edited():",
            "    handles = []",
        ]
        for i, parents in enumerate(self.parents):
            call = (
                f"n{i}([{', '.join(f'handles[{p}]' for p in parents)}])" if parents else f"n{i}()"
            )
            lines.append(f"    handles.append({call})")
        return "\n".join(lines) + "\n"

    def run_config(self) -> dict[str, Any]:
        size = len(self.parents)
        resources: dict[str, Any] = {"b": {"config": {"factor": self.factors["b"]}}}
        if self.mode == "prod":
            resources["a"] = {"config": {"factor": self.factors["a"]}}
        return {
            "solids": {f"n{i}": {"config": {"k": self.offsets[i]}} for i in range(size)},
            "resources": resources,
        }


_examples = iter(range(10**9))


@st.composite
def models_and_edits(draw: st.DrawFn) -> tuple[Model, list[tuple[str, int]]]:
    size = draw(st.integers(min_value=1, max_value=6))

    def subset(values: range, most: int) -> list[int]:
        return sorted(draw(st.sets(st.sampled_from(values), max_size=most))) if values else []

    model = Model(
        parents=[subset(range(i), 3) for i in range(size)],
        helper_calls=[subset(range(j + 1, HELPERS), 1) for j in range(HELPERS)],
        helper_constants=[subset(range(CONSTANTS), 1) for _ in range(HELPERS)],
        solid_helpers=[subset(range(HELPERS), 2) for _ in range(size)],
        solid_constants=[subset(range(CONSTANTS), 1) for _ in range(size)],
        solid_resources=[
            sorted(draw(st.sets(st.sampled_from(["a", "b"]), max_size=2))) for _ in range(size)
        ],
        example=next(_examples),
    )
    edits = draw(
        st.lists(
            st.tuples(st.sampled_from(EDITS), st.integers(min_value=0, max_value=HELPERS * 6)),
            min_size=1,
            max_size=4,
        )
    )
    return model, edits


def _apply(model: Model, kind: str, n: int) -> None:
    size = len(model.parents)
    if kind == "helper":
        model.helper_literals[n % HELPERS] += 1
    elif kind == "constant":
        model.constants[n % CONSTANTS] += 1
    elif kind == "solid":
        model.solid_literals[n % size] += 1
    elif kind == "config":
        model.offsets[n % size] += 1
    elif kind == "mode":
        model.mode = "dev" if model.mode == "prod" else "prod"
    elif kind == "resource_config":
        model.factors["ab"[n % 2]] += 1
    elif kind == "data":
        model.data[n % size] += 1
    elif kind == "unused_helper":
        model.unused += 1
    else:
        model.comments += 1


@pytest.fixture
def instance(tmp_path: Path) -> Iterator[Instance]:
    """One instance for all the examples of a test (creating one costs more than a run)."""
    made = Instance(tmp_path / "home")
    yield made
    made.close()


SEQUENCES = 2 * settings.default.max_examples
"""Edit sequences to try: cheap, so twice the profile's examples (600 in the CI profile)."""


@settings(
    max_examples=SEQUENCES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=models_and_edits())
def test_exactly_the_steps_an_edit_affects_rerun(tmp_path_factory, instance, case):
    model, edits = case
    names = {kind: f"{kind}_{model.example}" for kind in ("constants", "helpers", "pipeline")}
    root = tmp_path_factory.mktemp("edits")
    data = root / "data"
    data.mkdir()
    project = Project(root / "modules")
    stored: list[set[tuple]] = [set() for _ in model.parents]
    sys.path.insert(0, str(project.root))
    dont_write_bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, True

    def run() -> tuple[set[str], set[str]]:
        for i, value in enumerate(model.data):
            (data / f"n{i}").write_text(str(value))
        project.write(names["constants"], model.constants_source())
        project.write(names["helpers"], model.helpers_source(names))
        project.write(names["pipeline"], model.pipeline_source(names, data))
        edited = project.load(names["pipeline"]).edited
        result = execute_pipeline(
            edited, model.run_config(), mode=model.mode, instance=instance, memoize=True
        )
        assert result.success, [e.message for e in result.events]
        expected = model.values()
        for i in range(len(model.parents)):  # memoized or not, every output is current
            assert result.output_for(f"n{i}") == expected[i], f"n{i}"
        should_run = {f"n{i}" for i in range(len(stored)) if model.signature(i) not in stored[i]}
        for i, found in enumerate(stored):
            found.add(model.signature(i))
        executed = {e.step for e in result.events if e.type is EventType.STEP_SUCCESS}
        return executed, should_run

    try:
        executed, should_run = run()
        assert executed == should_run == {f"n{i}" for i in range(len(model.parents))}
        assert run()[0] == set()
        for kind, n in edits:
            _apply(model, kind, n)
            executed, should_run = run()
            assert executed == should_run, (kind, n)
    finally:
        project.forget()
        sys.path.remove(str(project.root))
        sys.dont_write_bytecode = dont_write_bytecode
