"""Enabled plugins, loaded and isolated: one that fails is switched off for the session with one warning.

Hooks are declared with pluggy (hookspecs.py) and plugins registered with it, but every hook
implementation is called on its own, in a worker thread with a time budget (calls.py): pluggy stops
at the first implementation that raises, and one bad plugin must not starve the others
(pitfalls.md). Imports get the same budget. Guards (guard.py) keep plugin code from ending the
process, writing on the terminal or replacing builtins and modules.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import importlib.util
import inspect
import sys
import weakref
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pluggy
from pluggy import HookImpl

from aiui_tui.core.apps import EXITED, READY, STOPPED
from aiui_tui.core.errors import ConfigError
from aiui_tui.core.events import AppStateChanged, DownloadFailed, DownloadFinished, Notice, PluginsChanged
from aiui_tui.logs import get_logger, redact_text
from aiui_tui.paths import Layout
from aiui_tui.services.plugins import api, guard
from aiui_tui.services.plugins import watch as folder_watch
from aiui_tui.services.plugins.calls import (
    Call,
    PluginAbandoned,
    abandon_waits,
    await_as,
    call_in_thread,
    call_with_timeout,
    problem,
)
from aiui_tui.services.plugins.discovery import (
    BROKEN,
    FAILED,
    LOADED,
    REFUSED,
    PluginInfo,
    discover,
    enabled_names,
)
from aiui_tui.services.plugins.hookspecs import HOOK_NAMES, AiuiHooks
from aiui_tui.services.plugins.sources import GuardedSource

if TYPE_CHECKING:  # imported when used (apps' manifests load the schema)
    from aiui_tui.bus import Bus
    from aiui_tui.core.events import Event
    from aiui_tui.core.library import CatalogEntry
    from aiui_tui.services.apps.manifest import LoadedApp
    from aiui_tui.services.ticker import Ticker

log = get_logger(__name__)
DEFAULT_TIMEOUT_S = 5.0
RESERVED_SOURCES = ("catalog", "hf", "civitai")


_loading: weakref.WeakSet[PluginService] = weakref.WeakSet()


def abandon_loading() -> None:
    """The program is quitting: stop loading plugins and waiting for plugin code, now.

    The dashboard calls it when it quits, so a plugin import or hook that hangs cannot hold the
    process (its thread is a daemon, abandoned)."""
    for service in list(_loading):
        service.closing = True
    abandon_waits()


class PluginService:
    """Discovery, loading and hook calls. `load()` is blocking (imports): call it off the event loop."""

    def __init__(self, layout: Layout, *, on_warning: Callable[[str], None] | None = None) -> None:
        self.layout = layout
        self.plugins: dict[str, PluginInfo] = {}
        self.warnings: list[str] = []
        self.on_warning = on_warning
        self.pm = pluggy.PluginManager(api.PROJECT)
        self.pm.add_hookspecs(AiuiHooks)
        self._contexts: dict[str, api.PluginContext] = {}
        self._bus: Bus | None = None
        self._queues: dict[str, asyncio.Queue[tuple[HookImpl, api.PluginEvent]]] = {}
        self._workers: list[asyncio.Task[None]] = []
        self._app_states: dict[str, str] = {}
        self._watch: asyncio.Task[None] | None = None
        self._own: dict[str, str] = {}  # plugin -> its module's name
        self.closing = False  # set by abandon_loading(): load no more plugins
        # Contributions, collected once at load.
        self.manifests: dict[str, LoadedApp] = {}  # by app name
        self.catalog: list[CatalogEntry] = []
        self.sources: dict[str, GuardedSource] = {}  # by source name
        self.commands: list[tuple[str, api.PaletteCommand]] = []
        self.screens: list[tuple[str, api.PluginScreen]] = []
        self.contributed: dict[str, dict[str, list[str]]] = {}

    # -- loading ------------------------------------------------------------------------------

    def discover(self) -> dict[str, PluginInfo]:
        """Every plugin, imported or not (for `plugins list`)."""
        found = discover(self.layout)
        for name, fresh in list(found.items()):
            loaded = self.plugins.get(name)
            if loaded is not None and loaded.state in (LOADED, FAILED, REFUSED):
                # this session's state, with the enabled flag as the settings file says now
                found[name] = dataclasses.replace(loaded, enabled=fresh.enabled)
        return found

    def load(self) -> None:
        """Import and register every enabled plugin, then collect what each contributes."""
        if not enabled_names(self.layout):
            return  # nothing enabled: no discovery, nothing imported
        self.plugins = discover(self.layout)
        guard.install()
        _loading.add(self)
        try:
            for info in self.plugins.values():
                if self.closing:
                    return
                if info.enabled and info.state != BROKEN:
                    self._load_one(info)
                elif info.enabled:
                    self._warn(info, f"Plugin {info.name} is off: {info.problem}")
            if not self.closing:
                self._collect()
        finally:
            _loading.discard(self)

    def _load_one(self, info: PluginInfo) -> None:
        if info.kind == "folder" and not api.api_supported(info.api):
            self._refuse(info)
            return
        own = module_name(info)
        self._own[info.name] = own
        guard.own_module(own, info.name)
        guard.on_exit_attempt(info.name, self._exit_attempted)
        try:
            module = call_with_timeout(
                Call(info.name, "loading", own), self._import, {"info": info}, self.timeout_of(info)
            )
        except PluginAbandoned:
            return  # quitting: no warning
        except BaseException as exc:
            self._fail(info, problem(exc, "failed to import", "at import"), exc)
            return
        if info.state == FAILED:
            return  # a thread it started tried to end the process meanwhile
        if info.kind == "package":
            info.api = str(getattr(module, "AIUI_API", ""))
            if not api.api_supported(info.api):
                self._refuse(info)
                return
        try:
            self.pm.register(module, name=info.name)
        except Exception as exc:  # pluggy's PluginValidationError: a hook with a wrong name or arguments
            self._fail(info, "has invalid hooks", exc)
            return
        if info.state == FAILED:
            return
        info.state = LOADED
        self._contexts[info.name] = api.PluginContext(
            name=info.name,
            settings=dict(info.settings),
            root=self.layout.root,
            folder=info.folder,
            log=get_logger(f"aiui_tui.plugin.{info.name}"),
        )
        log.info("plugin loaded", plugin=info.name, version=info.version, kind=info.kind)

    @staticmethod
    def _import(info: PluginInfo) -> Any:
        if info.kind == "package":
            return info.entry_point.load()
        assert info.folder is not None
        path = info.folder / info.module
        name = module_name(info)
        if path.is_dir():
            spec = importlib.util.spec_from_file_location(
                name, path / "__init__.py", submodule_search_locations=[str(path)]
            )
        else:
            spec = importlib.util.spec_from_file_location(name, path)
        if spec is None or spec.loader is None:
            raise ImportError(f"cannot load {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(name, None)
            raise
        return module

    def timeout_of(self, info: PluginInfo) -> float:
        value = info.settings.get("timeout_s", DEFAULT_TIMEOUT_S)
        return float(value) if isinstance(value, (int, float)) and 0 < value <= 300 else DEFAULT_TIMEOUT_S

    # -- isolation ----------------------------------------------------------------------------

    def _refuse(self, info: PluginInfo) -> None:
        info.state = REFUSED
        info.problem = f"targets plugin API {info.api or '(none given)'}, and this aiui-tui provides {api.API_VERSION}"
        self._warn(
            info, f"Plugin {info.name} refused: it {info.problem}; update aiui-tui or use a matching plugin release."
        )

    def _fail(self, info: PluginInfo, what: str, exc: BaseException) -> None:
        """Off for the session: one warning line for the user, the traceback in the log."""
        if info.state == FAILED:
            return
        info.state = FAILED
        detail = str(exc).splitlines()[0][:160] if str(exc) else ""
        info.problem = f"{what}: {type(exc).__name__}" + (f": {detail}" if detail else "")
        with contextlib.suppress(ValueError):
            if self.pm.get_plugin(info.name) is not None:
                self.pm.unregister(name=info.name)
        log.warning(
            "plugin disabled for this session",
            plugin=info.name,
            problem=info.problem,
            exc_info=(type(exc), exc, exc.__traceback__),
        )
        self._warn(
            info, f"Plugin {info.name} disabled for this session: it {info.problem} (traceback in logs/aiui.log)."
        )

    def _exit_attempted(self, plugin: str, detail: str) -> None:
        """Code in a thread the plugin started called os._exit: refused there; the plugin goes off."""
        info = self.plugins.get(plugin)
        if info is not None:
            self._fail(info, "tried to end aiui-tui from a thread of its own", guard.PluginExit(plugin, detail))

    def _warn(self, info: PluginInfo, line: str) -> None:
        line = redact_text(line)
        self.warnings.append(line)
        with guard.as_host():  # also when called from a plugin's thread: the line is ours
            if self.on_warning is not None:
                self.on_warning(line)
            if self._bus is not None:
                notice = Notice("warning", line, source=f"plugin {info.name}")
                try:
                    asyncio.get_running_loop()
                except RuntimeError:  # a plugin's own thread: onto the bus's loop
                    self._bus.publish_threadsafe(notice)
                else:
                    self._bus.publish(notice)

    def _impls(self, hook: str) -> list[tuple[PluginInfo, HookImpl]]:
        caller = getattr(self.pm.hook, hook)
        pairs = []
        for impl in reversed(caller.get_hookimpls()):  # pluggy lists the last registered first
            info = self.plugins.get(impl.plugin_name)
            if info is not None and info.state == LOADED:
                pairs.append((info, impl))
        return pairs

    def _kwargs(self, impl: HookImpl, info: PluginInfo, **values: Any) -> dict[str, Any]:
        values["context"] = self._contexts[info.name]
        return {name: values[name] for name in impl.argnames}

    def call_data_hook(self, hook: str) -> list[tuple[PluginInfo, Any]]:
        """Each loaded plugin's non-None answer to `hook`; failures and overruns disable their plugin."""
        answers = []
        for info, impl in self._impls(hook):
            if self.closing:
                break
            call = Call(info.name, hook, self._own.get(info.name, ""))
            try:
                result = call_with_timeout(call, impl.function, self._kwargs(impl, info), self.timeout_of(info))
            except PluginAbandoned:
                break
            except BaseException as exc:
                self._fail(info, problem(exc, f"raised in {hook}", f"in {hook}"), exc)
                continue
            if result is not None:
                answers.append((info, result))
        return answers

    # -- contributions ------------------------------------------------------------------------

    def _collect(self) -> None:
        from aiui_tui.services.apps.manifest import LoadedApp, parse_manifest
        from aiui_tui.services.library.catalog import entry_from_table

        for info, paths in self.call_data_hook("aiui_app_manifests"):
            try:
                found = {}
                for path in _paths(paths, info.folder):
                    files = sorted(path.glob("*.toml")) if path.is_dir() else [path]
                    for file in files:
                        manifest = parse_manifest(file)
                        found[manifest.name] = LoadedApp(manifest, f"plugin {info.name}")
            except (ConfigError, TypeError, OSError) as exc:
                self._fail(info, "contributed a bad app manifest", exc)
                continue
            self.manifests.update(found)
            self._note(info, "apps", sorted(found))
        for info, rows in self.call_data_hook("aiui_catalog_entries"):
            try:
                entries = [entry_from_table(row, f"plugin {info.name}") for row in _as_list(rows, dict)]
            except (ConfigError, TypeError) as exc:
                self._fail(info, "contributed a bad catalog entry", exc)
                continue
            self.catalog.extend(entries)
            self._note(info, "catalog", [e.id for e in entries])
        for info, sources in self.call_data_hook("aiui_model_sources"):
            try:
                items = _as_list(sources, api.ModelSource)
                for source in items:
                    if source.name in RESERVED_SOURCES or source.name in self.sources:
                        raise TypeError(f"source name {source.name!r} is taken")
            except TypeError as exc:
                self._fail(info, "contributed a bad model source", exc)
                continue
            own = Call(info.name, "", self._own.get(info.name, ""))
            self.sources.update({s.name: GuardedSource(s, own, info, self._fail) for s in items})
            self._note(info, "sources", [s.name for s in items])
        for info, commands in self.call_data_hook("aiui_palette_commands"):
            try:
                items = _as_list(commands, api.PaletteCommand)
            except TypeError as exc:
                self._fail(info, "contributed a bad palette command", exc)
                continue
            self.commands.extend((info.name, c) for c in items)
            self._note(info, "commands", [c.title for c in items])
        for info, screen in self.call_data_hook("aiui_screen"):
            if isinstance(screen, api.PluginScreen):
                self.screens.append((info.name, screen))
                self._note(info, "screens", [screen.title])
            else:
                self._fail(
                    info, "contributed a bad screen", TypeError(f"expected PluginScreen, got {type(screen).__name__}")
                )

    def _note(self, info: PluginInfo, what: str, items: list[str]) -> None:
        self.contributed.setdefault(info.name, {})[what] = items

    def contributions(self, name: str) -> dict[str, list[str]]:
        """What a loaded plugin added (apps, catalog ids, sources, commands, screens) and its hooks."""
        module = self.pm.get_plugin(name)
        hooks = sorted(h for h in HOOK_NAMES if module is not None and callable(getattr(module, h, None)))
        return {**self.contributed.get(name, {}), "hooks": hooks}

    async def run_command(self, plugin: str, command: api.PaletteCommand, ui: Any) -> None:
        """Run a palette command off the UI (a synchronous one in a thread); a failure disables its plugin."""
        info = self.plugins[plugin]
        if info.state != LOADED:
            return
        where = f"in its command {command.title!r}"
        try:
            await self._run(info, where, command.run, {"ui": ui})
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # the plugin's bug, whatever it is: off for the session
            self._fail(info, problem(exc, f"raised {where}", where), exc)

    async def _run(self, info: PluginInfo, what: str, fn: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
        """Plugin code from the event loop: `async def` in a task of its own, the rest in a thread of its own."""
        timeout = self.timeout_of(info)
        call = Call(info.name, what, self._own.get(info.name, ""))
        if inspect.iscoroutinefunction(fn):
            return await await_as(call, lambda: fn(**kwargs), timeout)
        result = await call_in_thread(call, fn, kwargs, timeout)
        if inspect.isawaitable(result):
            awaitable: Awaitable[Any] = result
            return await await_as(call, lambda: awaitable, timeout)
        return result

    # -- events -------------------------------------------------------------------------------

    def attach(self, bus: Bus) -> None:
        """Forward the bus's events to plugins' `aiui_on_event`, each plugin in order, off the UI."""
        self._bus = bus
        if not self._impls("aiui_on_event"):
            return
        bus.subscribe(self._on_bus_event, DownloadFinished, DownloadFailed, AppStateChanged)

    def _on_bus_event(self, event: Event) -> None:
        plugin_event = self._translate(event)
        if plugin_event is None:
            return
        for info, impl in self._impls("aiui_on_event"):
            queue = self._queues.get(info.name)
            if queue is None:
                queue = self._queues[info.name] = asyncio.Queue()
                self._workers.append(asyncio.ensure_future(self._deliver(info, queue)))
            queue.put_nowait((impl, plugin_event))

    def _translate(self, event: Event) -> api.PluginEvent | None:
        if isinstance(event, DownloadFinished):
            data: dict[str, object] = {"id": event.id, "name": event.path.name, "path": str(event.path),
                    "kind": event.kind, "size": event.size, "sha256": event.sha256,
                    "verified": event.verified}  # fmt: skip
            return api.PluginEvent(api.DOWNLOAD_FINISHED, data, event.at)
        if isinstance(event, DownloadFailed):
            data = {"id": event.id, "name": event.name, "message": event.message, "fix": event.fix}
            return api.PluginEvent(api.DOWNLOAD_FAILED, data, event.at)
        if isinstance(event, AppStateChanged):
            status = event.status
            previous = self._app_states.get(event.name)
            self._app_states[event.name] = status.state
            if previous is None or previous == status.state:
                return None  # the first state seen is what was already so (adopted at start), not news
            base = {"app": status.name, "title": status.title}
            if status.state == READY:
                return api.PluginEvent(api.APP_READY, {**base, "url": status.url, "profile": status.profile}, event.at)
            if status.state == STOPPED:
                return api.PluginEvent(api.APP_STOPPED, base, event.at)
            if status.state == EXITED:
                data = {**base, "exit_code": status.exit_code, "reason": status.reason,
                        "last_lines": list(status.last_lines)}  # fmt: skip
                return api.PluginEvent(api.APP_CRASHED, data, event.at)
        return None

    async def _deliver(self, info: PluginInfo, queue: asyncio.Queue[tuple[HookImpl, api.PluginEvent]]) -> None:
        while True:
            impl, event = await queue.get()
            try:
                if info.state == LOADED:
                    await self._react(info, impl, event)
            finally:
                queue.task_done()

    async def _react(self, info: PluginInfo, impl: HookImpl, event: api.PluginEvent) -> None:
        try:
            await self._run(info, "aiui_on_event", impl.function, self._kwargs(impl, info, event=event))
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # the plugin's bug, whatever it is: off for the session
            self._fail(info, problem(exc, "raised in aiui_on_event", "in aiui_on_event"), exc)

    async def watch(self, every_s: float | None = None, ticker: Ticker | None = None) -> None:
        """Publish `PluginsChanged` when plugins are copied in or removed, or their settings change
        (the dashboard's Settings lists them again), from now until `close`; after `attach`."""
        assert self._bus is not None, "attach(bus) first"
        bus, plugins, settings = self._bus, self.layout.plugins_dir, self.layout.plugin_config_dir
        first = await asyncio.to_thread(folder_watch.snapshot, plugins, settings)
        task = folder_watch.watch(
            plugins, settings, lambda: bus.publish(PluginsChanged()), every_s or folder_watch.POLL_S, first, ticker
        )
        self._watch = asyncio.ensure_future(task)

    async def drain(self, timeout: float = 10.0) -> None:
        """Wait until the plugins have seen every event so far (a CLI command does this before it exits)."""
        if not self._queues:
            return
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.gather(*(q.join() for q in self._queues.values())), timeout)

    async def close(self, grace: float = 2.0) -> None:
        """Give events in flight `grace` seconds (a CLI command drains before, with more), then stop."""
        if self._watch is not None:
            self._watch.cancel()
            await asyncio.gather(self._watch, return_exceptions=True)
            self._watch = None
        await self.drain(grace)
        for worker in self._workers:
            worker.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers.clear()


def module_name(info: PluginInfo) -> str:
    """The module a plugin's code lives in: ours for folders, the entry point's for packages."""
    if info.kind == "package":
        return str(getattr(info.entry_point, "module", "") or info.module.partition(":")[0])
    return "aiui_plugin_" + info.name.replace("-", "_")


def _as_list(value: Any, cls: type) -> list[Any]:
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    for item in items:
        if not isinstance(item, cls):
            raise TypeError(f"expected {cls.__name__}, got {type(item).__name__}")
    return items


def _paths(value: Any, folder: Path | None) -> list[Path]:
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    paths = []
    for item in items:
        if not isinstance(item, (str, Path)):
            raise TypeError(f"expected paths, got {type(item).__name__}")
        path = Path(item)
        if not path.is_absolute() and folder is not None:
            path = folder / path
        if not path.exists():
            raise OSError(f"{path} does not exist")
        paths.append(path)
    return paths
