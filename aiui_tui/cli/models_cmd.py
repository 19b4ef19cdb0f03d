"""`aiui-tui models ...`: the shared model library (list, search, add, verify, scan, import, link, dedupe)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiui_tui.cli.console import escape
from aiui_tui.cli.context import Context
from aiui_tui.cli.progress import FileOpBars
from aiui_tui.core.errors import EXIT_FAILED
from aiui_tui.core.format import human_bytes
from aiui_tui.core.library import CIVITAI, HF, LIBRARY, ModelRecord, ModelRef
from aiui_tui.kinds import kind_names

if TYPE_CHECKING:
    from aiui_tui.services import LibraryService


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("models", help="the shared model library: list, search, add, verify, link other UIs")
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)

    listing = actions.add_parser("list", help="models in the library, with kind, architecture, size and hash")
    listing.add_argument("--json", action="store_true", help="print the records as JSON")
    listing.add_argument("--kind", choices=kind_names(), help="only this kind")

    search = actions.add_parser("search", help="search the catalog, HuggingFace or CivitAI")
    search.add_argument("text", help="words to search for")
    search.add_argument(
        "--source", default="catalog", help="catalog, hf, civitai, or a plugin's source (default: catalog)"
    )
    search.add_argument("--kind", choices=kind_names(), help="only this kind (catalog, CivitAI)")
    search.add_argument("--limit", type=int, default=20, help="at most this many results (default 20)")
    search.add_argument("--json", action="store_true", help="print the results as JSON")

    add = actions.add_parser("add", help="queue a model: catalog id, hf:owner/repo/file, civitai:ID[@VERSION] or URL")
    add.add_argument("id", metavar="ID|URL")
    add.add_argument("--kind", choices=kind_names(), help="library kind (default: from the source)")
    add.add_argument("--now", action="store_true", help="download here and now with a progress bar")
    add.add_argument("--json", action="store_true", help="print what was queued (and, with --now, saved) as JSON")

    verify = actions.add_parser("verify", help="re-hash files and check them against the index and their source")
    verify.add_argument("paths", nargs="*", metavar="PATH", help="files to verify (default: the whole library)")

    scan = actions.add_parser("scan", help="index the library again, or index another UI's models (PATH)")
    scan.add_argument("path", nargs="?", metavar="PATH")

    actions.add_parser("detect", help="list other UIs' installs found on this machine")

    imp = actions.add_parser("import", help="bring another UI's models into the library (a link stays behind)")
    imp.add_argument("ui_path", metavar="PATH", help="the UI's install folder")
    imp.add_argument("--dry-run", action="store_true", help="show what would happen; change nothing")

    link = actions.add_parser("link", help="make the library's models visible inside another UI")
    link.add_argument("ui_path", metavar="UI_PATH", help="the UI's install folder")
    link.add_argument(
        "--mode", choices=["symlink", "hardlink", "config"], default="symlink", help="how (default: symlink)"
    )
    link.add_argument("--dry-run", action="store_true", help="show what would happen; change nothing")

    unlink = actions.add_parser("unlink", help="undo `link` and `import` for a UI (its own files stay)")
    unlink.add_argument("ui_path", metavar="UI_PATH")
    unlink.add_argument("--dry-run", action="store_true", help="show what would happen; change nothing")

    dedupe = actions.add_parser("dedupe", help="replace identical copies (library and other UIs) with links")
    dedupe.add_argument("paths", nargs="*", metavar="UI_PATH", help="UI installs to include (default: detected ones)")
    dedupe.add_argument("--dry-run", action="store_true", help="report duplicates and reclaimable bytes only")

    from aiui_tui.cli.commands import add_renamed

    updates = actions.add_parser(  # named as `app check-update`: look, download nothing (the action: "updates")
        "check-update", help="newer versions of HuggingFace and CivitAI models (exit 1 when none could be checked)"
    )
    old = add_renamed(actions, "updates", "check-update", group="models")  # hidden, for one release
    for parser_ in (updates, old):
        parser_.set_defaults(action="updates")
        parser_.add_argument("--json", action="store_true", help="print the updates, problems and counts as JSON")
    parser.set_defaults(handler=run)


@contextlib.asynccontextmanager
async def library_service(ctx: Context, *, scan: bool = False, bars: bool = False) -> AsyncIterator[LibraryService]:
    from aiui_tui.services import open_services

    async with open_services(
        ctx.layout,
        ctx.config,
        ctx.credentials,
        only=("plugins", "library"),  # the library brings the download queue (with the format check)
        supervise=False,
        run_downloads=False,
        scan=False,
        on_plugin_warning=ctx.out.warn,
    ) as services:
        library = services.library
        assert library is not None
        with FileOpBars(services.bus, ctx.out.err) if bars else contextlib.nullcontext():
            if scan:
                await library.scan()
            yield library


def run(ctx: Context) -> int:
    return asyncio.run(_run(ctx))


async def _run(ctx: Context) -> int:
    action = ctx.args.action
    handler = ACTIONS[action]
    # Bars for hashing, verify, import, link and dedupe on a terminal; `add` has its download bars.
    bars = action != "add" and ctx.out.err.is_terminal and not getattr(ctx.args, "json", False)
    async with library_service(ctx, scan=action in ("list", "link", "dedupe", "updates"), bars=bars) as library:
        return int(await handler(ctx, library) or 0)


async def _list(ctx: Context, library) -> int:
    records = [r for r in await library.records() if not ctx.args.kind or r.kind == ctx.args.kind]
    if ctx.args.json:
        print(json.dumps({"models": [_record_json(r) for r in records]}, indent=2))
        return 0
    if not records:
        ctx.out.info(f"The library ({ctx.layout.models_dir}) is empty. Add one: aiui-tui models add sdxl-base-1.0")
        return 0
    from rich.table import Table

    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("KIND", "NAME", "ARCH", "SIZE", "AUTOV2", "SOURCE", "NOTE"):
        table.add_column(column, overflow="fold", no_wrap=column in ("NAME", "SOURCE", "SIZE"))
    for r in records:
        note = f"[yellow]{escape(r.warning)}[/]" if r.warning else ("verified" if r.verified_at else "")
        table.add_row(
            r.kind or "", escape(r.name), r.architecture, human_bytes(r.size), r.autov2 or "", _source(r), note
        )
    ctx.out.out.print(table)
    total = sum(r.size for r in records)
    ctx.out.plain(f"{len(records)} files, {human_bytes(total)}")
    return 0


def _record_json(r: ModelRecord) -> dict:
    data = asdict(r)
    data["autov2"] = r.autov2
    data["warning"] = r.warning
    return data


def _source(r: ModelRecord) -> str:
    s = r.source
    if s.get("type") == "huggingface":
        return str(ModelRef(HF, s.get("repo", "")))
    if s.get("type") == "civitai":
        return str(ModelRef(CIVITAI, str(s.get("model_id", "")), str(s.get("version_id", ""))))
    return s.get("type", "")


async def _search(ctx: Context, library) -> int:
    hits = await library.search(ctx.args.text, ctx.args.source, ctx.args.kind, ctx.args.limit)
    installed = await library.installed_hashes()
    if ctx.args.json:
        print(json.dumps({"results": [asdict(h) for h in hits]}, indent=2))
        return 0
    if not hits:
        ctx.out.info(f"Nothing found for {ctx.args.text!r} in {ctx.args.source}.")
        return 0
    from rich.table import Table

    table = Table(box=None, pad_edge=False, header_style="bold")
    for column in ("ID", "NAME", "KIND", "ARCH", "SIZE", ""):
        table.add_column(column, overflow="fold", no_wrap=column in ("ID", "SIZE"))
    for h in hits:
        size = sum(f.size or 0 for f in h.files[:1])
        have = any(f.sha256 in installed for f in h.files if f.sha256)
        table.add_row(
            escape(str(ModelRef.for_search_hit(h.source, h.id))),
            escape(h.name),
            h.kind or "",
            h.architecture,
            human_bytes(size) if size else "",
            "installed" if have else "",
        )
    ctx.out.out.print(table)
    return 0


async def _add(ctx: Context, library) -> int:
    skipped: list[str] = []
    items = await library.add(ctx.args.id, ctx.args.kind, skipped)
    report: dict = {"queued": [asdict(i) for i in items], "already_installed": skipped}
    if not ctx.args.json:
        if not items:
            ctx.out.success("Already in the library; nothing to download.")
        for item in items:
            size = human_bytes(item.size) if item.size else "size unknown"
            ctx.out.success(f"Queued {item.display_name} ({size}) as {item.id}.")
    if not items or not ctx.args.now:
        if items and not ctx.args.json:
            ctx.out.info("The dashboard (aiui-tui) or `aiui-tui downloads run` downloads it.")
        if ctx.args.json:
            print(json.dumps(report, indent=2))
        return 0
    from aiui_tui.cli.progress import DownloadBars

    report["saved"], report["failed"] = [], []
    bars = DownloadBars(library.bus, ctx.out.err, {i.id: i.display_name for i in items})
    with contextlib.nullcontext() if ctx.args.json else bars:
        for item in items:
            try:
                done = await library.downloads.run_item(item.id, foreground=True)
            except Exception as exc:  # an AiuiError: shown, the others still run
                message, fix = str(getattr(exc, "message", exc)), getattr(exc, "fix", "")
                report["failed"].append({"id": item.id, "name": item.display_name, "message": message, "fix": fix})
                if not ctx.args.json:
                    ctx.out.error(message, fix)
                continue
            await library.settle()  # the finished download is indexed from its event
            report["saved"].append(done.target)
            if not ctx.args.json:
                ctx.out.success(f"Saved {done.target}.", stderr=True)
    if ctx.args.json:
        print(json.dumps(report, indent=2))
    return EXIT_FAILED if report["failed"] else 0


async def _verify(ctx: Context, library) -> int:
    # No rescan first: a rescan would take changed bytes as the new truth. Only a never-scanned library is scanned.
    if not await library.records():
        await library.scan()
    results = await library.verify([Path(p) for p in ctx.args.paths] or None)
    bad = 0
    for record, ok, message in results:
        if ok:
            style = "yellow" if message != "ok" else "green"
            ctx.out.out.print(
                f"[{style}]ok[/]   {escape(record.path)}"
                + (f"  [yellow]{escape(message)}[/]" if message != "ok" else "")
            )
        else:
            bad += 1
            ctx.out.out.print(f"[bold red]BAD[/]  {escape(record.path)}: {escape(message)}")
    ctx.out.plain(f"{len(results) - bad} ok, {bad} bad")
    return EXIT_FAILED if bad else 0


async def _scan(ctx: Context, library) -> int:
    if ctx.args.path:
        install, result = await library.scan_path(Path(ctx.args.path))
        what = f"{install.title} at {install.path}" if install else ctx.args.path
        location = await asyncio.to_thread(lambda: str(Path(ctx.args.path).expanduser().resolve()))
    else:
        result = await library.scan()
        what, location = "the library", LIBRARY
    ctx.out.success(
        f"Scanned {what}: {result.files} files, {result.added} new, {result.changed} changed, {result.removed} gone, "
        f"{human_bytes(result.hashed_bytes)} hashed in {result.seconds:.2f} s."
    )
    problems = [r for r in await library.records(location) if not r.ok]
    for record in problems:  # each is that file's problem; every other file is indexed
        ctx.out.warn(f"{record.path}: {record.problem}")
    if problems:
        ctx.out.plain(f"{len(problems)} of {result.files} files have a problem (see `aiui-tui models list`).")
    return 0


async def _detect(ctx: Context, library) -> int:
    installs = await library.detect()
    if not installs:
        ctx.out.info("No other UI found. Give its folder: aiui-tui models import PATH, or set library.other_ui_paths.")
        return 0
    for install in installs:
        kinds = ", ".join(sorted(k for k, f in install.folders.items() if any(p.is_dir() for p in f)))
        ctx.out.plain(f"{install.title:22} {install.path}  ({kinds or 'no model folders yet'})")
    return 0


def _print_plan(ctx: Context, plan, verb: str) -> None:
    for action in plan.actions:
        ctx.out.plain(action.line())
    for note in plan.notes:
        ctx.out.warn(note)
    total = sum(a.size for a in plan.actions)
    if plan.empty:
        ctx.out.success(f"Nothing to {verb}: {plan.install.title} at {plan.install.path} is up to date.")
    else:
        ctx.out.plain(f"{len(plan.actions)} actions, {human_bytes(total)} of models")


async def _apply(ctx: Context, library, plan, verb: str, unlink: bool = False) -> int:
    _print_plan(ctx, plan, verb)
    if ctx.args.dry_run or plan.empty:
        if ctx.args.dry_run and not plan.empty:
            ctx.out.info("Dry run: nothing changed. Run again without --dry-run to do it.")
        return 0
    problems = await (library.apply_unlink(plan) if unlink else library.apply(plan))
    for problem in problems:
        ctx.out.error(problem)
    ctx.out.success(f"Done: {len(plan.actions) - len(problems)} of {len(plan.actions)} actions.")
    return EXIT_FAILED if problems else 0


async def _import(ctx: Context, library) -> int:
    install = await library.install_at(Path(ctx.args.ui_path))
    return await _apply(ctx, library, await library.plan_import(install), "import")


async def _link(ctx: Context, library) -> int:
    install = await library.install_at(Path(ctx.args.ui_path))
    return await _apply(ctx, library, await library.plan_link(install, ctx.args.mode), "link")


async def _unlink(ctx: Context, library) -> int:
    install = await library.install_at(Path(ctx.args.ui_path))
    return await _apply(ctx, library, await library.plan_unlink(install), "undo", unlink=True)


async def _dedupe(ctx: Context, library) -> int:
    installs = [await library.install_at(Path(p)) for p in ctx.args.paths] if ctx.args.paths else None
    groups = await library.duplicates(installs)
    reclaimable = sum(g.reclaimable for g in groups)
    for group in groups:
        ctx.out.plain(f"{human_bytes(group.size):>9}  keep {group.keep.path}")
        for copy in group.copies:
            shared = "" if copy in group.redundant else "  (already a link)"
            ctx.out.plain(f"{'':9}  copy {copy.path}{shared}")
    if not groups:
        ctx.out.success("No duplicates.")
        return 0
    ctx.out.plain(f"{len(groups)} duplicated models, {human_bytes(reclaimable)} reclaimable")
    if ctx.args.dry_run:
        ctx.out.info("Dry run: nothing changed. Run again without --dry-run to replace copies with links.")
        return 0
    result = await library.dedupe(groups)
    for line in result.skipped:
        ctx.out.warn(line)
    ctx.out.success(f"Replaced {len(result.replaced)} copies with links; {human_bytes(result.reclaimed)} freed.")
    return 0


async def _updates(ctx: Context, library) -> int:
    report = await library.updates()
    status = EXIT_FAILED if report.checked == 0 else 0  # a check that could not run says so, in the exit code too
    if ctx.args.json:
        print(json.dumps({"updates": [asdict(u) for u in report.updates], "problems": report.problems,
                          "checked": report.checked, "failed": report.failed, "no_source": report.no_source},
                         indent=2))  # fmt: skip
        return status
    for problem in report.problems:
        ctx.out.warn(f"could not check {problem}")
    for u in report.updates:
        ctx.out.plain(f"{u.name}: {u.source} {u.current} -> {u.latest}  {u.detail}")
    if report.checked == 0:
        ctx.out.error(f"{report.headline()}.", _updates_fix(report))
    elif report.updates:
        ctx.out.plain(f"{report.headline()}.")
    else:
        ctx.out.success(f"{report.headline()}.")
    return status


def _updates_fix(report) -> str:
    if report.failed:
        return "check the network or sources.* in config/aiui.toml, then run it again"
    if report.no_source:
        return "only models added from HuggingFace or CivitAI (models add hf:... or civitai:...) can be checked"
    return "add a model first: aiui-tui models add sdxl-base-1.0"


# `models ACTION` -> what runs it, given the context and the library service.
ACTIONS: dict[str, Callable[[Context, Any], Awaitable[int | None]]] = {
    "list": _list,
    "search": _search,
    "add": _add,
    "verify": _verify,
    "scan": _scan,
    "detect": _detect,
    "import": _import,
    "link": _link,
    "unlink": _unlink,
    "dedupe": _dedupe,
    "updates": _updates,
}
