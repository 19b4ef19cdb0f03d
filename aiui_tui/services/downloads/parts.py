"""Our temporary files beside a download's target: names no user file has, removed only by record.

A download of `NAME` for queue item `ID` keeps its bytes in `.NAME.ID.aiui-part`, its sidecar in
`.NAME.ID.aiui-part.json` (written through `.json.tmp`) and, when segmented, its per-piece progress
in `.NAME.ID.aiui-part.progress`. A target name never starts with a dot (names.py strips it), so
these never collide with a model, and the item id ties them to one queue row: cancelling an item
removes exactly that row's files, never a user's `NAME.part`.

Downloads started by earlier versions used `NAME.part`, `NAME.part.json` and `NAME.part.progress`.
Those are adopted (renamed to the new names) or removed only when their sidecar proves them ours:
our JSON format naming the queue item's URL. A bare `NAME.part` is a user's file and is left alone.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

from aiui_tui.services.downloads.state import PartState, read_progress

SUFFIX = ".aiui-part"


@dataclass(frozen=True)
class PartFiles:
    data: Path

    @property
    def sidecar(self) -> Path:
        return self.data.with_name(self.data.name + ".json")

    @property
    def sidecar_tmp(self) -> Path:
        return self.data.with_name(self.data.name + ".json.tmp")

    @property
    def progress(self) -> Path:
        return self.data.with_name(self.data.name + ".progress")

    def all(self) -> tuple[Path, ...]:
        return (self.data, self.sidecar, self.sidecar_tmp, self.progress)

    def remove(self) -> None:
        for path in self.all():
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def part_files(target: Path, item_id: str = "") -> PartFiles:
    """Our files for `target`; `item_id` is the queue item's id (empty for a transfer outside the queue)."""
    tag = f".{item_id}" if item_id else ""
    return PartFiles(target.with_name(f".{target.name}{tag}{SUFFIX}"))


def legacy_part_files(target: Path) -> PartFiles:
    """Where versions before the hidden names kept a download's part."""
    return PartFiles(target.with_name(target.name + ".part"))


def legacy_is_ours(target: Path, url: str) -> bool:
    """Whether `NAME.part` beside `target` is a download of `url` we started (its sidecar says so)."""
    legacy = legacy_part_files(target)
    state = PartState.load(legacy.sidecar)
    return state is not None and state.url == url and legacy.data.is_file()


def adopt_legacy(target: Path, url: str, files: PartFiles) -> bool:
    """Rename an old-style part of this download to `files`, so it resumes; True when one was adopted.

    Blocking: call from a thread.
    """
    if files.data.exists() or not legacy_is_ours(target, url):
        return False
    legacy = legacy_part_files(target)
    os.replace(legacy.data, files.data)
    if legacy.progress.exists():
        os.replace(legacy.progress, files.progress)
    os.replace(legacy.sidecar, files.sidecar)  # last: it is what proves the others ours
    with contextlib.suppress(FileNotFoundError):
        legacy.sidecar_tmp.unlink()
    return True


def remove_ours(target: Path, item_id: str, url: str) -> None:
    """Remove the files of queue item `item_id`, and an old-style part only when it is ours by record."""
    part_files(target, item_id).remove()
    if legacy_is_ours(target, url):
        legacy_part_files(target).remove()


def kept_bytes(target: Path, item_id: str) -> int:
    """What queue item `item_id`'s part holds: a sequential part's size, a segmented part's pieces'
    progress (its file is preallocated to the whole size). Blocking: call from a thread."""
    files = part_files(target, item_id)
    try:
        size = files.data.stat().st_size
    except OSError:
        return 0
    state = PartState.load(files.sidecar)
    if state is None or not state.segmented:
        return size
    read_progress(files.progress, state.pieces)
    return min(size, state.done_bytes())
