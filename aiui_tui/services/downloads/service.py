"""The download queue as a service: intents in, typed events out, several processes sharing it.

One process at a time *runs* the queue (starts pending items, `concurrent` at once): the one holding
`state/downloads.runner.lock`, normally the dashboard (or `aiui-tui downloads run`). Any process may
change the queue (`downloads add`, `pause`...) and `aiui-tui download URL` runs its own item in the
foreground. Every running item watches its row once a second, so a pause or cancel from another
process reaches it; a per-file lock keeps two processes from writing one file.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiui_tui.bus import Bus
from aiui_tui.config import Config
from aiui_tui.core.downloads import ACTIVE, CANCELLED, DONE, FAILED, PAUSED, PENDING, DownloadItem, DownloadState
from aiui_tui.core.errors import AiuiError, UsageError
from aiui_tui.core.events import (
    DownloadFailed,
    DownloadFinished,
    DownloadProgress,
    DownloadQueueChanged,
    DownloadQueued,
    DownloadStateChanged,
    Notice,
)
from aiui_tui.core.requests import DownloadRequest
from aiui_tui.core.throttle import Throttle
from aiui_tui.credentials import Credentials
from aiui_tui.kinds import kind_names
from aiui_tui.logs import get_logger
from aiui_tui.paths import Layout
from aiui_tui.services.downloads import disk, names, network, parts, urls
from aiui_tui.services.downloads.auth import source_tokens
from aiui_tui.services.downloads.errors import (
    BusyElsewhere,
    ChecksumMismatch,
    DiskFull,
    DownloadError,
    NotAModel,
    WaitingForNetwork,
)
from aiui_tui.services.downloads.progress import SpeedMeter
from aiui_tui.services.downloads.store import QueueStore
from aiui_tui.services.ticker import Ticker

if TYPE_CHECKING:  # aiohttp is imported when the first transfer starts (0.1 s)
    import aiohttp
    from aiohttp.abc import AbstractResolver

    from aiui_tui.services.downloads.transfer import Transfer

log = get_logger(__name__)
# The format check of a finished file, given by `open_services` (the library's safetensors reader):
# (file, the name it will have) -> the problem in a few words, or None. Blocking: run on a thread.
FileCheck = Callable[[Path, str], str | None]
WATCH_S = 1.0  # how often a running item saves progress and looks at its row
BUSY_RETRY_S = 5.0
OFFLINE_RETRY_S = 30.0  # the longest pause between two tries of an item waiting for the network
OFFLINE_FIRST_RETRY_S = 2.0


class DownloadService:
    def __init__(
        self,
        layout: Layout,
        config: Config,
        credentials: Credentials,
        bus: Bus,
        *,
        file_check: FileCheck | None = None,
        ticker: Ticker | None = None,
    ) -> None:
        self.layout = layout
        self.config = config
        self.credentials = credentials
        self.bus = bus
        self.file_check = file_check
        self.store: QueueStore | None = None
        self.runs_queue = False
        self._session: aiohttp.ClientSession | None = None
        self._tasks: dict[str, asyncio.Task[Any]] = {}
        self._busy_until: dict[str, float] = {}
        self._offline_pause: dict[str, float] = {}  # items waiting for the network: the next pause
        self._last_notice: dict[str, str] = {}  # per item, so a retried wait is not announced again
        # The HTTP client's DNS resolver (an aiohttp resolver; None: the system's), used by the network
        # probe too. Tests set one that resolves nothing off this machine.
        self.resolver: AbstractResolver | None = None
        # The scheduler sleeps until woken: a change to the queue here, a finished transfer, another process's
        # change (a look at the database every WATCH_S on the services' `ticker`), a retry's time.
        self._wake = asyncio.Event()
        self._ticker = ticker
        self._scheduler: asyncio.Task[None] | None = None
        self._runner_cm: contextlib.AbstractContextManager[bool] | None = None
        self._closing = False

    # -- lifetime -----------------------------------------------------------------------------

    @property
    def db_path(self) -> Path:
        return self.layout.state_dir / "downloads.sqlite"

    @property
    def runner_lock_path(self) -> Path:
        return self.layout.state_dir / "downloads.runner.lock"

    async def start(self, *, run_queue: bool = True) -> None:
        self.store = await asyncio.to_thread(QueueStore, self.db_path)
        if run_queue:
            self._runner_cm = disk.runner_lock(self.runner_lock_path)
            self.runs_queue = self._runner_cm.__enter__()
            if self.runs_queue:
                recovered = await asyncio.to_thread(self.store.recover)
                if recovered:
                    log.info("resuming interrupted downloads", count=len(recovered))
            else:
                self._runner_cm.__exit__(None, None, None)
                self._runner_cm = None
        self._scheduler = asyncio.create_task(self._schedule_loop(), name="download scheduler")

    def config_changed(self) -> None:
        """`self.config.downloads` was replaced (`services.config_change.apply_config`): the scheduler
        looks again now, so a raised number at once starts waiting items without waiting for a tick."""
        self._wake.set()

    async def close(self) -> None:
        """Stop every transfer, leaving each part resumable, and release the queue."""
        self._closing = True
        if self._scheduler:
            self._scheduler.cancel()
            await asyncio.gather(self._scheduler, return_exceptions=True)
        for task in list(self._tasks.values()):
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        if self._session is not None:
            await self._session.close()
        if self._runner_cm is not None:
            self._runner_cm.__exit__(None, None, None)
        if self.store is not None:
            await asyncio.to_thread(self.store.close)

    def _require_store(self) -> QueueStore:
        if self.store is None:
            raise RuntimeError("DownloadService.start() was not called")
        return self.store

    async def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            await _import_off_loop("aiohttp")
            import aiohttp

            if self._session is None:  # another caller may have made it while this one waited
                self._session = aiohttp.ClientSession(
                    timeout=aiohttp.ClientTimeout(total=None, sock_connect=30, sock_read=60),
                    trust_env=True,
                    auto_decompress=False,
                    read_bufsize=4 * 1024 * 1024,
                    connector=aiohttp.TCPConnector(limit=64, limit_per_host=32, resolver=self.resolver),
                )
        return self._session

    # -- intents ------------------------------------------------------------------------------

    async def items(self) -> list[DownloadItem]:
        return await asyncio.to_thread(self._require_store().items)

    async def enqueue(self, request: DownloadRequest) -> DownloadItem:
        """Add a download (or return the unfinished one already queued for the same file)."""
        return (await self.submit(request))[0]

    async def submit(self, request: DownloadRequest, *, foreground: bool = False) -> tuple[DownloadItem, bool]:
        """`enqueue`, saying whether the item is new (False: the one already queued for that file).

        A failed item for the same file from another URL is replaced: its part is of no use to the
        new URL, and the new URL is usually the corrected one. `foreground`: the caller runs a new
        item itself at once (`aiui-tui download`), so it is added paused, never started meanwhile by
        the process running the queue.
        """
        store = self._require_store()
        problem = urls.url_problem(request.url)
        if problem is not None:
            raise UsageError(f"Cannot download {request.url!r}: {problem}.", "give the full http(s) URL of the file")
        dest_dir = self._dest_dir(request)
        name = request.name or _url_file_name(request.url)
        if name:
            name = names.sanitize_filename(name)
            names.safe_target(dest_dir, name)
            existing = await asyncio.to_thread(store.unfinished_for, str(dest_dir), name)
            if existing and existing.url != request.url and existing.state == FAILED:
                log.info("a failed download replaced by another URL", id=existing.id, name=name)
                await self.cancel(existing.id)
                existing = None
            if existing and existing.url != request.url:
                raise UsageError(
                    f"{name} is already queued from another URL ({existing.url}).",
                    f"cancel it first (aiui-tui downloads cancel {existing.id}) or choose another --name",
                )
        else:  # named by the server later: the same URL into the same folder is the same download
            existing = await asyncio.to_thread(store.unfinished_for_url, str(dest_dir), request.url)
        if existing:
            return await self._with_hash(existing, request.sha256), False
        item = await asyncio.to_thread(
            store.add,
            url=request.url,
            dest_dir=str(dest_dir),
            name=name,
            kind=request.kind,
            sha256=request.sha256.lower() if request.sha256 else None,
            size=request.size,
            source=request.source,
            connections=request.connections,
            retries=request.retries,
            **({"state": PAUSED, "reason": "starting in the foreground"} if foreground else {}),
        )
        log.info("download queued", id=item.id, name=item.display_name, dest=str(dest_dir))
        self.bus.publish(DownloadQueued(item))
        self._wake.set()
        return item, True

    async def _with_hash(self, item: DownloadItem, sha256: str | None) -> DownloadItem:
        """A hash the user gives always applies: it is added to a queued item that had none (a resumed
        part is then checked against it), and one that differs from the queued hash is refused."""
        wanted = sha256.lower() if sha256 else None
        if wanted is None or item.sha256 == wanted:
            return item
        if item.sha256:
            raise UsageError(
                f"{item.display_name} is already queued ({item.id}) with sha256 {item.sha256}, not {wanted}.",
                f"check which hash is right; to download with the new one, cancel the queued one first "
                f"(aiui-tui downloads cancel {item.id})",
            )
        updated = await asyncio.to_thread(self._require_store().update, item.id, sha256=wanted)
        assert updated is not None
        log.info("hash added to a queued download", id=item.id)
        await self._publish_queue()
        return updated

    async def pause(self, item_id: str) -> DownloadItem:
        return await self._set_state(item_id, PAUSED, allowed=(PENDING, ACTIVE, FAILED), reason="paused", verb="paused")

    async def resume(self, item_id: str) -> DownloadItem:
        return await self._set_state(item_id, PENDING, allowed=(PAUSED, FAILED), reason="", verb="resumed")

    async def retry(self, item_id: str) -> DownloadItem:
        return await self._set_state(item_id, PENDING, allowed=(FAILED, PAUSED), reason="", verb="retried")

    async def cancel(self, item_id: str) -> DownloadItem:
        """Remove the item and its partial file (a running transfer stops within a second)."""
        store = self._require_store()
        item = await asyncio.to_thread(store.resolve, item_id)
        await asyncio.to_thread(store.delete, item.id)
        task = self._tasks.get(item.id)
        if task:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        if item.state != DONE:
            await asyncio.to_thread(_remove_part, item)
        self.bus.publish(DownloadStateChanged(item.id, CANCELLED, item))
        return item

    async def move(self, item_id: str, delta: int) -> DownloadItem:
        """Move an item `delta` places in the queue; the item at its new place."""
        store = self._require_store()
        item = await asyncio.to_thread(store.resolve, item_id)
        await asyncio.to_thread(store.move, item.id, delta)
        await self._publish_queue()
        return await asyncio.to_thread(store.resolve, item.id)

    async def _publish_queue(self) -> None:
        items = await asyncio.to_thread(self._require_store().items)
        self.bus.publish(DownloadQueueChanged(tuple(items)))

    async def _set_state(
        self, item_id: str, state: DownloadState, *, allowed: tuple[str, ...], reason: str, verb: str
    ) -> DownloadItem:
        store = self._require_store()
        item = await asyncio.to_thread(store.resolve, item_id)
        if item.state not in allowed:
            raise UsageError(
                f"Download {item.id} is {item.state}; only a {_either(allowed)} download can be {verb}.",
                "see `aiui-tui downloads list`",
            )
        updated = await asyncio.to_thread(store.update, item.id, state=state, reason=reason, fix="")
        assert updated is not None
        task = self._tasks.get(item.id)
        if task and state == PAUSED:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self.bus.publish(DownloadStateChanged(item.id, state, updated, reason))
        self._wake.set()
        return updated

    # -- running ------------------------------------------------------------------------------

    async def run_item(self, item_id: str, *, foreground: bool = False) -> DownloadItem:
        """Download one item here and now; the finished item, or a DownloadError/UsageError."""
        store = self._require_store()
        item = await asyncio.to_thread(store.resolve, item_id)
        if item.state == DONE:
            return item
        if item.name is None:
            try:
                item = await self._name_from_server(item)
            except DownloadError as exc:
                if not exc.offline:  # recorded, or the queue would ask again every second
                    await self._failed(item, exc)
                elif not foreground:
                    await self._wait_for_network(item, WaitingForNetwork(network.probe_address(item.url)[0]))
                raise
        target = Path(item.dest_dir) / item.name  # type: ignore[operator]
        try:
            with disk.target_lock(self.layout.state_dir / "locks", target):
                return await self._run_locked(item, target, foreground)
        except disk.TargetBusy:
            raise BusyElsewhere(
                f"{target.name} is being downloaded by another aiui-tui process.",
                "wait for it, or pause it there (aiui-tui downloads list shows it)",
            ) from None

    async def run_one_shot(self, item_id: str, *, new: bool) -> DownloadItem:
        """`aiui-tui download`: run the item here and now, as `run_item(foreground=True)`.

        When it fails, an item this command added (`new`) leaves nothing behind, neither its row in
        the shared queue nor a part file: the reason is on screen and in the log, and the same
        command (or a corrected one) starts afresh. Two failures keep what they downloaded, paused,
        since the same command resumes them: a full disk, and a connection lost after bytes arrived.
        Ctrl+C pauses it too. An item that was queued before is left to the queue as it is.
        """
        try:
            return await self.run_item(item_id, foreground=True)
        except BusyElsewhere:
            raise  # another process runs it: it is theirs now
        except AiuiError as exc:
            if new and not await self._keep_for_resume(item_id, exc):
                log.info("a one-shot download failed: nothing kept", id=item_id, reason=exc.message)
                await self._forget(item_id)
            raise

    async def _keep_for_resume(self, item_id: str, exc: AiuiError) -> bool:
        store = self._require_store()
        item = await asyncio.to_thread(store.get, item_id)
        if item is None:
            return False
        if isinstance(exc, DiskFull):
            return True  # paused already, with its fix
        resumable = isinstance(exc, DownloadError) and exc.retryable and not isinstance(exc, ChecksumMismatch)
        if not resumable or await self.kept_bytes(item_id) == 0:
            return False
        row = await asyncio.to_thread(store.update, item_id, state=PAUSED, owner_pid=None, speed=None)
        if row is not None:
            self.bus.publish(DownloadStateChanged(item_id, PAUSED, row, row.reason))
        return True

    async def _forget(self, item_id: str) -> None:
        """The row and its files go, without the `cancelled` wording of a user's cancel."""
        store = self._require_store()
        item = await asyncio.to_thread(store.get, item_id)
        if item is None:
            return
        await asyncio.to_thread(store.delete, item.id)
        await asyncio.to_thread(_remove_part, item)
        self.bus.publish(DownloadStateChanged(item.id, CANCELLED, item))

    async def kept_bytes(self, item_id: str) -> int:
        """The bytes of the item's part really downloaded, as its files on disk say (a segmented
        part is preallocated to its full size: its pieces' progress counts, not the file's size)."""
        item = await asyncio.to_thread(self._require_store().resolve, item_id)
        if item.name is None:
            return 0
        return await asyncio.to_thread(parts.kept_bytes, Path(item.dest_dir) / item.name, item.id)

    async def _run_locked(self, item: DownloadItem, target: Path, foreground: bool) -> DownloadItem:
        await _import_off_loop("aiui_tui.services.downloads.transfer")
        from aiui_tui.services.downloads.transfer import Job, Transfer

        store = self._require_store()
        await asyncio.to_thread(target.parent.mkdir, parents=True, exist_ok=True)
        if await asyncio.to_thread(target.exists):
            return await self._already_there(item, target)
        dl = self.config.downloads
        job = Job(
            url=item.url,
            target=target,
            expected_sha256=item.sha256,
            expected_size=item.size,
            connections=item.connections or dl.connections,
            retries=dl.retries if item.retries is None else item.retries,
            segment_threshold=dl.segment_threshold_mib * 1024 * 1024,
            backoff_base=dl.retry_backoff_s,
            proxy=self.config.network.proxy or None,
            tokens=tuple(source_tokens(self.config.sources, self.credentials)),
            free_space_margin=dl.free_space_margin_mib * 1024 * 1024,
            item_id=item.id,
        )
        if await asyncio.to_thread(parts.adopt_legacy, target, item.url, job.files):
            log.info("resuming a part kept under the old names", id=item.id)
        active = await asyncio.to_thread(store.update, item.id, state=ACTIVE, owner_pid=os.getpid(), reason="", fix="")
        assert active is not None
        item = active
        self.bus.publish(DownloadStateChanged(item.id, ACTIVE, item))
        meter, throttle = SpeedMeter(), Throttle(10)
        transfer: Transfer

        def on_progress(done: int, total: int | None) -> None:
            now = time.monotonic()
            meter.add(now, done)
            if throttle.ready(now, force=total is not None and done >= total):
                segments = tuple((p.start, p.end, p.done) for p in transfer.state.pieces) if transfer.state else ()
                self.bus.publish(
                    DownloadProgress(item.id, done, total, meter.speed(), meter.eta(done, total), segments)
                )

        def notify(level: str, message: str) -> None:
            log.info("download notice", id=item.id, message=message)
            if self._last_notice.get(item.id) != message:  # an item retrying offline says so once
                self._last_notice[item.id] = message
                self.bus.publish(Notice(level, f"{target.name}: {message}", source="downloads"))
            asyncio.get_running_loop().run_in_executor(None, lambda: store.save_progress(item.id, reason=message))

        async def wait_online(url: str) -> bool:
            if foreground:  # `aiui-tui download` waits here, as long as it takes
                return await network.wait_until_reachable(url, job.proxy, resolver=self.resolver)
            if await network.reachable(url, job.proxy, resolver=self.resolver):
                return False  # the network is there: the failure was that host's own
            raise WaitingForNetwork(network.probe_address(url, job.proxy)[0])  # the slot goes to another item

        checked_against: list[str] = []

        async def before_commit(part: Path, digest: str) -> None:
            row = await asyncio.to_thread(store.get, item.id)
            wanted = row.sha256 if row else None  # given meanwhile (another `download --sha256`)?
            if wanted and wanted != job.expected_sha256:
                if digest != wanted:
                    raise ChecksumMismatch(
                        f"Checksum mismatch for {target.name}: expected {wanted[:12]}…, got {digest[:12]}….",
                        "the source may have changed or the URL points at another file; check the hash and the URL",
                    )
                checked_against.append(wanted)
            problem = await self._check_file(part, target.name)
            if problem:
                raise NotAModel(
                    f"The downloaded {target.name} is not a valid model file ({problem}); it was not saved.",
                    "the file on the server is damaged or not what its name says: check the URL or try another source",
                )

        transfer = Transfer(
            job,
            await self.session(),
            on_progress=on_progress,
            notify=notify,
            wait_online=wait_online,
            before_commit=before_commit,
        )
        main = asyncio.current_task()
        watcher = asyncio.create_task(self._watch(item.id, transfer, meter, main))
        try:
            try:
                result = await transfer.run()
            finally:  # before the outcome is recorded, so its event carries the count
                watcher.cancel()
                if transfer.attempts:
                    await asyncio.to_thread(store.save_progress, item.id, attempts=item.attempts + transfer.attempts)
        except asyncio.CancelledError:
            await self._interrupted(item, foreground)
            raise
        except WaitingForNetwork as exc:
            await self._wait_for_network(item, exc)
            raise
        except DiskFull as exc:  # not enough space to start: paused until there is
            await self._failed(item, exc, state=PAUSED)
            raise
        except DownloadError as exc:
            await self._failed(item, exc)
            raise
        except OSError as exc:
            if not disk.is_disk_full(exc):
                raise
            kept = await asyncio.to_thread(_size, job.part)
            error = disk.disk_full_error(target, kept)
            await self._failed(item, error, state=PAUSED)  # the part stays: it resumes once space is freed
            raise error from exc
        done_item = await asyncio.to_thread(
            store.update,
            item.id,
            state=DONE,
            reason="verified" if result.verified or checked_against else "",
            done_bytes=result.size,
            total_bytes=result.size,
            result_sha256=result.sha256,
            speed=None,
            owner_pid=None,
        )
        assert done_item is not None
        self.bus.publish(
            DownloadFinished(
                item.id,
                result.path,
                result.size,
                result.sha256,
                result.verified or bool(checked_against),
                item.kind,
                item.source,
            )
        )
        self.bus.publish(DownloadStateChanged(item.id, DONE, done_item))
        return done_item

    async def _watch(self, item_id: str, transfer: Transfer, meter: SpeedMeter, main: asyncio.Task[Any] | None) -> None:
        """Save progress for other processes' views; stop when another process paused or cancelled us."""
        store = self._require_store()
        while True:
            await asyncio.sleep(WATCH_S)
            total = transfer.state.total if transfer.state else None
            row = await asyncio.to_thread(store.get, item_id)
            if row is None or row.state != ACTIVE or row.owner_pid != os.getpid():
                log.info("download stopped from elsewhere", id=item_id, state=row.state if row else CANCELLED)
                if main:
                    main.cancel()
                return
            await asyncio.to_thread(
                store.save_progress, item_id, done_bytes=transfer.done, total_bytes=total, speed=meter.speed()
            )

    async def _wait_for_network(self, item: DownloadItem, exc: WaitingForNetwork) -> None:
        """Back to pending with the reason: the scheduler tries it again after a pause."""
        row = await asyncio.to_thread(
            self._require_store().update, item.id, state=PENDING, reason=exc.message, fix="", owner_pid=None, speed=None
        )
        log.info("download waits for the network", id=item.id, reason=exc.message)
        if row is not None:
            self.bus.publish(DownloadStateChanged(item.id, PENDING, row, exc.message))

    async def _interrupted(self, item: DownloadItem, foreground: bool) -> None:
        store = self._require_store()
        item_id = item.id
        row = await asyncio.to_thread(store.get, item_id)
        if row is None:  # cancelled (maybe by another process): the part goes too, now that it is closed
            await asyncio.to_thread(_remove_part, item)
            return
        if row.state == ACTIVE and row.owner_pid == os.getpid():
            # Ctrl+C on `aiui-tui download` pauses; closing the dashboard leaves it to resume next time.
            state = PAUSED if foreground else PENDING
            try:
                row = await asyncio.to_thread(
                    store.update, item_id, state=state, owner_pid=None, reason="interrupted; resumes from its part"
                )
            except DiskFull:  # left active: the next start finds its process gone and resumes it
                log.warning("interrupted download not recorded: the disk is full", id=item_id)
                return
        if row is not None:
            self.bus.publish(DownloadStateChanged(item_id, row.state, row, row.reason))

    async def _failed(self, item: DownloadItem, exc: AiuiError, *, state: DownloadState = FAILED) -> None:
        """Record why the item stopped: failed, or paused when it can go on once the user acts (a full disk)."""
        store = self._require_store()
        try:
            row = await asyncio.to_thread(
                store.update, item.id, state=state, reason=exc.message, fix=exc.fix, owner_pid=None, speed=None
            )
        except DiskFull:  # `exc` is what the user sees; the row is left active and resumes next start
            log.warning("download stop not recorded: the disk is full", id=item.id)
            row = None
        if state == FAILED and item.name:  # a part with no byte in it is no use to a retry: nothing left behind
            target = Path(item.dest_dir) / item.name
            if await asyncio.to_thread(parts.kept_bytes, target, item.id) == 0:
                await asyncio.to_thread(_remove_part, item)
        log.warning("download stopped", id=item.id, name=item.display_name, state=state, reason=exc.message)
        self.bus.publish(DownloadFailed(item.id, item.display_name, exc.message, exc.fix))
        if row is not None:
            self.bus.publish(DownloadStateChanged(item.id, state, row, exc.message))

    async def _check_file(self, path: Path, name: str) -> str | None:
        if self.file_check is None:
            return None
        return await asyncio.to_thread(self.file_check, path, name)

    async def _already_there(self, item: DownloadItem, target: Path) -> DownloadItem:
        """Never download the same bytes twice: an existing file is checked, not replaced."""
        from aiui_tui.services.downloads.writer import StreamHasher

        store = self._require_store()
        problem = await self._check_file(target, target.name)
        if problem:
            error = NotAModel(
                f"{target} exists and is not a valid model file ({problem}).",
                "move it away or choose another --name, then retry",
            )
            await self._failed(item, error)
            raise error
        size = (await asyncio.to_thread(target.stat)).st_size
        hasher = StreamHasher(target)
        try:
            digest = await asyncio.to_thread(hasher.result, size)
        finally:
            hasher.close()
        if item.sha256 and digest != item.sha256:
            different = DownloadError(
                f"{target} exists and is a different file (sha256 {digest[:12]}…).",
                "move it away or choose another --name, then retry",
            )
            await self._failed(item, different)
            raise different
        row = await asyncio.to_thread(
            store.update,
            item.id,
            state=DONE,
            done_bytes=size,
            total_bytes=size,
            result_sha256=digest,
            reason="already there, not downloaded again",
        )
        assert row is not None
        self.bus.publish(DownloadFinished(item.id, target, size, digest, bool(item.sha256), item.kind, item.source))
        self.bus.publish(DownloadStateChanged(item.id, DONE, row, row.reason))
        return row

    async def _name_from_server(self, item: DownloadItem) -> DownloadItem:
        """Ask the server for the file's name (Content-Disposition), as CivitAI's download URLs need."""
        session = await self.session()  # first: the first download imports aiohttp its own way, off the loop
        from aiui_tui.services.downloads.http import open_response

        tokens = source_tokens(self.config.sources, self.credentials)
        headers = {"Range": "bytes=0-0", "Accept-Encoding": "identity"}
        async with open_response(session, item.url, headers, tokens, self.config.network.proxy or None) as response:
            from aiui_tui.services.downloads.http import raise_for_status

            raise_for_status(response, item.url, tokens)
            name = names.choose_name(None, response.headers.get("Content-Disposition"), str(response.url))
        names.safe_target(Path(item.dest_dir), name)
        updated = await asyncio.to_thread(self._require_store().update, item.id, name=name)
        assert updated is not None
        return updated

    # -- the scheduler ------------------------------------------------------------------------

    async def _schedule_loop(self) -> None:
        """Wait to be woken (no poll of the queue): then publish another process's changes and, when this
        process runs the queue, start what may start, and arm a timer for the next retry."""
        store = self._require_store()
        version = await asyncio.to_thread(store.data_version)
        if self.runs_queue:
            await self._check_network_once()
        looked, concurrent = version, self.config.downloads.concurrent

        def look_done(current: int) -> None:  # on the loop, after the ticker's look at the database
            nonlocal looked, concurrent
            if current != looked or concurrent != self.config.downloads.concurrent:  # or the settings changed
                looked, concurrent = current, self.config.downloads.concurrent
                self._wake.set()

        own: Ticker | None = None
        ticker = self._ticker
        if ticker is None:  # `downloads run`, the CLI: a clock of its own
            ticker = own = Ticker(WATCH_S)
        stop = ticker.add("download queue", store.data_version, look_done, every_s=WATCH_S)
        retry: asyncio.TimerHandle | None = None
        self._wake.set()  # what is pending (resumed after a restart) starts at once
        try:
            while not self._closing:
                await self._wake.wait()
                self._wake.clear()
                if looked != version:  # another process changed the queue: every view takes the new one
                    version = looked
                    await self._publish_queue()
                if self.runs_queue:
                    next_try = await self._start_pending()
                    if retry is not None:
                        retry.cancel()
                        retry = None
                    if next_try is not None:
                        retry = asyncio.get_running_loop().call_at(next_try, self._wake.set)
        finally:
            stop()
            if retry is not None:
                retry.cancel()
            if own is not None:
                await own.close()

    async def _start_pending(self) -> float | None:
        """Start pending items while slots are free; the loop time of the next retry of one waiting
        (busy elsewhere, offline), or None."""
        items = await asyncio.to_thread(self._require_store().items)
        loop = asyncio.get_running_loop()
        now = time.monotonic()
        next_try: float | None = None
        for item in items:
            if item.state != PENDING or item.id in self._tasks:
                continue
            if (until := self._busy_until.get(item.id, 0)) > now:
                at = loop.time() + (until - now)
                next_try = at if next_try is None else min(next_try, at)
                continue
            if len(self._tasks) >= self.config.downloads.concurrent:
                continue  # a slot frees when a transfer ends: that wakes us
            task = asyncio.create_task(self._run_queued(item.id), name=f"download {item.id}")
            self._tasks[item.id] = task
            task.add_done_callback(functools.partial(self._finished_task, item.id))
        return next_try

    def _finished_task(self, item_id: str, _task: asyncio.Task[None]) -> None:
        self._tasks.pop(item_id, None)
        self._wake.set()

    async def _run_queued(self, item_id: str) -> None:
        offline = False
        try:
            await self.run_item(item_id)
        except BusyElsewhere:
            self._busy_until[item_id] = time.monotonic() + BUSY_RETRY_S
        except UsageError as exc:
            await self._failed_by_id(item_id, exc)
        except DownloadError as exc:
            if exc.offline:  # no network: try again after a pause that grows, the slot free meanwhile
                offline = True
                pause = self._offline_pause.get(item_id, OFFLINE_FIRST_RETRY_S)
                self._busy_until[item_id] = time.monotonic() + pause
                self._offline_pause[item_id] = min(OFFLINE_RETRY_S, pause * 2)
        except AiuiError:
            pass  # recorded on the item and published already
        except Exception as exc:
            log.exception("download crashed", id=item_id)
            await self._failed_by_id(item_id, DownloadError(f"Unexpected error: {exc}", "see logs/aiui.log"))
        finally:
            if not offline:
                self._offline_pause.pop(item_id, None)
                self._last_notice.pop(item_id, None)

    async def _failed_by_id(self, item_id: str, exc: AiuiError) -> None:
        item = await asyncio.to_thread(self._require_store().get, item_id)
        if item is not None:
            await self._failed(item, exc)

    async def _check_network_once(self) -> None:
        """A quick look before the queue starts: say so once when offline (items wait on their own)."""
        items = [i for i in await asyncio.to_thread(self._require_store().items) if i.state == PENDING]
        if not items:
            return
        if not await network.reachable(items[0].url, self.config.network.proxy or None, 2, self.resolver):
            self.bus.publish(
                Notice("warning", f"No network: {len(items)} download(s) wait for it to return.", source="downloads")
            )

    # -- helpers ------------------------------------------------------------------------------

    def _dest_dir(self, request: DownloadRequest) -> Path:
        if request.dest_dir is not None:
            return Path(request.dest_dir).expanduser().absolute()
        if request.kind is not None:
            if request.kind not in kind_names():
                raise UsageError(f"Unknown model kind {request.kind!r}.", f"use one of: {', '.join(kind_names())}")
            return self.layout.kind_dir(request.kind)
        return Path.cwd()


def _url_file_name(url: str) -> str | None:
    """A name from the URL only when it looks like a file (`.../model.safetensors`)."""
    name = names.name_from_url(url)
    return name if name and "." in name.strip(".") else None


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _either(states: tuple[str, ...]) -> str:
    """pending, active or failed"""
    return " or ".join(filter(None, (", ".join(states[:-1]), states[-1])))


def _remove_part(item: DownloadItem) -> None:
    """The item's own temporary files, by its record: never a user's file of a similar name."""
    if item.name:
        parts.remove_ours(Path(item.dest_dir) / item.name, item.id, item.url)


async def _import_off_loop(module: str) -> None:
    """Import `module` on a thread the first time: aiohttp and what it pulls in take ~0.3 s, which
    would freeze the loop (the dashboard) at the first download."""
    if module not in sys.modules:
        from aiui_tui.services.downloads.client_import import import_module

        await asyncio.to_thread(import_module, module)
