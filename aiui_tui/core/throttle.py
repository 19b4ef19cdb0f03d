"""Rate limiting at the source, so a fast producer cannot flood a UI."""

from __future__ import annotations


class Throttle:
    """Lets an event through at most `per_second` times a second; `force` always passes."""

    def __init__(self, per_second: float = 10.0) -> None:
        self.interval = 1.0 / per_second
        self._last = float("-inf")

    def ready(self, now: float, *, force: bool = False) -> bool:
        if force or now - self._last >= self.interval:
            self._last = now
            return True
        return False
