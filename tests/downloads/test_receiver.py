"""Bodies read past aiohttp's parser (receiver.py): the bytes, buffers used again, back-pressure,
timeouts, broken connections, TLS, and the bodies left to aiohttp."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import socket
import ssl
import struct
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest
import trustme
from aiohttp import web

from aiui_tui.services.downloads.receiver import BodyReceiver, BufferPool
from tests.downloads.conftest import LoopbackOnlyResolver, Runner, payload
from tests.downloads.fault_server import Fault

KiB = 1024
MiB = 1024 * KiB


# -- a server that answers exactly what a test writes --------------------------------------------

Script = Callable[[asyncio.StreamWriter], Awaitable[None]]


@contextlib.asynccontextmanager
async def raw_server(script: Script) -> AsyncIterator[str]:
    """An HTTP/1.1 peer on 127.0.0.1 that reads a request's head, then runs `script` on the connection."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            await script(writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}/model.bin"
    finally:
        server.close()


def sends(data: bytes) -> Script:
    """A peer that answers 200 with `data` and its length."""

    async def script(writer: asyncio.StreamWriter) -> None:
        writer.write(head(len(data)) + data)
        await writer.drain()

    return script


def head(length: int) -> bytes:
    return f"HTTP/1.1 200 OK\r\nContent-Length: {length}\r\nContent-Type: application/octet-stream\r\n\r\n".encode()


@contextlib.asynccontextmanager
async def receiving(url: str, length: int, read_timeout: float | None, pool: BufferPool, **kwargs):
    """A GET of `url` whose connection is taken over by a receiver of the rest of its `length` bytes;
    yields the receiver, the response and the bytes aiohttp read with the head."""
    async with (
        aiohttp.ClientSession(auto_decompress=False) as session,
        session.get(url) as response,
    ):
        first = b""
        while response.content._buffer:  # what aiohttp read with the head goes first
            chunk, _ = await response.content.readchunk()
            first += chunk
        receiver = BodyReceiver.take_over(response, length - len(first), read_timeout, pool)
        assert receiver is not None
        if kwargs:
            receiver._max_untaken = kwargs["max_untaken"]
        try:
            yield receiver, response, first
        finally:
            receiver.close()


# -- through a Transfer ------------------------------------------------------------------------


async def test_a_plain_body_is_read_past_the_parser_and_lands_whole(server, runner: Runner):
    data = payload(9 * MiB + 7)
    url = server.add("model.bin", data)
    transfer = runner.transfer(runner.job(url, "model.bin", expected_sha256=hashlib.sha256(data).hexdigest()))
    result = await transfer.run()
    assert result.verified
    assert (runner.folder / "model.bin").read_bytes() == data
    # all but what aiohttp had read when its buffer first ran empty came through the receiver's buffers
    assert len(data) // 2 < transfer.read_past_parser < len(data)
    assert transfer._buffers.allocated <= transfer._buffers.most


async def test_segments_are_each_read_past_the_parser(server, runner: Runner):
    data = payload(12 * MiB + 3, seed=5)
    url = server.add("model.bin", data)
    job = runner.job(
        url,
        "model.bin",
        expected_sha256=hashlib.sha256(data).hexdigest(),
        connections=4,
        segment_threshold=MiB,
        min_piece=MiB,
    )
    transfer = runner.transfer(job)
    result = await transfer.run()
    assert result.verified and (runner.folder / "model.bin").read_bytes() == data
    assert transfer.read_past_parser > 8 * MiB


async def test_a_chunked_body_stays_with_aiohttp(server, runner: Runner):
    data = payload(3 * MiB + 1, seed=2)
    url = server.add("model.bin", data, Fault(no_length=True))
    transfer = runner.transfer(runner.job(url, "model.bin", expected_sha256=hashlib.sha256(data).hexdigest()))
    result = await transfer.run()
    assert result.verified and (runner.folder / "model.bin").read_bytes() == data
    assert transfer.read_past_parser == 0
    assert server.requests[-1].headers.get("Range") == "bytes=0-"


