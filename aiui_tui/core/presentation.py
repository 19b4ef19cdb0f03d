"""How a state looks to a person: one label and one colour per state, for the CLI and the TUI alike.

The values are the enums' members (`AppState`, `DownloadState`), which `--json` and the stores keep
as they are; the label is what a person reads (the dashboard's card, `app status`, the Downloads
screen, `downloads list`). Colours are rich style strings (both UIs render with rich); nothing here
imports rich. The TUI imports this module when it first draws a state, not before the first frame.
"""

from __future__ import annotations

from typing import NamedTuple

from aiui_tui.core.apps import AppState
from aiui_tui.core.downloads import DownloadState


class Look(NamedTuple):
    label: str
    style: str


APP_STATES: dict[AppState, Look] = {
    # No container yet: to a person the app is stopped (`--json` keeps "not created").
    AppState.NOT_CREATED: Look("stopped", "dim"),
    AppState.PULLING: Look("pulling", "bold cyan"),
    # The container runs, the web UI does not answer yet (`--json`: "starting").
    AppState.STARTING: Look("waiting for UI", "bold yellow"),
    AppState.READY: Look("ready", "bold green"),
    AppState.STOPPED: Look("stopped", "dim"),
    AppState.EXITED: Look("exited", "bold red"),
    AppState.STOPPING: Look("stopping", "yellow"),
    AppState.UNKNOWN: Look("unknown", "magenta"),
    AppState.BROKEN: Look("broken", "bold red"),
}

DOWNLOAD_STATES: dict[DownloadState, Look] = {
    DownloadState.PENDING: Look("pending", "blue"),
    DownloadState.ACTIVE: Look("active", "cyan"),
    DownloadState.PAUSED: Look("paused", "yellow"),
    DownloadState.FAILED: Look("failed", "bold red"),
    DownloadState.DONE: Look("done", "green"),
    DownloadState.CANCELLED: Look("cancelled", "dim"),
}


def app_state(state: str) -> Look:
    """The look of an app state (a member, or its string)."""
    return APP_STATES[AppState(state)]


def download_state(state: str) -> Look:
    """The look of a download state (a member, or its string)."""
    return DOWNLOAD_STATES[DownloadState(state)]
