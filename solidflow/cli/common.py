"""What the commands share: the instance, user-error handling, options, consoles."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from functools import wraps
from typing import Any

import click
from rich.console import Console
from rich.markup import escape

from solidflow.cli.config_files import parse_tags
from solidflow.engine import Instance
from solidflow.errors import SolidflowError

EXIT_RUN_FAILED = 1
EXIT_USAGE = 2
EXIT_CANCELED = 130

err_console = Console(stderr=True, highlight=False, soft_wrap=True)


def user_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Print a user mistake as one message (no traceback) and exit with code 2."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (SolidflowError, OSError) as error:  # OSError: a home, config or target path
            err_console.print(f"[bold red]error:[/] {error}", markup=True, highlight=False)
            sys.exit(EXIT_USAGE)

    return wrapper


class _WarningPrinter(logging.Handler):
    """Prints what solidflow's loggers warn about (a damaged store set aside) as one line."""

    def emit(self, record: logging.LogRecord) -> None:
        message = f"[yellow]warning:[/] {escape(record.getMessage())}"
        err_console.print(message, markup=True, soft_wrap=True)


def print_warnings() -> None:
    """Show the warnings of solidflow's loggers on stderr, once each, without a traceback."""
    logger = logging.getLogger("solidflow")
    if not any(isinstance(handler, _WarningPrinter) for handler in logger.handlers):
        logger.addHandler(_WarningPrinter(logging.WARNING))
        logger.propagate = False


def instance_of(ctx: click.Context) -> Instance:
    """The instance chosen with --home (or $SOLIDFLOW_HOME, or ~/.solidflow)."""
    return Instance(ctx.find_root().obj)


def wide_console() -> Console:
    """A console that does not fold long lines when output goes to a file or pipe."""
    console = Console(highlight=False, soft_wrap=True)
    return console if console.is_terminal else Console(highlight=False, soft_wrap=True, width=200)


config_option = click.option(
    "-c",
    "--config",
    "configs",
    multiple=True,
    type=click.Path(),
    help="run_config YAML file; several merge in order.",
)
mode_option = click.option(
    "--mode", default=None, help="The pipeline mode (default: its first mode)."
)
select_option = click.option(
    "--select", "selection", default=None, help="Solid selection, e.g. '*load+,report'."
)
executor_option = click.option(
    "--executor", default=None, help="in_process or ray (default from solidflow.yaml)."
)
address_option = click.option(
    "--address",
    default=None,
    help="Ray cluster to join: auto, host:port or ray://host:port (implies --executor ray).",
)
tag_option = click.option(
    "--tag", "tags", multiple=True, callback=parse_tags, help="key=value tag recorded with the run."
)
memoize_option = click.option(
    "--memoize/--no-memoize",
    default=None,
    help="Skip steps whose outputs are stored (default from solidflow.yaml).",
)