async def test_a_connection_cut_mid_body_keeps_what_came_and_resumes(server, runner: Runner):
    data = payload(6 * MiB, seed=3)
    url = server.add("model.bin", data, Fault(cut_at=[4 * MiB + 123]))
    transfer = runner.transfer(runner.job(url, "model.bin", expected_sha256=hashlib.sha256(data).hexdigest()))
    result = await transfer.run()
    assert result.verified and (runner.folder / "model.bin").read_bytes() == data
    ranges = [r.headers.get("Range") for r in server.requests if r.name == "model.bin"]
    assert ranges == ["bytes=0-", f"bytes={4 * MiB + 123}-"]  # nothing that arrived was fetched again


async def test_bytes_sent_past_the_content_length_are_not_written(tmp_path: Path):
    data = payload(2 * MiB + 11, seed=4)

    async def script(writer: asyncio.StreamWriter) -> None:
        writer.write(head(len(data)) + data + b"GARBAGE" * 1000)
        await writer.drain()
        await asyncio.sleep(0.5)

    async with raw_server(script) as url:
        runner = await _runner(tmp_path)
        try:
            transfer = runner.transfer(runner.job(url, "model.bin", expected_sha256=hashlib.sha256(data).hexdigest()))
            result = await transfer.run()
        finally:
            await runner.session.close()
    assert result.verified and (runner.folder / "model.bin").read_bytes() == data
    assert transfer.read_past_parser > 0


async def test_silence_mid_body_is_a_timeout_that_is_retried(tmp_path: Path):
    data = payload(3 * MiB, seed=6)
    requests = 0

    async def script(writer: asyncio.StreamWriter) -> None:
        nonlocal requests
        requests += 1
        if requests == 1:
            writer.write(head(len(data)) + data[: MiB + 5])  # then nothing: a stalled peer
            await writer.drain()
            await asyncio.sleep(5)
        else:
            rest = data[MiB + 5 :]
            writer.write(
                (
                    f"HTTP/1.1 206 Partial Content\r\nContent-Length: {len(rest)}\r\n"
                    f"Content-Range: bytes {MiB + 5}-{len(data) - 1}/{len(data)}\r\n\r\n"
                ).encode()
                + rest
            )
            await writer.drain()

    async with raw_server(script) as url:
        runner = await _runner(tmp_path, sock_read=0.4)
        try:
            transfer = runner.transfer(runner.job(url, "model.bin", expected_sha256=hashlib.sha256(data).hexdigest()))
            loop = asyncio.get_running_loop()
            started = loop.time()
            result = await transfer.run()
            took = loop.time() - started
        finally:
            await runner.session.close()
    assert result.verified and (runner.folder / "model.bin").read_bytes() == data
    assert requests == 2
    assert any("Timed out" in message for _level, message in runner.notices)
    assert took < 4  # the timeout ended the first response, not the peer's 5 s


async def _runner(tmp_path: Path, sock_read: float | None = None) -> Runner:
    folder = tmp_path / "dest"
    folder.mkdir(exist_ok=True)
    session = aiohttp.ClientSession(
        auto_decompress=False,
        connector=aiohttp.TCPConnector(resolver=LoopbackOnlyResolver()),
        timeout=aiohttp.ClientTimeout(total=None, sock_read=sock_read),
    )
    return Runner(session, folder)


# -- the receiver itself ---------------------------------------------------------------------


async def test_views_are_not_overwritten_until_released_and_reading_waits_for_a_free_buffer():
    data = payload(2 * MiB, seed=7)

    pool = BufferPool(size=64 * KiB, most=4)
    async with raw_server(sends(data)) as url, receiving(url, len(data), 5, pool) as (receiver, response, first):
        kept: list[tuple[int, memoryview]] = []  # views held, not released
        releases: list[Callable[[], None]] = []
        starved = 0
        position = len(first)
        while True:
            views, release = await asyncio.wait_for(receiver.take(), 5)
            if not views:
                break
            for view in views:
                kept.append((position, view))
                position += len(view)
            releases.append(release)
            if receiver._starved:  # every buffer is lent: the socket is not read until one is released
                starved += 1
                await asyncio.sleep(0.1)
                assert not response.connection.transport.is_reading()
                assert pool.allocated == pool.most
                for at, view in kept:  # still what was received there
                    assert view == data[at : at + len(view)]
                for release in releases[:-1]:  # the newest views stay lent, and are checked again later
                    release()
                releases = releases[-1:]
                kept = [(at, view) for at, view in kept if at >= position - sum(len(v) for v in views)]
        assert position == len(data)
        assert starved >= 3
        for at, view in kept:
            assert view == data[at : at + len(view)]
        assert pool.allocated <= pool.most + 1


