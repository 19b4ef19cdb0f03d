"""Identical model files across the library and other UIs' folders, and replacing copies with links.

Files are grouped by size, then by sha256 (from the index, so only unseen files are hashed). In a
group the library's file is kept (else the oldest); every other copy that is not already the same
inode becomes a hardlink to it (same filesystem) or a symlink. A copy is replaced only while its
size and mtime still match what was hashed, so a file changed after the scan is left alone.
Blocking: call from a thread.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from aiui_tui.core.library import LIBRARY, ModelRecord
from aiui_tui.services.library.links import replace_with_link

if TYPE_CHECKING:
    from aiui_tui.services.library.progress import OpProgress


@dataclass(frozen=True)
class DuplicateGroup:
    sha256: str
    size: int
    keep: ModelRecord
    copies: tuple[ModelRecord, ...]  # other names; some may already share the keeper's inode

    @property
    def redundant(self) -> tuple[ModelRecord, ...]:
        """Copies that hold their own bytes."""
        return tuple(c for c in self.copies if (c.device, c.inode) != (self.keep.device, self.keep.inode))

    @property
    def reclaimable(self) -> int:
        inodes = {(c.device, c.inode) for c in self.redundant}
        return self.size * len(inodes)


@dataclass
class DedupeResult:
    replaced: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    reclaimed: int = 0


def find_duplicates(records: list[ModelRecord]) -> list[DuplicateGroup]:
    by_size: dict[int, list[ModelRecord]] = defaultdict(list)
    for record in records:
        if record.size > 0 and record.sha256 and record.link_target is None:
            by_size[record.size].append(record)
    groups = []
    for size, same_size in by_size.items():
        if len(same_size) < 2:
            continue
        by_hash: dict[str, list[ModelRecord]] = defaultdict(list)
        for record in same_size:
            by_hash[record.sha256 or ""].append(record)
        for sha256, same in by_hash.items():
            if len(same) < 2:
                continue
            same.sort(key=lambda r: (r.location != LIBRARY, r.mtime_ns, r.path))
            groups.append(DuplicateGroup(sha256, size, same[0], tuple(same[1:])))
    groups.sort(key=lambda g: -g.reclaimable)
    return groups


def dedupe(groups: list[DuplicateGroup], progress: OpProgress | None = None) -> DedupeResult:
    result = DedupeResult()
    for group in groups:
        keep = Path(group.keep.path)
        if not _still_as_hashed(group.keep):
            result.skipped.append(f"{keep}: changed since it was hashed; rescan first")
            if progress:
                for copy in group.redundant:
                    progress.file_done(copy.path, group.size)
            continue
        names_left: dict[tuple[int, int], int] = {}  # inode -> names it still has
        for copy in group.redundant:
            try:
                _replace_copy(group, copy, keep, names_left, result)
            finally:
                if progress:
                    progress.file_done(copy.path, group.size)
    return result


def _replace_copy(
    group: DuplicateGroup, copy: ModelRecord, keep: Path, names_left: dict[tuple[int, int], int], result: DedupeResult
) -> None:
    path = Path(copy.path)
    if not _still_as_hashed(copy):
        result.skipped.append(f"{path}: changed since it was hashed; left alone")
        return
    inode = (copy.device, copy.inode)
    names_left.setdefault(inode, os.stat(path).st_nlink)
    try:
        replace_with_link(path, keep)
    except OSError as exc:
        result.skipped.append(f"{path}: {exc.strerror or exc}")
        return
    result.replaced.append(str(path))
    names_left[inode] -= 1
    if names_left[inode] == 0:  # its last name is gone: the bytes are free
        result.reclaimed += group.size


def _still_as_hashed(record: ModelRecord) -> bool:
    try:
        st = os.stat(record.path, follow_symlinks=False)
    except OSError:
        return False
    return (st.st_size, st.st_mtime_ns, st.st_ino) == (record.size, record.mtime_ns, record.inode)
