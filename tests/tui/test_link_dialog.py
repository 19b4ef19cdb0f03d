"""The link dialog takes a typed path from its first frame: it opened focused on an empty list of
detected installs, so what the user typed at once was lost (issue 16: 12); and it fits 80 columns."""

from __future__ import annotations

from textual.widgets import Input, OptionList

from aiui_tui.tui.app import make_app
from aiui_tui.tui.widgets.link_dialog import LinkDialog
from tests.library.conftest import fake_comfyui
from tests.tui.conftest import running_services, until


async def test_typing_at_once_goes_to_the_path_and_detection_does_not_take_the_focus(
    layout, clean_env, tmp_path, monkeypatch
):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no installs of this machine's user
    comfy = fake_comfyui(tmp_path / "ComfyUI")
    async with running_services(layout, run_downloads=False, library__other_ui_paths=[str(comfy)]) as services:
        app = make_app(services)
        async with app.run_test(size=(80, 24)) as pilot:
            dialog = LinkDialog()
            await app.push_screen(dialog)
            await pilot.press(*"/opt/a")  # typed before detection answered
            box = dialog.query_one("Vertical")
            assert box.region.x >= 0 and box.region.right <= 80  # inside the classic terminal (it was 90 wide)
            options = dialog.query_one(OptionList)
            await until(pilot, lambda: options.option_count == 1, what="the detected ComfyUI")
            await pilot.press(*"1111")
            path = dialog.query_one("#path", Input)
            assert path.value == "/opt/a1111" and dialog.focused is path

            await pilot.press("down")  # to the installs found
            assert dialog.focused is options and options.highlighted == 0
