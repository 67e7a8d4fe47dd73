"""Retention commands: `solidflow runs delete` and `solidflow gc` delete runs, their events
and the stored outputs no kept run uses."""

from __future__ import annotations

import click

from solidflow.cli.common import instance_of, user_errors
from solidflow.cli.store_commands import age_in_seconds, reclaimed_line, size_text
from solidflow.engine import RetentionReport, collect_runs, delete_runs, find_run

dry_run_option = click.option(
    "--dry-run", is_flag=True, help="Say what would be deleted; delete nothing."
)


def _say(report: RetentionReport, dry_run: bool) -> None:
    verb = "would delete" if dry_run else "deleted"
    for run_id in report.runs:
        click.echo(f"{verb} run {run_id}")
    runs = "run" if len(report.runs) == 1 else "runs"
    kept = f"; kept {report.kept_outputs} that other runs use" if report.kept_outputs else ""
    click.echo(
        f"{verb} {len(report.runs)} {runs} and their events, {len(report.deleted_outputs)} "
        f"stored outputs ({size_text(report.freed_bytes)}){kept}"
    )
    if report.reclaimed:
        click.echo(reclaimed_line([found.bytes for found in report.reclaimed], verb))


@click.command("delete")
@click.argument("run_ids", nargs=-1, required=True)
@dry_run_option
@click.pass_context
@user_errors
def delete(ctx: click.Context, run_ids: tuple[str, ...], dry_run: bool) -> None:
    """Delete runs RUN_IDS (unique prefixes, or "latest"), their events, and the stored
    outputs they read or produced that no other run uses. Live runs are refused."""
    instance = instance_of(ctx)
    found = list(dict.fromkeys(find_run(instance, run_id).run_id for run_id in run_ids))
    _say(delete_runs(instance, found, dry_run=dry_run), dry_run)


@click.command()
@click.option(
    "--older-than",
    required=True,
    callback=age_in_seconds,
    help="Delete ended runs created before this (30m, 12h, 7d).",
)
@click.option(
    "--keep-last",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Keep each pipeline's N newest runs, however old.",
)
@dry_run_option
@click.pass_context
@user_errors
def gc(ctx: click.Context, older_than: float, keep_last: int, dry_run: bool) -> None:
    """Delete old runs, their events and the stored outputs that no kept run uses, and the
    temporary files of killed writes. Runs going on meanwhile are not disturbed."""
    report = collect_runs(
        instance_of(ctx), older_than=older_than, keep_last=keep_last, dry_run=dry_run
    )
    _say(report, dry_run)
