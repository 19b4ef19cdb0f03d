"""The setup wizard end to end under Pilot: it writes the config (comments kept), stores the token
0600 and queues the chosen models; Esc changes nothing; a bad value is refused with nothing written."""

from __future__ import annotations

import stat
import sys

from textual.widgets import Input, RadioSet, SelectionList, Static

from aiui_tui.config import load_config
from aiui_tui.tui.app import make_app
from aiui_tui.tui.screens.wizard import WizardScreen
from tests.tmux_terminal import TmuxSession
from tests.toasts import toast_text
from tests.tui.conftest import running_services, until


async def go_to(pilot, app, step_text: str) -> None:
    for _ in range(8):
        if step_text in app.screen.sub_title:
            return
        await pilot.press("ctrl+n")
    raise AssertionError(f"no step {step_text!r}")


async def test_wizard_writes_config_token_and_queues_models(layout, clean_env):
    from aiui_tui.logs import setup_logging

    setup_logging(layout.log_file, "DEBUG")
    config_before = layout.config_file.read_text() if layout.config_file.exists() else None
    async with running_services(layout, run_downloads=False) as services:
        app = make_app(services, first_run=True)
        async with app.run_test(size=(120, 40)) as pilot:
            assert isinstance(app.screen, WizardScreen)
            doctor = app.screen.query_one("#doctor", Static)
            await until(pilot, lambda: "data root" in str(doctor.render()), what="doctor results")

            await go_to(pilot, app, "Apps")
            apps = app.screen.query_one("#app-list", SelectionList)
            assert app.focused is apps
            names = [apps.get_option_at_index(i).value for i in range(apps.option_count)]
            for _ in range(names.index("comfyui")):
                await pilot.press("down")
            await pilot.press("space")  # comfyui off
            assert sorted(apps.selected) == ["automatic1111", "fooocus"]

            await go_to(pilot, app, "GPU")
            assert "Suggested: cpu" in str(app.screen.query_one("#suggestion", Static).render())
            assert isinstance(app.focused, RadioSet)
            await pilot.press("down", "down", "enter")  # auto -> low -> normal
            assert app.screen.query_one("#profile-normal").value

            await go_to(pilot, app, "Network")
            bind = app.screen.query_one("#bind", Input)
            assert app.focused is bind
            await pilot.press("end", *["backspace"] * 9, *"0.0.0.0")
            assert bind.value == "0.0.0.0"
            assert "no login" in str(app.screen.query_one("#bind-warning", Static).render())
            app.screen.query_one("#hf-token", Input).value = "hf_wizardsecret123"
            app.screen.query_one("#port-fooocus", Input).value = "7999"

            await go_to(pilot, app, "Starter models")
            models = app.screen.query_one("#model-list", SelectionList)
            ids = [models.get_option_at_index(i).value for i in range(models.option_count)]
            assert "juggernaut-xl-v8" in ids and "sd15-emaonly" in ids and "sdxl-base-1.0" not in ids  # no ComfyUI
            models.deselect_all()
            models.select("fooocus-xlvaeapp")
            await pilot.pause()
            assert "To download: 208.8 KiB" in str(app.screen.query_one("#model-total", Static).render())

            await go_to(pilot, app, "Summary")
            summary = str(app.screen.query_one("#summary-text", Static).render())
            assert "Apps: automatic1111, fooocus" in summary and "reachable from other machines" in summary
            assert "HuggingFace new" in summary and "hf_wizard" not in summary
            await pilot.press("ctrl+s")
            await until(pilot, lambda: not isinstance(app.screen, WizardScreen), what="the wizard to close")
            assert "Setup saved. 1 downloads queued" in toast_text(app)

        config = load_config(layout, env={})
        assert config.apps.enabled == ["automatic1111", "fooocus"]
        assert config.apps.profile == "normal" and config.network.bind_address == "0.0.0.0"
        assert config.apps.overrides["fooocus"].host_port == 7999
        text = layout.config_file.read_text()
        assert "# Address the apps' ports are published on." in text  # comments kept
        assert config_before is None or text != config_before
        secrets = layout.secrets_file
        assert stat.S_IMODE(secrets.stat().st_mode) == 0o600 and "hf_wizardsecret123" in secrets.read_text()
        assert "hf_wizardsecret123" not in layout.log_file.read_text()
        items = await services.downloads.items()
        assert [i.name for i in items] == ["xlvaeapp.pth"] and items[0].kind == "vae_approx"


