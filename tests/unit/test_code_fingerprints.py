"""What a solid's code fingerprint sees: the helpers, classes, module-level values and
libraries it reaches, and nothing else."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import pyarrow

from solidflow.engine.memo.code import CodeScanner
from solidflow.engine.memo.keys import solid_code
from tests.unit.user_code import Project

SHOP = """
import pyarrow as pa
import json
import pricing
from queries import Q5

def total(values):
    return pricing.discount(sum(values)) + len(Q5) + len(json.dumps(values))

def unused():
    return pa.table({"x": [1]})
"""
PRICING = """
def _round(value):
    return round(value, 2)

def discount(value):
    return _round(value * 0.9)

def unrelated():
    return 1
"""


def _parts(project: Project, module: str = "shop", function: str = "total") -> dict[str, str]:
    return dict(CodeScanner().function(getattr(project.load(module), function)).parts)


def _shop(project: Project) -> None:
    project.write("shop", SHOP)
    project.write("pricing", PRICING)
    project.write("queries", "Q5 = \"r_name = 'ASIA'\"\n")


def test_the_parts_are_the_helpers_constants_and_libraries_reached(project):
    _shop(project)
    parts = _parts(project)
    assert set(parts) == {"pricing.discount", "pricing._round", "queries.Q5"}
    assert parts["pricing.discount"].startswith("function:")
    assert parts["queries.Q5"].startswith("value:")
    project.write("shop", SHOP.replace("len(Q5)", "len(Q5) + pa.table({}).num_rows"))
    assert _parts(project)["pyarrow"] == f"package:{pyarrow.__version__}"


def test_an_edit_changes_exactly_the_part_edited(project):
    _shop(project)
    before = _parts(project)
    for module, old, new, changed in [
        ("pricing", "0.9", "0.8", {"pricing.discount"}),
        ("pricing", "2)", "3)", {"pricing._round"}),  # reached through discount
        ("queries", "ASIA", "EUROPE", {"queries.Q5"}),
        ("pricing", "return 1", "return 2", set()),  # a function nobody calls
        ("pricing", "def discount(value):", "def discount(value):  # a comment", set()),
        ("shop", "return pa.table", "return pa.Table.from_pydict", set()),
    ]:
        project.edit(module, old, new)
        after = _parts(project)
        assert {name for name in after if after[name] != before.get(name)} == changed, module
        before = after


def test_the_solid_itself_is_its_code_version(project):
    _shop(project)
    first = CodeScanner().function(project.load("shop").total)
    project.edit("shop", "len(Q5)", "len(Q5) * 2")
    second = CodeScanner().function(project.load("shop").total)
    assert first.version != second.version
    assert first.parts == second.parts


def test_classes_their_methods_and_class_level_values(project):
    project.write(
        "model",
        """
        BASE = 2

        class Scale:
            factor = BASE * 3

            def apply(self, x):
                return x * self.factor

        def run(x):
            return Scale().apply(x)
        """,
    )
    before = _parts(project, "model", "run")
    assert set(before) == {"model.Scale", "model.BASE"}
    project.edit("model", "BASE = 2", "BASE = 5")
    after = _parts(project, "model", "run")
    assert after["model.BASE"] != before["model.BASE"]
    project.edit("model", "x * self.factor", "x + self.factor")
    assert _parts(project, "model", "run")["model.Scale"] != after["model.Scale"]


def test_decorated_helpers_closures_and_imports_inside_functions(project):
    project.write(
        "helpers",
        """
        import contextlib
        import functools

        @functools.lru_cache
        def cached(x):
            return x + 1

        @contextlib.contextmanager
        def opened():
            yield 1

        def make(k):
            def add(x):
                return x + k
            return add

        ADD_ONE, ADD_TWO = make(1), make(2)
        """,
    )
    project.write(
        "user",
        """
        import helpers

        def run(x):
            from helpers import ADD_TWO
            with helpers.opened() as one:
                return helpers.cached(x) + helpers.ADD_ONE(x) + ADD_TWO(one)
        """,
    )
    parts = _parts(project, "user", "run")
    assert {"helpers.cached", "helpers.opened"} <= set(parts)
    closures = [name for name in parts if name.startswith("helpers.make.<locals>.add")]
    assert len(closures) == 1 and parts[closures[0]].startswith("multiple:")  # two closures
    project.edit("helpers", "make(1), make(2)", "make(1), make(3)")
    assert _parts(project, "user", "run")[closures[0]] != parts[closures[0]]
    project.edit("helpers", "yield 1", "yield 2")
    assert _parts(project, "user", "run")["helpers.opened"] != parts["helpers.opened"]


def test_recursion_and_long_chains_of_helpers(project):
    chain = "\n".join(f"def h{i}(x):\n    return h{i + 1}(x) + 1\n" for i in range(400))
    project.write("chain", chain + "\ndef h400(x):\n    return h0(x) if x < 0 else x\n")
    parts = _parts(project, "chain", "h0")
    assert len(parts) == 400  # h1 .. h400; h0 is the root


def test_values_that_cannot_be_fingerprinted_are_named_and_never_match(project):
    project.write(
        "locked",
        """
        import threading
        LOCK = threading.Lock()

        def run(x):
            with LOCK:
                return x
        """,
    )
    run = project.load("locked").run
    first, second = CodeScanner().function(run), CodeScanner().function(run)
    assert first.unfingerprintable == {"locked.LOCK": "_thread.lock"}
    assert first.parts["locked.LOCK"] != second.parts["locked.LOCK"]


def test_fingerprints_are_the_same_in_every_process(project):
    project.write(
        "sets",
        """
        KINDS = {"a", "b", "c", "d", "e", "f"}

        def run(x):
            return x in {"g", "h", "i", "j", "k"} or x in KINDS
        """,
    )
    script = textwrap.dedent(
        """
        import sys
        sys.path.insert(0, sys.argv[1])
        import sets
        from solidflow.engine.memo.code import CodeScanner
        found = CodeScanner().function(sets.run)
        print(found.version, sorted(found.parts.items()))
        """
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", script, str(project.root)],
            env={**os.environ, "PYTHONHASHSEED": seed, "PYTHONDONTWRITEBYTECODE": "1"},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in ("1", "2")
    }
    assert len(outputs) == 1


def test_the_fast_bytecode_reader_agrees_with_dis():
    import dis
    import json
    import types
    import zipfile

    from solidflow.engine.memo.reads import named_instructions
    from solidflow.engine.run import drive

    def codes(code: types.CodeType):
        yield code
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                yield from codes(const)

    functions = [
        function
        for module in (json.decoder, json.encoder, drive, textwrap, subprocess, zipfile)
        for value in vars(module).values()
        for function in ((value, *vars(value).values()) if isinstance(value, type) else (value,))
        if isinstance(function, types.FunctionType)
    ]
    loads = ("LOAD_GLOBAL", "LOAD_NAME", "LOAD_ATTR", "LOAD_METHOD", "IMPORT_NAME", "LOAD_CONST")
    compared = 0
    for function in functions:
        for code in codes(function.__code__):
            fast = [(op, arg) for op, arg in named_instructions(code) if op]
            slow = [(i.opname, i.argval) for i in dis.get_instructions(code) if i.opname in loads]
            assert fast == slow, code
            compared += 1
    assert compared > 300


def test_classes_a_solid_input_is_annotated_with_are_reached(project):
    project.write(
        "models",
        """
        from solidflow import solid

        class Model:
            def predict(self):
                return 1

        @solid
        def use(model: Model) -> int:
            return model.predict()
        """,
    )
    before = solid_code(project.load("models").use, CodeScanner()).parts
    project.edit("models", "return 1", "return 2")
    after = solid_code(project.load("models").use, CodeScanner()).parts
    assert set(before) == {"models.Model"}
    assert after["models.Model"] != before["models.Model"]


def test_long_chains_of_closures_and_functions_of_modules_imported_again(project):
    project.write(
        "compose",
        """
        def make(previous):
            def step(x):
                return previous(x) + 1
            return step

        def identity(x):
            return x

        LAST = identity
        for _ in range(500):
            LAST = make(LAST)

        def run(x):
            return LAST(x)
        """,
    )
    run = project.load("compose").run
    parts = CodeScanner().function(run).parts
    assert set(parts) == {"compose.make.<locals>.step", "compose.identity"}
    project.load("compose")  # `run` now belongs to a module that sys.modules no longer holds
    assert CodeScanner().function(run).parts == parts
