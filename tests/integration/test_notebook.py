"""Notebook solids: a real notebook run by papermill on an ipykernel kernel."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from solidflow import Config, Instance, execute_pipeline, pipeline, solid
from solidflow.engine.events.records import EventType
from solidflow.integrations.notebook import notebook_solid, yield_output

pytestmark = [pytest.mark.xdist_group("notebook"), pytest.mark.notebook]

PARAMETERS = "rows = 2\nlabel = 'none'\nprefix = ''"
BODY = """
import pyarrow as pa
from solidflow.integrations.notebook import yield_output

names = [f"{prefix}{i}" for i in range(rows)]
table = pa.table({"name": names, "label": [label] * rows, "seed": [seed.num_rows] * rows})
yield_output(table, "table")
yield_output(len(names), "count")
"""


def _notebook(path: Path, *cells: str) -> Path:
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    parameters = nbformat.v4.new_code_cell(PARAMETERS)
    parameters.metadata["tags"] = ["parameters"]
    notebook.cells = [parameters, *(nbformat.v4.new_code_cell(cell) for cell in cells)]
    nbformat.write(notebook, path)
    return path


class TableSettings(Config):
    rows: int = 3
    label: str = "cereal"


@solid
def seed() -> pa.Table:
    return pa.table({"x": [1, 2, 3, 4]})


@solid
def longest_name(table: pa.Table) -> int:
    return pc.max(pc.utf8_length(table["name"])).as_py()


def _pipeline(notebook: Path, output_dir: Path):
    make_table = notebook_solid(
        "make_table",
        notebook,
        outs={"table": pa.Table, "count": int},
        config=TableSettings,
        inputs={"seed": pa.Table, "prefix": str},
        output_dir=output_dir,
    )

    @solid
    def prefix() -> str:
        return "item-"

    @pipeline
    def tables() -> None:
        table, _ = make_table(seed=seed(), prefix=prefix())
        longest_name(table)

    return tables


def test_a_notebook_solids_output_feeds_an_arrow_solid(tmp_path: Path) -> None:
    notebook = _notebook(tmp_path / "make_table.ipynb", BODY)
    tables = _pipeline(notebook, tmp_path / "executed")
    run_config = {"solids": {"make_table": {"config": {"rows": 12}}}}
    result = execute_pipeline(tables, run_config, instance=Instance(tmp_path / "home"))
    assert result.success
    table = result.output_for("make_table", "table")
    assert table.num_rows == 12
    assert set(table["label"].to_pylist()) == {"cereal"}  # a config field's default
    assert set(table["seed"].to_pylist()) == {4}  # a table input, loaded in the kernel
    assert result.output_for("make_table", "count") == 12
    assert result.output_for("longest_name") == len("item-11")
    [materialization] = result.result_for("make_table").materializations
    assert materialization.asset_key == "notebooks/make_table"
    executed = Path(materialization.metadata["path"])
    assert executed == tmp_path / "executed" / result.run_id / "make_table.ipynb"
    assert materialization.metadata["parameters"] == ["label", "prefix", "rows"]
    cells = nbformat.read(executed, as_version=4).cells
    injected = [c for c in cells if "injected-parameters" in c.metadata.get("tags", [])]
    assert "rows = 12" in injected[0].source and 'prefix = "item-"' in injected[0].source
    assert all(c.get("execution_count") for c in cells if c.cell_type == "code")


def test_a_failing_cell_fails_the_solid_and_keeps_the_executed_notebook(tmp_path: Path) -> None:
    notebook = _notebook(
        tmp_path / "broken.ipynb", "x = 1", "raise ValueError(f'bad rows: {rows}')"
    )
    broken = notebook_solid("broken", notebook, output_dir=tmp_path / "executed")

    @pipeline
    def breaking() -> None:
        broken()

    result = execute_pipeline(breaking, instance=Instance(tmp_path / "home"))
    assert not result.success
    message = result.result_for("broken").failure_message
    assert re.match(
        r"solid 'broken' raised NotebookError: notebook broken.ipynb failed in cell \d+: "
        r"ValueError: bad rows: 2 \(executed notebook: .*broken.ipynb\)",
        message,
    ), message
    [materialization] = result.result_for("broken").materializations
    assert materialization.metadata["success"] is False
    assert Path(materialization.metadata["path"]).exists()
    outputs = [e for e in result.events if e.type is EventType.STEP_OUTPUT]
    assert not outputs


def test_the_notebooks_content_is_its_code_version(tmp_path: Path) -> None:
    path = _notebook(tmp_path / "n.ipynb", "x = 1")
    before = notebook_solid("n", path).version
    assert notebook_solid("n", path).version == before
    _notebook(path, "x = 2")
    assert notebook_solid("n", path).version != before


def test_yield_output_outside_a_run_returns_the_value() -> None:
    assert yield_output(5, "anything") == 5