async def test_escape_changes_nothing_and_a_bad_value_writes_nothing(layout, clean_env):
    async with running_services(layout, run_downloads=False) as services:
        before = layout.config_file.read_bytes() if layout.config_file.exists() else b""
        app = make_app(services, first_run=True)
        async with app.run_test(size=(120, 40)) as pilot:
            await go_to(pilot, app, "Network")
            app.screen.query_one("#port-fooocus", Input).value = "80"
            app.screen.query_one("#hf-token", Input).value = "hf_never_saved"
            await go_to(pilot, app, "Summary")
            await pilot.press("ctrl+s")
            await until(pilot, lambda: "Setup not saved" in toast_text(app), what="refusal")
            assert "ports must be between 1024 and 65535" in toast_text(app)
            assert isinstance(app.screen, WizardScreen)  # still open, to fix the value
            await pilot.press("escape")
            assert not isinstance(app.screen, WizardScreen)
        assert (layout.config_file.read_bytes() if layout.config_file.exists() else b"") == before
        assert not layout.secrets_file.exists()
        assert await services.downloads.items() == []


async def test_typed_text_is_visible_and_digits_never_leave_the_wizard(layout, clean_env):
    """Inputs are one line high: a focus border would take that line and hide what is typed. The app's
    digit keys switch screens; in the wizard they type into the focused input, or do nothing."""
    async with running_services(layout, run_downloads=False) as services:
        app = make_app(services, first_run=True)
        async with app.run_test(size=(120, 40)) as pilot:
            await go_to(pilot, app, "Apps")
            assert isinstance(app.focused, SelectionList)
            await pilot.press("2", "3", "5")  # Models, Downloads, Settings outside the wizard
            assert isinstance(app.screen, WizardScreen) and app.current_mode == "dashboard"

            await go_to(pilot, app, "Network")
            proxy = app.screen.query_one("#proxy", Input)
            proxy.focus()
            await pilot.press(*"http://p:3128")
            await pilot.pause()
            assert app.focused is proxy and proxy.value == "http://p:3128"
            assert proxy.content_region.height == 1
            assert "http://p:3128" in "".join(segment.text for segment in proxy.render_line(0))

            port = app.screen.query_one("#port-fooocus", Input)
            port.focus()
            await pilot.press("end", *["backspace"] * 6, "7", "9", "9", "9")
            assert port.value == "7999" and isinstance(app.screen, WizardScreen)


async def test_the_folders_step_tells_new_folders_from_existing_ones(layout, clean_env):
    async with running_services(layout, run_downloads=False) as services:
        app = make_app(services, first_run=True)
        app.new_folders = (layout.root, layout.config_dir)  # as if this session had created them
        async with app.run_test(size=(120, 40)) as pilot:
            await go_to(pilot, app, "Data folders")
            lines = str(app.screen.query_one("#folder-list", Static).render()).splitlines()
            assert f"new     {layout.root}" in lines and f"new     {layout.config_dir}" in lines
            assert f"exists  {layout.models_dir}" in lines
            assert any("quitting before that removes it again" in line for line in lines)


def test_a_new_root_left_unfinished_is_not_kept(tmp_path):
    """First run on a missing root, in a real terminal: the folders step says what is new; Esc, then quit:
    no data root is left behind."""
    root = tmp_path / "new root"
    term = TmuxSession([sys.executable, "-m", "aiui_tui", "--root", str(root)], env={"TERM": "xterm-256color"})
    try:
        term.wait_for("1/8 System check")
        term.send("C-n")
        screen = term.wait_for("2/8 Data folders")
        assert f"new     {root}/models" in screen and "exists" not in screen
        term.send("Escape")
        term.wait_for("Setup cancelled: nothing changed")
        term.wait_for("AUTOMATIC1111")  # the dashboard, to look around
        term.send("q")
        assert term.wait_closed(), term.screen()
    finally:
        term.close()
    assert not root.exists()
