"""A real HTTP file server on loopback with faults injected on demand.

Files are served at `/f/NAME` with Range and If-Range support like a CDN. A `Fault` per name can
cut connections at given offsets, answer error statuses first, ignore Range, change the file
between attempts, omit Content-Length, throttle, demand a token, redirect to another host, or
answer an error page with 200. Every request is recorded (headers, time, bytes sent).
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web

from tests.http_server import serve


@dataclass
class Fault:
    cut_at: list[int] = field(default_factory=list)  # absolute offsets; one cut per request, consumed
    statuses: list[int] = field(default_factory=list)  # answered first, one per request
    retry_after: str | None = None
    ignore_range: bool = False
    no_length: bool = False
    content_type: str = "application/octet-stream"
    content_disposition: str | None = None
    rate: int | None = None  # bytes per second per connection
    require_token: str | None = None
    redirect_to: str | None = None  # base URL of another server holding the same name
    location: str | None = None  # a 302 to exactly this Location, however hostile
    body_override: bytes | None = None  # answered with 200 instead of the file (an error page)
    weak_etag: bool = False
    no_validators: bool = False  # no ETag, no Last-Modified; any If-Range then fails (RFC 9110 13.1.5)
    content_encoding: str | None = None  # "gzip": the whole file compressed, whatever was asked


@dataclass
class Served:
    name: str
    headers: dict[str, str]
    at: float
    status: int = 0
    sent: int = 0


class FaultServer:
    def __init__(self) -> None:
        self.files: dict[str, bytes] = {}
        self.etags: dict[str, str] = {}
        self.faults: dict[str, Fault] = {}
        self.requests: list[Served] = []
        self.base = ""

    def add(self, name: str, data: bytes, fault: Fault | None = None) -> str:
        self.files[name] = data
        self.etags[name] = '"' + hashlib.sha256(data).hexdigest()[:16] + '"'
        self.faults[name] = fault or Fault()
        return f"{self.base}/f/{name}"

    def change(self, name: str, data: bytes) -> None:
        """The remote file changes (a new revision): new bytes, new ETag."""
        self.add(name, data, self.faults[name])

    def seen(self, name: str) -> list[tuple[str | None, str | None, int]]:
        """(Range, If-Range, status) of each request for `name`."""
        return [(r.headers.get("Range"), r.headers.get("If-Range"), r.status) for r in self.requests if r.name == name]

    def bytes_sent(self, name: str) -> int:
        return sum(r.sent for r in self.requests if r.name == name)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/f/{name}", self._get)
        return app

    async def _get(self, request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        record = Served(name, dict(request.headers), time.monotonic())
        self.requests.append(record)
        if name not in self.files:
            record.status = 404
            return web.Response(status=404, text="not found")
        fault = self.faults[name]
        if fault.require_token and request.headers.get("Authorization") != f"Bearer {fault.require_token}":
            record.status = 401
            return web.json_response({"error": "Invalid credentials"}, status=401)
        if fault.location is not None:
            record.status = 302
            return web.Response(status=302, headers={"Location": fault.location})
        if fault.redirect_to:
            record.status = 302
            raise web.HTTPFound(f"{fault.redirect_to}/f/{name}?X-Amz-Signature=abc&Expires=99")
        if fault.statuses:
            status = fault.statuses.pop(0)
            record.status = status
            headers = {"Retry-After": fault.retry_after} if fault.retry_after and status == 429 else {}
            return web.Response(status=status, text=f"error {status}", headers=headers)
        if fault.content_encoding == "gzip":
            record.status = 200
            body = gzip.compress(self.files[name])
            record.sent = len(body)
            headers = {"Content-Encoding": "gzip", "ETag": self.etags[name], "Content-Type": fault.content_type}
            return web.Response(body=body, headers=headers)
        if fault.body_override is not None:
            record.status = 200
            return web.Response(body=fault.body_override, content_type=fault.content_type)
        return await self._send_file(request, name, fault, record)

    async def _send_file(self, request: web.Request, name: str, fault: Fault, record: Served) -> web.StreamResponse:
        data, etag = self.files[name], self.etags[name]
        if fault.weak_etag:
            etag = "W/" + etag
        start, end = 0, len(data)
        status = 200
        range_header = request.headers.get("Range")
        if_range = request.headers.get("If-Range")
        ranges_ok = not fault.ignore_range and not fault.no_length  # a dynamic body has no ranges
        if_range_ok = if_range is None or (if_range == etag and not fault.no_validators)
        if range_header and ranges_ok and if_range_ok:
            first, _, last = range_header.removeprefix("bytes=").partition("-")
            start = int(first)
            end = int(last) + 1 if last else len(data)
            if start >= len(data):
                record.status = 416
                return web.Response(status=416, headers={"Content-Range": f"bytes */{len(data)}"})
            end = min(end, len(data))
            status = 206
        response = web.StreamResponse(status=status)
        response.headers["Content-Type"] = fault.content_type
        if not fault.no_validators:
            response.headers["ETag"] = etag
        response.headers["Accept-Ranges"] = "bytes"
        if fault.content_disposition:
            response.headers["Content-Disposition"] = fault.content_disposition
        if status == 206:
            response.headers["Content-Range"] = f"bytes {start}-{end - 1}/{len(data)}"
        if fault.no_length:
            response.enable_chunked_encoding()
        else:
            response.content_length = end - start
        record.status = status
        await response.prepare(request)
        if request.method == "HEAD":
            return response
        cut = next((c for c in fault.cut_at if start <= c < end), None)
        if cut is not None:
            fault.cut_at.remove(cut)
        position = start
        step = 64 * 1024
        while position < end:
            stop = min(end, position + step, cut if cut is not None and cut > position else end)
            if cut is not None and position >= cut:
                request.transport.close()  # the connection drops mid-body
                return response
            await response.write(data[position:stop])
            record.sent += stop - position
            position = stop
            if fault.rate:
                await asyncio.sleep(step / fault.rate)
        await response.write_eof()
        return response


@asynccontextmanager
async def fault_server(host: str = "127.0.0.1") -> AsyncIterator[FaultServer]:
    server = FaultServer()
    async with serve(server.app(), host) as base:
        server.base = base
        yield server
