"""The download queue's items as plain data, shared by the service, its events and the UIs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from aiui_tui.core.strenum import StrEnum


class DownloadState(StrEnum):
    """A queue item's state: the value stored in `state/downloads.sqlite` and printed by `--json`."""

    PENDING = "pending"
    ACTIVE = "active"
    PAUSED = "paused"
    FAILED = "failed"
    DONE = "done"
    CANCELLED = "cancelled"  # only in `DownloadStateChanged`: the row is gone from the queue (never stored)


# The members under their short names, as the service and the CLI import them.
PENDING, ACTIVE, PAUSED, FAILED, DONE = (
    DownloadState.PENDING,
    DownloadState.ACTIVE,
    DownloadState.PAUSED,
    DownloadState.FAILED,
    DownloadState.DONE,
)
CANCELLED = DownloadState.CANCELLED


@dataclass(frozen=True)
class DownloadItem:
    id: str
    url: str
    dest_dir: str
    name: str | None  # None until the server names the file (Content-Disposition)
    state: DownloadState
    position: float
    kind: str | None = None
    sha256: str | None = None
    size: int | None = None
    source: dict[str, Any] = field(default_factory=dict)
    connections: int | None = None
    retries: int | None = None
    reason: str = ""
    fix: str = ""
    done_bytes: int = 0
    total_bytes: int | None = None
    speed: float | None = None
    owner_pid: int | None = None
    result_sha256: str | None = None
    attempts: int = 0  # requests made for it so far (each start and each retry)
    created_at: float = 0.0
    updated_at: float = 0.0

    def __post_init__(self) -> None:
        if type(self.state) is not DownloadState:  # a row read from SQLite: the member, or ValueError
            object.__setattr__(self, "state", DownloadState(self.state))

    @property
    def target(self) -> str | None:
        return f"{self.dest_dir.rstrip('/')}/{self.name}" if self.name else None

    @property
    def display_name(self) -> str:
        return self.name or self.url.rsplit("/", 1)[-1] or self.url

    @property
    def fraction(self) -> float | None:
        total = self.total_bytes or self.size
        return min(1.0, self.done_bytes / total) if total else None