async def test_views_never_released_do_not_stop_a_body_for_good():
    """A view lost without its release (a hasher stuck past its close) keeps its buffer out of the
    pool; after a whole read timeout without a free buffer the receiver writes it off and goes on."""
    data = payload(2 * MiB, seed=11)

    pool = BufferPool(size=64 * KiB, most=2)
    async with raw_server(sends(data)) as url, receiving(url, len(data), 0.3, pool) as (receiver, _response, first):
        got = bytearray(first)
        takes = 0
        while True:
            views, release = await asyncio.wait_for(receiver.take(), 10)
            if not views:
                break
            got += b"".join(views)
            takes += 1
            if takes > 1:  # the first take's views are lost: never released
                release()
        assert bytes(got) == data
        assert pool.most >= 3  # written off, and made again
        assert pool.allocated <= pool.most


async def test_a_full_receiver_stops_reading_until_taken():
    data = payload(3 * MiB, seed=8)

    pool = BufferPool()
    async with (
        raw_server(sends(data)) as url,
        receiving(url, len(data), 5, pool, max_untaken=512 * KiB) as (
            receiver,
            response,
            _first,
        ),
    ):
        transport = response.connection.transport
        for _ in range(1000):  # until the untaken bytes reach the bound (not a timing assertion)
            if not transport.is_reading():
                break
            await asyncio.sleep(0.01)
        assert not transport.is_reading()
        assert 512 * KiB <= receiver.received < len(data)
        await asyncio.sleep(0.1)
        assert receiver.received < len(data)  # and it stays paused
        _views, release = await receiver.take()
        release()
        assert transport.is_reading()


async def test_a_reset_connection_hands_over_what_came_before_its_error():
    data = payload(MiB, seed=9)

    async def script(writer: asyncio.StreamWriter) -> None:
        writer.write(head(4 * MiB) + data)
        await writer.drain()
        await asyncio.sleep(0.2)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST, not FIN
        writer.transport.abort()

    async with raw_server(script) as url, receiving(url, 4 * MiB, 5, BufferPool()) as (receiver, _response, first):
        got = bytearray(first)
        with pytest.raises(ConnectionResetError):
            while True:
                views, release = await receiver.take()
                if not views:
                    break
                got += b"".join(views)
                release()
        assert bytes(got) == data


# -- TLS ---------------------------------------------------------------------------------------


async def test_a_body_over_tls_is_read_past_the_parser(tmp_path: Path):
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    data = payload(5 * MiB + 9, seed=10)

    async def get(_request: web.Request) -> web.Response:
        return web.Response(body=data, content_type="application/octet-stream")

    app = web.Application()
    app.router.add_get("/model.bin", get)
    app_runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await app_runner.setup()
    site = web.TCPSite(app_runner, "127.0.0.1", 0, ssl_context=server_context)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    session = aiohttp.ClientSession(
        auto_decompress=False, connector=aiohttp.TCPConnector(ssl=client_context, resolver=LoopbackOnlyResolver())
    )
    folder = tmp_path / "dest"
    folder.mkdir()
    runner = Runner(session, folder)
    try:
        transfer = runner.transfer(
            runner.job(
                f"https://127.0.0.1:{port}/model.bin", "model.bin", expected_sha256=hashlib.sha256(data).hexdigest()
            )
        )
        result = await transfer.run()
    finally:
        await session.close()
        await app_runner.cleanup()
    assert result.verified and (folder / "model.bin").read_bytes() == data
    assert transfer.read_past_parser > 4 * MiB


async def test_a_transport_without_protocol_switching_is_left_to_aiohttp():
    class Plain:
        def is_closing(self) -> bool:
            return False

    class Response:
        connection = type("Connection", (), {"transport": Plain(), "protocol": object()})()

    assert BodyReceiver.take_over(Response(), MiB, None, BufferPool()) is None  # type: ignore[arg-type]
