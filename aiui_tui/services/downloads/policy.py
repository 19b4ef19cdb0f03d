"""When to retry, and how long to wait: exponential backoff with jitter, Retry-After honoured."""

from __future__ import annotations

import random
import time
from email.utils import parsedate_to_datetime

MAX_BACKOFF_S = 60.0
MAX_RETRY_AFTER_S = 600.0
RETRYABLE_STATUS = {408, 425, 429, 500, 502, 503, 504}


def backoff_delay(attempt: int, base: float, rng: random.Random | None = None) -> float:
    """Delay before retry number `attempt` (1-based): base * 2^(attempt-1), jittered ±50%, capped."""
    delay = min(MAX_BACKOFF_S, base * 2.0 ** (attempt - 1))
    return delay * (rng.uniform(0.5, 1.5) if rng is not None else random.uniform(0.5, 1.5))


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta seconds or an HTTP date), capped."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value).timestamp()
        except (TypeError, ValueError, IndexError):
            return None
        seconds = when - (time.time() if now is None else now)
    return max(0.0, min(seconds, MAX_RETRY_AFTER_S))
