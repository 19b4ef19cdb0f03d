"""Snapshots of every screen at 120x40 with deterministic data (SVG, reviewable in a browser), and
of the screens whose layout follows the terminal at 80x24 (the classic terminal) and 200x60.

Real services over a fixed root; the engine address points nowhere (a stable "not reachable"), the
system monitor is stopped and fixed samples are injected, so the pictures do not depend on this
machine. Update after an intended change: `scripts/test tests/tui/test_snapshots.py --snapshot-update`.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from pathlib import Path

import pytest
from pytest_textual_snapshot import SVGImageExtension
from textual.widgets import Input

from aiui_tui.core.events import GpuSample, SystemSample
from aiui_tui.core.monitor import DiskStats, GpuProcess, GpuStats, SystemStats
from aiui_tui.core.requests import DownloadRequest
from aiui_tui.paths import Layout, ensure_layout
from aiui_tui.tui.app import make_app
from tests.library.conftest import LORA_KEYS, SDXL_KEYS, make_model
from tests.tui.conftest import running_services, until

SHOWN_ROOT = "/tmp/aiui-snapshot-root"  # the data root the pictures show
GiB = 1024**3
SYSTEM = SystemStats(
    23.5, (31.0, 16.0, 72.5, 4.0), 9 * GiB, 24 * GiB, 0, 2 * GiB,
    (DiskStats("models", "/data/models", 412 * GiB, 931 * GiB),
     DiskStats("outputs", "/data/outputs", 412 * GiB, 931 * GiB)),
    1000.0, 200.0,
)  # fmt: skip
GPU = GpuStats(0, "NVIDIA GeForce RTX 4090", "GPU-0", 87, 18 * GiB, 24 * GiB, 71, 402.5, 450.0, 65,
               (GpuProcess(4242, 17 * GiB, "comfyui"),))  # fmt: skip


@contextlib.asynccontextmanager
async def prepared_app(root: Path):
    """The app over real services on a fixed root: three models, two queued downloads, three log
    lines, no engine, fixed system and GPU samples. Also used by test_sizes.py."""
    shutil.rmtree(root, ignore_errors=True)
    layout = Layout(root)
    ensure_layout(layout)
    make_model(layout.kind_dir("checkpoints") / "sdxl_base.safetensors", SDXL_KEYS)
    make_model(layout.kind_dir("loras") / "detail.safetensors", LORA_KEYS)
    (layout.kind_dir("upscale_models") / "RealESRGAN_x4plus.pth").write_bytes(b"\x80\x02}q\x00.")
    with open(layout.log_file, "w") as fh:
        for level, event in (("info", "dashboard started"), ("warning", "disk nearly full"), ("error", "engine lost")):
            fh.write(
                json.dumps(
                    {"timestamp": "2026-11-24T10:00:00Z", "level": level, "logger": "aiui_tui.t", "event": event}
                )
                + "\n"
            )
    async with running_services(
        layout, run_downloads=False, docker__host="unix:///nonexistent/docker.sock"
    ) as services:
        await services.monitor.close()
        services.monitor.last_gpu = None
        await services.library.settle()
        await services.library.scan()
        for name, size in (("sd_xl_base_1.0.safetensors", 6_938_078_334), ("sdxl_vae.safetensors", 334_641_164)):
            await services.downloads.enqueue(
                DownloadRequest(url=f"http://127.0.0.1:9/{name}", kind="checkpoints", name=name, size=size)
            )
        app = make_app(services)
        app.ui.apply(SystemSample(SYSTEM))
        app.ui.apply(GpuSample(True, (GPU,)))
        yield app


@pytest.fixture(scope="session")
def snapshot_root():
    """This run's own root (two runs at once do not share one), as long as the one the pictures show:
    `shot` writes SHOWN_ROOT in its place, and the screens are laid out alike."""
    base = Path(tempfile.mkdtemp(prefix="aiui-snap-", dir="/tmp"))
    assert len(str(base)) == len(SHOWN_ROOT), base
    yield base
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
async def snapshot_app(clean_env, snapshot_root):
    async with prepared_app(snapshot_root) as app:
        yield app


async def shot(app, snapshot, *keys: str, wait=None, size: tuple[int, int] = (120, 40)) -> None:
    async with app.run_test(size=size) as pilot:
        await until(pilot, lambda: app.ui.engine_ok is False, what="the engine state")
        for key in keys:
            await pilot.press(key)
            await pilot.pause(0.1)
        if wait is not None:
            await until(pilot, lambda: wait(app), what="the screen's data")
        await app.workers.wait_for_complete()
        for widget in app.screen.query(Input):
            widget.cursor_blink = False
        app.clear_notifications()
        await pilot.pause(0.3)
        svg = app.export_screenshot().replace(str(app.services.layout.root), SHOWN_ROOT)
    assert snapshot.use_extension(SVGImageExtension) == svg


async def test_dashboard(snapshot_app, snapshot):
    await shot(snapshot_app, snapshot, wait=cards_shown)


async def test_models_catalog(snapshot_app, snapshot):
    await shot(snapshot_app, snapshot, "2", wait=lambda app: app.screen.query_one("DataTable").row_count >= 14)


async def test_models_installed(snapshot_app, snapshot):
    await shot(snapshot_app, snapshot, "2", "tab", wait=lambda app: app.screen.query_one("DataTable").row_count == 3)


async def test_downloads(snapshot_app, snapshot):
    await shot(snapshot_app, snapshot, "3", wait=lambda app: app.screen.query_one("DataTable").row_count == 2)


async def test_logs(snapshot_app, snapshot):
    await shot(snapshot_app, snapshot, "4", wait=lambda app: len(app.screen.records) == 3)


async def test_help(snapshot_app, snapshot):
    await shot(snapshot_app, snapshot, "question_mark")


async def test_app_detail(snapshot_app, snapshot):
    await shot(
        snapshot_app, snapshot, "l", wait=lambda app: any("log stream ended" in line for line in app.screen.lines)
    )


async def test_wizard_apps_step(snapshot_app, snapshot):
    await shot(snapshot_app, snapshot, "w", "ctrl+n", "ctrl+n")


async def test_wizard_summary(snapshot_app, snapshot):
    await shot(snapshot_app, snapshot, "w", "ctrl+s")


async def test_settings(snapshot_app, snapshot):
    await shot(snapshot_app, snapshot, "5", wait=lambda app: len(app.screen.query("#app-options Select")) == 9)


# -- the same screens on the classic 80x24 terminal and on a large one -----------------------------
SMALL, LARGE = (80, 24), (200, 60)


def cards_shown(app) -> bool:
    """Three cards, each showing why its app is in an unknown state (the engine's answer arrives after
    the engine state itself)."""
    cards = app.screen.query("AppCard")
    return len(cards) == 3 and all(card.view.status.reason for card in cards)


def catalog_shown(app) -> bool:
    return app.screen.query_one("DataTable").row_count >= 14


def queue_shown(app) -> bool:
    return app.screen.query_one("DataTable").row_count == 2


def options_shown(app) -> bool:
    return len(app.screen.query("#app-options Select")) == 9


async def test_dashboard_80x24(snapshot_app, snapshot):
    await shot(snapshot_app, snapshot, wait=cards_shown, size=SMALL)


async def test_dashboard_200x60(snapshot_app, snapshot):
    await shot(snapshot_app, snapshot, wait=cards_shown, size=LARGE)


async def test_models_catalog_80x24(snapshot_app, snapshot):
    await shot(snapshot_app, snapshot, "2", wait=catalog_shown, size=SMALL)


async def test_models_catalog_200x60(snapshot_app, snapshot):
    await shot(snapshot_app, snapshot, "2", wait=catalog_shown, size=LARGE)


async def test_downloads_80x24(snapshot_app, snapshot):
    await shot(snapshot_app, snapshot, "3", wait=queue_shown, size=SMALL)


async def test_downloads_200x60(snapshot_app, snapshot):
    await shot(snapshot_app, snapshot, "3", wait=queue_shown, size=LARGE)


async def test_logs_80x24(snapshot_app, snapshot):
    await shot(snapshot_app, snapshot, "4", wait=lambda app: len(app.screen.records) == 3, size=SMALL)


async def test_settings_80x24(snapshot_app, snapshot):
    await shot(snapshot_app, snapshot, "5", wait=options_shown, size=SMALL)


async def test_settings_200x60(snapshot_app, snapshot):
    await shot(snapshot_app, snapshot, "5", wait=options_shown, size=LARGE)


async def test_help_80x24(snapshot_app, snapshot):
    await shot(snapshot_app, snapshot, "question_mark", size=SMALL)


async def test_app_detail_80x24(snapshot_app, snapshot):
    await shot(
        snapshot_app,
        snapshot,
        "l",
        wait=lambda app: any("log stream ended" in line for line in app.screen.lines),
        size=SMALL,
    )


async def test_wizard_apps_step_80x24(snapshot_app, snapshot):
    await shot(snapshot_app, snapshot, "w", "ctrl+n", "ctrl+n", size=SMALL)
