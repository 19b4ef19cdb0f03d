"""The machine's CPU times, memory, swap and network counters from the kernel's files, kept open.

psutil opens, reads and parses /proc/stat, /proc/meminfo (twice: memory, then swap) and /proc/net/dev
on every call, reads /proc/vmstat for swap-in/out counts we do not show, and builds named tuples of
floats: ~0.5 ms of a 1 Hz sample. Here each file is opened once and read again from offset 0 with one
`pread` a sample (the kernel writes a procfs or sysfs file's text afresh for every read that starts at
0), parsed only for the figures shown. The figures are psutil's (same files, same formulas; CPU shares
from the clock ticks themselves rather than from them divided into seconds).
"""

from __future__ import annotations

import os
import threading
import weakref

from aiui_tui.services.kernel_files import close_fds, read_from_start, read_one_record

# --- parsers -----------------------------------------------------------------------------------


def parse_cpu_times(data: bytes) -> tuple[tuple[int, int], ...]:
    """/proc/stat: (all time, idle time) of each CPU in clock ticks, as psutil's `cpu_times(percpu=True)`
    sees them: all time without guest and guest_nice (already in user and nice), idle with iowait."""
    cores: list[tuple[int, int]] = []
    for line in data.split(b"\n")[1:]:  # the first line sums all CPUs
        if not line.startswith(b"cpu"):
            if cores:
                break  # the CPU lines are together: intr, ctxt ... follow
            continue
        ticks = [int(x) for x in line.split()[1:9]]  # user nice system idle iowait irq softirq steal
        cores.append((sum(ticks), ticks[3] + (ticks[4] if len(ticks) > 4 else 0)))
    return tuple(cores)


def meminfo_value(data: bytes, key: bytes) -> int | None:
    """One `Key:   123 kB` line of /proc/meminfo in bytes; None when the kernel does not write it."""
    needle = key + b":"
    if data.startswith(needle):
        at = len(needle)
    else:
        at = data.find(b"\n" + needle)
        if at < 0:
            return None
        at += len(needle) + 1
    end = data.find(b"\n", at)
    return int(data[at : end if end >= 0 else len(data)].split()[0]) * 1024


def parse_meminfo(data: bytes) -> tuple[int | None, ...]:
    """/proc/meminfo: MemTotal, MemFree, MemAvailable, SwapTotal, SwapFree in bytes (None: not written)."""
    return tuple(
        meminfo_value(data, key) for key in (b"MemTotal", b"MemFree", b"MemAvailable", b"SwapTotal", b"SwapFree")
    )


def parse_net_totals(data: bytes) -> tuple[int, int]:
    """/proc/net/dev: bytes received and sent on all interfaces, `lo` included (psutil's `net_io_counters()`)."""
    rx = tx = 0
    for line in data.split(b"\n")[2:]:
        _, colon, counters = line.rpartition(b":")
        if not colon:
            continue
        fields = counters.split()
        rx += int(fields[0])
        tx += int(fields[8])
    return rx, tx


# --- the files, kept open ----------------------------------------------------------------------


class KernelFiles:
    """/proc/stat, /proc/meminfo and /proc/net/dev kept open. `open` says None where they cannot be
    read so (not Linux, no /proc): the caller uses psutil. Reads and `close` may come from different
    threads: a lock keeps a descriptor from being closed (and its number reused) during a read."""

    NAMES = ("stat", "meminfo", "net/dev")

    def __init__(self, fds: tuple[int, int, int]) -> None:
        self._fds: tuple[int, int, int] | None = fds
        self._lock = threading.Lock()
        # Closed when this is dropped without `close` (a monitor never closed): once, either way.
        self._finalizer = weakref.finalize(self, close_fds, fds)

    @classmethod
    def open(cls, proc: str = "/proc") -> KernelFiles | None:
        fds: list[int] = []
        try:
            for name in cls.NAMES:
                fds.append(os.open(f"{proc}/{name}", os.O_RDONLY | os.O_CLOEXEC))
        except OSError:
            close_fds(fds)
            return None
        files = cls((fds[0], fds[1], fds[2]))
        try:
            files.read()  # a kernel that cannot read them again from the start says so now
        except (OSError, ValueError, IndexError):
            files.close()
            return None
        return files

    def read(self) -> tuple[tuple[tuple[int, int], ...], tuple[int | None, ...], tuple[int, int]]:
        """Per-CPU (all, idle) ticks, the meminfo figures, the network totals. OSError once closed."""
        with self._lock:
            if self._fds is None:
                raise OSError("the kernel files were closed")
            stat, meminfo, net = self._fds
            cpu = read_one_record(stat)
            memory = read_one_record(meminfo)
            network = read_from_start(net)
        return parse_cpu_times(cpu), parse_meminfo(memory), parse_net_totals(network)

    def close(self) -> None:
        with self._lock:
            self._fds = None
            self._finalizer()
