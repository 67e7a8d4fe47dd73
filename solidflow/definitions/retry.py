"""How often a failing solid is tried again."""

from __future__ import annotations

from dataclasses import dataclass

from solidflow.errors import DefinitionError


@dataclass(frozen=True, slots=True, kw_only=True)
class RetryPolicy:
    """Retry a solid that raised up to `max_retries` times, waiting `delay` seconds
    (multiplied by `backoff` after each attempt) between attempts."""

    max_retries: int = 1
    delay: float = 0.0
    backoff: float = 1.0

    def __post_init__(self) -> None:
        if (
            not isinstance(self.max_retries, int)
            or self.max_retries < 0
            or self.delay < 0
            or self.backoff < 1
        ):
            raise DefinitionError(
                "RetryPolicy needs max_retries >= 0 (a whole number), delay >= 0 and backoff >= 1, got "
                f"max_retries={self.max_retries}, delay={self.delay}, backoff={self.backoff}"
            )

    def delay_before(self, attempt: int) -> float:
        """Seconds to wait before retry number `attempt` (1 for the first retry)."""
        return self.delay * self.backoff ** (attempt - 1)
