"""The README's example runs as written."""

from __future__ import annotations

import re
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
