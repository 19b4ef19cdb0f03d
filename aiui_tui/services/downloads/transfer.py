"""One file's transfer: resume, segments, retries, verification, atomic finalization.

The final name never holds a partial or unverified file: bytes go to a hidden part beside it,
with a sidecar (names in parts.py); when every byte is there and the sha256 matches, the part is
fsynced, renamed, and the folder fsynced.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from aiui_tui.logs import get_logger
from aiui_tui.services.downloads import disk, sniff
from aiui_tui.services.downloads.auth import SourceToken
from aiui_tui.services.downloads.errors import ChecksumMismatch, DownloadError, NotAModel
from aiui_tui.services.downloads.http import connection_error, open_response, raise_for_status
from aiui_tui.services.downloads.parts import PartFiles, part_files
from aiui_tui.services.downloads.policy import backoff_delay
from aiui_tui.services.downloads.receiver import BodyReceiver, BufferPool
from aiui_tui.services.downloads.state import PartState, Piece, plan_pieces, read_progress
from aiui_tui.services.downloads.writer import PartWriter, StreamHasher

log = get_logger(__name__)
BATCH = 1024 * 1024  # bytes handed to the writer thread at once, or whatever arrived when the socket has
FLUSH_AFTER_S = 0.02  # nothing more for now, or whatever arrived within this time: a kill loses little
SNIFF_BYTES = 512
# Bytes the event loop asks of the socket per read on a body's connection (asyncio's default is 256 KiB):
# a quarter of the reads, wake-ups and chunks per GiB (main-thread CPU per GiB ~1.0 -> ~0.8-0.9 s here).
READ_SIZE = 1024 * 1024
MAX_RESTARTS = 3
MAX_RECONNECTS = 200  # reconnects that made progress; a bound on a hopeless link
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+|\*)")


@dataclass(frozen=True)
class Job:
    url: str
    target: Path
    expected_sha256: str | None = None
    expected_size: int | None = None
    connections: int = 4
    retries: int = 1
    segment_threshold: int = 64 * 1024 * 1024
    backoff_base: float = 1.0
    proxy: str | None = None
    tokens: tuple[SourceToken, ...] = ()
    free_space_margin: int = 0
    min_piece: int = 8 * 1024 * 1024
    item_id: str = ""  # the queue item's id: part of our temporary files' names (parts.py)

    @property
    def files(self) -> PartFiles:
        return part_files(self.target, self.item_id)

    @property
    def part(self) -> Path:
        return self.files.data

    @property
    def sidecar(self) -> Path:
        return self.files.sidecar

    @property
    def progress(self) -> Path:
        return self.files.progress


@dataclass(frozen=True)
class Result:
    path: Path
    size: int
    sha256: str
    verified: bool
    resumed_from: int


class _Restart(Exception):
    """The part cannot be continued (file changed on the server, range refused): start over."""


Notify = Callable[[str, str], None]  # (level, message)
# Last look at a complete, hashed part before it takes the final name: (part, sha256) -> None, or raise
# ChecksumMismatch (discarded, fetched once more) or NotAModel (discarded, failed).
BeforeCommit = Callable[[Path, str], Awaitable[None]]


class Transfer:
    def __init__(
        self,
        job: Job,
        session: aiohttp.ClientSession,
        *,
        on_progress: Callable[[int, int | None], None],
        notify: Notify,
        wait_online: Callable[[str], Awaitable[bool]],  # True when it had to wait for the network
        before_commit: BeforeCommit | None = None,
    ) -> None:
        self.job = job
        self.session = session
        self.on_progress = on_progress
        self.notify = notify
        self.wait_online = wait_online
        self.before_commit = before_commit
        self.done = 0
        self.state: PartState | None = None
        self.resumed_from = 0
        self.spans = False  # bytes of the part came from more than one response
        self.attempts = 0  # requests (or rounds of segment requests) made
        self.read_size: int | None = None  # bytes per socket read on the last body's connection (None: unknown)
        self._buffers = BufferPool()  # for bodies read past aiohttp's parser (receiver.py)
        self.read_past_parser = 0  # bytes of bodies received that way

    # -- public ------------------------------------------------------------------------------

    async def run(self) -> Result:
        job = self.job
        self.state = self._load_state()
        self.hasher = StreamHasher(job.part)
        try:
            for mismatch in range(2):  # a checksum mismatch discards the part and tries once more
                await self._fetch_all()
                try:
                    return await self._finalize()
                except ChecksumMismatch:
                    self._start_over()
                    if mismatch == 1:
                        raise
                    self.notify("warning", "Checksum mismatch: the part was discarded; downloading again once.")
            raise AssertionError("unreachable")
        except NotAModel:
            self._discard()  # bytes of an error page or a broken file: nothing worth resuming
            raise
        finally:
            self.hasher.close()

    def _start_over(self) -> None:
        """Forget the part: no file, fresh state, fresh digest."""
        self._discard()
        self._new_hasher()
        self.state = PartState(url=self.job.url, expected_sha256=self.job.expected_sha256)
        self.spans = False

    def _new_hasher(self) -> None:
        self.hasher.close()
        self.hasher = StreamHasher(self.job.part)

    # -- attempts ----------------------------------------------------------------------------

    def _load_state(self) -> PartState:
        job = self.job
        state = PartState.load(job.sidecar) if job.part.exists() else None
        if state and state.url == job.url and state.expected_sha256 in (None, job.expected_sha256):
            state.expected_sha256 = job.expected_sha256  # a hash given on resume checks the whole part
            if state.segmented:
                read_progress(job.progress, state.pieces)
            self.resumed_from = state.done_bytes(job.part.stat().st_size)
            self.spans = self.resumed_from > 0
            return state
        self._discard()
        return PartState(url=job.url, expected_sha256=job.expected_sha256)

    def _discard(self) -> None:
        self.job.files.remove()  # only our own files: their names are ours (parts.py)
        self.done = 0

    async def _fetch_all(self) -> None:
        failures = restarts = reconnects = 0
        network_up = False  # the last wait for the network found it there at once
        while True:
            before = self.done
            try:
                if await self._attempt():
                    await self._check_for_splice()
                    return
                continue  # the first span is in: go on from the part
            except _Restart as why:
                restarts += 1
                if restarts > MAX_RESTARTS:
                    raise DownloadError(f"The download keeps restarting ({why}).", "try again later") from None
                self.notify("warning", f"{why} Starting over.")
                self._start_over()
            except DownloadError as exc:
                if self.done > before:
                    network_up = False
                if exc.offline and not network_up:
                    self.notify("warning", exc.message + " Waiting for the network.")
                    # Found at once, the network is there: another "offline" failure is that host's own
                    # (a redirect to a name that does not resolve) and counts as a failed attempt.
                    network_up = not await self.wait_online(self.job.url)
                    continue
                if self.done > before and reconnects < MAX_RECONNECTS:
                    failures, reconnects = 0, reconnects + 1  # progress made: a flaky link, not a failure
                if not exc.retryable or failures >= self.job.retries:
                    if exc.offline:
                        raise DownloadError(
                            f"Cannot reach {exc.url or self.job.url}, though the network is up.",
                            "check the URL: its host (or the one it redirects to) does not resolve or answer",
                        ) from exc
                    if exc.retryable:  # its fix said "it will be retried": no longer true
                        tries = f"{self.job.retries} retr{'y' if self.job.retries == 1 else 'ies'}"
                        raise DownloadError(
                            exc.message,
                            f"it still failed after {tries}: try again later, or raise downloads.retries for a "
                            "flaky server",
                            retryable=True,
                        ) from exc
                    raise
                failures += 1
                delay = (
                    exc.retry_after if exc.retry_after is not None else backoff_delay(failures, self.job.backoff_base)
                )
                self.notify("warning", f"{exc.message} Retrying in {delay:.1f}s ({failures}/{self.job.retries}).")
                await asyncio.sleep(delay)

    async def _attempt(self) -> bool:
        """One request (or one round of segment requests); True when every byte is written."""
        state = self.state
        assert state is not None
        job = self.job
        self.attempts += 1
        if state.segmented:
            writer = PartWriter(job.part, job.sidecar, state, self.hasher)
            await writer.open(0, preallocate=state.total)
            self.done = state.done_bytes()
            try:
                await self._run_pieces(writer, first=None)
            finally:
                await writer.close()
            return True
        # Without a validator a resume is still safe: the size must match, and the final hash (or,
        # without one, a second look at the first piece) catches a file changed in between.
        start = job.part.stat().st_size if (job.part.exists() and state.total) else 0
        # A fresh multi-connection download first asks for one piece only: it learns the size and
        # whether ranges work, and a larger file's other pieces start at once, with nothing over-sent.
        probe = job.min_piece if start == 0 and job.connections > 1 else None
        headers = {"Range": f"bytes={start}-{probe - 1}" if probe else f"bytes={start}-", "Accept-Encoding": "identity"}
        if start and state.validator:  # never `If-Range: ""`: a strict server answers 200 to it
            headers["If-Range"] = state.validator
        async with open_response(self.session, job.url, headers, list(job.tokens), job.proxy) as response:
            if response.status == 416:
                if start and start == state.total:
                    self.done = start
                    return True  # everything was already there
                raise _Restart("The server refused to resume (HTTP 416).")
            raise_for_status(response, job.url, list(job.tokens))
            total = self._read_total(response, start)
            if response.status == 200 and start:
                changed = _validator(response) not in (None, state.validator)
                self.notify(
                    "warning",
                    "The file changed on the server since the last attempt: starting over."
                    if changed
                    else "The server does not resume downloads: starting over.",
                )
                start = 0
            self.spans = start > 0  # the bytes before `start` came from earlier responses
            if start < self.hasher.hashed:  # the file restarts below what was hashed
                self._new_hasher()
            if start == 0:
                state.etag = response.headers.get("ETag")
                state.last_modified = response.headers.get("Last-Modified")
                state.total = total
                state.final_url = str(response.url)
                sniff.check_headers(response.headers.get("Content-Type"), total, job.expected_size, job.target.name)
            if total is not None:
                disk.ensure_space(job.target.parent, total - start, job.free_space_margin)
            segmented = (
                start == 0
                and response.status == 206
                and total is not None
                and total >= job.segment_threshold
                and job.connections > 1
            )
            if segmented and total is not None:
                state.pieces = plan_pieces(total, job.connections, min_piece=job.min_piece)
            writer = PartWriter(job.part, job.sidecar, state, self.hasher)
            await writer.open(start, preallocate=total if segmented else None)
            self.done = start
            try:
                if segmented:
                    await self._run_pieces(writer, first=response)
                    return True
                reached = await self._stream(response, writer, start, None, None, sniff_first=start == 0)
                if total is None:
                    state.total = reached
                    return True
                if reached >= total:
                    return True
                span_end = _range_end(response)
                if span_end is not None and reached >= span_end:
                    return False  # the probe span is in; the next request asks for the rest
                raise DownloadError(
                    "The connection closed before the end of the file.", "it will be resumed", retryable=True
                )
            finally:
                await writer.close()

    def _read_total(self, response: aiohttp.ClientResponse, start: int) -> int | None:
        state = self.state
        assert state is not None
        if response.status == 206:
            match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
            if not match or int(match.group(1)) != start:
                raise _Restart("The server answered another range than asked.")
            total = None if match.group(3) == "*" else int(match.group(3))
            if start and state.total is not None and total != state.total:
                raise _Restart("The file's size changed on the server.")
            return total
        length = response.headers.get("Content-Length")
        return int(length) if length and length.isdigit() else None

    async def _stream(
        self,
        response: aiohttp.ClientResponse,
        writer: PartWriter,
        offset: int,
        piece: Piece | None,
        end: int | None,
        *,
        sniff_first: bool = False,
    ) -> int:
        """Copy the body to the part at `offset` (up to `end`), in batches, off the loop; the end position.

        aiohttp reads the first bytes. Once its buffer is empty, a plain body (a known length, sent as
        it is) moves to a `BodyReceiver`, which reads into buffers of its own instead of a new buffer
        per read copied once more by the parser. Either way a batch is a list of the chunks as they
        came (no join, no copy), written with one `pwritev` on the writer thread and offered to the
        hasher as they are. A network failure keeps what arrived before it (a resume will not fetch
        it again); a disk failure (OSError from the writer) propagates as it is.
        """
        batch: list[bytes | memoryview] = []
        size = 0  # bytes in batch
        position = offset
        sniffed = not sniff_first
        loop = asyncio.get_running_loop()
        last_flush = loop.time()
        readchunk = response.content.readchunk  # one received chunk at a time (readany joins what is buffered)
        self.read_size = _widen_reads(response)
        buffered = _buffered(response)
        length = _plain_length(response)
        receiver: BodyReceiver | None = None
        releases: list[Callable[[], None]] = []  # of the receiver's views in the batch
        network_error: BaseException | None = None
        try:
            while True:
                if receiver is not None:
                    try:
                        views, release = await receiver.take()
                    except (OSError, asyncio.TimeoutError) as exc:  # what came before it was taken already
                        network_error = exc
                        break
                    if not views:
                        break
                    batch += views
                    releases.append(release)
                    size += sum(map(len, views))
                else:
                    try:
                        chunk, http_chunk_end = await readchunk()
                    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                        network_error, http_chunk_end = exc, False
                        chunk = _salvage(response)
                    if not chunk:
                        if http_chunk_end:  # the end of a chunk of a chunked body, not of the body
                            continue
                        break
                    if type(chunk) is not bytes:  # the hasher keeps chunks: they must not change
                        chunk = bytes(chunk)
                    if end is not None and position + size + len(chunk) > end:
                        chunk = chunk[: end - position - size]
                    batch.append(chunk)
                    size += len(chunk)
                    if network_error is None and length is not None and not buffered():
                        left = length - (position + size - offset)
                        if end is not None:
                            left = min(left, end - position - size)
                        if not response.content.at_eof():
                            receiver = BodyReceiver.take_over(
                                response, left, self.session.timeout.sock_read, self._buffers
                            )
                if not sniffed and size >= SNIFF_BYTES:
                    sniff.check_first_bytes(_head(batch, SNIFF_BYTES), self.job.target.name)
                    sniffed = True
                if network_error is not None:
                    break
                if (
                    receiver is not None  # a take is everything that arrived meanwhile
                    or size >= BATCH
                    or (end is not None and position + size >= end)
                    or not buffered()  # nothing more to read now: the next bytes may be a while (a burst's end)
                    or loop.time() - last_flush >= FLUSH_AFTER_S
                ):
                    if not sniffed:
                        continue
                    position = await self._flush(writer, batch, size, position, piece, releases)
                    batch, size, releases = [], 0, []
                    last_flush = loop.time()
                    if end is not None and position >= end:
                        return position
        finally:
            if receiver is not None:
                receiver.close()
                self.read_past_parser += receiver.received
        if not sniffed and network_error is None:
            sniff.check_first_bytes(_head(batch, SNIFF_BYTES), self.job.target.name)
        if batch:
            position = await self._flush(writer, batch, size, position, piece, releases)
        if network_error is not None:
            raise connection_error(self.job.url, network_error) from network_error
        return position

    async def _flush(
        self,
        writer: PartWriter,
        batch: list[bytes | memoryview],
        size: int,
        position: int,
        piece: Piece | None,
        releases: list[Callable[[], None]],
    ) -> int:
        await writer.write(position, batch, piece, _one_call(releases))
        self.done += size
        self.on_progress(self.done, self.state.total if self.state else None)
        return position + size

    async def _run_pieces(self, writer: PartWriter, first: aiohttp.ClientResponse | None) -> None:
        state = self.state
        assert state is not None
        pending = [p for p in state.pieces if not p.complete]
        job = self.job
        stopping = asyncio.Event()  # set by a worker's retryable failure: the others finish their piece

        async def worker(initial: aiohttp.ClientResponse | None) -> None:
            while pending and not stopping.is_set():
                piece = pending.pop(0)
                if initial is not None and piece.start == 0 and piece.done == 0:
                    reached = await self._stream(initial, writer, 0, piece, piece.end, sniff_first=True)
                    initial = None
                else:
                    headers = {"Range": f"bytes={piece.position}-{piece.end - 1}", "Accept-Encoding": "identity"}
                    if state.validator:
                        headers["If-Range"] = state.validator
                    async with open_response(self.session, job.url, headers, list(job.tokens), job.proxy) as r:
                        if r.status == 200:
                            raise _Restart("The file changed on the server during the download.")
                        raise_for_status(r, job.url, list(job.tokens))
                        self._read_total(r, piece.position)
                        reached = await self._stream(r, writer, piece.position, piece, piece.end)
                if reached < piece.end:
                    raise DownloadError(
                        "A connection closed before the end of its segment.", "it will be resumed", retryable=True
                    )

        async def guarded(initial: aiohttp.ClientResponse | None) -> None:
            try:
                await worker(initial)
            except DownloadError as exc:
                if exc.retryable:
                    stopping.set()  # bytes in flight on the other connections are not wasted
                raise

        tasks = [
            asyncio.ensure_future(guarded(first if i == 0 else None))
            for i in range(min(job.connections, len(pending) or 1))
        ]
        try:
            while True:
                done, running = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
                fatal = [t for t in done if t.exception() and not _retryable(t.exception())]
                if fatal or not running:
                    break
                await asyncio.wait(running)  # a retryable failure: let the others finish their piece
            for task in tasks:
                failure = (fatal[0] if fatal else task).exception() if task.done() else None
                if failure is not None:
                    raise failure
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        await writer.drain()  # piece progress is final only once the writes are done
        if not all(p.complete for p in state.pieces):
            raise DownloadError("Some segments are incomplete.", "it will be resumed", retryable=True)

    # -- the end -----------------------------------------------------------------------------

    async def _check_for_splice(self) -> None:
        """With no ETag/Last-Modified and no expected hash, nothing told us the file stayed the same
        between the responses the part came from: fetch its first piece again and compare. A file
        that changed restarts (its size was already compared on every response)."""
        state, job = self.state, self.job
        assert state is not None
        if state.validator or job.expected_sha256 or not (state.segmented or self.spans) or not state.total:
            return
        end = state.pieces[0].end if state.segmented else min(state.total, job.min_piece)
        headers = {"Range": f"bytes=0-{end - 1}", "Accept-Encoding": "identity"}
        async with open_response(self.session, job.url, headers, list(job.tokens), job.proxy) as response:
            raise_for_status(response, job.url, list(job.tokens))
            total = self._read_total(response, 0)  # the whole size (206) or the body's (200)
            if total not in (None, state.total):
                raise _Restart("The file's size changed on the server.")
            fd = await asyncio.to_thread(os.open, job.part, os.O_RDONLY)
            try:
                position = 0
                try:
                    async for chunk in response.content.iter_chunked(BATCH):
                        chunk = chunk[: end - position]
                        if await asyncio.to_thread(os.pread, fd, len(chunk), position) != chunk:
                            raise _Restart("The file changed on the server during the download.")
                        position += len(chunk)
                        if position >= end:
                            break
                except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                    raise connection_error(job.url, exc) from exc
            finally:
                os.close(fd)
        if position < end:
            raise DownloadError("The connection closed while the file was checked.", "it is retried", retryable=True)
        log.info("first piece checked again", target=str(job.target), size=end)

    async def _finalize(self) -> Result:
        job, state = self.job, self.state
        assert state is not None
        size = job.part.stat().st_size
        total = state.total if state.total is not None else size
        if size != total:
            raise DownloadError(
                f"The part has {size} bytes, {total} expected.", "it will be downloaded again", retryable=True
            )
        digest = await asyncio.to_thread(self.hasher.result, total)
        if job.expected_sha256 and digest != job.expected_sha256.lower():
            raise ChecksumMismatch(
                f"Checksum mismatch for {job.target.name}: expected {job.expected_sha256[:12]}…, got {digest[:12]}….",
                "the source may have changed or the URL points at another file; check the hash and the URL",
            )
        if size < 4096:  # tiny files get one more look: a whole error page fits in there
            head = await asyncio.to_thread(_read_head, job.part)
            sniff.check_first_bytes(head, job.target.name)
        if self.before_commit is not None:
            await self.before_commit(job.part, digest)
        await asyncio.to_thread(_commit, job.part, job.target, job.sidecar)
        log.info("download finished", target=str(job.target), size=size, verified=bool(job.expected_sha256))
        return Result(job.target, size, digest, bool(job.expected_sha256), self.resumed_from)


def _retryable(exc: BaseException | None) -> bool:
    return isinstance(exc, DownloadError) and exc.retryable


def _range_end(response: aiohttp.ClientResponse) -> int | None:
    """The end (exclusive) of the range a 206 answered, or None."""
    match = _CONTENT_RANGE.match(response.headers.get("Content-Range", "")) if response.status == 206 else None
    return int(match.group(2)) + 1 if match else None


def _one_call(calls: list[Callable[[], None]]) -> Callable[[], None] | None:
    """One call that makes each of `calls`; None for none."""
    if len(calls) <= 1:
        return calls[0] if calls else None

    def each() -> None:
        for call in calls:
            call()

    return each


def _head(chunks: list[bytes | memoryview], n: int) -> bytes:
    """The first `n` bytes of `chunks` (joins only the chunks it needs)."""
    head = b""
    for chunk in chunks:
        head += chunk[: n - len(head)]
        if len(head) >= n:
            break
    return head


def _buffered(response: aiohttp.ClientResponse) -> Callable[[], object]:
    """A check whether aiohttp holds received bytes not read yet (true when it cannot tell).

    Without it, the tail of a burst (a throttling server sends in bursts: nginx up to 2 MiB, then a
    pause) would wait in the batch until the next burst, and a kill then loses it. aiohttp has no
    public way to ask; its buffer (a deque) is private, hence the fallback.
    """
    chunks = getattr(response.content, "_buffer", None)
    if chunks is not None and hasattr(chunks, "__len__"):
        size: Callable[[], int] = chunks.__len__
        return size
    return lambda: True


def _plain_length(response: aiohttp.ClientResponse) -> int | None:
    """The body's length when its bytes come as they are (a Content-Length, no transfer coding);
    None otherwise. A compressed body is refused before this (`open_response`)."""
    if "Transfer-Encoding" in response.headers:
        return None
    length = response.headers.get("Content-Length", "")
    return int(length) if length.isdigit() else None


def _widen_reads(response: aiohttp.ClientResponse) -> int | None:
    """Let the event loop read up to READ_SIZE bytes per `recv` on this response's connection; the
    read size now, or None when the transport does not tell.

    asyncio's selector transport reads `max_size` (256 KiB) at a time, a class attribute meant to be
    tuned; a transport of another loop (uvloop, a TLS transport) without it is left as it is. The
    connection may go back to the session's pool: later responses on it read as wide, which is
    what they want too.
    """
    connection = response.connection
    transport = getattr(connection, "transport", None) if connection is not None else None
    size = getattr(transport, "max_size", None)
    if type(size) is not int:
        return None
    if size < READ_SIZE:
        transport.max_size = size = READ_SIZE  # type: ignore[union-attr]
    return size


def _salvage(response: aiohttp.ClientResponse) -> bytes:
    """Bytes that arrived before a connection broke and still sit in aiohttp's buffer.

    aiohttp raises the stored error before handing over what it buffered (up to its read buffer),
    which a resume would otherwise fetch again. Private API, hence the broad guard.
    """
    try:
        return response.content._read_nowait(-1)
    except Exception:
        return b""


def _validator(response: aiohttp.ClientResponse) -> str | None:
    etag = response.headers.get("ETag")
    if etag and not etag.startswith("W/"):
        return etag
    return response.headers.get("Last-Modified")


def _read_head(path: Path) -> bytes:
    with open(path, "rb") as fh:
        return fh.read(SNIFF_BYTES)


def _commit(part: Path, target: Path, sidecar: Path) -> None:
    """fsync the data, rename, fsync the folder: never a zero-filled file after a power loss."""
    fd = os.open(part, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(part, target)
    dir_fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
    for leftover in (sidecar, part.with_name(part.name + ".progress")):
        with contextlib.suppress(FileNotFoundError):
            leftover.unlink()
