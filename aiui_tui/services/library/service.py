"""The library service: index, catalog, sources, validation, links, duplicates and updates.

Intents are async; everything that touches disk or hashes runs on threads (the index is SQLite,
hashing is hashlib on a pool). Finished downloads are indexed from their `DownloadFinished`
event with the hash the transfer already computed, so a fresh 7 GB file is never read twice.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from aiui_tui.bus import Bus
from aiui_tui.config import Config
from aiui_tui.core.downloads import DONE, DownloadItem
from aiui_tui.core.errors import UsageError
from aiui_tui.core.events import DownloadFinished, LibraryChanged, Notice
from aiui_tui.core.library import (
    CATALOG,
    CIVITAI,
    HF,
    LIBRARY,
    URL,
    CatalogEntry,
    ModelRecord,
    ModelRef,
    RemoteModel,
    ScanResult,
)
from aiui_tui.core.requests import DownloadRequest
from aiui_tui.credentials import Credentials
from aiui_tui.kinds import kind_names
from aiui_tui.logs import get_logger
from aiui_tui.paths import Layout
from aiui_tui.services.library import catalog as catalog_mod
from aiui_tui.services.library import links
from aiui_tui.services.library.dedupe import DedupeResult, DuplicateGroup, dedupe, find_duplicates
from aiui_tui.services.library.detect import UiInstall, detect, identify
from aiui_tui.services.library.hashing import sha256_file
from aiui_tui.services.library.index import LibraryIndex
from aiui_tui.services.library.progress import OpProgress
from aiui_tui.services.library.validate import check_file

if TYPE_CHECKING:
    from aiui_tui.services.downloads import DownloadService
    from aiui_tui.services.downloads.auth import SourceToken
    from aiui_tui.services.library.sources.civitai import CivitAI
    from aiui_tui.services.library.sources.hf import HuggingFace
    from aiui_tui.services.library.updates import UpdateReport
    from aiui_tui.services.plugins.sources import GuardedSource

log = get_logger(__name__)


class ScanStopped(Exception):
    """Hashing was given up because the service is closing (not an OSError: no file is at fault)."""


class LibraryService:
    def __init__(
        self,
        layout: Layout,
        config: Config,
        credentials: Credentials,
        bus: Bus,
        downloads: DownloadService | None = None,
        *,
        extra_catalog: list[CatalogEntry] | None = None,
        extra_sources: dict[str, GuardedSource] | None = None,
    ) -> None:
        """`extra_catalog`, `extra_sources`: what plugins add to the catalog and the model sources."""
        self.layout = layout
        self.config = config
        self.credentials = credentials
        self.bus = bus
        self.downloads = downloads
        self.index: LibraryIndex | None = None
        self.extra_catalog: list[CatalogEntry] = extra_catalog if extra_catalog is not None else []
        self.extra_sources: dict[str, GuardedSource] = extra_sources if extra_sources is not None else {}  # by name
        self._hf: HuggingFace | None = None
        self._civitai: CivitAI | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._scan_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[object]] = set()
        # Set on close: hashing threads stop at their next chunk, so quitting never waits for a
        # scan of a 20 GB file (the interpreter joins worker threads at exit).
        self._closing = threading.Event()
        self.offline_reason = ""  # set when a source was unreachable; the catalog still works
        self.progress_rate = 10.0  # FileOpProgress events per second and operation, at most

    # -- lifetime -------------------------------------------------------------------------------
    async def start(self, *, scan: bool = True) -> None:
        self.layout.state_dir.mkdir(parents=True, exist_ok=True)
        self.index = await asyncio.to_thread(LibraryIndex, self.layout.state_dir / "library.sqlite")
        self._unsubscribe = self.bus.subscribe(self._on_download_finished, DownloadFinished)
        if scan:
            self._spawn(self._scan_logged())

    async def close(self) -> None:
        self._closing.set()
        if self._unsubscribe:
            self._unsubscribe()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for client in (self._hf, self._civitai):
            if client is not None:
                await client.close()
        if self.index is not None:
            await asyncio.to_thread(self.index.close)
            self.index = None

    async def settle(self) -> None:
        """Wait for background work started by events (indexing finished downloads)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _require_index(self) -> LibraryIndex:
        if self.index is None:
            raise RuntimeError("LibraryService.start() was not awaited")
        return self.index

    # -- index ----------------------------------------------------------------------------------
    def library_folders(self) -> dict[Path, str | None]:
        return {self.layout.kind_dir(k): k for k in kind_names()}

    async def scan(self) -> ScanResult:
        index = self._require_index()
        async with self._scan_lock:
            before = {r.path for r in await asyncio.to_thread(index.records)}
            op = self.progress("scan")
            downloaded = await self._downloaded()
            try:
                result = await asyncio.to_thread(
                    index.scan,
                    self.library_folders(),
                    LIBRARY,
                    workers=self.config.library.hash_workers,
                    hasher=self._hasher_reusing(downloaded, op),
                    on_hashed=op.file_done,
                    on_todo=op.begin,
                )
            finally:
                op.finish()
            await asyncio.to_thread(_remember_sources, index, downloaded.values())
            after = {r.path for r in await asyncio.to_thread(index.records)}
        if result.added or result.changed or result.removed:
            self.bus.publish(
                LibraryChanged(
                    added=tuple(sorted(after - before)), removed=tuple(sorted(before - after)), reason="scan"
                )
            )
        return result

    def progress(self, op: str) -> OpProgress:
        """A counter for one run of a long file operation, publishing `FileOpProgress` on the bus."""
        return OpProgress(self.bus.publish_threadsafe, op, per_second=self.progress_rate)

    async def _downloaded(self) -> dict[str, DownloadItem]:
        """Files the download queue finished (in any process), by path: their hash and source are known."""
        if self.downloads is None:
            return {}
        return {
            item.target: item
            for item in await self.downloads.items()
            if item.state == DONE and item.target and item.result_sha256
        }

    def _hasher_reusing(self, downloaded: dict[str, DownloadItem], op: OpProgress) -> Callable[[Path], str]:
        """sha256_file, except for finished downloads still as they were saved."""

        def hasher(path: Path) -> str:
            item = downloaded.get(str(path))
            if item is not None:
                st = path.stat()
                if st.st_size == item.done_bytes and st.st_mtime <= item.updated_at + 1 and item.result_sha256:
                    return item.result_sha256
            return self._sha256(path, op.reader(str(path)))

        return hasher

    def _sha256(self, path: Path, progress: Any = None) -> str:
        """sha256_file, given up (ScanStopped) as soon as the service closes; `progress(n)` per chunk."""

        def go_on(n: int) -> None:
            if self._closing.is_set():
                raise ScanStopped(f"stopped hashing {path}: the library service is closing")
            if progress is not None and n:
                progress(n)

        go_on(0)
        return sha256_file(path, progress=go_on)

    async def _scan_logged(self) -> None:
        try:
            result = await self.scan()
            log.info("library scanned", files=result.files, added=result.added, seconds=round(result.seconds, 3))
        except Exception:
            log.exception("library scan failed")
            self.bus.publish(Notice("error", "Scanning the model library failed.", "see the logs screen", "library"))

    async def scan_path(self, folder: Path) -> tuple[UiInstall | None, ScanResult]:
        """Index the model files of another UI (or any folder) so duplicates can be found."""
        folder = await asyncio.to_thread(lambda: folder.expanduser().resolve())
        if not await asyncio.to_thread(folder.is_dir):
            raise UsageError(f"No such folder: {folder}.", "give the folder of a UI install or of model files")
        install = await asyncio.to_thread(identify, folder)
        folders: dict[Path, str | None] = dict(install.existing_folders()) if install else {folder: None}
        index = self._require_index()
        op = self.progress("scan")
        try:
            result = await asyncio.to_thread(
                index.scan,
                folders,
                str(folder),
                workers=self.config.library.hash_workers,
                hasher=lambda p: self._sha256(p, op.reader(str(p))),
                on_hashed=op.file_done,
                on_todo=op.begin,
            )
        finally:
            op.finish()
        return install, result

    async def records(self, location: str | None = LIBRARY) -> list[ModelRecord]:
        return await asyncio.to_thread(self._require_index().records, location)

    async def installed_hashes(self) -> set[str]:
        return await asyncio.to_thread(self._require_index().installed_hashes)

    def _on_download_finished(self, event: DownloadFinished) -> None:
        if not event.kind or not Path(event.path).is_relative_to(self.layout.models_dir):
            return
        self._spawn(self._index_download(event))

    async def _index_download(self, event: DownloadFinished) -> None:
        try:
            record = await asyncio.to_thread(
                self._require_index().index_known, Path(event.path), event.kind, event.sha256, event.source
            )
        except OSError as exc:
            log.warning("could not index a finished download", path=str(event.path), error=str(exc))
            return
        if record.warning:
            self.bus.publish(Notice("warning", f"{record.name}: {record.warning}", source="library"))
        self.bus.publish(LibraryChanged(added=(record.path,), reason="download"))

    async def verify(self, paths: list[Path] | None = None) -> list[tuple[ModelRecord, bool, str]]:
        """Re-hash files and compare with the index and the source; check headers again."""
        index = self._require_index()
        records = await asyncio.to_thread(index.records, None if paths else LIBRARY)
        if paths:
            wanted, by_path = await asyncio.to_thread(_resolve_paths, paths, records)
            missing = wanted - set(by_path)
            if missing:
                raise UsageError(
                    f"Not in the library index: {', '.join(sorted(missing))}.",
                    "run `aiui-tui models list` for the indexed files, or `models scan PATH` first",
                )
            records = [by_path[p] for p in sorted(wanted)]
        semaphore = asyncio.Semaphore(self.config.library.hash_workers)
        op = self.progress("verify")
        op.begin(len(records), sum(r.size for r in records))

        async def one(record: ModelRecord) -> tuple[ModelRecord, bool, str]:
            async with semaphore:
                try:
                    return await asyncio.to_thread(self._verify_one, record, op)
                finally:
                    op.file_done(record.path, record.size)

        try:
            return list(await asyncio.gather(*(one(r) for r in records)))
        finally:
            op.finish()

    def _verify_one(self, record: ModelRecord, op: OpProgress | None = None) -> tuple[ModelRecord, bool, str]:
        path = Path(record.path)
        if not path.exists():
            return record, False, "missing (rescan to drop it from the index)"
        check = check_file(path)
        if not check.ok:
            return record, False, check.problem
        actual = self._sha256(path, op.reader(record.path) if op else None)
        for what, expected in (("the index", record.sha256), ("the source", record.source.get("sha256"))):
            if expected and actual != expected:
                return record, False, f"sha256 {actual[:12]}... differs from {what}'s {expected[:12]}... (corrupted?)"
        self._require_index().mark_verified(record.path)
        return record, True, check.warning or "ok"

    async def delete(self, path: Path) -> None:
        """Remove a library file (the TUI asks first); links to it in other UIs are dropped too."""
        path = await asyncio.to_thread(path.resolve)
        if not path.is_relative_to(self.layout.models_dir.resolve()):
            raise UsageError(f"{path} is not in the library.", "only files under models/ can be deleted here")
        index = self._require_index()
        await asyncio.to_thread(_delete_with_links, index, path)
        self.bus.publish(LibraryChanged(removed=(str(path),), reason="delete"))

    # -- catalog and sources -------------------------------------------------------------------------
    def catalog(self) -> list[CatalogEntry]:
        return catalog_mod.load_catalog(self.extra_catalog)

    def _tokens(self) -> list[SourceToken]:
        from aiui_tui.services.downloads.auth import source_tokens

        return source_tokens(self.config.sources, self.credentials)

    @property
    def hf(self) -> HuggingFace:
        if self._hf is None:
            from aiui_tui.services.library.sources.hf import HuggingFace

            self._hf = HuggingFace(self.config.sources.huggingface_url, self._tokens())
        return self._hf

    @property
    def civitai(self) -> CivitAI:
        if self._civitai is None:
            from aiui_tui.services.library.sources.civitai import CivitAI

            self._civitai = CivitAI(self.config.sources.civitai_url, self._tokens())
        return self._civitai

    async def search(
        self, text: str, source: str = "catalog", kind: str | None = None, limit: int = 20
    ) -> list[RemoteModel]:
        """Search one source. Raises SourceOffline (an AiuiError) when a site cannot be reached."""
        if source == "catalog":
            return [_catalog_model(e) for e in catalog_mod.search_catalog(self.catalog(), text, kind)][:limit]
        from aiui_tui.services.library.sources.api import SourceOffline

        hits: list[RemoteModel]
        try:
            if source == "hf":
                hits, _next = await self.hf.search(text, limit=limit)
            elif source == "civitai":
                hits, _next = await self.civitai.search(text, kind=kind, limit=limit)
            elif source in self.extra_sources:
                hits = list(await self.extra_sources[source].search(text, kind, limit))[:limit]
            else:
                raise UsageError(f"Unknown source {source!r}.", f"use one of: {', '.join(self.source_names())}")
        except SourceOffline as exc:
            self.offline_reason = exc.message
            raise
        self.offline_reason = ""
        return hits

    async def resolve(self, ident: str | ModelRef, kind: str | None = None) -> list[DownloadRequest]:
        """Download requests for a model: a ModelRef, or its text (a catalog id, `hf:owner/repo[/path][@rev]`,
        `civitai:ID[@VERSION]`, a URL, `SOURCE:ID` of a plugin's source)."""
        if kind is not None and kind not in kind_names():
            raise UsageError(f"Unknown kind {kind!r}.", f"use one of: {', '.join(kind_names())}")
        entries = {e.id: e for e in self.catalog()}
        if isinstance(ident, str) and ident in entries:  # a catalog id, whatever characters a plugin's has
            return [catalog_mod.request_for(entries[ident], kind)]
        ref = ident if isinstance(ident, ModelRef) else ModelRef.parse(ident)
        if ref.source == CATALOG and ref.id in entries:
            return [catalog_mod.request_for(entries[ref.id], kind)]
        if ref.source == HF:
            return await self._resolve_hf(ref.id, kind, ref.version or None)
        if ref.source == CIVITAI:
            return await self._resolve_civitai(ref.id, ref.version or None, kind)
        if ref.source == URL:
            return await self._resolve_url(ref.id, kind)
        if ref.source in self.extra_sources:
            return await self._resolve_plugin_source(ref.source, ref.id, kind)
        raise UsageError(
            f"Not a catalog id, hf:, civitai: or URL: {str(ref)!r}.",
            "see `aiui-tui models search TEXT` for ids, e.g. `models add sdxl-base-1.0`",
        )

    def source_names(self) -> list[str]:
        return ["catalog", "hf", "civitai", *self.extra_sources]

    async def _resolve_plugin_source(self, source: str, model_id: str, kind: str | None) -> list[DownloadRequest]:
        files = list(await self.extra_sources[source].files(model_id))
        if not files:
            raise UsageError(f"{source} has no downloadable file for {model_id!r}.", f"models search --source {source}")
        file = next((f for f in files if f.format == "safetensors"), files[0])
        chosen = kind or file.kind
        if chosen is None:
            raise UsageError(f"Cannot tell what kind of model {file.name} is.", "add --kind (checkpoints, loras, ...)")
        return [DownloadRequest(url=file.url, kind=chosen, name=file.name, sha256=file.sha256, size=file.size,
                                source={"type": source, "id": model_id, **file.source})]  # fmt: skip

    async def _resolve_hf(self, spec: str, kind: str | None, revision: str | None = None) -> list[DownloadRequest]:
        """`spec`: owner/repo[/path] (checked by ModelRef.parse, or from a URL's path)."""
        revision = revision or "main"
        ref = ModelRef(HF, spec.strip("/"))
        repo, path = ref.hf_repo, ref.hf_path
        files = await self.hf.files(repo, revision)
        if path:
            files = [f for f in files if f.source["path"] == path]
            if not files:
                raise UsageError(
                    f"{repo} has no model file {path!r} at {revision}.", f"list them: models search {repo} --source hf"
                )
        elif len(files) != 1:
            names = ", ".join(f.source["path"] for f in files[:8]) or "none"
            raise UsageError(f"{repo} has {len(files)} model files ({names}).", f"name one: models add hf:{repo}/FILE")
        file = files[0]
        chosen = kind or file.kind
        if chosen is None:
            raise UsageError(
                f"Cannot tell what kind of model {file.name} is.", "add --kind (checkpoints, loras, vae, ...)"
            )
        return [DownloadRequest(url=file.url, kind=chosen, name=file.name, sha256=file.sha256, size=file.size,
                                source={**file.source, "sha256": file.sha256})]  # fmt: skip

    async def _resolve_civitai(self, model_id: str, version_id: str | None, kind: str | None) -> list[DownloadRequest]:
        if version_id:
            model = await self.civitai.version(version_id)
        else:
            model, _versions = await self.civitai.model(model_id)
        files = [f for f in model.files if f.kind] or list(model.files)
        primary = next((f for f in files if f.format == "safetensors"), files[0] if files else None)
        if primary is None:
            raise UsageError(f"CivitAI model {model_id} has no downloadable file.", "pick another version")
        chosen = kind or primary.kind or model.kind
        if chosen is None:
            raise UsageError(
                f"Cannot tell what kind of model {primary.name} is.", "add --kind (checkpoints, loras, ...)"
            )
        return [DownloadRequest(url=primary.url, kind=chosen, name=primary.name, sha256=primary.sha256,
                                size=primary.size, source={**primary.source, "sha256": primary.sha256})]  # fmt: skip

    async def _resolve_url(self, url: str, kind: str | None) -> list[DownloadRequest]:
        parts = urlsplit(url)
        hf_host = urlsplit(self.config.sources.huggingface_url).netloc
        civitai_host = urlsplit(self.config.sources.civitai_url).netloc
        segments = [unquote(s) for s in parts.path.strip("/").split("/")]
        if parts.netloc == hf_host and len(segments) >= 5 and segments[2] in ("resolve", "blob"):
            return await self._resolve_hf("/".join(segments[:2] + segments[4:]), kind, revision=segments[3])
        if parts.netloc == civitai_host and len(segments) >= 2 and segments[0] == "models":
            version = parse_qs(parts.query).get("modelVersionId", [None])[0]
            return await self._resolve_civitai(segments[1], version, kind)
        if kind is None:
            raise UsageError("A plain URL needs a kind.", "add --kind (checkpoints, loras, vae, ...)")
        return [DownloadRequest(url=url, kind=kind, source={"type": "url", "url": url})]

    async def add(
        self, ident: str | ModelRef, kind: str | None = None, skipped: list[str] | None = None
    ) -> list[DownloadItem]:
        """Queue `ident`'s files through the download engine; files already installed are skipped
        (their names are appended to `skipped` when given)."""
        if self.downloads is None:
            raise RuntimeError("the library was started without a download service")
        requests = await self.resolve(ident, kind)
        have = await self.installed_hashes()
        items = []
        for request in requests:
            if request.sha256 and request.sha256 in have:
                self.bus.publish(Notice("info", f"{request.name} is already in the library.", source="library"))
                if skipped is not None:
                    skipped.append(request.name or request.url)
                continue
            items.append(await self.downloads.enqueue(request))
        return items

    async def updates(self) -> UpdateReport:
        from aiui_tui.services.library.updates import check_updates

        return await check_updates(await self.records(), self.hf, self.civitai)

    # -- other UIs ----------------------------------------------------------------------------------
    async def detect(self, extra: list[str] | None = None) -> list[UiInstall]:
        paths = list(self.config.library.other_ui_paths) + list(extra or [])
        return await asyncio.to_thread(detect, paths)

    async def install_at(self, path: Path) -> UiInstall:
        install = await asyncio.to_thread(lambda: identify(path.expanduser().resolve()))
        if install is None:
            raise UsageError(
                f"{path} does not look like a UI install this program knows.",
                "give the top folder of an AUTOMATIC1111/Forge, ComfyUI, Fooocus, InvokeAI or Stability Matrix install",
            )
        return install

    def _same_content(self, a: Path, b: Path) -> bool:
        if a.stat().st_size != b.stat().st_size:
            return False
        return self._hash_of(a) == self._hash_of(b)

    def _hash_of(self, path: Path) -> str:
        index = self._require_index()
        record = index.get(str(path))
        st = path.stat()
        if (
            record
            and record.sha256
            and (record.size, record.mtime_ns, record.inode) == (st.st_size, st.st_mtime_ns, st.st_ino)
        ):
            return record.sha256
        return self._sha256(path)

    async def plan_import(self, install: UiInstall) -> links.Plan:
        return await asyncio.to_thread(links.plan_import, install, self.layout.models_dir, self._same_content)

    async def plan_link(self, install: UiInstall, mode: str) -> links.Plan:
        if mode not in (links.SYMLINK_OUT, links.HARDLINK_OUT, links.CONFIG):
            raise UsageError(f"Unknown mode {mode!r}.", "use symlink, hardlink or config")
        records = await self.records()
        return await asyncio.to_thread(links.plan_link, install, records, self.layout.models_dir, mode)

    async def plan_unlink(self, install: UiInstall) -> links.Plan:
        return await asyncio.to_thread(links.plan_unlink, install, self._require_index())

    async def apply(self, plan: links.Plan) -> list[str]:
        op = self.progress("import" if any(a.op in links.IMPORT_OPS for a in plan.actions) else "link")
        op.begin(len(plan.actions), sum(a.size for a in plan.actions))
        try:
            problems = await asyncio.to_thread(
                links.apply_plan, plan, self._require_index(), self.layout.models_dir, op
            )
        finally:
            op.finish()
        await self.scan()
        return problems

    async def apply_unlink(self, plan: links.Plan) -> list[str]:
        op = self.progress("unlink")
        undo = [a for a in plan.actions if a.op != links.FOLDER]
        op.begin(len(undo), sum(a.size for a in undo))
        try:
            problems = await asyncio.to_thread(
                links.apply_unlink, plan, self._require_index(), self.layout.models_dir, op
            )
        finally:
            op.finish()
        await self.scan()
        return problems

    # -- duplicates ---------------------------------------------------------------------------------
    async def duplicates(self, installs: list[UiInstall] | None = None) -> list[DuplicateGroup]:
        """Identical files in the library and the given (else detected) UIs; scans them first."""
        await self.scan()
        installs = await self.detect() if installs is None else installs
        locations: list[str | None] = [LIBRARY]
        for install in installs:
            await self.scan_path(install.path)
            locations.append(str(install.path.resolve()))
        index = self._require_index()
        records: list[ModelRecord] = []
        for location in locations:
            records += await asyncio.to_thread(index.records, location)
        return find_duplicates(records)

    async def dedupe(self, groups: list[DuplicateGroup]) -> DedupeResult:
        op = self.progress("dedupe")
        op.begin(sum(len(g.redundant) for g in groups), sum(g.size * len(g.redundant) for g in groups))
        try:
            result = await asyncio.to_thread(dedupe, groups, op)
        finally:
            op.finish()
        await self.scan()
        return result


