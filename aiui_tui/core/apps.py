"""What the UIs know about an app: plain data, rendered by the TUI and the CLI."""

from __future__ import annotations

from dataclasses import dataclass

from aiui_tui.core.strenum import StrEnum


class AppState(StrEnum):
    """States an app can be in, as the dashboard shows them (each equal to its old string)."""

    NOT_CREATED = "not created"  # no container yet (or removed)
    PULLING = "pulling"
    STARTING = "starting"  # container running, the UI not answering yet
    READY = "ready"
    STOPPED = "stopped"  # stopped by the user
    EXITED = "exited"  # stopped on its own: exit code and last log lines in `reason`/`last_lines`
    STOPPING = "stopping"
    UNKNOWN = "unknown"  # the engine does not answer
    BROKEN = "broken"  # its manifest cannot be used: the error (file, line, key) in `reason`, the fix in `fix`


# The members under their short names, as the services import them.
NOT_CREATED = AppState.NOT_CREATED
PULLING = AppState.PULLING
STARTING = AppState.STARTING
READY = AppState.READY
STOPPED = AppState.STOPPED
EXITED = AppState.EXITED
STOPPING = AppState.STOPPING
UNKNOWN = AppState.UNKNOWN
BROKEN = AppState.BROKEN
RUNNING_STATES = (STARTING, READY)


@dataclass(frozen=True)
class AppStatus:
    name: str
    title: str
    state: AppState
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

    def __post_init__(self) -> None:
        if type(self.state) is not AppState:  # a plain string (a plugin, a test): the member, or ValueError
            object.__setattr__(self, "state", AppState(self.state))

    @property
    def running(self) -> bool:
        return self.state in RUNNING_STATES
