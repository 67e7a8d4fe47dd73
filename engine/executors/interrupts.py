"""Steps that run in the thread driving their run, which a cancel interrupts as Ctrl-C does."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator


class CancelInterrupt(KeyboardInterrupt):
    """Raised in a thread running a step when its run is canceled. It is a KeyboardInterrupt,
    so the step ends (and its code sees it) as on Ctrl-C."""


_IN_STEP: set[int] = set()
_PENDING: set[int] = set()


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """A block in which the current thread runs a step that a cancel of the run interrupts
    (see `interrupt`); raises CancelInterrupt at once if an interrupt is pending."""
    thread = threading.get_ident()
    _IN_STEP.add(thread)
    try:
        if thread in _PENDING:
            raise CancelInterrupt
        yield
    finally:
        _IN_STEP.discard(thread)


def mark_interrupted(thread: int) -> bool:
    """Note that the run driven by `thread` is canceled: its next `interruptible` block raises
    CancelInterrupt. Returns whether it is in such a block now, to be interrupted at once (by
    the caller: a signal handler running in it, or a signal sent to it)."""
    _PENDING.add(thread)
    return thread in _IN_STEP


def clear_interrupt(thread: int) -> None:
    """Forget a cancel noted for `thread` (its run ended)."""
    _PENDING.discard(thread)
