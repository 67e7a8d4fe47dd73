"""When a cron schedule is due, in its timezone, across daylight saving time changes.

Cron expressions are read in wall-clock time (croniter iterates naive local times), then each
wall time is mapped to the instants it names in the timezone, as cron does:

- a wall time that does not exist (skipped when clocks go forward) is due at the moment the
  clocks jump (a daily "30 2 * * *" runs at 03:00 on that day, once);
- a wall time that exists twice (clocks go back) is due at its first occurrence only, except
  for expressions whose hour field is "*" or "*/n", which run in both occurrences (an hourly
  schedule stays hourly).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from croniter import croniter

_MARGIN = timedelta(hours=3)
"""More than any DST shift: wall times this far from a range can only map outside it."""


def _wall(instant: float, zone: ZoneInfo) -> datetime:
    return datetime.fromtimestamp(instant, zone).replace(tzinfo=None)


def _exists(wall: datetime, zone: ZoneInfo, fold: int) -> bool:
    aware = wall.replace(tzinfo=zone, fold=fold)
    return aware.astimezone(timezone.utc).astimezone(zone).replace(tzinfo=None) == wall


def _jump_instant(wall: datetime, zone: ZoneInfo) -> float:
    """The moment clocks jump over the skipped wall time `wall`: the first instant whose wall
    time is later than `wall` (found by bisection to the second)."""
    low = wall.replace(tzinfo=zone, fold=1).timestamp()  # before the jump
    high = wall.replace(tzinfo=zone, fold=0).timestamp()  # after it
    while high - low > 1:
        middle = (low + high) // 2
        if _wall(middle, zone) > wall:
            high = middle
        else:
            low = middle
    return float(high)


def instants_of(wall: datetime, zone: ZoneInfo, every_hour: bool) -> list[float]:
    """The instants at which a schedule due at wall time `wall` runs (see the module)."""
    first = wall.replace(tzinfo=zone, fold=0)
    if not _exists(wall, zone, 0):
        return [_jump_instant(wall, zone)]
    second = wall.replace(tzinfo=zone, fold=1)
    if every_hour and second.timestamp() != first.timestamp() and _exists(wall, zone, 1):
        return [first.timestamp(), second.timestamp()]
    return [first.timestamp()]


def _every_hour(cron: str) -> bool:
    return cron.split()[1].startswith("*")


def _walls(cron: str, start: datetime, backwards: bool) -> Iterator[datetime]:
    walls = croniter(cron, start)
    while True:
        yield walls.get_prev(datetime) if backwards else walls.get_next(datetime)


def ticks_after(cron: str, zone: ZoneInfo, after: float, count: int) -> list[float]:
    """The first `count` instants after `after` at which the schedule is due, in order."""
    every_hour = _every_hour(cron)
    found: set[float] = set()
    for wall in _walls(cron, _wall(after, zone) - _MARGIN, backwards=False):
        found.update(t for t in instants_of(wall, zone, every_hour) if t > after)
        if len(found) >= count and wall > _wall(sorted(found)[count - 1], zone) + _MARGIN:
            break
    return sorted(found)[:count]


def ticks_until(cron: str, zone: ZoneInfo, until: float, after: float, limit: int) -> list[float]:
    """The instants in (after, until] at which the schedule is due, latest first, at most
    `limit` of them (the latest ones)."""
    every_hour = _every_hour(cron)
    found: set[float] = set()
    for wall in _walls(cron, _wall(until, zone) + _MARGIN, backwards=True):
        found.update(t for t in instants_of(wall, zone, every_hour) if after < t <= until)
        if wall < _wall(after, zone) - _MARGIN:
            break
        if len(found) >= limit and wall < _wall(sorted(found)[-limit], zone) - _MARGIN:
            break
    return sorted(found, reverse=True)[:limit]
