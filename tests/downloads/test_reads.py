"""How a body is read: wide socket reads on its connection, and the C heap's freed memory kept for the
next chunks while transfers run (given back when the last one ends)."""

from __future__ import annotations

import asyncio
import hashlib
import types
from pathlib import Path

import aiohttp
import pytest

from aiui_tui.services.downloads import heap
from aiui_tui.services.downloads import transfer as transfer_module
from aiui_tui.services.downloads.errors import DownloadError
from aiui_tui.services.downloads.transfer import READ_SIZE, Job, Transfer
from tests.downloads.conftest import LoopbackOnlyResolver, payload

MiB = 1024 * 1024
ASYNCIO_DEFAULT_READ = 256 * 1024


async def test_a_body_is_read_from_the_socket_in_reads_wider_than_asyncios_default(server, tmp_path: Path):
    responses: list[aiohttp.ClientResponse] = []

    async def on_request_end(_session, _context, params: aiohttp.TraceRequestEndParams) -> None:
        responses.append(params.response)

    trace = aiohttp.TraceConfig()
    trace.on_request_end.append(on_request_end)
    data = payload(3 * MiB + 5)
    url = server.add("wide.bin", data)
    read_sizes: list[int] = []

    def on_progress(_done: int, _total: int | None) -> None:  # while the body streams
        connection = responses[-1].connection
        if connection is not None and connection.transport is not None:
            read_sizes.append(connection.transport.max_size)

    async with aiohttp.ClientSession(
        auto_decompress=False, connector=aiohttp.TCPConnector(resolver=LoopbackOnlyResolver()), trace_configs=[trace]
    ) as session:
        sha = hashlib.sha256(data).hexdigest()
        job = Job(url=url, target=tmp_path / "wide.bin", expected_sha256=sha, connections=1)

        async def online(_url: str) -> bool:
            return False

        transfer = Transfer(job, session, on_progress=on_progress, notify=lambda *_: None, wait_online=online)
        result = await transfer.run()

    assert result.verified and (tmp_path / "wide.bin").read_bytes() == data
    assert READ_SIZE > ASYNCIO_DEFAULT_READ
    assert read_sizes and set(read_sizes) == {READ_SIZE}
    assert transfer.read_size == READ_SIZE


def test_a_connection_whose_transport_has_no_read_size_is_left_as_it_is():
    """Another event loop's transport (uvloop), or a response without a connection: nothing to widen."""
    assert transfer_module._widen_reads(types.SimpleNamespace(connection=None)) is None
    bare = types.SimpleNamespace(connection=types.SimpleNamespace(transport=object()))
    assert transfer_module._widen_reads(bare) is None
    wider = types.SimpleNamespace(max_size=4 * READ_SIZE)  # already wider: kept
    assert transfer_module._widen_reads(types.SimpleNamespace(connection=types.SimpleNamespace(transport=wider))) == (
        4 * READ_SIZE
    )
    assert wider.max_size == 4 * READ_SIZE


@pytest.mark.skipif(heap._libc() is None, reason="glibc's mallopt is needed")
async def test_freed_memory_is_kept_while_transfers_run_and_given_back_when_the_last_ends(server, runner):
    seen: list[tuple[int, bool]] = []
    runner.progress = types.SimpleNamespace(append=lambda _p: seen.append((heap.active(), heap.kept)))
    files = {name: payload(2 * MiB + i, seed=i) for i, name in enumerate(("a.bin", "b.bin"))}
    urls = {name: server.add(name, data) for name, data in files.items()}
    assert heap.active() == 0 and not heap.kept

    results = await asyncio.gather(*(runner.run(urls[name], name) for name in files))

    assert [r.size for r in results] == [len(d) for d in files.values()]
    assert (2, True) in seen  # both ran at once, the heap's memory kept
    assert all(kept for _, kept in seen)
    assert heap.active() == 0 and not heap.kept  # thresholds restored, the heap trimmed

    # A failed transfer gives it back too.
    with pytest.raises(DownloadError):
        await runner.run(f"{server.base}/f/missing.bin", "missing.bin")
    assert heap.active() == 0 and not heap.kept
