"""Memoization keys: what changes them and what does not."""

from __future__ import annotations

import importlib.util
import textwrap
import uuid

import pyarrow as pa

from solidflow import Config, solid
from solidflow.engine.memo.keys import (
    StepLineage,
    canonical_config,
    code_version,
    fingerprint,
    output_key,
    source_version,
)


def _function(tmp_path, source: str):
    """`f` from a module file holding `source` (so that its source can be read)."""
    path = tmp_path / f"module_{uuid.uuid4().hex}.py"
    path.write_text(textwrap.dedent(source))
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.f


def test_source_version_ignores_docstrings_comments_formatting_and_decorators(tmp_path):
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
    assert source_version(plain) == source_version(decorated_and_documented.__wrapped__)


def test_source_version_changes_with_the_body(tmp_path):
    one = _function(tmp_path, "def f(x):\n    return x + 1\n")
    two = _function(tmp_path, "def f(x):\n    return x + 2\n")
    assert source_version(one).startswith("source:")
    assert source_version(one) != source_version(two)


def test_code_version_prefers_the_declared_version():
    @solid(version="7")
    def declared() -> int:
        return 1

    @solid
    def undeclared() -> int:
        return 1

    assert code_version(declared) == "version:7"
    assert code_version(undeclared).startswith("source:")


def test_functions_without_source_fall_back_to_bytecode():
    namespace: dict = {}
    exec("def f(x):\n    return x * 3\n", namespace)  # no file: inspect cannot find the source
    assert source_version(namespace["f"]).startswith("bytecode:")
    exec("def f(x):\n    return x * 4\n", namespace)
    other = namespace["f"]
    exec("def f(x):\n    return x * 3\n", namespace)
    assert source_version(namespace["f"]) != source_version(other)


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
    ):
        assert _lineage(**change).memo_key != base.memo_key, change
    assert _lineage().memo_key == base.memo_key
    assert output_key(base.memo_key, "result") != output_key(base.memo_key, "other")
    assert len(base.memo_key) == 64
