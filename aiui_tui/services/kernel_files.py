"""Reading kernel files (procfs, sysfs, cgroup files) kept open: the kernel writes such a file's text
afresh for every read that starts at offset 0, so one descriptor serves every sample.

Used by the system sampler (monitor/procfs.py) and the containers' cgroup poll
(apps/cgroup_files.py); a module of its own so that `app list` reads cgroups without importing the
monitor package.
"""

from __future__ import annotations

import os
from collections.abc import Iterable


def read_one_record(fd: int, size: int = 65536) -> bytes:
    """The text of a kernel file written as one record (/proc/stat, /proc/meminfo, a cgroup file),
    as of now: one read from offset 0 returns all of it when it fits in `size`."""
    data = os.pread(fd, size, 0)
    while len(data) == size:  # it may go on: read it all from the start, with room to spare
        size *= 4
        data = os.pread(fd, size, 0)
    return data


def read_from_start(fd: int, size: int = 65536) -> bytes:
    """The text of a kernel file kept open, as of now: read again from offset 0 until its end (a
    file of records such as net/dev hands out about a page per read)."""
    data = os.pread(fd, size, 0)
    if not data:
        return data
    chunks = [data]
    at = len(data)
    while more := os.pread(fd, size, at):
        chunks.append(more)
        at += len(more)
    return b"".join(chunks) if len(chunks) > 1 else data


def close_fds(fds: Iterable[int]) -> None:
    """Close each descriptor of `fds`; -1 stands for a file that was not there."""
    for fd in fds:
        if fd >= 0:
            os.close(fd)
