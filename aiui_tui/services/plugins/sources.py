"""A plugin's model source as the library sees it: each search runs as the plugin's code (guard.py),
so what it prints goes to the log, and one that tries to end the process or replaces builtins
switches its plugin off instead."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from aiui_tui.core.errors import UsageError
from aiui_tui.services.plugins.calls import Call, PluginTampered, await_as, problem
from aiui_tui.services.plugins.discovery import LOADED, PluginInfo
from aiui_tui.services.plugins.guard import PluginExit


class PluginOff(UsageError):
    title = "Plugin switched off"


class GuardedSource:
    def __init__(
        self, source: Any, call: Call, info: PluginInfo, fail: Callable[[PluginInfo, str, BaseException], None]
    ) -> None:
        self._source, self._call, self._info, self._fail = source, call, info, fail
        self.name: str = source.name
        self.title: str = getattr(source, "title", source.name)

    async def search(self, text: str, kind: str | None, limit: int) -> list[Any]:
        return list(await self._run("search", text, kind, limit))

    async def files(self, model_id: str) -> list[Any]:
        return list(await self._run("files", model_id))

    async def _run(self, method: str, *args: Any) -> Any:
        info = self._info
        if info.state == LOADED:
            call = dataclasses.replace(self._call, what=f"{self.name}.{method}")
            try:
                # No time budget: a search goes over the network, and the one waiting is the user.
                return await await_as(call, lambda: getattr(self._source, method)(*args), None)
            except (PluginExit, PluginTampered) as exc:
                where = f"in its source's {method}"
                self._fail(info, problem(exc, f"raised {where}", where), exc)
        raise PluginOff(
            f"The {self.name} source is off: plugin {info.name} {info.problem}.",
            f"see `aiui-tui plugins info {info.name}` and logs/aiui.log",
        )
