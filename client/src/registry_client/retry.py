"""How often and how long the client retries (the README says what it retries)."""
from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime


@dataclass(frozen=True, kw_only=True)
class Retry:
    """`attempts`: how many times a request is sent at most, the first time included (1: no
    retry). Before retry n (1, 2, …) the client waits between half and all of
    `backoff` × 2^(n-1) seconds (exponential backoff with jitter, so that many callers
    that failed together do not come back together), at least what the answer's `Retry-After`
    asks, and never more than `max_backoff`. `statuses`: the answers retried (503: the
    service did nothing and says when to come back). `sleep` and `random` are what waits and
    what draws the jitter (time.sleep and random.random)."""

    attempts: int = 4
    backoff: float = 0.25
    max_backoff: float = 8.0
    statuses: frozenset[int] = frozenset({503})
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False, compare=False)
    random: Callable[[], float] = field(default=random.random, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if self.backoff < 0 or self.max_backoff < 0:
            raise ValueError("backoff and max_backoff must not be negative")

    def delay(self, retry: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number `retry` (1 for the first), given the
        `Retry-After` of the answer that is retried, in seconds (None: there was none)."""
        ceiling = min(self.max_backoff, self.backoff * 2.0 ** (retry - 1))
        wait = ceiling / 2 + self.random() * ceiling / 2
        if retry_after is not None:
            wait = max(wait, retry_after)
        return min(wait, self.max_backoff)


NO_RETRY = Retry(attempts=1)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """A `Retry-After` header in seconds: delay-seconds or an HTTP date (None: absent or
    unreadable)."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
