"""Operating-system errors as one line with a fix, whatever operation met them.

A full disk, a denied permission or a read-only mount can surface from any file operation; the
ones that services do not turn into their own errors reach the command line's last resort, which
asks here before calling anything "unexpected". Pure: it only reads the exception.
"""

from __future__ import annotations

import errno

from aiui_tui.core.errors import PathProblem


def os_problem(exc: OSError) -> PathProblem | None:
    """The error as a PathProblem (exit 2) when it is about the machine, not a bug; else None."""
    where = exc.filename if exc.filename is not None else "a file"
    code = exc.errno
    if code in (errno.ENOSPC, errno.EDQUOT):
        what = "no space left on the disk" if code == errno.ENOSPC else "the disk quota is used up"
        return PathProblem(
            f"Cannot write {where}: {what}.", "free some space (aiui-tui stats shows the disks), then retry"
        )
    if code in (errno.EACCES, errno.EPERM):
        return PathProblem(
            f"Permission denied: {where}.",
            f"check its owner and mode (ls -ld {where}); take it back with sudo chown -R $USER: on the folder",
        )
    if code == errno.EROFS:
        return PathProblem(
            f"Cannot write {where}: the filesystem is read-only.", "remount it read-write, or use --root DIR"
        )
    if code == errno.ELOOP:
        return PathProblem(f"{where} is a loop of symbolic links.", f"replace the link: ls -l {where}")
    if code == errno.ENAMETOOLONG:
        return PathProblem(f"A name is too long for the filesystem: {where}.", "use a shorter name or folder")
    if code in (errno.ENOTDIR, errno.EISDIR):
        kind = "a file where a folder" if code == errno.ENOTDIR else "a folder where a file"
        return PathProblem(f"{where}: there is {kind} is expected.", "move the one in the way, then retry")
    if code == errno.EMFILE:
        return PathProblem("Too many open files for this process.", "raise the limit (ulimit -n 4096), then retry")
    if code == errno.EIO:
        return PathProblem(f"Input/output error reading or writing {where}.", "check the disk (dmesg), then retry")
    return None
