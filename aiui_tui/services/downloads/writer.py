"""Writing a `.part` file off the event loop, and hashing it while it streams.

`PartWriter` runs every write (and the sidecar saves) on one thread of its own, in order, with
back-pressure on the loop: a batch is the list of chunks as aiohttp received them, written with one
`pwritev` (no join, no copy), and writeback of the dirty pages is started as the file grows, so
the fsync before the rename finds little left to write. `StreamHasher` computes sha256 on another
thread: bytes that arrive in order are hashed straight from the chunks (no second read); bytes
written ahead of the contiguous frontier (segmented downloads) are read back from the page cache
when the frontier reaches them, and a resumed file's existing prefix is read once.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import struct
import sys
import threading
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Literal

from aiui_tui.services.downloads.state import PartState, Piece

READ_BLOCK = 8 * 1024 * 1024
MAX_PENDING_WRITES = 8
INBOX_BYTES = 32 * 1024 * 1024  # chunks waiting for the hasher; past this the writer thread waits
WRITEBACK_BYTES = 8 * 1024 * 1024  # start writing dirty pages back every this many bytes written
IOV_MAX = 1024  # buffers per pwritev (Linux's limit)
Chunk = bytes | memoryview  # a view is of a buffer never written again (receiver.py)


class StreamHasher:
    """sha256 of a file while it is written, on a thread of its own.

    The writer offers each batch right after writing it. Chunks that continue what the hasher has
    (in order, no gap) are queued and hashed from memory; the queue is bounded by bytes, and a full
    queue makes the offering (writer) thread wait, so a slow hasher slows the download instead of
    growing memory or dropping chunks to read them back. Other chunks (a resumed file, segments
    ahead of the first) are not queued: the hasher reads them back once the contiguous frontier
    (`advance`) passes them.
    """

    def __init__(self, path: Path, *, inbox_bytes: int | None = None) -> None:
        self.path = path
        self.inbox_bytes = INBOX_BYTES if inbox_bytes is None else inbox_bytes
        self._sha = hashlib.sha256()
        self.hashed = 0
        self.read_back = 0  # bytes read back from the file rather than hashed from an offered chunk
        self._frontier = 0
        self._tail = 0  # end of what is hashed, being hashed or queued: where the next offer must start
        self._items: deque[Chunk] = deque()
        self._releases: deque[tuple[int, Callable[[], None]]] = deque()  # (called once hashed up to, release)
        self._queued = 0  # bytes in _items
        self._cv = threading.Condition()
        self._error: BaseException | None = None
        self._stop = False
        self._thread = threading.Thread(target=self._run, name=f"hash {path.name}", daemon=True)
        self._thread.start()

    @property
    def queued(self) -> int:
        """Bytes offered and not hashed yet."""
        return self._queued

    def offer(self, offset: int, data: bytes) -> None:
        """Hand over `data`, already written at `offset` (see `offer_chunks`)."""
        self.offer_chunks(offset, [data])

    def offer_chunks(self, offset: int, chunks: list[Chunk], release: Callable[[], None] | None = None) -> bool:
        """Hand over `chunks`, written one after the other from `offset`; True when they were taken.

        Waits while the inbox holds more than `inbox_bytes`. Chunks that do not continue the hashed
        stream are not taken (they are read back when the frontier passes them). Taken chunks must not
        change until they are hashed, when `release` is called (on the hasher's thread); chunks
        dropped by `close` are released once the hasher's thread has stopped.
        """
        with self._cv:
            if offset != self._tail or self._stop:
                return False
            for chunk in chunks:
                self._items.append(chunk)
                self._queued += len(chunk)
                self._tail += len(chunk)
            if release is not None:
                self._releases.append((self._tail, release))
            self._cv.notify_all()
            while self._queued > self.inbox_bytes and not self._stop:
                self._cv.wait()
            return True

    def advance(self, frontier: int) -> None:
        """Everything before `frontier` is written and may be read back."""
        with self._cv:
            if frontier > self._frontier:
                self._frontier = frontier
                self._cv.notify_all()

    def _update(self, data: bytes | memoryview) -> None:
        self._sha.update(data)  # hashlib lets go of the GIL for large buffers

    def _run(self) -> None:
        fd = None
        block: bytearray | None = None
        try:
            while True:
                with self._cv:
                    while not self._items and self._frontier <= self.hashed and not self._stop:
                        self._cv.wait()
                    if self._stop:
                        return
                    reading = 0
                    if self._items:
                        data: Chunk = self._items[0]
                    else:  # nothing queued, so _tail == hashed: claim the next block of the file
                        reading = min(READ_BLOCK, self._frontier - self.hashed)
                        self._tail = self.hashed + reading
                if reading:
                    if fd is None:
                        fd = os.open(self.path, os.O_RDONLY)
                        block = bytearray(READ_BLOCK)  # one buffer for every read: no page faults per read
                    assert block is not None
                    n = os.preadv(fd, [memoryview(block)[:reading]], self.hashed)
                    if n < reading:
                        raise OSError(f"{self.path} ends at {self.hashed + n}, before its written frontier")
                    data = memoryview(block)[:n]
                self._update(data)
                with self._cv:
                    if self._stop:  # closed meanwhile: what was queued is dropped
                        return
                    self.hashed += len(data)
                    if reading:
                        self.read_back += len(data)
                    else:
                        self._items.popleft()
                        self._queued -= len(data)
                        while self._releases and self._releases[0][0] <= self.hashed:
                            self._releases.popleft()[1]()
                    self._cv.notify_all()
        except BaseException as exc:  # reported by result()
            self._error = exc
        finally:
            with self._cv:
                self._stop = True  # an offer never waits for a hasher that is gone
                self._cv.notify_all()
            if fd is not None:
                os.close(fd)

    def result(self, total: int) -> str:
        """Block until `total` bytes are hashed; the hex digest. Run it in a thread."""
        self.advance(total)
        with self._cv:
            while self.hashed < total and not self._stop:
                self._cv.wait()
        if self._error:
            raise self._error
        if self.hashed != total:
            raise RuntimeError(f"hashed {self.hashed} of {total} bytes")
        return self._sha.hexdigest()

    def close(self) -> None:
        """Stop hashing; chunks not hashed yet are dropped, and released once the hasher's thread
        has stopped (a thread still running after 5 s keeps them: never released, never reused)."""
        with self._cv:
            self._stop = True
            self._items.clear()
            dropped = [release for _end, release in self._releases]
            self._releases.clear()
            self._queued = 0
            self._cv.notify_all()
        self._thread.join(5)
        if not self._thread.is_alive():
            for release in dropped:
                release()


def pwritev_all(fd: int, buffers: list[Chunk], offset: int) -> int:
    """Write `buffers` one after the other at `offset`, with as few `pwritev` calls as the kernel
    allows (no join, no copy); the bytes written."""
    views: list[bytes | memoryview] = list(buffers)
    total = i = 0
    while i < len(views):
        n = os.pwritev(fd, views[i : i + IOV_MAX], offset + total)
        if n == 0:
            raise OSError(f"pwritev wrote nothing at {offset + total}")
        total += n
        while i < len(views) and n >= len(views[i]):  # whole buffers written
            n -= len(views[i])
            i += 1
        if n:  # a short write ended inside a buffer: go on from there
            views[i] = memoryview(views[i])[n:]
    return total


SYNC_FILE_RANGE_WRITE = 2  # linux/fs.h
# libc's sync_file_range, False where there is none; looked up once
_sync_file_range: Callable[[int, int, int, int], int] | Literal[False] | None = None


def _libc_sync_file_range() -> Callable[[int, int, int, int], int] | Literal[False]:
    global _sync_file_range
    if _sync_file_range is None:
        _sync_file_range = False
        if sys.platform.startswith("linux"):
            import ctypes

            try:
                func = ctypes.CDLL(None, use_errno=True).sync_file_range
            except (OSError, AttributeError):
                pass
            else:
                func.argtypes = (ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint)
                func.restype = ctypes.c_int
                _sync_file_range = func
    return _sync_file_range


def start_writeback(fd: int, offset: int, length: int) -> None:
    """Start writing back the dirty pages of a range without waiting for them (Linux's
    sync_file_range); elsewhere flush the data, which waits (on the writer thread, every
    WRITEBACK_BYTES). The fsync before the rename stays: this only leaves it less to do."""
    func = _libc_sync_file_range()
    if func and func(fd, offset, length, SYNC_FILE_RANGE_WRITE) == 0:
        return
    getattr(os, "fdatasync", os.fsync)(fd)


class PartWriter:
    """Owns the open `.part` file for one transfer attempt."""

    def __init__(
        self,
        part: Path,
        sidecar: Path,
        state: PartState,
        hasher: StreamHasher,
        *,
        writeback_bytes: int | None = None,
    ) -> None:
        self.part = part
        self.sidecar = sidecar
        self.progress = part.with_name(part.name + ".progress")
        self.state = state
        self.hasher = hasher
        self.written = 0  # sequential: bytes in the file
        self._fd: int | None = None
        self._progress_fd: int | None = None
        self._index: dict[int, int] = {id(p): i for i, p in enumerate(state.pieces)}
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"write {part.name}")
        self._inflight: deque[Future[None]] = deque()
        self.writeback_bytes = WRITEBACK_BYTES if writeback_bytes is None else writeback_bytes
        self.writebacks: list[tuple[int, int]] = []  # ranges whose writeback was started, in order
        self._unsynced = 0
        self._dirty_from, self._dirty_to = 1 << 62, 0

    # -- setup, on the writer thread ---------------------------------------------------------
    def _open(self, start: int, preallocate: int | None) -> None:
        fd = os.open(self.part, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            size = os.fstat(fd).st_size
            if size > start and not self.state.segmented:
                os.ftruncate(fd, start)
            if preallocate and size < preallocate:
                try:
                    os.posix_fallocate(fd, 0, preallocate)
                except OSError as exc:
                    if exc.errno not in (95, 22):  # EOPNOTSUPP/EINVAL: filesystems without fallocate
                        raise
                    os.ftruncate(fd, preallocate)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        if self.state.segmented:
            self._index = {id(p): i for i, p in enumerate(self.state.pieces)}
            self._progress_fd = os.open(self.progress, os.O_RDWR | os.O_CREAT, 0o644)
            os.pwrite(self._progress_fd, b"".join(struct.pack("<Q", p.done) for p in self.state.pieces), 0)
        self.written = start
        self.state.save(self.sidecar)

    async def open(self, start: int, preallocate: int | None = None) -> None:
        await asyncio.get_running_loop().run_in_executor(self._pool, self._open, start, preallocate)
        self.hasher.advance(self.state.frontier() if self.state.segmented else start)

    # -- writing ---------------------------------------------------------------------------
    def _write(self, offset: int, chunks: list[Chunk], piece: Piece | None, release: Callable[[], None] | None) -> None:
        assert self._fd is not None
        position = offset + pwritev_all(self._fd, chunks, offset)
        self._dirty_from = min(self._dirty_from, offset)
        self._dirty_to = max(self._dirty_to, position)
        self._unsynced += position - offset
        if self._unsynced >= self.writeback_bytes:
            self._start_writeback()
        if piece is None:
            self.written = position
            frontier = position
        else:
            piece.done = position - piece.start
            if self._progress_fd is not None:  # after the data: progress never runs ahead of it
                os.pwrite(self._progress_fd, struct.pack("<Q", piece.done), 8 * self._index[id(piece)])
            frontier = self.state.frontier()
        if not self.hasher.offer_chunks(offset, chunks, release) and release is not None:  # may wait: back-pressure
            release()  # not kept by the hasher (read back later, if at all): free once written
        self.hasher.advance(frontier)

    def _start_writeback(self) -> None:
        assert self._fd is not None
        start_writeback(self._fd, self._dirty_from, self._dirty_to - self._dirty_from)
        self.writebacks.append((self._dirty_from, self._dirty_to))
        self._unsynced, self._dirty_from, self._dirty_to = 0, 1 << 62, 0

    async def write(
        self,
        offset: int,
        data: bytes | list[Chunk],
        piece: Piece | None = None,
        release: Callable[[], None] | None = None,
    ) -> None:
        """Queue a write of `data` (one buffer, or chunks written one after the other) at `offset`;
        waits only when the disk or the hasher falls behind (back-pressure).

        A queued write always runs, even when the caller is cancelled meanwhile: dropping one would
        leave a hole that later writes of the same piece mark as done. The chunks must not change
        afterwards (the hasher reads them later): bytes, or views of a buffer not written again until
        `release` is called, once they are written and no longer needed by the hasher.
        """
        chunks: list[Chunk] = [data] if isinstance(data, bytes) else data
        self._inflight.append(self._pool.submit(self._write, offset, chunks, piece, release))
        while self._inflight and (len(self._inflight) >= MAX_PENDING_WRITES or self._inflight[0].done()):
            await _finished(self._inflight.popleft())

    async def drain(self) -> None:
        """Wait for every queued write; the first write error, if any, is raised."""
        while self._inflight:
            await _finished(self._inflight.popleft())

    def _finish(self, fsync: bool) -> None:
        if self._fd is None:
            return
        if fsync:
            os.fsync(self._fd)
        elif self._unsynced:  # the tail too: the hash finishes meanwhile, then the commit's fsync is short
            self._start_writeback()
        os.close(self._fd)
        self._fd = None
        if self._progress_fd is not None:
            os.close(self._progress_fd)
            self._progress_fd = None
        self.state.save(self.sidecar)

    async def close(self, *, fsync: bool = False) -> None:
        """Wait for queued writes, save progress, close the file (fsync first when finalizing).

        `_finish` queues behind every write on the single writer thread, so even writes whose
        caller was cancelled are on disk before the sidecar is saved.
        """
        try:
            await self.drain()
        finally:
            future: Future[None] = self._pool.submit(self._finish, fsync)
            try:
                await _uncancelled(asyncio.wrap_future(future))
            finally:  # even when the last save fails (a full disk): no idle thread left behind
                self._pool.shutdown(wait=False)


async def _finished(write: Future[None]) -> None:
    """Wait for a queued write; its error, if any, is raised. One already done is read as it is:
    wrapping it in an asyncio future would still wake the loop through its self-pipe (a write, an
    epoll wake-up and a read per batch, ~1000 per GiB)."""
    if write.done():
        write.result()
        return
    await asyncio.shield(asyncio.wrap_future(write))


async def _uncancelled(future: asyncio.Future[None]) -> None:
    """Wait for `future` even through cancellations (re-raised after): once this returns, the file is
    closed and the sidecar saved, so whoever removes the part next does not race a late save."""
    cancelled = False
    while True:
        try:
            await asyncio.shield(future)
            break
        except asyncio.CancelledError:
            if future.done():
                break
            cancelled = True
    if cancelled:
        raise asyncio.CancelledError
    future.result()
