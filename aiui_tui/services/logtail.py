"""Follow `logs/aiui.log` (JSON lines) across rotations, for the logs screen.

Knows nothing of Textual: `read_new()` is a blocking call returning parsed records, meant to run
on a worker thread. A partial last line is kept until its newline arrives; a rotation (new inode,
or a file shorter than what was read) restarts from the top of the new file.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LEVELS = ("debug", "info", "warning", "error", "critical")
_RESERVED = {"timestamp", "level", "logger", "event", "exception"}


@dataclass(frozen=True)
class LogRecord:
    timestamp: str
    level: str
    logger: str
    event: str
    fields: dict[str, Any] = field(default_factory=dict)
    exception: str = ""

    @property
    def severity(self) -> int:
        return LEVELS.index(self.level) if self.level in LEVELS else 1

    def time_of_day(self) -> str:
        """`12:03:04` from an ISO timestamp; the raw text when it is not one."""
        if "T" in self.timestamp:
            return self.timestamp.split("T", 1)[1][:8]
        return self.timestamp[:8]


def parse_line(line: str) -> LogRecord:
    try:
        data = json.loads(line)
        if not isinstance(data, dict):
            raise ValueError("not an object")
    except ValueError:
        return LogRecord(timestamp="", level="info", logger="", event=line.rstrip("\n"))
    return LogRecord(
        timestamp=str(data.get("timestamp", "")),
        level=str(data.get("level", "info")).lower(),
        logger=str(data.get("logger", "")),
        event=str(data.get("event", "")),
        fields={k: v for k, v in data.items() if k not in _RESERVED},
        exception=str(data.get("exception", "")),
    )


class LogTail:
    def __init__(self, path: Path, *, backlog_bytes: int = 512 * 1024) -> None:
        self.path = path
        self.backlog_bytes = backlog_bytes
        self._inode: int | None = None
        self._offset = 0
        self._partial = b""

    def read_new(self, max_bytes: int = 4 * 1024 * 1024) -> list[LogRecord]:
        """Records appended since the last call (on the first call, the last `backlog_bytes`)."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return []
        first = self._inode is None
        if self._inode != st.st_ino or st.st_size < self._offset:
            self._inode = st.st_ino
            self._offset = max(0, st.st_size - self.backlog_bytes) if first else 0
            self._partial = b""
        if st.st_size == self._offset:
            return []
        with open(self.path, "rb") as fh:
            fh.seek(self._offset)
            chunk = fh.read(max_bytes)
        self._offset += len(chunk)
        data = self._partial + chunk
        if first and self._offset - len(chunk) > 0:
            data = data.split(b"\n", 1)[1] if b"\n" in data else b""  # drop the cut first line
        lines = data.split(b"\n")
        self._partial = lines.pop()
        return [parse_line(line.decode("utf-8", "replace")) for line in lines if line.strip()]
