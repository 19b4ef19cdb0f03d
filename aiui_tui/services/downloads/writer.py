"""Writing a `.part` file off the event loop, and hashing it while it streams.

`PartWriter` runs every `pwrite` (and the sidecar saves) on one thread of its own, in order,
with back-pressure on the loop. `StreamHasher` computes sha256 on another thread: bytes that
arrive in order are hashed straight from the chunk (no second read); bytes written ahead of the
contiguous frontier (segmented downloads) are read back from the page cache when the frontier
reaches them, and a resumed file's existing prefix is read once.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import queue
import struct
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from aiui_tui.services.downloads.state import PartState, Piece

READ_BLOCK = 8 * 1024 * 1024
MAX_PENDING_WRITES = 8


class StreamHasher:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._sha = hashlib.sha256()
        self.hashed = 0
        self._frontier = 0
        self._inbox: queue.Queue[tuple[int, bytes] | None] = queue.Queue(maxsize=64)
        self._wake = threading.Condition()
        self._error: BaseException | None = None
        self._stop = False
        self._thread = threading.Thread(target=self._run, name=f"hash {path.name}", daemon=True)
        self._thread.start()

    def offer(self, offset: int, data: bytes) -> None:
        """Hand over a chunk already written at `offset`; dropped when the hasher lags (read back later)."""
        with contextlib.suppress(queue.Full):
            self._inbox.put_nowait((offset, data))

    def advance(self, frontier: int) -> None:
        """Everything before `frontier` is written and may be read back."""
        with self._wake:
            if frontier > self._frontier:
                self._frontier = frontier
                self._wake.notify()

    def _run(self) -> None:
        fd = None
        try:
            while True:
                with contextlib.suppress(queue.Empty):
                    while True:
                        item = self._inbox.get_nowait()
                        if item is None:
                            return
                        offset, data = item
                        if offset == self.hashed:
                            self._sha.update(data)
                            self.hashed += len(data)
                with self._wake:
                    if self._frontier <= self.hashed and self._inbox.empty():
                        if self._stop:
                            return
                        self._wake.wait(0.05)
                    frontier = self._frontier
                if frontier > self.hashed and self._inbox.empty():
                    if fd is None:
                        fd = os.open(self.path, os.O_RDONLY)
                    data = os.pread(fd, min(READ_BLOCK, frontier - self.hashed), self.hashed)
                    if not data:
                        continue
                    self._sha.update(data)
                    self.hashed += len(data)
        except BaseException as exc:  # reported by result()
            self._error = exc
        finally:
            if fd is not None:
                os.close(fd)

    def result(self, total: int) -> str:
        """Block until `total` bytes are hashed; the hex digest. Run it in a thread."""
        self.advance(total)
        while self.hashed < total and self._thread.is_alive():
            self._thread.join(0.05)
        if self._error:
            raise self._error
        if self.hashed != total:
            raise RuntimeError(f"hashed {self.hashed} of {total} bytes")
        return self._sha.hexdigest()

    def close(self) -> None:
        with self._wake:
            self._stop = True
            self._wake.notify()
        with contextlib.suppress(queue.Full):
            self._inbox.put_nowait(None)
        self._thread.join(5)


class PartWriter:
    """Owns the open `.part` file for one transfer attempt."""

    def __init__(self, part: Path, sidecar: Path, state: PartState, hasher: StreamHasher) -> None:
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
    def _write(self, offset: int, data: bytes, piece: Piece | None) -> None:
        assert self._fd is not None
        view = memoryview(data)
        position = offset
        while view:
            n = os.pwrite(self._fd, view, position)
            view = view[n:]
            position += n
        if piece is None:
            self.written = position
            frontier = position
        else:
            piece.done = position - piece.start
            if self._progress_fd is not None:  # after the data: progress never runs ahead of it
                os.pwrite(self._progress_fd, struct.pack("<Q", piece.done), 8 * self._index[id(piece)])
            frontier = self.state.frontier()
        self.hasher.offer(offset, data)
        self.hasher.advance(frontier)

    async def write(self, offset: int, data: bytes, piece: Piece | None = None) -> None:
        """Queue a write; waits only when the disk falls behind (back-pressure).

        A queued write always runs, even when the caller is cancelled meanwhile: dropping one would
        leave a hole that later writes of the same piece mark as done.
        """
        self._inflight.append(self._pool.submit(self._write, offset, data, piece))
        while self._inflight and (len(self._inflight) >= MAX_PENDING_WRITES or self._inflight[0].done()):
            head = self._inflight.popleft()
            await asyncio.shield(asyncio.wrap_future(head))

    async def drain(self) -> None:
        """Wait for every queued write; the first write error, if any, is raised."""
        while self._inflight:
            head = self._inflight.popleft()
            await asyncio.shield(asyncio.wrap_future(head))

    def _finish(self, fsync: bool) -> None:
        if self._fd is None:
            return
        if fsync:
            os.fsync(self._fd)
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
            await _uncancelled(asyncio.wrap_future(future))
            self._pool.shutdown(wait=False)


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
