"""Speed as a moving average over the last seconds, and the ETA that follows from it."""

from __future__ import annotations

from collections import deque

WINDOW_S = 5.0


class SpeedMeter:
    def __init__(self, window: float = WINDOW_S) -> None:
        self.window = window
        self._samples: deque[tuple[float, int]] = deque()

    def add(self, now: float, done: int) -> None:
        self._samples.append((now, done))
        while len(self._samples) > 2 and now - self._samples[0][0] > self.window:
            self._samples.popleft()

    def speed(self) -> float | None:
        """Bytes per second over the window; None until two samples span some time."""
        if len(self._samples) < 2:
            return None
        (t0, d0), (t1, d1) = self._samples[0], self._samples[-1]
        if t1 - t0 < 0.2:
            return None
        return max(0.0, (d1 - d0) / (t1 - t0))

    def eta(self, done: int, total: int | None) -> float | None:
        speed = self.speed()
        if total is None or not speed:
            return None
        return max(0.0, (total - done) / speed)
