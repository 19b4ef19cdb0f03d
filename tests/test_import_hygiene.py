"""The backend never pulls in the UI, and the CLI starts without the heavy libraries."""

from __future__ import annotations

import subprocess
import sys


def _modules_after(code: str) -> set[str]:
    out = subprocess.run(
        [sys.executable, "-c", code + "\nimport sys; print('\\n'.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return set(out.split())


def test_services_import_without_textual():
    # rich may arrive through structlog (its optional pretty printer); our own imports of it are
    # forbidden by the import-linter contract in pyproject.toml.
    mods = _modules_after("import aiui_tui.services, aiui_tui.services.doctor, aiui_tui.services.engine")
    assert "textual" not in mods


def test_tui_does_not_import_docker_or_nvml():
    mods = _modules_after("import aiui_tui.tui.app")
    assert not {"docker", "pynvml", "aiohttp"} & mods


def test_cli_parser_loads_without_docker_aiohttp_or_textual():
    mods = _modules_after("from aiui_tui.cli.main import build_parser; build_parser()")
    assert not {"docker", "aiohttp", "textual", "pynvml"} & mods
