"""The CLI's download bars speak one unit system, the one every other figure uses (core/format)."""

from __future__ import annotations

import io

from rich.console import Console

from aiui_tui.bus import Bus
from aiui_tui.cli.progress import DownloadBars
from aiui_tui.core.events import DownloadProgress

MiB = 1024 * 1024


def test_sizes_and_speed_are_both_binary_units():
    out = io.StringIO()
    console = Console(file=out, width=120, force_terminal=False, color_system=None)
    bus = Bus()
    with DownloadBars(bus, console, {"d1": "model.safetensors"}):
        bus.publish(DownloadProgress("d1", 3 * MiB, 8 * MiB, 2.5 * MiB, 2.0))
    text = out.getvalue()
    assert "3.0 MiB/8.0 MiB" in text and "2.5 MiB/s" in text, text
    assert "MB" not in text.replace("MiB", ""), text
