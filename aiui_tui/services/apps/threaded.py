"""A blocking iterator (a docker SDK stream) read on a thread of its own, its items handed to the loop.

The engine's event stream, a followed log, an image pull and a container's stats stream are all
generators that block between items for as long as the engine likes. Each gets a daemon thread of
its own (not the shared executor, which has few workers on small machines) and one behaviour:

- items arrive on the loop, in order, as `async for` yields them;
- an exception raised by the iterator is raised to the consumer after the items that came before it:
  the caller decides whether that is an error (a pull) or the normal end of a stream (a log);
- when the consumer stops early (break, `aclose`, cancellation), the thread is told to stop at its
  next item and `close` is called on a worker thread, so a stream blocked between items wakes up.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncGenerator, Callable, Iterable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True)
class _End:
    error: Exception | None  # what the iterator raised, or None when it ran out


async def iterate_in_thread(
    items: Iterable[T], *, name: str, close: Callable[[], object] | None = None
) -> AsyncGenerator[T, None]:
    """Yield `items` on the loop while a daemon thread named `name` iterates them (see the module's doc)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[T] | _End] = asyncio.Queue()
    stop = threading.Event()

    def hand(message: tuple[T] | _End) -> bool:
        try:
            loop.call_soon_threadsafe(queue.put_nowait, message)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            return False
        return True

    def pump() -> None:
        try:
            for item in items:
                if stop.is_set() or not hand((item,)):
                    return
        except Exception as exc:
            hand(_End(exc))
            return
        hand(_End(None))

    threading.Thread(target=pump, name=name, daemon=True).start()
    try:
        while True:
            message = await queue.get()
            if isinstance(message, _End):
                if message.error is not None:
                    raise message.error
                return
            yield message[0]
    finally:
        stop.set()
        if close is not None:
            with contextlib.suppress(Exception):
                await asyncio.to_thread(close)
