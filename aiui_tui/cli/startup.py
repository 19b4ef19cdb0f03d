"""A command's start-up without garbage collection.

Until a command is ready to work, almost every object made is kept (modules, classes, the parser, the
config): the collector's ~50 passes over them were ~15-30 ms of `app list --json` for nothing. `main()`
run as the program holds the collector (`hold_gc`) before it imports a command; `release_gc` freezes
what start-up made (later collections skip it) and collects as usual again. `main()` releases it once
the context is bootstrapped, or a command whose start-up goes on (`app ...`: `open_services` imports
the app service) says so with `releases_gc=True` in its parser defaults and releases it once its
services are open. The dashboard holds its own (`aiui_tui.tui`) until its first frame.
"""

from __future__ import annotations

import gc

_held = False


def hold_gc() -> None:
    """No collection until `release_gc` (nothing happens when the collector is already off)."""
    global _held
    if gc.isenabled():
        gc.disable()
        _held = True


def release_gc() -> None:
    """Collect again, with what start-up made frozen; a no-op unless `hold_gc` turned it off."""
    global _held
    if _held:
        _held = False
        gc.freeze()
        gc.enable()


def held() -> bool:
    return _held
