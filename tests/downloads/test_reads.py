"""How a body is read: wide socket reads on its connection (asyncio reads 256 KiB at a time)."""

from __future__ import annotations

import hashlib
import types
from pathlib import Path

import aiohttp

from aiui_tui.services.downloads import transfer as transfer_module
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
