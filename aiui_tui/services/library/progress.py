"""Progress of one long file operation, counted from any thread and published throttled.

The hashing threads report bytes as they read them and each file when it is done; the counter
publishes a `FileOpProgress` at most `per_second` times a second, plus the first and the last
event, so a 7 GB verify shows a moving bar without flooding the UIs.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable

from aiui_tui.core.events import FileOpProgress
from aiui_tui.core.throttle import Throttle

_runs = itertools.count(1)


class OpProgress:
    """Counts files and bytes of one operation run; `publish` must be safe to call from any thread."""

    def __init__(
        self,
        publish: Callable[[FileOpProgress], None],
        op: str,
        *,
        per_second: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.id = f"{op}-{next(_runs)}"
        self.op = op
        self._publish = publish
        self._throttle = Throttle(per_second)
        self._clock = clock
        self._lock = threading.RLock()
        self.files_total = 0
        self.total = 0
        self.files_done = 0
        self._bytes_done = 0  # bytes of finished files
        self._reading: dict[str, int] = {}  # file in progress -> bytes read so far
        self._current = ""
        self.started = False
        self.finished = False

    @property
    def done(self) -> int:
        return self._bytes_done + sum(self._reading.values())

    def begin(self, files: int, size: int) -> None:
        """The work is known: `files` files of `size` bytes in all. Nothing is published for no work."""
        with self._lock:
            self.files_total, self.total = files, size
            self.started = files > 0
        self._emit(force=True)

    def read(self, path: str, n: int) -> None:
        """`n` more bytes of `path` were read (hashed or copied)."""
        with self._lock:
            self._reading[path] = self._reading.get(path, 0) + n
            self._current = path
        self._emit()

    def file_done(self, path: str, size: int) -> None:
        with self._lock:
            self._reading.pop(path, None)
            self.files_done += 1
            self._bytes_done += size
            self._current = path
        self._emit(force=self.files_done >= self.files_total)

    def finish(self) -> None:
        """The last event (`finished`), also after a failure, so no UI keeps a bar that never ends."""
        with self._lock:
            if self.finished:
                return
            self.finished = True
            self._reading.clear()
        self._emit(force=True)

    def reader(self, path: str) -> Callable[[int], None]:
        """A per-chunk callback for `sha256_file` and copies."""
        key = str(path)
        return lambda n: self.read(key, n)

    def _emit(self, *, force: bool = False) -> None:
        with self._lock:
            if not self.started or not self._throttle.ready(self._clock(), force=force or self.finished):
                return
            event = FileOpProgress(
                self.id,
                self.op,
                self.files_done,
                self.files_total,
                min(self.done, self.total) if self.total else self.done,
                self.total,
                self._current,
                self.finished,
            )
            self._publish(event)  # under the lock: events leave in the order they were counted