def _remember_sources(index: LibraryIndex, items: Any) -> None:
    """Where finished downloads came from, for files indexed by a scan (downloaded by another process,
    e.g. `downloads run`): so update checks can ask their source. Provenance already known is kept."""
    for item in items:
        if item.source and not index.source_of(item.result_sha256):
            index.set_source(item.result_sha256, item.source)


def _resolve_paths(paths: list[Path], records: list[ModelRecord]) -> tuple[set[str], dict[str, ModelRecord]]:
    wanted = {str(p.expanduser().resolve()) for p in paths}
    return wanted, {str(Path(r.path).resolve()): r for r in records}


def _delete_with_links(index: LibraryIndex, path: Path) -> None:
    for ui, op, link, target in index.links():
        if op in (links.SYMLINK_OUT, links.HARDLINK_OUT) and Path(target) == path and os.path.lexists(link):
            os.unlink(link)
            index.drop_link(ui, op, link)
    path.unlink()
    index.remove([str(path)])


def _catalog_model(entry: CatalogEntry) -> RemoteModel:
    from aiui_tui.core.library import RemoteFile

    file = RemoteFile(entry.filename, entry.url, entry.size, entry.sha256, entry.kind, source=dict(entry.source))
    return RemoteModel(
        source="catalog",
        id=entry.id,
        name=entry.name,
        kind=entry.kind,
        architecture=entry.architecture,
        files=(file,),
        url=entry.url,
    )
