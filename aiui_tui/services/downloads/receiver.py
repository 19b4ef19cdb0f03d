"""Receiving the rest of a plain response body into buffers of our own, past aiohttp's parser.

aiohttp hands a body over as a new `bytes` per socket read: the read allocates a buffer and its
parser copies the body out of it again, so every byte is copied twice in this process before it is
written. For a body sent as it is (a Content-Length, no chunked framing, no compression), the
connection's transport is handed to `BodyReceiver`, an asyncio BufferedProtocol: the socket reads
straight into a large buffer (`recv_into`), and what arrived is handed over as memoryviews of it.
A buffer is used again (`BufferPool`) only once every view of it is released: written, and hashed
or dropped by the hasher. Fresh buffers for every MiB cost as much as they saved (page faults and
zeroing: the heap gives freed megabytes back to the kernel); see docs/benchmarks.md.

The connection is not given back to aiohttp's pool afterwards: the caller closes the response.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import aiohttp

BUFFER_SIZE = 1024 * 1024  # one buffer per this many bytes received
MAX_UNTAKEN = 4 * 1024 * 1024  # received and not taken yet: past this the socket is not read (back-pressure)
MAX_BUFFERS = 16  # per pool: with all of them lent (the writer or hasher behind), the socket is not read


class _Slab:
    __slots__ = ("data", "lent", "retired")

    def __init__(self, size: int) -> None:
        self.data = memoryview(bytearray(size))
        self.lent = 0  # views of it handed out and not released
        self.retired = False  # no longer filled: free again once nothing is lent


class BufferPool:
    """Receive buffers of one size, each used again once every view lent out of it is released.

    Releases come from the writer's and the hasher's threads, hence the lock. A view that is never
    released (a failed write, a hasher closed early) only keeps its buffer out of the pool: it is
    garbage collected, never overwritten.
    """

    def __init__(self, size: int = BUFFER_SIZE, most: int = MAX_BUFFERS) -> None:
        self.size = size
        self.most = most
        self.allocated = 0
        self._free: list[_Slab] = []
        self._waiting: list[tuple[asyncio.AbstractEventLoop, Callable[[], None]]] = []
        self._lock = threading.Lock()

    def get(self) -> _Slab:
        """A free buffer, or a new one (past `most` too: a receiver that was told one is free may find
        another took it; it is not made to wait twice)."""
        with self._lock:
            if self._free:
                return self._free.pop()
            self.allocated += 1
        return _Slab(self.size)

    def ready_or_call(self, loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> bool:
        """True when `get` would not go past `most`; otherwise False, and `callback` is called on
        `loop` once a buffer is free."""
        with self._lock:
            if self._free or self.allocated < self.most:
                return True
            self._waiting.append((loop, callback))
            return False

    def lend(self, slab: _Slab) -> None:
        """Count one more view of `slab` handed out (it is not filled again until released)."""
        with self._lock:
            slab.lent += 1

    def releaser(self, slabs: list[_Slab]) -> Callable[[], None]:
        """A call that releases one lent view of each of `slabs`, once, from any thread."""
        released = False

        def release() -> None:
            nonlocal released
            with self._lock:
                if released:
                    return
                released = True
                for slab in slabs:
                    slab.lent -= 1
                    self._free_if_done(slab)

        return release

    def write_off(self) -> None:
        """One buffer is taken as lost (lent and never released): one more may be made in its place."""
        with self._lock:
            self.most += 1

    def retire(self, slab: _Slab) -> None:
        with self._lock:
            slab.retired = True
            self._free_if_done(slab)

    def _free_if_done(self, slab: _Slab) -> None:
        if slab.retired and slab.lent == 0:
            slab.retired = False
            self._free.append(slab)
            waiting, self._waiting = self._waiting, []
            for loop, callback in waiting:
                try:
                    loop.call_soon_threadsafe(callback)
                except RuntimeError:  # that loop is closed: nobody waits any more
                    pass


class BodyReceiver(asyncio.BufferedProtocol):
    """The rest of one body: `left` more bytes, then it stops reading.

    `take()` returns what arrived since the last take, and the call that releases it (its buffers
    are filled again only after that); an empty list once the body is complete or the connection
    ended early (the caller compares what it got with what it expected). An error of the
    connection, or silence for `read_timeout` seconds, is raised by `take()` once everything that
    arrived before it has been taken.
    """

    def __init__(
        self,
        transport: asyncio.Transport,
        left: int,
        read_timeout: float | None,
        pool: BufferPool,
        *,
        max_untaken: int = MAX_UNTAKEN,
    ) -> None:
        self._transport = transport
        self._loop = asyncio.get_running_loop()
        self.left = left
        self.received = 0
        self._pool = pool
        self._max_untaken = max_untaken
        self._slab: _Slab | None = None
        self._buffer = memoryview(bytearray(0))
        self._start = self._fill = 0  # [start, fill) of the buffer arrived and is not taken yet
        self._full: list[tuple[memoryview, _Slab]] = []  # untaken ends of earlier buffers
        self._untaken = 0
        self._paused = False  # by us, for back-pressure or at the body's end
        self._starved = False  # paused until the pool has a free buffer
        self._starved_at = 0.0
        self._ended = False  # the peer closed, or the connection was lost
        self._error: BaseException | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._read_timeout = read_timeout
        self._last_read = self._loop.time()
        self._timer: asyncio.TimerHandle | None = None
        self._arm_timer()

    # -- taking over a response's connection ---------------------------------------------------

    @classmethod
    def take_over(
        cls, response: aiohttp.ClientResponse, left: int, read_timeout: float | None, pool: BufferPool
    ) -> BodyReceiver | None:
        """Move `response`'s connection to a receiver of its next `left` bytes; None where that cannot
        be done safely (a transport without flow control or protocol switching), and aiohttp goes on."""
        connection = response.connection
        transport = getattr(connection, "transport", None)
        protocol = getattr(connection, "protocol", None)
        needed = ("set_protocol", "is_reading", "pause_reading", "resume_reading", "is_closing")
        if left <= 0 or transport is None or protocol is None or not all(hasattr(transport, n) for n in needed):
            return None
        if transport.is_closing() or response.content.exception() is not None:
            return None
        try:
            protocol.pause_reading()  # aiohttp's read timeout stops with it
        except Exception:  # another aiohttp's protocol: leave the body to it
            return None
        receiver = cls(transport, left, read_timeout, pool)
        transport.set_protocol(receiver)
        if not transport.is_reading():
            transport.resume_reading()
        return receiver

    # -- the protocol side (called by the transport) -------------------------------------------

    def get_buffer(self, sizehint: int) -> memoryview:
        if self.left <= 0:  # bytes past the body's end (reading is paused by now): read, then dropped
            return memoryview(bytearray(4096))
        if self._fill == len(self._buffer):  # full (or none yet): its untaken end waits in _full
            self._next_buffer()
        return self._buffer[self._fill : self._fill + self.left]  # never past the body's end

    def buffer_updated(self, nbytes: int) -> None:
        if self.left <= 0:
            return
        self._fill += nbytes
        self.left -= nbytes
        self.received += nbytes
        self._untaken += nbytes
        self._last_read = self._loop.time()
        if self.left <= 0 or self._untaken >= self._max_untaken:
            self._pause()
        elif self._fill == len(self._buffer) and not self._pool.ready_or_call(self._loop, self._buffer_freed):
            self._starved = True
            self._starved_at = self._loop.time()
            self._pause()
        self._wake()

    def eof_received(self) -> bool:
        self._ended = True
        self._wake()
        return False  # the transport closes itself

    def connection_lost(self, exc: Exception | None) -> None:
        self._ended = True
        if exc is not None and self._error is None:
            self._error = exc
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._wake()

    # -- the consumer side -----------------------------------------------------------------

    async def take(self) -> tuple[list[memoryview], Callable[[], None]]:
        while True:
            if self._untaken:
                taken = self._full
                if self._fill > self._start:
                    assert self._slab is not None
                    self._pool.lend(self._slab)
                    taken.append((self._buffer[self._start : self._fill], self._slab))
                self._full, self._start, self._untaken = [], self._fill, 0
                self._resume()
                return [view for view, _ in taken], self._pool.releaser([slab for _, slab in taken])
            if self._error is not None:
                raise self._error
            if self.left <= 0 or self._ended:
                return [], _nothing
            self._waiter = self._loop.create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    def close(self) -> None:
        """Stop: the connection is closed (it is never reused)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._transport.close()
        if self._slab is not None:  # what was not taken is dropped
            self._pool.retire(self._slab)
            self._slab = None
        self._pool.releaser([slab for _, slab in self._full])()
        self._full.clear()

    # -- internals ----------------------------------------------------------------------------

    def _next_buffer(self) -> None:
        if self._slab is not None:
            if self._fill > self._start:  # lent now: it waits for a take
                self._pool.lend(self._slab)
                self._full.append((self._buffer[self._start : self._fill], self._slab))
            self._pool.retire(self._slab)  # back in the pool once its views are released
        self._slab = self._pool.get()
        self._buffer = self._slab.data
        self._start = self._fill = 0

    def _pause(self) -> None:
        if not self._paused:
            self._paused = True
            self._transport.pause_reading()

    def _resume(self) -> None:
        if (
            self._paused
            and not self._starved
            and self._untaken < self._max_untaken
            and self.left > 0
            and not self._ended
        ):
            self._paused = False
            self._transport.resume_reading()

    def _buffer_freed(self) -> None:
        self._starved = False
        self._resume()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _arm_timer(self) -> None:
        if self._read_timeout:
            self._timer = self._loop.call_at(self._last_read + self._read_timeout, self._check_silence)

    def _check_silence(self) -> None:
        """aiohttp's sock_read: no byte for `read_timeout` seconds while we were reading. One timer per
        timeout period, not one per read."""
        self._timer = None
        if self._ended:
            return
        now = self._loop.time()
        if self._starved and now - self._starved_at >= self._read_timeout:  # type: ignore[operator]
            # No buffer came back in a whole read timeout: views were lost (never released), not late.
            # Go on with new buffers rather than wait forever.
            self._starved = False
            self._last_read = now  # reading starts again now: silence counts from here
            self._pool.write_off()
            self._resume()
        if self._paused:  # our own pause (the writer is behind, or the body is in): not the peer's silence
            self._last_read = now
        elif now - self._last_read >= self._read_timeout:  # type: ignore[operator]
            self._error = asyncio.TimeoutError()
            self._ended = True
            self._transport.close()
            self._wake()
            return
        self._arm_timer()


def _nothing() -> None:
    pass
