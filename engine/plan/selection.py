"""Solid selection: which steps of a pipeline a query such as "*load+, report" picks.

An item is a solid name with optional operators on either side:

    name       the solid itself
    *name      the solid and all its ancestors
    +name      the solid and its ancestors up to one level up (``++name``: two levels, ...)
    name*      the solid and all its descendants
    name+      the solid and its descendants up to one level down (``name++``: two, ...)

Both sides may be combined (``*name+``). A query is one item, several items separated by
commas, or a list of such strings; the result is the union of what every item picks.
A name that is no step but prefixes steps (``etl`` for ``etl.load`` and ``etl.clean``)
stands for all the steps inside that composite.
"""

from __future__ import annotations

import difflib
import heapq
import re
from collections import deque
from collections.abc import Collection, Iterable, Mapping, Sequence

from solidflow.errors import SelectionError

_ITEM = re.compile(r"(?P<up>\*|\++)?(?P<name>[^\s*+,]+)(?P<down>\*|\++)?")
_SYNTAX_HELP = (
    "expected a solid name with an optional '*' or '+'s before it and an optional "
    "'*' or '+'s after it, e.g. '*load', '++load', 'load+', '*load*'"
)


def select_steps(
    query: str | Sequence[str],
    upstream: Mapping[str, Collection[str]],
    *,
    pipeline_name: str | None = None,
) -> frozenset[str]:
    """The steps a selection query picks.

    Args:
        query: one query string (comma-separated items) or a list of them.
        upstream: every step name mapped to the names of the steps it directly depends on.
        pipeline_name: the pipeline's name, for messages.

    Raises:
        SelectionError: the query is empty, has bad syntax or names no step or composite.
    """
    items = _items(query)
    groups = _composite_groups(upstream)
    downstream = _downstream(upstream)
    selected: set[str] = set()
    for item, text in items:
        match = _ITEM.fullmatch(item)
        if match is None:
            raise SelectionError(
                f"invalid item {item!r} in solid selection {text!r}: {_SYNTAX_HELP}"
            )
        roots = _resolve(match["name"], upstream, groups, pipeline_name)
        selected |= roots
        if match["up"]:
            selected |= _reach(roots, upstream, _depth(match["up"]))
        if match["down"]:
            selected |= _reach(roots, downstream, _depth(match["down"]))
    return frozenset(selected)


def _items(query: str | Sequence[str]) -> list[tuple[str, str]]:
    """Every item of the query, each with the query string it came from."""
    texts = [query] if isinstance(query, str) else list(query)
    if not texts:
        raise SelectionError("empty solid selection: give at least one solid name")
    items = []
    for text in texts:
        if not text.strip():
            raise SelectionError(f"empty solid selection {text!r}: give at least one solid name")
        for item in text.split(","):
            if not item.strip():
                raise SelectionError(f"empty item in solid selection {text!r}")
            items.append((item.strip(), text))
    return items


def _depth(operator: str) -> int | None:
    return None if operator == "*" else len(operator)


def _composite_groups(upstream: Mapping[str, Collection[str]]) -> dict[str, set[str]]:
    """Every dotted prefix of a step name mapped to the steps under it."""
    groups: dict[str, set[str]] = {}
    for step in upstream:
        parts = step.split(".")
        for end in range(1, len(parts)):
            groups.setdefault(".".join(parts[:end]), set()).add(step)
    return groups


def _downstream(upstream: Mapping[str, Collection[str]]) -> dict[str, list[str]]:
    downstream: dict[str, list[str]] = {step: [] for step in upstream}
    for step, parents in upstream.items():
        for parent in parents:
            downstream.setdefault(parent, []).append(step)
    return downstream


def _resolve(
    name: str,
    upstream: Mapping[str, Collection[str]],
    groups: Mapping[str, set[str]],
    pipeline_name: str | None,
) -> set[str]:
    if name in upstream:
        return {name}
    if name in groups:
        return set(groups[name])
    where = "the pipeline" if pipeline_name is None else f"pipeline {pipeline_name!r}"
    message = f"no solid named {name!r} in {where}"
    close = _closest(name, [*upstream, *groups])
    if close:
        message += f"; did you mean {_either(close)}?"
    raise SelectionError(message)


def _closest(name: str, candidates: Iterable[str], limit: int = 3) -> list[str]:
    """Up to `limit` candidates similar to `name`, most similar first, ties alphabetically."""
    matcher = difflib.SequenceMatcher(b=name)
    scored = []
    for candidate in candidates:
        matcher.set_seq1(candidate)
        if matcher.real_quick_ratio() >= 0.6 and matcher.quick_ratio() >= 0.6:
            ratio = matcher.ratio()
            if ratio >= 0.6:
                scored.append((-ratio, candidate))
    return [candidate for _, candidate in heapq.nsmallest(limit, scored)]


def _either(names: Sequence[str]) -> str:
    quoted = [repr(name) for name in names]
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} or {quoted[-1]}"


def _reach(
    roots: Iterable[str], edges: Mapping[str, Collection[str]], depth: int | None
) -> set[str]:
    """The steps reachable from `roots` along `edges` in at most `depth` hops (None: any)."""
    seen = set(roots)
    frontier = deque((root, 0) for root in seen)
    while frontier:
        step, hops = frontier.popleft()
        if depth is not None and hops >= depth:
            continue
        for nxt in edges.get(step, ()):
            if nxt not in seen:
                seen.add(nxt)
                frontier.append((nxt, hops + 1))
    return seen
