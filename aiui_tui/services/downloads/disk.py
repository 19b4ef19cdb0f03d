"""Disk space before a download, and exclusive locks so two processes never write one file."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from aiui_tui.core.format import human_bytes
from aiui_tui.services.downloads.errors import DiskFull


def ensure_space(folder: Path, needed: int, margin: int) -> None:
    free = shutil.disk_usage(folder).free
    if free < needed + margin:
        raise DiskFull(
            f"Not enough disk space in {folder}: {human_bytes(needed)} needed plus a {human_bytes(margin)} margin, "
            f"{human_bytes(free)} free.",
            "free some space (or lower downloads.free_space_margin_mib), then retry",
        )


def disk_full_error(target: Path, kept: int) -> DiskFull:
    return DiskFull(
        f"Disk full while writing {target.name}; the {human_bytes(kept)} downloaded so far are kept.",
        f"free space in {target.parent}, then retry: the download resumes where it stopped",
    )


def is_disk_full(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


class TargetBusy(Exception):
    """Another process is downloading this file right now."""


@contextlib.contextmanager
def target_lock(locks_dir: Path, target: Path) -> Iterator[None]:
    """An exclusive, non-blocking lock per target file (released when the process dies)."""
    locks_dir.mkdir(parents=True, exist_ok=True)
    key = hashlib.sha1(str(target).encode()).hexdigest()[:20]
    fd = os.open(locks_dir / f"{key}.lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise TargetBusy(str(target)) from None
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def runner_lock(path: Path) -> Iterator[bool]:
    """Try to become the process that runs the queue; yields whether we are."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.ftruncate(fd, 0)
            os.write(fd, str(os.getpid()).encode())
            yield True
        except BlockingIOError:
            yield False
    finally:
        os.close(fd)


def lock_owner(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None
