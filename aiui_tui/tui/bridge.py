"""The one bridge from the service bus to Textual: events become `ServiceEvent` messages.

The app subscribes once; progress-like events collapse in the message queue (`can_replace`), so a
backlog of samples never builds up behind a slow frame.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.message import Message

if TYPE_CHECKING:  # the events module is imported by the services, after the first frame
    from aiui_tui.core.events import Event


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
            and self.event.replaceable  # declared on the event class (core/events)
            and message.event.key == self.event.key
        )
