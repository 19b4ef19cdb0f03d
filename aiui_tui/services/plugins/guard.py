"""Guards around plugin code, which runs inside our process (see docs/plugins.md, Isolation).

- Who is calling: plugin code runs with a context variable naming its plugin (set by calls.py in
  the thread or task that runs it); code a plugin runs elsewhere (its own threads, callbacks) is
  found by its module in the call stack.
- `os._exit` (and `posix._exit`, the same function) called by plugin code raises `PluginExit` in
  the caller instead of ending the process. Called by code we cannot tell apart from ours while
  plugin code runs, the process ends as asked, but with exit code 1 and a line naming the plugins
  that were running (the sentinel), never silently.
- sys.stdout and sys.stderr are wrapped: what plugin code writes goes to the log (a bounded
  share per plugin), everything else passes through untouched.
- `Snapshot` records builtins and sys.modules before a plugin call; `restore()` puts back what the
  call replaced or removed and says what it was, so the caller can switch that plugin off.

None of this is a sandbox: it stops accidents and stray calls, not code set on doing harm.
"""

from __future__ import annotations

import builtins
import contextlib
import contextvars
import itertools
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, NoReturn

from aiui_tui.logs import get_logger

log = get_logger(__name__)

LOG_BUDGET = 64 * 1024  # characters of a plugin's output logged per process; the rest is dropped
LINE_LIMIT = 2000  # characters of one output line kept in the log
HOST = ""  # the context value of our own code running inside a plugin's thread (warnings, logging)

_current: contextvars.ContextVar[str | None] = contextvars.ContextVar("aiui_plugin", default=None)
_owners: dict[str, str] = {}  # top-level module name -> plugin, for code found in the call stack
_lock = threading.Lock()
_running: dict[int, tuple[str, str]] = {}  # call id -> (plugin, what it does): calls not yet returned
_stale: dict[int, tuple[str, str]] = {}  # calls whose caller stopped waiting (over budget), still running
_last_start: dict[str, int] = {}  # plugin -> id of its latest call (to tell overlapping calls)
_ids = itertools.count(1)
_exit_handlers: dict[str, Callable[[str, str], None]] = {}  # plugin -> its service's "switch off"
_installed_pid: int | None = None
_real_exit = os._exit


class PluginExit(BaseException):
    """Plugin code tried to end the process; raised in that code instead. A BaseException, so a
    plugin's `except Exception` does not swallow it."""

    def __init__(self, plugin: str, detail: str) -> None:
        super().__init__(detail)
        self.plugin = plugin


# -- who is calling --------------------------------------------------------------------------


def own_module(module: str, plugin: str) -> None:
    """Code of `module` (and its submodules) belongs to `plugin`."""
    top = module.partition(".")[0]
    if top and top != "aiui_tui":
        with _lock:
            _owners[top] = plugin


def calling_plugin() -> str | None:
    """The plugin whose code is running in this thread or task, or None for our own code."""
    name = _current.get()
    if name is not None:
        return name or None
    if not _owners:
        return None
    frame: Any = sys._getframe(1)
    while frame is not None:
        module = frame.f_globals.get("__name__")
        if isinstance(module, str):
            plugin = _owners.get(module.partition(".")[0])
            if plugin is not None:
                return plugin
        frame = frame.f_back
    return None


def begin(plugin: str, what: str) -> int:
    """A plugin call starts: `what` is "loading" or the hook it is in. Returns the call's id."""
    call = next(_ids)
    with _lock:
        _running[call] = (plugin, what)
        _last_start[plugin] = call
    return call


def end(call: int) -> None:
    with _lock:
        _running.pop(call, None)
        _stale.pop(call, None)


def abandon(call: int) -> None:
    """The caller stopped waiting (budget overrun): the call may go on, but no longer overlaps others."""
    with _lock:
        if call in _running:
            _stale[call] = _running.pop(call)


@contextlib.contextmanager
def as_plugin(plugin: str) -> Iterator[None]:
    """Mark the running thread or task as `plugin`'s code."""
    token = _current.set(plugin)
    try:
        yield
    finally:
        _current.reset(token)


@contextlib.contextmanager
def as_host() -> Iterator[None]:
    """Our own code called from a plugin's thread (its warning, the log): not the plugin's."""
    token = _current.set(HOST)
    try:
        yield
    finally:
        _current.reset(token)


def running() -> list[tuple[str, str]]:
    """Plugin calls not yet returned, abandoned ones included."""
    with _lock:
        return list(dict.fromkeys([*_running.values(), *_stale.values()]))


