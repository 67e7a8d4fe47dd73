"""The README's example runs as written."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_example_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("SOLIDFLOW_HOME", str(tmp_path))
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
    assert blocks, "the README has no Python example"
    namespace: dict = {"__name__": "__main__"}
    exec(compile(blocks[0], str(README), "exec"), namespace)  # the example asserts its own result
    result = namespace["result"]
    assert result.success
    assert result.output_for("total") == 20
    kept = result.result_for("keep_even")
    assert [e.label for e in kept.expectation_results] == ["some rows are even"]


def test_readme_codec_example_stores_and_loads_a_user_class(tmp_path, monkeypatch):
    from solidflow.engine.store import IntermediateStore
    from solidflow.engine.store.codec_registry import CODECS, describe

    [block] = [
        block
        for block in re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)
        if "register_codec(" in block
    ]
    module = types.ModuleType("readme_codec")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    exec(compile(block, str(README), "exec"), module.__dict__)
    namespace = module.__dict__
    try:
        readings = namespace["Readings"]("north", [1.0, 2.5])
        store = IntermediateStore(tmp_path / "store")
        stored = store.put("ab" * 16, readings, run_id="r", step="s", output="result")
        assert (stored.serializer, stored.python_type) == ("arrow", "readme_codec.Readings")
        assert store.get("ab" * 16) == readings
        assert describe(readings) == {"sensor": "north", "readings": 2}
    finally:
        CODECS.unregister("readme_codec.Readings")
