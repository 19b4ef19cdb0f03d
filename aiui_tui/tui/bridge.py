"""The one bridge from the service bus to Textual: events become `ServiceEvent` messages.

The app subscribes once; progress-like events collapse in the message queue (`can_replace`), so a
backlog of samples never builds up behind a slow frame.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:  # the events module is imported by the services, after the first frame
    from aiui_tui.core.events import Event

# Names of the event classes whose newer instance makes an older, still-queued one useless (same `key`).
REPLACEABLE = frozenset(
    {"DownloadProgress", "ContainerStats", "SystemSample", "GpuSample", "AppPullProgress", "FileOpProgress"}
)


def event_key(event: Event) -> object:
    for name in ("id", "name", "index", "container_id"):
        if hasattr(event, name):
            return getattr(event, name)
    return None


class ServicesReady(Message, bubble=False):
    """The services are open: screens load what they show."""


class ServiceEvent(Message, bubble=False):
    """A service event delivered on Textual's message queue.

    It does not bubble: the app forwards it to the visible screen, and it must not come back up.
    """

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event

    def can_replace(self, message: Message) -> bool:
        return (
            isinstance(message, ServiceEvent)
            and type(message.event) is type(self.event)
            and type(self.event).__name__ in REPLACEABLE
            and event_key(message.event) == event_key(self.event)
        )
