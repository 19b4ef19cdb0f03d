"""What the UIs know about an app: plain data, rendered by the TUI and the CLI."""

from __future__ import annotations

from dataclasses import dataclass

# States an app can be in, as the dashboard shows them.
NOT_CREATED = "not created"  # no container yet (or removed)
PULLING = "pulling"
STARTING = "starting"  # container running, the UI not answering yet
READY = "ready"
STOPPED = "stopped"  # stopped by the user
EXITED = "exited"  # stopped on its own: exit code and last log lines in `reason`/`last_lines`
STOPPING = "stopping"
UNKNOWN = "unknown"  # the engine does not answer
BROKEN = "broken"  # its manifest cannot be used: the error (file, line, key) in `reason`, the fix in `fix`
RUNNING_STATES = (STARTING, READY)


@dataclass(frozen=True)
class AppStatus:
    name: str
    title: str
    state: str
    image: str = ""
    url: str | None = None
    container_id: str | None = None
    exit_code: int | None = None
    reason: str = ""
    last_lines: tuple[str, ...] = ()
    profile: str = ""
    gpu: bool = False
    source: str = "built-in"
    started_at: float | None = None  # when the container last started (uptime)
    fix: str = ""  # what to do about `reason` (a broken manifest)

    @property
    def running(self) -> bool:
        return self.state in RUNNING_STATES
