"""Settings reach the running services one way: `apply_config` takes the saved config over and publishes
`ConfigChanged` (the Settings screen and the setup wizard use it; no screen assigns config sections)."""

from __future__ import annotations

import pathlib

from textual.widgets import Select

from aiui_tui.config import set_values
from aiui_tui.core.events import ConfigChanged
from aiui_tui.services.config_change import apply_config
from aiui_tui.tui.app import make_app
from tests.conftest import REPO
from tests.tui.conftest import running_services, until


async def test_a_settings_save_reaches_the_running_download_service(layout, clean_env):
    async with running_services(layout, downloads__concurrent=1) as services:
        seen: list[ConfigChanged] = []
        services.bus.subscribe(seen.append, ConfigChanged)
        app = make_app(services)
        async with app.run_test(size=(140, 50)) as pilot:
            await pilot.press("5")
            select = "#par--downloads-concurrent"
            await until(pilot, lambda: app.screen.query(select), what="the settings")
            app.screen.query_one(select, Select).value = 3
            await until(pilot, lambda: seen, what="ConfigChanged")
            assert seen == [ConfigChanged(sections=("downloads",), at=seen[0].at)]
            assert services.downloads.config.downloads.concurrent == 3  # the running service's own config
            assert "concurrent = 3" in layout.config_file.read_text()


async def test_apply_config_says_which_sections_changed_and_wakes_the_queue(layout, clean_env):
    async with running_services(layout, run_downloads=False) as services:
        seen: list[ConfigChanged] = []
        services.bus.subscribe(seen.append, ConfigChanged)
        services.downloads._wake.clear()
        same = await apply_config(services, set_values(layout, {}))
        assert same.sections == () and seen == [same]  # saved, nothing new: still said
        assert not services.downloads._wake.is_set()
        new = set_values(layout, {"downloads.concurrent": 5, "library.hash_workers": 3})
        changed = await apply_config(services, new)
        assert changed.sections == ("downloads", "library") and seen[-1] is changed
        assert services.config.downloads.concurrent == 5 and services.library.config.library.hash_workers == 3
        assert services.downloads._wake.is_set()  # the scheduler looks again now, not at its next tick


def test_no_screen_assigns_config_sections():
    tui = pathlib.Path(REPO, "aiui_tui/tui")
    offenders = [
        f"{path.relative_to(REPO)}:{n}"
        for path in tui.rglob("*.py")
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if "services.config." in line and " = " in line.split("services.config.", 1)[1]
    ]
    assert offenders == []
