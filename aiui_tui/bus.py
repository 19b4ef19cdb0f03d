"""A small publish/subscribe bus for events, on one asyncio loop.

Services publish typed events; the TUI subscribes once and turns them into Textual messages, the
CLI renders them with rich. Handlers are plain callables run synchronously at publish time, so they
must be quick (post a message, update a field); a handler that raises is logged, never propagated
to the publisher. Producers throttle at the source (see `core.throttle`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

from aiui_tui.core.events import Event
from aiui_tui.logs import get_logger

log = get_logger(__name__)
Handler = Callable[[Any], None]


class Bus:
    def __init__(self) -> None:
        self._subscribers: list[tuple[tuple[type[Event], ...], Handler]] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    def bind_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """The loop that `publish_threadsafe` hands events to."""
        self._loop = loop

    def subscribe(self, handler: Handler, *types: type[Event]) -> Callable[[], None]:
        """Call `handler(event)` for events of `types` (all events when none); returns unsubscribe."""
        entry = (types or (Event,), handler)
        self._subscribers.append(entry)

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._subscribers.remove(entry)

        return unsubscribe

    def publish(self, event: Event) -> None:
        for types, handler in list(self._subscribers):
            if isinstance(event, types):
                try:
                    handler(event)
                except Exception:
                    log.exception("event handler failed", event_type=type(event).__name__)

    def publish_threadsafe(self, event: Event) -> None:
        """Publish from a worker thread: the event is delivered on the bound loop."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self.publish(event)
        else:
            loop.call_soon_threadsafe(self.publish, event)
