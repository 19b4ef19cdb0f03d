"""Library entries that are symlinks to outside the data root, and what a container must mount for them.

A container sees `models/<kind>/` through a bind mount; a symlink in it to `/mnt/disk2/x.safetensors`
dangles inside the container unless `/mnt/disk2` is mounted too, at the same path. Absolute targets
are therefore mounted read-only at their own path; relative links that leave the kind folder cannot be
made to work that way and are reported. Blocking: call from a thread.
"""

from __future__ import annotations

import os
from pathlib import Path


def outside_link_mounts(kind_dirs: list[Path], root: Path) -> tuple[list[str], list[str]]:
    """(folders to bind read-only at the same path, warnings) for links under `kind_dirs` leaving `root`."""
    root = root.resolve()
    folders: set[str] = set()
    warnings: list[str] = []
    for kind_dir in kind_dirs:
        try:
            entries = list(os.scandir(kind_dir))
        except OSError:
            continue
        for entry in entries:
            if not entry.is_symlink():
                continue
            raw = os.readlink(entry.path)
            target = Path(os.path.realpath(entry.path))
            if target.is_relative_to(root):
                continue
            if not os.path.isabs(raw):
                warnings.append(
                    f"{entry.path} is a relative link to outside the data root: containers cannot follow it; "
                    "make it an absolute link or import the file (aiui-tui models import)"
                )
                continue
            if not target.exists():
                warnings.append(f"{entry.path} points to {target}, which does not exist")
                continue
            folders.add(str(Path(raw).parent))
    return sorted(folders), warnings