# -- ending the process ---------------------------------------------------------------------------


def on_exit_attempt(plugin: str, handler: Callable[[str, str], None]) -> None:
    """`handler(plugin, detail)` switches `plugin` off when code of its own thread tried to exit."""
    with _lock:
        _exit_handlers[plugin] = handler


def _guarded_exit(status: int = 0) -> NoReturn:
    if os.getpid() != _installed_pid:  # a forked child (multiprocessing, a plugin's fork) ends normally
        _real_exit(status)
    plugin = calling_plugin()
    if plugin is not None:
        raise PluginExit(plugin, f"os._exit({status})")
    busy = running()
    if busy:
        _sentinel(f"os._exit({status})", busy)
        _real_exit(status or 1)
    _real_exit(status)


def _sentinel(how: str, busy: list[tuple[str, str]]) -> None:
    """The process ends while plugin code runs: say which, on the terminal and in the log."""
    names = list(dict.fromkeys(p for p, _ in busy))
    doing = ", ".join(f"plugin {p} was {'loading' if w == 'loading' else 'running ' + w}" for p, w in busy)
    with contextlib.suppress(Exception), as_host():
        log.error("aiui-tui ended while plugin code ran", how=how, plugins=names)
        for handler in logging.getLogger().handlers:
            handler.flush()
    stream = sys.__stderr__
    if stream is not None:
        with contextlib.suppress(Exception):
            fixes = "; ".join(f"aiui-tui plugins disable {name}" for name in names)
            stream.write(f"Error: aiui-tui was ended by {how} while {doing}. Fix: {fixes}\n")
            stream.flush()


def _excepthook(args: Any) -> None:
    """A PluginExit that ends a plugin's own thread: switch the plugin off, print no traceback."""
    exc = args.exc_value
    if isinstance(exc, PluginExit):
        handler = _exit_handlers.get(exc.plugin)
        if handler is not None:
            with as_host():
                handler(exc.plugin, str(exc))
        return
    _previous_excepthook(args)


_previous_excepthook = threading.excepthook


def install() -> None:
    """Put the guards in place (once; the streams again when someone replaced them). A forked child
    keeps the wrapper, which lets it end normally (its pid is not ours)."""
    global _installed_pid, _previous_excepthook
    with _lock:
        if _installed_pid is None:
            _installed_pid = os.getpid()
            os._exit = _guarded_exit
            posix = sys.modules.get("posix")  # os._exit is posix._exit: the same function by another name
            if posix is not None:
                setattr(posix, "_exit", _guarded_exit)  # noqa: B010 (a module's attribute unknown to typeshed)
            if threading.excepthook is not _excepthook:
                _previous_excepthook = threading.excepthook
                threading.excepthook = _excepthook
    wrap_streams()


# -- output -------------------------------------------------------------------------------------


@dataclass
class _Output:
    logged: int = 0
    partial: dict[str, str] = field(default_factory=dict)  # stream -> text after the last newline
    lock: threading.Lock = field(default_factory=threading.Lock)


_outputs: dict[str, _Output] = {}
_logging_output = threading.local()  # set while this thread logs a plugin's output


def _capture(plugin: str, stream: str, text: str) -> None:
    output = _outputs.setdefault(plugin, _Output())
    lines: list[str] = []
    noted = False
    with output.lock:
        if output.logged >= LOG_BUDGET:
            return
        if output.logged + len(text) > LOG_BUDGET:
            text, noted = text[: LOG_BUDGET - output.logged] + "\n", True
        output.logged += len(text)
        pending = output.partial.get(stream, "") + text
        *lines, rest = pending.split("\n")
        output.partial[stream] = rest[:LINE_LIMIT]
    _logging_output.active = True  # a log handler the plugin added may write on our streams: dropped
    try:
        for line in lines:
            log.info("plugin output", plugin=plugin, stream=stream, line=line[:LINE_LIMIT])
        if noted:
            log.warning("plugin output beyond the log budget is dropped", plugin=plugin, budget=LOG_BUDGET)
    finally:
        _logging_output.active = False


class PluginAwareStream:
    """Stands in for sys.stdout or sys.stderr: plugin code's writes go to the log, ours pass through."""

    def __init__(self, target: Any, stream: str) -> None:
        self._target = target
        self._stream = stream

    def write(self, text: Any) -> int:
        plugin = calling_plugin()
        if plugin is None:
            written: int = self._target.write(text)
            return written
        if not getattr(_logging_output, "active", False):
            _capture(plugin, self._stream, self._as_text(text))
        return len(text)

    def _as_text(self, data: Any) -> str:
        return str(data)

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if calling_plugin() is None:
            self._target.flush()

    @property
    def buffer(self) -> Any:
        return _Binary(self._target.buffer, self._stream)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._target, name)


