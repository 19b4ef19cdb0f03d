"""Per GPU: utilisation, VRAM, temperature and power with sparklines; or a clear "no NVIDIA GPU"."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from aiui_tui.core.format import human_bytes, human_used_of
from aiui_tui.tui.widgets.bars import bar, bar_width, meter_style
from aiui_tui.tui.widgets.sparkline import STEP, CachedSparkline

if TYPE_CHECKING:
    from aiui_tui.core.monitor import GpuStats
    from aiui_tui.tui.state import UiState


def gpu_line(g: GpuStats, width: int = 52) -> Text:
    """One GPU in lines that fit `width` cells: name, utilisation, VRAM, temperature, power, fan, processes."""
    if g.lost:
        return Text(f"GPU {g.index} {g.name}: lost (driver reloaded?) — restart the apps using it", style="bold red")
    util = g.utilization or 0
    vram = 100 * (g.memory_used or 0) / g.memory_total if g.memory_total else 0
    memory = human_used_of(g.memory_used, g.memory_total)
    cells = bar_width(width, 8 + 1 + len(memory))
    text = Text.assemble((f"GPU {g.index} ", "bold"), (g.name, ""), "\n")
    text.append_text(Text.assemble(("  util  ", "dim"), bar(util / 100, cells, meter_style(util)), f" {util:3d}%\n"))
    text.append_text(Text.assemble(("  VRAM  ", "dim"), bar(vram / 100, cells, meter_style(vram)), f" {memory}\n"))
    temp = f"{g.temperature}°C" if g.temperature is not None else "n/a"
    power = f"{g.power_w:.0f} W" if g.power_w is not None else "n/a"
    limit = f" / {g.power_limit_w:.0f} W" if g.power_limit_w else ""
    fan = f"{g.fan_percent}%" if g.fan_percent is not None else "n/a"
    heat = Text.assemble(("  temp ", "dim"), temp, ("  fan ", "dim"), fan)
    watts = Text.assemble(("  power ", "dim"), power + limit)
    if heat.cell_len + watts.cell_len <= width:
        text.append_text(Text.assemble(heat, watts))
    else:  # a narrow panel: two short lines rather than one that wraps
        text.append_text(Text.assemble(heat, "\n", watts))
    for p in g.processes:
        who = p.app or f"pid {p.pid}"
        text.append(f"\n  {who}: {human_bytes(p.used_memory) if p.used_memory else '?'}", style="cyan")
    return text


class GpuPanel(Vertical):
    DEFAULT_CSS = """
    GpuPanel { height: auto; border: round $panel-lighten-2; padding: 0 1; }
    GpuPanel Sparkline { height: 2; }
    GpuPanel > Static { height: auto; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._shown: tuple[int, ...] | None = None
        self._none_shown: tuple[str, str] | None = None
        self._gpu_lines: dict[int, int] = {}
        self._texts: dict[int, Text] = {}  # per GPU, the text shown
        self._history_steps: dict[int, int] = {}  # per GPU, the step of samples its history shows
        self._rebuilding = False
        self._state: UiState | None = None

    def compose(self) -> ComposeResult:
        yield Static(Text("GPU: waiting for the first sample…", style="dim"), id="gpu-none")

    def show(self, state: UiState) -> None:
        self._state = state
        sample = state.gpu
        if sample is None:
            return
        indexes = tuple(g.index for g in sample.gpus) if sample.available else ()
        if indexes != self._shown:
            # Children are replaced asynchronously (removal finishes before the new ones mount).
            self._shown = indexes
            self._rebuilding = True
            self.run_worker(
                partial(self._rebuild, indexes, state), group="gpu-rebuild", exclusive=True, exit_on_error=False
            )
            return
        if self._rebuilding:
            return  # the new children are not mounted yet; the rebuild shows the state when done
        if not indexes:
            if self._none_shown == (sample.reason, sample.fix):
                return  # nothing new to draw
            self._none_shown = (sample.reason, sample.fix)
            reason = sample.reason or "No NVIDIA GPU found."
            text = Text.assemble(("No NVIDIA GPU", "bold yellow"), "\n", reason)
            if sample.fix:
                text.append(f"\nFix: {sample.fix}", style="dim")
            self.query_one("#gpu-none", Static).update(text)
            return
        width = self.content_size.width or 52
        for g in sample.gpus:
            text = gpu_line(g, width)
            if text != self._texts.get(g.index):  # only what changed is drawn again (Text compares text and styles)
                self._texts[g.index] = text
                lines = text.plain.count("\n")
                self.query_one(f"#gpu-{g.index}", Static).update(text, layout=self._gpu_lines.get(g.index) != lines)
                self._gpu_lines[g.index] = lines
            history = self.query_one(f"#gpu-{g.index}-util", CachedSparkline)
            data = state.gpu_util.get(g.index, ())
            show = len(data) > 1
            if history.display != show:
                history.display = show
            step = state.system_samples // STEP  # the history moves every few samples (sparkline.py)
            if show and self._history_steps.get(g.index) != step:
                self._history_steps[g.index] = step
                history.show(data)  # drawn again only when its columns change

    async def _rebuild(self, indexes: tuple[int, ...], state: UiState) -> None:
        self._none_shown = None
        self._gpu_lines.clear()
        self._texts.clear()
        self._history_steps.clear()
        await self.remove_children()
        if not indexes:
            await self.mount(Static(id="gpu-none"))
        else:
            for i in indexes:
                await self.mount(Static(id=f"gpu-{i}"), CachedSparkline([], id=f"gpu-{i}-util"))
        self._rebuilding = False
        self.show(state)

    def on_resize(self) -> None:
        self._gpu_lines.clear()  # lines wrapped at the old width: measure their height again
        self._texts.clear()
        self._history_steps.clear()  # the histories' columns at the new width, now
        if self._state is not None and not self._rebuilding:  # lines follow the new width at once
            self.show(self._state)
