"""`explain`: what a step's memo key is made of."""

from __future__ import annotations

import click
from rich.table import Table
from rich.text import Text

from solidflow.cli.common import (
    config_option,
    err_console,
    instance_of,
    mode_option,
    user_errors,
    wide_console,
)
from solidflow.cli.config_files import load_run_config
from solidflow.engine import StepKey, explain_step, load_pipeline


@click.command()
@click.argument("target")
@click.argument("step")
@config_option
@mode_option
@click.pass_context
@user_errors
def explain(
    ctx: click.Context, target: str, step: str, configs: tuple[str, ...], mode: str | None
) -> None:
    """List the parts of the memo key of STEP in TARGET with their fingerprints: its code and
    everything it reads (helpers, classes, module-level values, libraries), its config, the
    resources it requires, its inputs and its data version; and whether it would run."""
    pipeline, _ = load_pipeline(target)
    explained = explain_step(
        pipeline, step, load_run_config(configs), mode, instance=instance_of(ctx)
    )
    for message in explained.warnings:
        err_console.print(Text(f"warning: {message}", style="yellow"))
    _print_key(explained)


def _print_key(explained: StepKey) -> None:
    console = wide_console()
    header = Text("step ")
    header.append(explained.step, style="bold")
    header.append(f" of pipeline {explained.pipeline}, mode {explained.mode}: ")
    header.append(explained.memo.reason, style="green" if explained.memo.memoized else "yellow")
    console.print(header)
    console.print(f"memo key {explained.memo_key}", highlight=False)
    table = Table("part", "name", "fingerprint", box=None, pad_edge=False, highlight=False)
    for part in explained.parts:
        table.add_row(part.part, Text(part.name), Text(part.fingerprint))
    console.print(table)
    for output in explained.outputs:
        stored = f"stored by run {output.run_id}" if output.run_id else output.status.lower()
        console.print(Text(f"output {output.name}: {output.key} ({stored})"))
