"""The event bus: typed subscriptions, isolation of failing handlers, thread hand-off."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass

from aiui_tui.bus import Bus
from aiui_tui.core.events import Event, Notice


@dataclass(frozen=True)
class Tick(Event):
    n: int


async def test_typed_subscriptions_and_unsubscribe():
    bus = Bus()
    ticks, everything = [], []
    stop = bus.subscribe(ticks.append, Tick)
    bus.subscribe(everything.append)
    bus.publish(Tick(1))
    bus.publish(Notice("info", "hi"))
    stop()
    bus.publish(Tick(2))
    assert [t.n for t in ticks] == [1]
    assert [type(e).__name__ for e in everything] == ["Tick", "Notice", "Tick"]


async def test_a_failing_handler_does_not_stop_the_others():
    bus = Bus()
    seen = []

    def bad(_event):
        raise RuntimeError("handler bug")

    bus.subscribe(bad)
    bus.subscribe(seen.append)
    bus.publish(Tick(1))
    assert seen == [Tick(1, at=seen[0].at)]


async def test_publish_from_a_thread_arrives_on_the_loop():
    bus = Bus()
    bus.bind_loop(asyncio.get_running_loop())
    got = asyncio.Event()
    threads = []

    def handler(event):
        threads.append(threading.get_ident())
        got.set()

    bus.subscribe(handler, Tick)
    await asyncio.to_thread(bus.publish_threadsafe, Tick(5))
    await asyncio.wait_for(got.wait(), 2)
    assert threads == [threading.get_ident()]
