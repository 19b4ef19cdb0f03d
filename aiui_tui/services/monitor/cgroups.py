"""Which container runs a process: its cgroup path names the container id (cgroup v1 and v2)."""

from __future__ import annotations

import re
from pathlib import Path

# /docker/<id>, /system.slice/docker-<id>.scope, /kubepods/.../cri-containerd-<id>.scope ...
_ID = re.compile(r"(?:docker[-/]|containerd[-/]|libpod-)([0-9a-f]{64})")


def container_of_pid(pid: int, proc: Path = Path("/proc")) -> str | None:
    try:
        text = (proc / str(pid) / "cgroup").read_text()
    except OSError:
        return None  # gone, or another PID namespace (a remote engine)
    for line in text.splitlines():
        match = _ID.search(line.rsplit(":", 1)[-1])
        if match:
            return match.group(1)
    return None
