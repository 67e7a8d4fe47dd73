"""`solidflow store`: list stored step outputs and free space."""

from __future__ import annotations

import click
from rich.table import Table

from solidflow.cli.common import instance_of, user_errors, wide_console
from solidflow.cli.inspect_commands import format_time
from solidflow.engine import collect_garbage, find_run, list_stored_outputs, parse_age


def size_text(count: int) -> str:
    """`count` bytes in B, KiB, MiB or GiB."""
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def reclaimed_line(sizes: list[int], verb: str) -> str:
    """What removing the temporary files of killed writes of `sizes` bytes did ("deleted")."""
    count, size = len(sizes), sum(sizes)
    files = "file" if count == 1 else "files"
    return f"{verb} {count} temporary {files} of killed writes, {size_text(size)}"


@click.group()
def store() -> None:
    """The intermediate store of step outputs."""


@store.command("ls")
@click.option("--run", "run_id", default=None, help="Only outputs that this run's steps stored.")
@click.pass_context
@user_errors
def list_outputs(ctx: click.Context, run_id: str | None) -> None:
    """List stored outputs (newest first) and their total size."""
    instance = instance_of(ctx)
    if run_id is not None:
        run_id = find_run(instance, run_id).run_id
    listing = list_stored_outputs(instance, run_id=run_id)
    table = Table("key", "step.output", "serializer", "rows", "size", "run", "created")
    for column in table.columns:
        column.no_wrap = True
    for stored in listing.outputs:
        table.add_row(
            stored.key[:16],
            f"{stored.step}.{stored.output}",
            stored.serializer,
            "-" if stored.rows is None else str(stored.rows),
            size_text(stored.bytes),
            stored.run_id[:12],
            format_time(stored.created),
        )
    console = wide_console()
    console.print(table)
    console.print(
        f"{len(listing.outputs)} outputs, {size_text(listing.total_bytes)} in {listing.root}"
    )


def age_in_seconds(ctx: click.Context, param: click.Parameter, text: str | None) -> float | None:
    """--older-than in seconds (a click callback: text that is not an age is a usage error)."""
    try:
        return None if text is None else parse_age(text)
    except ValueError as error:
        raise click.BadParameter(str(error), ctx, param) from None


@store.command("gc")
@click.option(
    "--keep-last",
    type=click.IntRange(min=0),
    default=None,
    help="Keep outputs of each pipeline's N newest runs.",
)
@click.option(
    "--older-than",
    default=None,
    callback=age_in_seconds,
    help="Delete outputs older than this (30m, 12h, 7d, 2w).",
)
@click.option(
    "--include-latest", is_flag=True, help="Also delete outputs of each pipeline's newest run."
)
@click.option("--dry-run", is_flag=True, help="Say what would be deleted; delete nothing.")
@click.pass_context
@user_errors
def collect(
    ctx: click.Context,
    keep_last: int | None,
    older_than: float | None,
    include_latest: bool,
    dry_run: bool,
) -> None:
    """Delete stored outputs that recent runs do not use."""
    if keep_last is None and older_than is None:
        raise click.UsageError("give --keep-last N or --older-than AGE (e.g. 7d)")
    instance = instance_of(ctx)
    report = collect_garbage(
        instance,
        keep_last=keep_last,
        older_than=older_than,
        include_latest=include_latest,
        dry_run=dry_run,
    )
    verb = "would delete" if dry_run else "deleted"
    for stored in report.deleted:
        click.echo(
            f"{verb} {stored.key[:16]} {stored.step}.{stored.output} ({size_text(stored.bytes)})"
        )
    kept = f"kept {report.kept}"
    if report.in_use:
        runs = len(report.live_runs)
        kept += f" ({report.in_use} in use by {runs} live run{'s' if runs > 1 else ''})"
    replaced = (
        f" (of which {size_text(report.superseded_bytes)} of replaced Parquet datasets)"
        if report.superseded_bytes
        else ""
    )
    click.echo(
        f"{verb} {len(report.deleted)} outputs, {size_text(report.freed_bytes)}{replaced}; {kept}"
    )
    if report.reclaimed:
        click.echo(reclaimed_line([found.bytes for found in report.reclaimed], verb))
