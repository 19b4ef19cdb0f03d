"""TUI fixtures: real services over a temp root, opened on the test's loop, and helpers to wait on the UI."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from aiui_tui.services import open_services
from tests.conftest import load_services_inputs
from tests.toasts import record_toasts, toast_text  # noqa: F401 (record_toasts: an autouse fixture)


@contextlib.asynccontextmanager
async def running_services(layout, *, run_downloads: bool = True, **config_changes):
    config, credentials = load_services_inputs(layout)
    for dotted, value in config_changes.items():
        section, key = dotted.split("__")
        setattr(getattr(config, section), key, value)
    async with open_services(layout, config, credentials, run_downloads=run_downloads) as services:
        yield services


@pytest.fixture
async def services(layout, clean_env):
    async with running_services(layout) as s:
        yield s


async def until(pilot, predicate, timeout: float = 20.0, what: str = "condition"):
    """Let the app run until `predicate()` holds (workers and timers keep going meanwhile)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        await pilot.pause(0.05)
        if predicate():
            return
    notes = toast_text(pilot.app).replace("\n", "; ")
    raise AssertionError(f"timed out waiting for {what}; toasts: {notes}")


def cell_texts(table) -> list[list[str]]:
    return [[str(getattr(c, "plain", c)) for c in table.get_row_at(i)] for i in range(table.row_count)]
