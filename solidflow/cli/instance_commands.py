"""Commands about the instance itself: `solidflow instance migrate`."""

from __future__ import annotations

import click

from solidflow.cli.common import instance_of, user_errors


@click.group()
def instance() -> None:
    """Manage the instance's storage."""


@instance.command("migrate")
@click.pass_context
@user_errors
def migrate(ctx: click.Context) -> None:
    """Bring the event log's schema to the version this solidflow knows.

    New tables derived from the stored events are filled in short batches, between which
    runs go on writing. Upgrade solidflow on every host that shares the database first.
    """
    report = instance_of(ctx).migrate(click.echo)
    if report.batches:
        click.echo(
            f"indexed {report.rows:,} events in {report.batches} batches "
            f"(longest {report.longest_batch:.2f} s)"
        )
