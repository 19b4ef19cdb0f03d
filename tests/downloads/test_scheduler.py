"""The queue's scheduler sleeps until something happens: a change here, another process's change seen by
the services' ticker, a transfer's end, a retry's time. No poll of its own."""

from __future__ import annotations

import asyncio
import inspect
import socket

import pytest

from aiui_tui.bus import Bus
from aiui_tui.core.downloads import DONE, PENDING
from aiui_tui.core.requests import DownloadRequest
from aiui_tui.services import make_downloads
from aiui_tui.services.downloads import service as download_service
from aiui_tui.services.ticker import Ticker
from tests.conftest import load_services_inputs
from tests.downloads.conftest import LoopbackOnlyResolver, payload


class LaterOnline(LoopbackOnlyResolver):
    """`later.test` does not resolve (no network) until `online`; then it is this machine."""

    online = False

    async def resolve(self, host: str, port: int = 0, family: int = socket.AF_INET) -> list:
        if host == "later.test" and self.online:
            host = "localhost"
        return await super().resolve(host, port, family)


@pytest.fixture
async def open_queue(layout, clean_env):
    opened = []

    async def open_queue(ticker: Ticker, *, run_queue: bool = True, resolver=None):
        config, credentials = load_services_inputs(layout)
        config.downloads.retry_backoff_s = 0.01
        config.downloads.connections = 1
        bus = Bus()
        bus.bind_loop(asyncio.get_running_loop())
        service = make_downloads(layout, config, credentials, bus, ticker)
        service.resolver = resolver
        await service.start(run_queue=run_queue)
        opened.append(service)
        return service

    yield open_queue
    for service in opened:
        await service.close()


async def wait_for(predicate, timeout: float = 10.0):
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        await asyncio.sleep(0.02)
    raise AssertionError("condition not reached in time")


def state_is(service, item_id: str, state: str):
    async def check():
        item = await asyncio.to_thread(service.store.get, item_id)
        return item if item is not None and item.state == state else None

    return check


async def test_an_item_queued_here_starts_at_once_and_a_quiet_queue_is_not_scanned(server, open_queue, tmp_path):
    ticker = Ticker(3600)  # no look at the database during the test unless driven by hand
    service = await open_queue(ticker)
    scans = 0
    items = service.store.items

    def counted():
        nonlocal scans
        scans += 1
        return items()

    service.store.items = counted
    data = payload(100_000)
    item = await service.enqueue(DownloadRequest(url=server.add("a.bin", data), dest_dir=tmp_path, name="a.bin"))
    await wait_for(state_is(service, item.id, DONE))
    assert (tmp_path / "a.bin").read_bytes() == data and ticker.ticks == 0
    await wait_for(lambda: not service._tasks)  # the finished transfer woke the scheduler
    before = scans
    for _ in range(3):
        await ticker.tick_now()  # the ticker looks at the database: nothing changed
    assert ticker.thread_calls == 3 and scans == before  # so the queue was not read again


async def test_another_process_s_item_starts_after_the_ticker_s_look(server, open_queue, tmp_path):
    ticker = Ticker(3600)
    runner = await open_queue(ticker)
    other = await open_queue(Ticker(3600), run_queue=False)  # `aiui-tui downloads add` elsewhere
    data = payload(50_000)
    item = await other.enqueue(DownloadRequest(url=server.add("b.bin", data), dest_dir=tmp_path, name="b.bin"))
    await ticker.tick_now()  # the runner's one look a tick at the database sees the new row
    await wait_for(state_is(runner, item.id, DONE))
    assert (tmp_path / "b.bin").read_bytes() == data


async def test_an_item_waiting_for_the_network_is_tried_again_after_its_pause(
    server, open_queue, tmp_path, monkeypatch
):
    monkeypatch.setattr(download_service, "OFFLINE_FIRST_RETRY_S", 0.2)
    resolver = LaterOnline()
    ticker = Ticker(3600)  # no tick: only the retry's own timer can wake the scheduler
    service = await open_queue(ticker, resolver=resolver)
    data = payload(20_000)
    url = server.add("c.bin", data).replace("127.0.0.1", "later.test")
    item = await service.enqueue(DownloadRequest(url=url, dest_dir=tmp_path, name="c.bin"))
    waiting = await wait_for(state_is(service, item.id, PENDING))
    await wait_for(lambda: "No network" in (service.store.get(item.id).reason or ""))
    assert waiting.attempts == 0
    resolver.online = True
    await wait_for(state_is(service, item.id, DONE))
    assert (tmp_path / "c.bin").read_bytes() == data and ticker.ticks == 0
