"""The C heap while transfers run: freed chunk memory is kept for the next chunks, and given back after.

A transfer allocates a fresh bytes object for every read from the socket (up to `transfer.READ_SIZE`)
and another for aiohttp's body slice; up to the hasher's inbox (32 MiB) of them are alive at once.
glibc's malloc, with its default (dynamic) thresholds, hands the freed top of its heap back to the
kernel almost at once, so the next chunks fault fresh, zeroed pages in again: ~50k minor faults and
~0.1 s of CPU per GiB. While any transfer runs, freed memory up to `TRIM_BYTES` stays in the heap
(`mallopt`); when the last one ends, the thresholds go back to glibc's defaults and `malloc_trim`
returns what is free, so a long-running dashboard does not keep the downloads' memory.

Linux with glibc only; elsewhere (or without `mallopt`) nothing changes.
"""

from __future__ import annotations

import contextlib
import sys
import threading
from collections.abc import Callable, Iterator

M_TRIM_THRESHOLD = -1  # malloc.h
M_MMAP_THRESHOLD = -3
TRIM_BYTES = 64 * 1024 * 1024  # free memory at the heap's top kept while transfers run
MMAP_BYTES = 8 * 1024 * 1024  # allocations below this come from the heap (a read, a batch's chunks)
GLIBC_DEFAULT = 128 * 1024  # both thresholds' defaults

_lock = threading.Lock()
_active = 0  # transfers running in this process
kept = False  # the thresholds are raised now
_functions: tuple[Callable[[int, int], int], Callable[[int], int]] | bool | None = False  # False: not looked up


def _libc() -> tuple[Callable[[int, int], int], Callable[[int], int]] | None:
    """glibc's mallopt and malloc_trim, or None where there are none."""
    global _functions
    if _functions is False:
        _functions = None
        if sys.platform.startswith("linux"):
            import ctypes

            try:
                libc = ctypes.CDLL(None)
                mallopt, malloc_trim = libc.mallopt, libc.malloc_trim
            except (OSError, AttributeError):
                pass
            else:
                mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
                malloc_trim.argtypes, malloc_trim.restype = (ctypes.c_size_t,), ctypes.c_int
                _functions = (mallopt, malloc_trim)
    return _functions if isinstance(_functions, tuple) else None


def active() -> int:
    """Transfers running in this process (inside `kept_for_transfers`)."""
    return _active


@contextlib.contextmanager
def kept_for_transfers() -> Iterator[None]:
    """Keep freed heap memory for reuse while the body runs; the first transfer raises the
    thresholds, the last one restores them and trims the heap."""
    global _active, kept
    with _lock:
        _active += 1
        if _active == 1:
            libc = _libc()
            if libc is not None:
                mallopt = libc[0]
                kept = bool(mallopt(M_MMAP_THRESHOLD, MMAP_BYTES)) & bool(mallopt(M_TRIM_THRESHOLD, TRIM_BYTES))
    try:
        yield
    finally:
        with _lock:
            _active -= 1
            if _active == 0 and kept:
                mallopt, malloc_trim = _libc() or (None, None)
                assert mallopt is not None and malloc_trim is not None
                mallopt(M_MMAP_THRESHOLD, GLIBC_DEFAULT)
                mallopt(M_TRIM_THRESHOLD, GLIBC_DEFAULT)
                malloc_trim(0)
                kept = False