class _Binary(PluginAwareStream):
    """sys.stdout.buffer for plugin code: bytes go to the log like text."""

    def _as_text(self, data: Any) -> str:
        return bytes(data).decode("utf-8", "replace")

    @property
    def buffer(self) -> Any:  # a binary stream has none
        raise AttributeError("buffer")


def wrap_streams() -> None:
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if stream is not None and not isinstance(stream, PluginAwareStream):
            setattr(sys, name, PluginAwareStream(stream, name))


# -- builtins and sys.modules -------------------------------------------------------------------------


_MISSING = object()


@dataclass
class Snapshot:
    """Builtins and sys.modules before a plugin call, to put back what the call replaced."""

    plugin: str
    own: str  # the plugin's own module (it may re-import itself)
    call: int
    builtins: dict[str, Any]
    modules: dict[str, Any]
    handlers: list[logging.Handler]
    others: set[str]
    changed: list[str] = field(default_factory=list)  # found so far (restore runs in the plugin's thread too)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def take(cls, plugin: str, own: str = "") -> Snapshot:
        """Before the call is begun (`begin`), so that it is not one of the `others`."""
        with _lock:
            call = next(_ids)
            others = {p for p, _ in _running.values() if p != plugin}
        return cls(
            plugin, own, call, dict(vars(builtins)), sys.modules.copy(), list(logging.getLogger().handlers), others
        )

    def restore(self) -> tuple[list[str], set[str]]:
        """What was replaced or removed (now put back), and other plugins whose code ran meanwhile.

        Called first in the plugin's own thread, right after its code returns, so that our code
        there runs with the real builtins (a plugin may have deleted `len`): builtins first, using
        no builtin names."""
        with self.lock:
            names = builtins.__dict__
            for key, value in self.builtins.items():
                now = names.get(key, _MISSING)
                if now is not value:
                    names[key] = value
                    self.changed.append(f"{'removed' if now is _MISSING else 'replaced'} builtins.{key}")
            for key, value in self.modules.items():
                if self.own and (key == self.own or key.startswith(self.own + ".")):
                    continue
                now = sys.modules.get(key, _MISSING)
                if now is not value:
                    sys.modules[key] = value
                    self.changed.append(f"{'removed' if now is _MISSING else 'replaced'} sys.modules[{key!r}]")
            for key in [k for k in sys.modules if k.startswith("aiui_tui.") and k not in self.modules]:
                # One of ours not imported yet (imports are lazy) that the plugin planted: the real one
                # would load on first use; the stand-in goes.
                if not _is_ours(sys.modules[key]) and not (self.own and key.startswith(self.own)):
                    del sys.modules[key]
                    self.changed.append(f"replaced sys.modules[{key!r}]")
            changed = list(self.changed)
        self._quiet_new_terminal_handlers()
        with _lock:
            others = self.others | {p for p, call in _last_start.items() if call > self.call and p != self.plugin}
        return changed, others

    def _quiet_new_terminal_handlers(self) -> None:
        """A handler the plugin added to the root logger that writes on the terminal goes (STYLE #11):
        it would print our own log records there."""
        root = logging.getLogger()
        terminals = (sys.__stdout__, sys.__stderr__)
        for handler in list(root.handlers):
            stream = getattr(handler, "stream", None)
            if handler in self.handlers or stream is None:
                continue
            if isinstance(stream, PluginAwareStream) or stream in terminals:
                root.removeHandler(handler)
                with as_host():
                    log.info("removed a log handler writing on the terminal", plugin=self.plugin)


def _is_ours(module: Any) -> bool:
    """A module loaded from aiui_tui's own files (not a stand-in a plugin put in sys.modules)."""
    origin = getattr(getattr(module, "__spec__", None), "origin", None) or ""
    return origin.startswith(_PACKAGE_DIR)


_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))) + os.sep


def describe(changed: list[str]) -> str:
    """["replaced builtins.print", "replaced sys.modules['x']"] -> "replaced builtins.print, sys.modules['x']"."""
    parts, verb = [], ""
    for item in changed:
        word, _, what = item.partition(" ")
        parts.append(what if word == verb else item)
        verb = word
    return ", ".join(parts)
