"""Ending a one-shot command's process at once, without the interpreter's teardown.

Python's teardown after the last line (modules, threads, the garbage of a run: 65-158 ms measured
for `download`) is work nobody waits for. A command whose work is all closed (files fsynced and
closed, the queue's database closed, its threads done) asks for it with `end_at_once()`; `main()`
then flushes stdout, stderr and the log and calls `os._exit` with the same exit code. Only when
`main()` runs as the program (no argv given): a test calling `main(argv)` gets its return value.
"""

from __future__ import annotations

import logging
import os
import sys

_requested = False


def end_at_once() -> None:
    """Everything this command opened is closed: the process may end without the teardown."""
    global _requested
    _requested = True


def requested() -> bool:
    return _requested


def end_now(code: int) -> None:
    """Flush what is buffered (stdout, stderr, log handlers) and end the process with `code`.
    Returns (and the normal exit follows) when a flush fails, e.g. a closed pipe."""
    try:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
        logging.shutdown()
    except (OSError, ValueError):
        return
    os._exit(code)
