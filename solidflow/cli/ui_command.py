"""`solidflow ui`: the web UI and HTTP API."""

from __future__ import annotations

from pathlib import Path

import click

from solidflow.cli.common import instance_of, user_errors


@click.command()
@click.argument("targets", nargs=-1)
@click.option(
    "-w",
    "--workspace",
    type=click.Path(dir_okay=False),
    default=None,
    help="YAML file listing pipeline targets under 'targets:'.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", type=int, default=3000, show_default=True, help="0 takes a free port.")
@click.option("--read-only", is_flag=True, help="Refuse every change (launch, cancel, delete).")
@click.pass_context
@user_errors
def ui(
    ctx: click.Context,
    targets: tuple[str, ...],
    workspace: str | None,
    host: str,
    port: int,
    read_only: bool,
) -> None:
    """Serve the web UI and HTTP API for TARGETs ("file.py:name" or "module:name") or a
    workspace file."""
    try:
        from solidflow.web.server import serve
        from solidflow.web.workspace import Workspace, load_workspace
    except ImportError as error:
        raise click.UsageError(
            f"the UI needs solidflow's web extra ({error.name} is missing): "
            "pip install 'solidflow[web]'"
        ) from None
    if workspace is not None and targets:
        raise click.UsageError("give either TARGETs or --workspace, not both")
    if workspace is not None:
        chosen = load_workspace(workspace)
    elif targets:
        chosen = Workspace(targets=targets, root=Path.cwd())
    else:
        raise click.UsageError("give pipeline TARGETs or --workspace FILE")
    serve(chosen, instance_of(ctx), host, port, read_only)
