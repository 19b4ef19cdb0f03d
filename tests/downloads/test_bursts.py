"""A throttling server sends in bursts (nginx's limit_rate: up to 2 MiB, then a pause): what arrived
is written while the server pauses, not held in memory until the next burst (a kill would lose it)."""

from __future__ import annotations

import asyncio
import hashlib
import time

from aiohttp import web

from tests.downloads.conftest import part_of, payload
from tests.http_server import serve

KiB = 1024


async def test_a_burst_is_on_disk_while_the_server_pauses(runner):
    data = payload(1536 * KiB)
    head = 300 * KiB  # less than a batch, more than the first bytes sniffed
    resume = asyncio.Event()

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        response.content_length = len(data)
        await response.prepare(request)
        await response.write(data[:head])  # a burst...
        await resume.wait()  # ...then the throttle's pause
        await response.write(data[head:])
        return response

    app = web.Application()
    app.router.add_get("/f/b.bin", handler)
    async with serve(app) as base:
        job = runner.job(f"{base}/f/b.bin", "b.bin", expected_sha256=hashlib.sha256(data).hexdigest())
        task = asyncio.ensure_future(runner.transfer(job).run())
        try:
            deadline = time.monotonic() + 10
            while not (
                part_of(runner.folder, "b.bin").exists() and part_of(runner.folder, "b.bin").stat().st_size >= head
            ):
                assert time.monotonic() < deadline, "the burst stayed in memory while the server paused"
                assert not task.done(), task
                await asyncio.sleep(0.01)
            assert part_of(runner.folder, "b.bin").stat().st_size == head
        finally:
            resume.set()
        result = await asyncio.wait_for(task, 20)
    assert result.verified and (runner.folder / "b.bin").read_bytes() == data
