"""Memoization keys: what changes them and what does not."""

from __future__ import annotations

import gc
import importlib.util
import textwrap
import uuid

import pyarrow as pa

from solidflow import Config, Instance, pipeline, solid
from solidflow.engine.memo import memoization
from solidflow.engine.memo.code import CodeScanner
from solidflow.engine.memo.keys import (
    ResourceLineage,
    StepLineage,
    canonical_config,
    fingerprint,
    output_key,
    solid_code,
)
from solidflow.engine.memo.sources import function_hash
from solidflow.engine.run.prepare import prepare_run


def _function(tmp_path, source: str):
    """`f` from a module file holding `source` (so that its source can be read)."""
    path = tmp_path / f"module_{uuid.uuid4().hex}.py"
    path.write_text(textwrap.dedent(source))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.f


def test_function_hash_ignores_docstrings_comments_formatting_and_decorators(tmp_path):
    plain = _function(tmp_path, "def f(x):\n    return x + 1\n")
    decorated_and_documented = _function(
        tmp_path,
        '''
        import functools
        @functools.lru_cache
        def f(x):
            """Adds one."""
            # a comment
            return (x
                    + 1)
        ''',
    )
    assert function_hash(plain) == function_hash(decorated_and_documented.__wrapped__)


def test_function_hash_changes_with_the_body(tmp_path):
    one = _function(tmp_path, "def f(x):\n    return x + 1\n")
    two = _function(tmp_path, "def f(x):\n    return x + 2\n")
    assert function_hash(one).startswith("bytecode:")
    assert function_hash(one) != function_hash(two)


def test_solid_code_prefers_the_declared_version():
    @solid(version="7")
    def declared() -> int:
        return 1

    @solid
    def undeclared() -> int:
        return 1

    assert solid_code(declared, CodeScanner()).version == "version:7"
    assert solid_code(declared, CodeScanner()).parts == {}
    assert solid_code(undeclared, CodeScanner()).version.startswith("function:")


def test_functions_without_source_are_hashed_by_what_they_do():
    namespace: dict = {}
    exec("def f(x):\n    return x * 3\n", namespace)  # no file: no source to read
    three = function_hash(namespace["f"])
    exec("def f(x):\n    return x * 4\n", namespace)
    four = function_hash(namespace["f"])
    exec("def f(x):\n\n    # times three\n    return x * 3\n", namespace)
    assert three != four
    assert function_hash(namespace["f"]) == three


class Limits(Config):
    low: int = 0
    high: int = 10


def test_canonical_config_is_order_free_json():
    assert canonical_config(Limits(low=1, high=2)) == canonical_config(Limits(high=2, low=1))
    assert canonical_config(Limits(low=1)) != canonical_config(Limits(low=2))
    assert canonical_config(None) == "null"


def test_fingerprints_follow_content():
    assert fingerprint({"a": [1, 2], "b": "x"}) == fingerprint({"b": "x", "a": [1, 2]})
    assert fingerprint([1, 2]) != fingerprint([2, 1])
    assert fingerprint([1, 2]) != fingerprint((1, 2))
    table = pa.table({"x": [1, 2, 3]})
    assert fingerprint(table) == fingerprint(pa.table({"x": [1, 2, 3]}))
    assert fingerprint(table) != fingerprint(pa.table({"x": [1, 2, 4]}))
    beyond_64_bits = {"n": 2**70}
    assert fingerprint(beyond_64_bits) == fingerprint({"n": 2**70})
    assert fingerprint(beyond_64_bits) != fingerprint({"n": 2**70 + 1})
    assert fingerprint(beyond_64_bits) != fingerprint({"n": str(2**70)})


def test_unhashable_values_never_match():
    opaque = object()
    first, second = fingerprint(opaque), fingerprint(opaque)
    assert first.startswith("unhashable:") and first != second


def _lineage(**changes) -> StepLineage:
    base = {
        "solid": "load",
        "code_version": "version:1",
        "config": "null",
        "inputs": {"x": "k1"},
        "data_version": None,
    }
    return StepLineage(**{**base, **changes})


def test_every_part_of_the_lineage_changes_the_memo_key():
    base = _lineage()
    for change in (
        {"solid": "load_2"},
        {"code_version": "version:2"},
        {"config": '{"a":1}'},
        {"inputs": {"x": "k2"}},
        {"inputs": {"y": "k1"}},
        {"data_version": "etag-1"},
        {"code": {"pricing.discount": "function:1"}},
        {"resources": {"db": ResourceLineage(code_version="function:1")}},
        {"resources": {"db": ResourceLineage(code_version="function:1", config='{"a":1}')}},
    ):
        assert _lineage(**change).memo_key != base.memo_key, change
    assert _lineage().memo_key == base.memo_key
    assert output_key(base.memo_key, "result") != output_key(base.memo_key, "other")
    assert len(base.memo_key) == 64


@solid
def _collects_garbage() -> bool:
    return gc.isenabled()


def test_keys_are_computed_without_collections_and_the_collector_is_restored(tmp_path, monkeypatch):
    @pipeline
    def one():
        _collects_garbage()

    with Instance(tmp_path) as instance:
        plan = prepare_run(one, None, None, None, None, instance).plan
    seen = []
    compute = memoization._plan_keys
    monkeypatch.setattr(
        memoization, "_plan_keys", lambda *args: seen.append(gc.isenabled()) or compute(*args)
    )
    assert gc.isenabled()
    first = memoization.plan_keys(plan, lambda step, message: None)
    assert seen == [False] and gc.isenabled()
    gc.disable()
    try:
        assert memoization.plan_keys(plan, lambda step, message: None) == first
        assert not gc.isenabled()  # left as it was
    finally:
        gc.enable()
