"""Calling plugin code: in a daemon thread (or, for `async def`, a task of its own), within its time
budget, under the guards (guard.py).

A call that overruns its budget is abandoned, not killed: its thread goes on until it returns, and
nobody waits for it (never the default executor, whose threads the interpreter joins at exit).
What the call replaced in builtins or sys.modules is put back when it returns or is abandoned.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future, InvalidStateError
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

from aiui_tui.logs import get_logger
from aiui_tui.services.plugins import guard
from aiui_tui.services.plugins.guard import PluginExit

log = get_logger(__name__)


class PluginTimeout(Exception):
    pass


class PluginAbandoned(PluginTimeout):
    """aiui-tui is closing: nobody waits for plugin calls any more."""


class PluginTampered(Exception):
    def __init__(self, changed: list[str]) -> None:
        super().__init__(f"{guard.describe(changed)} (put back)")
        self.changed = changed


@dataclass(frozen=True)
class Call:
    plugin: str
    what: str  # "loading" or the hook (command, source method) it is in
    own: str = ""  # the plugin's own module: it may replace that in sys.modules


def problem(exc: BaseException, raised: str, where: str) -> str:
    """What a plugin did, for its warning: `raised` ("raised in X") unless it overran its budget,
    tried to end the process or replaced builtins or modules (`where`: "in X", "at import")."""
    if isinstance(exc, PluginTimeout):
        return f"was too slow {where}"
    if isinstance(exc, PluginExit):
        return f"tried to end aiui-tui {where}"
    if isinstance(exc, PluginTampered):
        return f"changed the interpreter {where}"
    return raised


_pending: set[Future[Any]] = set()
_pending_lock = threading.Lock()


def abandon_waits() -> None:
    """Every synchronous wait for plugin code ends now with PluginAbandoned (the app is quitting)."""
    with _pending_lock:
        waiting = list(_pending)
    for future in waiting:
        with contextlib.suppress(InvalidStateError):
            future.set_exception(PluginAbandoned("aiui-tui is closing"))


def _outcome(call: Call, snapshot: guard.Snapshot, fn: Callable[..., Any], kwargs: dict[str, Any]) -> tuple[bool, Any]:
    """Run plugin code in this thread as `call.plugin`'s: (True, result) or (False, exception).
    Builtins and modules it replaced are put back at once, before our code runs on in this thread."""
    with guard.as_plugin(call.plugin):
        try:
            result = fn(**kwargs)
        except BaseException as exc:  # a plugin may raise anything; it must not end us
            snapshot.restore()
            return False, _contained(call, exc)
        snapshot.restore()
        return True, result


def _contained(call: Call, exc: BaseException) -> BaseException:
    """SystemExit would end the event loop it reaches: the plugin tried to end the process."""
    if isinstance(exc, SystemExit):
        code = "" if exc.code is None else repr(exc.code)
        converted = PluginExit(call.plugin, f"sys.exit({code})")
        converted.__traceback__ = exc.__traceback__
        return converted
    return exc


def _check(call: Call, snapshot: guard.Snapshot, *, raising: bool = True) -> None:
    """Put back builtins and modules the call replaced; PluginTampered names them, unless other
    plugins' code ran meanwhile (then nobody can be blamed for sure: a log line)."""
    changed, others = snapshot.restore()
    if not changed:
        return
    if others:
        log.warning("builtins or modules replaced while several plugins ran; put back", changed=changed,
                    plugins=sorted({call.plugin, *others}))  # fmt: skip
        return
    if raising:
        raise PluginTampered(changed)
    log.warning("plugin replaced builtins or modules; put back", plugin=call.plugin, changed=changed)


def call_with_timeout(call: Call, fn: Callable[..., Any], kwargs: dict[str, Any], timeout: float) -> Any:
    """Run plugin code in a daemon thread and wait for it (blocking): its result, what it raised,
    PluginTimeout when it overruns, PluginTampered when it replaced builtins or modules."""
    guard.install()
    snapshot = guard.Snapshot.take(call.plugin, call.own)
    call_id = guard.begin(call.plugin, call.what)
    future: Future[Any] = Future()
    with _pending_lock:
        _pending.add(future)

    def target() -> None:
        try:
            ok, value = _outcome(call, snapshot, fn, kwargs)
        finally:
            guard.end(call_id)
        with contextlib.suppress(InvalidStateError):  # abandoned meanwhile
            future.set_result(value) if ok else future.set_exception(value)

    threading.Thread(target=target, name=f"plugin {call.plugin}: {call.what}", daemon=True).start()
    try:
        result = future.result(timeout)
    except FutureTimeout:
        guard.abandon(call_id)
        _check(call, snapshot, raising=False)
        raise PluginTimeout(f"took longer than {timeout:g} s") from None
    except PluginAbandoned:
        guard.abandon(call_id)
        raise
    except BaseException:
        _check(call, snapshot)
        raise
    finally:
        with _pending_lock:
            _pending.discard(future)
    _check(call, snapshot)
    return result


async def call_in_thread(call: Call, fn: Callable[..., Any], kwargs: dict[str, Any], timeout: float) -> Any:
    """`call_with_timeout` for the event loop: awaits a thread of its own, cancellable."""
    guard.install()
    loop = asyncio.get_running_loop()
    waiter: asyncio.Future[tuple[bool, Any]] = loop.create_future()
    snapshot = guard.Snapshot.take(call.plugin, call.own)
    call_id = guard.begin(call.plugin, call.what)

    def target() -> None:
        try:
            outcome = _outcome(call, snapshot, fn, kwargs)
        finally:
            guard.end(call_id)

        def settle() -> None:
            if not waiter.done():
                waiter.set_result(outcome)

        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            loop.call_soon_threadsafe(settle)

    threading.Thread(target=target, name=f"plugin {call.plugin}: {call.what}", daemon=True).start()
    try:
        done, _ = await asyncio.wait({waiter}, timeout=timeout)
    except asyncio.CancelledError:
        guard.abandon(call_id)
        raise
    if not done:
        guard.abandon(call_id)
        _check(call, snapshot, raising=False)
        raise PluginTimeout(f"took longer than {timeout:g} s")
    ok, value = waiter.result()
    _check(call, snapshot)
    if not ok:
        raise value
    return value


async def await_as(call: Call, make: Callable[[], Awaitable[Any]], timeout: float | None) -> Any:
    """Await plugin code (`make()` builds the awaitable) in a task of its own, as the plugin's code,
    within `timeout` (None: no budget). On overrun the task is cancelled and not waited for."""
    guard.install()
    snapshot = guard.Snapshot.take(call.plugin, call.own)
    call_id = guard.begin(call.plugin, call.what)

    async def body() -> Any:
        with guard.as_plugin(call.plugin):
            try:
                return await make()
            except SystemExit as exc:  # it would end the event loop itself
                raise _contained(call, exc) from None
            finally:
                snapshot.restore()

    def finished(task: asyncio.Task[Any]) -> None:
        guard.end(call_id)
        if not task.cancelled():
            task.exception()  # retrieved, even when abandoned: no "never retrieved" noise

    task = asyncio.ensure_future(body())
    task.add_done_callback(finished)
    try:
        done, _ = await asyncio.wait({task}, timeout=timeout)
    except asyncio.CancelledError:
        task.cancel()
        guard.abandon(call_id)
        raise
    if not done:
        task.cancel()
        guard.abandon(call_id)
        _check(call, snapshot, raising=False)
        raise PluginTimeout(f"took longer than {timeout:g} s")
    _check(call, snapshot)
    return task.result()
