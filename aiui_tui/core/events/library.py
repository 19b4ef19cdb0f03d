"""The library's events (services/library): files added or removed, long file operations."""

from __future__ import annotations

from dataclasses import dataclass

from aiui_tui.core.events import Event


@dataclass(frozen=True)
class LibraryChanged(Event):
    """Files were added, changed or removed in the library; UIs reload their list."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    reason: str = ""


# What each long file operation is called on screen (the CLI's bars and the TUI's progress line).
FILE_OPS = {
    "scan": "Hashing",
    "verify": "Verifying",
    "import": "Importing",
    "link": "Linking",
    "unlink": "Undoing links",
    "dedupe": "Replacing copies",
}


@dataclass(frozen=True)
class FileOpProgress(Event):
    """A long library file operation (hashing in a scan, verify, import, link, unlink, dedupe) moved on.

    Throttled to at most 10 per second per operation; the first and the last (`finished`) always
    come. `id` names one run; `files_*` count files, `done`/`total` bytes (the files done plus what
    was read of the ones in progress), `current` is the file being worked on.
    """

    replaceable = True
    key_field = "id"
    status_line = True

    id: str
    op: str
    files_done: int
    files_total: int
    done: int
    total: int
    current: str = ""
    finished: bool = False

    @property
    def title(self) -> str:
        return FILE_OPS.get(self.op, self.op.capitalize())
