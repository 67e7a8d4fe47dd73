"""notebook_solid: a solid that runs a Jupyter notebook with papermill on a real kernel."""

from __future__ import annotations

import hashlib
import inspect
import os
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from solidflow.definitions.config import is_config_class, plain_config
from solidflow.definitions.events import Materialization, Output
from solidflow.definitions.solid import Out, SolidDefinition, solid
from solidflow.errors import DefinitionError
from solidflow.integrations.notebook.api import read_value, write_value

INJECTED_TAG = "solidflow-injected"
"""The tag of the cell that sets up the notebook API and loads inputs that are not plain data."""


class NotebookError(RuntimeError):
    """A cell of the notebook raised."""


def _is_plain(value: Any) -> bool:
    """Whether papermill can pass `value` as a parameter (written as Python source)."""
    if value is None or isinstance(value, (str, int, float, bool)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_is_plain(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_plain(v) for k, v in value.items())
    return False


def _config_parameters(schema: Any, config: Any) -> dict[str, Any]:
    """Config as notebook parameters: a Config's fields, or a scalar config as `config`."""
    if schema is None:
        return {}
    plain = plain_config(config)
    return dict(plain) if is_config_class(schema) else {"config": plain}


def _default_output_dir() -> Path:
    home = os.environ.get("SOLIDFLOW_HOME") or Path.home() / ".solidflow"
    return Path(home).expanduser() / "notebooks"


def _inject(notebook: Any, outputs_dir: Path, files: Mapping[str, Path]) -> None:
    """Add the cell that points the notebook API at `outputs_dir` and loads the inputs saved
    to `files`, after the cell tagged "parameters" (papermill puts its parameters between)."""
    import nbformat

    lines = [
        "import solidflow.integrations.notebook.api as _solidflow_notebook",
        f"_solidflow_notebook.begin({str(outputs_dir)!r})",
        *(
            f"{name} = _solidflow_notebook.read_value({str(path)!r})"
            for name, path in files.items()
        ),
    ]
    cell = nbformat.v4.new_code_cell("\n".join(lines))  # type: ignore[no-untyped-call]  # nbformat is not annotated
    cell.metadata["tags"] = [INJECTED_TAG]
    tagged = [i for i, c in enumerate(notebook.cells) if "parameters" in c.metadata.get("tags", [])]
    notebook.cells.insert(tagged[0] + 1 if tagged else 0, cell)


def _run(
    context: Any,
    notebook_path: Path,
    parameters: dict[str, Any],
    values: Mapping[str, Any],
    output_names: tuple[str, ...],
    output_dir: Path,
    kernel_name: str | None,
    timeout: float | None,
) -> Iterator[Any]:
    try:
        import nbformat
        import papermill
    except ModuleNotFoundError as error:
        raise NotebookError(
            f"notebook solids need {error.name}: pip install 'solidflow[notebook]'"
        ) from None
    executed = output_dir / context.run_id / f"{context.solid_name}.ipynb"
    executed.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="solidflow-notebook-") as scratch:
        outputs_dir = Path(scratch) / "outputs"
        outputs_dir.mkdir()
        files = {}
        for name, value in values.items():
            if _is_plain(value):
                parameters[name] = value
            else:
                files[name] = Path(scratch) / f"{name}.input.pickle"
                write_value(files[name], value)
        notebook = nbformat.read(notebook_path, as_version=4)  # type: ignore[no-untyped-call]  # nbformat is not annotated
        _inject(notebook, outputs_dir, files)
        kernel = kernel_name or notebook.metadata.get("kernelspec", {}).get("name") or "python3"
        context.log.info(f"running {notebook_path.name} on kernel {kernel}")
        started = time.perf_counter()
        failure = None
        try:
            papermill.execute_notebook(
                notebook,
                str(executed),
                parameters=parameters,
                kernel_name=kernel,
                language="python",
                cwd=str(notebook_path.parent),
                progress_bar=False,
                execution_timeout=timeout,
            )
        except papermill.PapermillExecutionError as error:
            failure = error
        yield Materialization(
            asset_key=f"notebooks/{context.solid_name}",
            description=f"{notebook_path.name} as executed",
            metadata={
                "path": str(executed),
                "notebook": str(notebook_path),
                "parameters": sorted(parameters),
                "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                "success": failure is None,
            },
        )
        if failure is not None:
            raise NotebookError(
                f"notebook {notebook_path.name} failed in cell {failure.exec_count}: "
                f"{failure.ename}: {failure.evalue} (executed notebook: {executed})"
            )
        for name in output_names:
            produced = outputs_dir / f"{name}.pickle"
            if produced.exists():
                yield Output(read_value(str(produced)), name)


def notebook_solid(
    name: str,
    path: str | os.PathLike[str],
    outs: Mapping[str, Any] | None = None,
    config: Any = None,
    inputs: Mapping[str, Any] | None = None,
    *,
    description: str | None = None,
    output_dir: str | os.PathLike[str] | None = None,
    kernel_name: str | None = None,
    timeout: float | None = None,
    tags: Mapping[str, Any] | None = None,
) -> SolidDefinition:
    """A solid that runs the Jupyter notebook at `path` with papermill on a real kernel.

    Parameters of the notebook are the config's fields (a scalar config is `config`) and the
    inputs (`inputs` maps their names to types); plain values are papermill parameters, other
    values (tables, arrays) are loaded by a cell added after them. The notebook records outputs
    with `yield_output(value, name)`; `outs` declares them (default: an optional `result`).
    The executed notebook is written to `output_dir/<run id>/<solid>.ipynb` (default:
    `$SOLIDFLOW_HOME/notebooks`, else `~/.solidflow/notebooks`) and recorded as a
    materialization, also when a cell raises. The memo key sees the notebook's content.
    """
    notebook_path = Path(path).expanduser().resolve()
    if not notebook_path.is_file():
        raise DefinitionError(f"notebook solid '{name}': no notebook at {notebook_path}")
    declared = dict(outs) if outs is not None else {"result": Out(Any, is_required=False)}
    output_names = tuple(declared)
    directory = Path(output_dir).expanduser() if output_dir is not None else _default_output_dir()

    def run_notebook(context: Any, **values: Any) -> Iterator[Any]:
        parameters = _config_parameters(config, values.pop("config", None))
        yield from _run(
            context,
            notebook_path,
            parameters,
            values,
            output_names,
            directory,
            kernel_name,
            timeout,
        )

    parameters = [inspect.Parameter("context", inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    if config is not None:
        parameters.append(
            inspect.Parameter("config", inspect.Parameter.KEYWORD_ONLY, annotation=config)
        )
    for input_name, annotation in (inputs or {}).items():
        parameters.append(
            inspect.Parameter(input_name, inspect.Parameter.KEYWORD_ONLY, annotation=annotation)
        )
    run_notebook.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    run_notebook.__annotations__ = {
        p.name: p.annotation for p in parameters if p.annotation is not inspect.Parameter.empty
    }
    run_notebook.__name__ = run_notebook.__qualname__ = name
    content = hashlib.sha256(notebook_path.read_bytes()).hexdigest()[:16]
    return solid(
        name=name,
        description=description or f"runs the notebook {notebook_path.name}",
        version=f"notebook:{notebook_path.name}:{content}",
        outs=declared,
        tags=tags,
    )(run_notebook)
