"""The subcommands, in the order `--help` lists them, with the help line `--help` shows for each.

A command's module (which has `register(subparsers)`) is imported only when that command is run or its
own help is asked for: `aiui-tui --version` or `aiui-tui downloads list --json` do not pay for the others.
Each module registers its parser with the same help as here (tests/test_cli_startup.py checks it).
"""

from __future__ import annotations

import argparse
import importlib
from types import ModuleType

# name -> (module, help)
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("aiui_tui.cli.init_cmd", "create the data root, its folders and the default config"),
    "doctor": ("aiui_tui.cli.doctor_cmd", "check the system: Docker, NVIDIA runtime, GPU, disk, network"),
    "config": ("aiui_tui.cli.config_cmd", "show or change settings in config/aiui.toml"),
    "app": ("aiui_tui.cli.app_cmd", "start, stop and watch the web UIs (Docker)"),
    "stats": ("aiui_tui.cli.stats_cmd", "one sample of CPU, memory, disks, GPUs and app containers"),
    "download": ("aiui_tui.cli.download_cmd", "download one file now (resumable, verified)"),
    "downloads": ("aiui_tui.cli.queue_cmd", "the download queue shared with the dashboard's Downloads screen"),
    "models": ("aiui_tui.cli.models_cmd", "the shared model library: list, search, add, verify, link other UIs"),
    "bench": (
        "aiui_tui.cli.bench_cmd",
        "time image generation through a running app's API (s/image, it/s, peak VRAM and RAM)",
    ),
    "plugins": ("aiui_tui.cli.plugins_cmd", "list, enable, disable and inspect plugins"),
}

# Old spellings, kept working for one release but hidden from --help and docs/cli.md (CONTRIBUTING.md,
# Vocabulary): old command -> its name now. The new name's module registers the old one too, hidden.
RENAMED: dict[str, str] = {"queue": "downloads"}


def command_module(name: str) -> ModuleType:
    return importlib.import_module(COMMANDS[RENAMED.get(name, name)][0])


def add_renamed(sub: argparse._SubParsersAction, old: str, new: str, *, group: str = "") -> argparse.ArgumentParser:
    """A parser for an old spelling (`old` in the group `group`, now `new`): no help line, so --help and
    docs/cli.md leave it out; running it says once, on stderr, what it is called now (`cli.main`)."""
    parser = sub.add_parser(old)
    prefix = f"{group} " if group else ""
    parser.set_defaults(renamed=(prefix + old, prefix + new))
    return parser
