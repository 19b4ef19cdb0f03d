"""What keeps the dashboard light (issue 17): the first frame imports little and collects no garbage,
panels are drawn again only when what they show changes, and the one-widget footer still works.

Speed itself is measured by bench/tui.py; these check the behaviour the speed-ups rely on.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap

from aiui_tui.core.events import SystemSample
from aiui_tui.core.monitor import DiskStats, SystemStats
from aiui_tui.tui.app import make_app
from aiui_tui.tui.screens.dashboard import DashboardScreen
from aiui_tui.tui.widgets.footer import KeysFooter
from aiui_tui.tui.widgets.sparkline import STEP
from aiui_tui.tui.widgets.system_panel import SystemPanel
from tests.tui.conftest import running_services, until

GiB = 1024**3
SAMPLE = SystemStats(
    23.52, (31.0, 16.04, 72.5, 4.0), 9 * GiB, 24 * GiB, 0, 2 * GiB,
    (DiskStats("models", "/data/models", 412 * GiB, 931 * GiB),), 1000.0, 200.0,
)  # fmt: skip


def run_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, timeout=60)


def test_the_first_frame_waits_for_no_service_module():
    """The services open right after the first frame (the opener is called then): nothing the services
    need is imported before it, nor what only an action needs (the browser, the confirm dialog)."""
    result = run_python(
        """
        import asyncio, contextlib, sys
        from aiui_tui.tui.app import make_lazy_app

        seen = set()

        @contextlib.asynccontextmanager
        async def opener():
            seen.update(sys.modules)
            raise RuntimeError("enough")
            yield

        async def main():
            app = make_lazy_app("/nonexistent-root", opener)
            async with app.run_test(size=(120, 40)) as pilot:
                while not seen:
                    await pilot.pause(0.05)
            assert "aiui_tui.tui.screens.dashboard" in seen, "the dashboard was not shown"
            heavy = ("aiui_tui.core.events", "aiui_tui.core.apps", "aiui_tui.core.monitor", "aiui_tui.core.downloads",
                     "aiui_tui.services", "aiui_tui.config", "webbrowser", "aiui_tui.tui.widgets.confirm",
                     "aiohttp", "docker", "structlog", "pydantic", "aiui_tui.tui.widgets.system_panel")
            print("IMPORTED", sorted(m for m in heavy if m in seen))

        asyncio.run(main())
        """
    )
    assert "IMPORTED []" in result.stdout, result.stdout + result.stderr


def test_no_garbage_collection_until_the_first_frame_of_the_dashboard_command():
    """Only when the dashboard command imports the app in a terminal: collection is off until the first
    frame, then on again with start-up's objects frozen."""
    result = run_python(
        """
        import asyncio, gc, sys
        import aiui_tui.cli.tui_cmd  # the dashboard command

        class Terminal:
            def isatty(self):
                return True

            def __getattr__(self, name):
                return getattr(sys.__stdout__, name)

        real, sys.stdout = sys.stdout, Terminal()
        import aiui_tui.tui.app
        sys.stdout = real
        print("DURING", gc.isenabled())

        import contextlib
        from aiui_tui.tui.app import make_lazy_app

        @contextlib.asynccontextmanager
        async def opener():  # services that take their time
            await asyncio.Event().wait()
            yield

        async def main():
            app = make_lazy_app("/nonexistent-root", opener)
            async with app.run_test(size=(80, 24)) as pilot:
                await pilot.pause(0.2)
                print("AFTER", gc.isenabled(), gc.get_freeze_count() > 0)

        asyncio.run(main())
        """
    )
    assert "DURING False" in result.stdout and "AFTER True True" in result.stdout, result.stdout + result.stderr
    # Imported in any other way (tests, a script), the collector is left alone.
    assert "False" in run_python("import gc, aiui_tui.tui.app; print(not gc.isenabled())").stdout


async def test_the_system_panel_is_drawn_again_only_when_a_shown_value_changes(layout, clean_env):
    async with running_services(layout, run_downloads=False) as services:
        await services.monitor.close()  # only the samples below
        app = make_app(services)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.screen.query(SystemPanel), what="the system panel")
            screen, panel = app.screen, app.screen.query_one(SystemPanel)

            async def show(sample: SystemStats) -> dict[str, int]:
                before = dict(panel.draws)
                app.ui.apply(SystemSample(sample))
                screen.tick()
                await pilot.pause()
                return {part: n - before.get(part, 0) for part, n in panel.draws.items() if n != before.get(part, 0)}

            assert set(await show(SAMPLE)) == {"cpu", "memory"}
            assert set(await show(SAMPLE)) == {"cpu-history"}  # two values in the history: the sparkline shows
            # Figures and bars shown as before (16.04% is shown as 16.0%), a flat history: nothing is drawn.
            assert await show(dataclasses.replace(SAMPLE, cpu_per_core=(31.0, 16.0, 72.5, 4.0))) == {}
            # Only the history moved (23.54% is shown as 23.5%): the sparkline is drawn at the next step of
            # STEP samples (samples 3, 6, 9...), nothing before.
            assert STEP == 3
            assert await show(dataclasses.replace(SAMPLE, cpu_percent=23.54)) == {}
            assert await show(dataclasses.replace(SAMPLE, cpu_percent=23.54)) == {}
            assert await show(dataclasses.replace(SAMPLE, cpu_percent=23.54)) == {"cpu-history": 1}
            changed = dataclasses.replace(SAMPLE, cpu_percent=23.54, cpu_per_core=(31.0, 16.0, 99.0, 4.0))
            assert set(await show(changed)) - {"cpu-history"} == {"cpu"}
            await pilot.pause()
            text = str(panel.query_one("#cpu").render())
            assert "99.0%" in text and "72.5%" not in text, text
            assert set(await show(dataclasses.replace(changed, memory_used=12 * GiB))) - {"cpu-history"} == {"memory"}
            assert "12.0/24.0 GiB" in str(panel.query_one("#memory").render())


async def test_the_dashboard_draws_when_the_monitor_s_sample_arrives_and_only_while_shown(layout, clean_env):
    """No timer of its own: the monitor's sample (one a tick of the services' ticker) draws the panels and
    cards once, after the tick's other figures; a sample that comes while another screen is shown is
    drawn when the dashboard is shown again."""
    async with running_services(layout, run_downloads=False) as services:
        await services.monitor.close()  # only the samples below
        app = make_app(services)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.screen.query(SystemPanel), what="the system panel")
            screen, panel = app.screen, app.screen.query_one(SystemPanel)
            assert screen.TICK_S is None
            drawn: list[int] = []
            tick = screen.tick
            screen.tick = lambda: (drawn.append(len(drawn)), tick())
            cpu = lambda: str(panel.query_one("#cpu").render())  # noqa: E731

            def publish(*cores: float) -> None:
                for _ in range(3):  # three publishers in one tick (one sample and two others): one draw
                    services.bus.publish(SystemSample(dataclasses.replace(SAMPLE, cpu_per_core=cores)))

            publish(31.0, 16.0, 88.5, 4.0)
            await until(pilot, lambda: "88.5%" in cpu(), what="the sample drawn")
            assert len(drawn) == 1
            await pilot.press("4")  # the logs screen
            await until(pilot, lambda: app.screen is not screen, what="another screen")
            publish(31.0, 16.0, 66.5, 4.0)
            await pilot.pause()
            assert len(drawn) == 1  # hidden: not drawn
            await pilot.press("1")
            await until(pilot, lambda: "66.5%" in cpu(), what="the dashboard drawn again when shown")


async def test_the_footer_is_one_widget_and_a_click_presses_its_key(layout, clean_env):
    async with running_services(layout, run_downloads=False) as services:
        app = make_app(services)
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: isinstance(app.screen, DashboardScreen), what="the dashboard")
            footer = app.screen.query_one(KeysFooter)
            assert not footer.children
            line = str(footer.render())
            assert "? Help" in line and "q Quit" in line and "^p palette" in line, line
            await pilot.click(KeysFooter, offset=(line.index("? Help") + 1, 0))
            await until(pilot, lambda: type(app.screen).__name__ == "HelpScreen", what="the help")
            await pilot.press("escape")
            await until(pilot, lambda: isinstance(app.screen, DashboardScreen), what="the dashboard again")
            await pilot.press("2")  # another screen: its own keys
            await until(pilot, lambda: type(app.screen).__name__ == "ModelsScreen", what="the models")
            await pilot.pause(0.1)
            assert "? Help" in str(app.screen.query_one(KeysFooter).render())


async def test_each_screen_ticks_once(layout, clean_env):
    """One ticker per screen, shown twice or not (Textual runs the base class's on_mount after the
    subclass's by itself: calling super() too started a second one and drew every tick twice)."""
    async with running_services(layout, run_downloads=False) as services:
        app = make_app(services)
        async with app.run_test(size=(120, 40)) as pilot:
            for key in "1234514":
                await pilot.press(key)
                await until(pilot, lambda: app.screen.is_current and app.screen.is_mounted, what=f"screen {key}")
                await pilot.pause(0.1)
                screen = app.screen
                tickers = [t for t in screen._timers if getattr(t._callback, "__func__", None) is type(screen).tick]
                assert len(tickers) == (0 if screen.TICK_S is None else 1), (type(screen).__name__, tickers)


async def test_a_sample_repaints_only_what_changed_and_no_card_column(layout, clean_env, monkeypatch):
    """A tick whose values show the same asks for no repaint at all; one that changes the CPU line repaints
    the panels' column and the screen's frame, not the cards' scroller or its cards (Textual paints every
    widget whose container holds a changed line: the cards sit in a column of their own, without a row
    container shared with the panels)."""
    from textual.widget import Widget

    async with running_services(layout, run_downloads=False) as services:
        await services.monitor.close()  # only the samples below
        app = make_app(services)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.screen.query(SystemPanel), what="the system panel")
            screen, panel = app.screen, app.screen.query_one(SystemPanel)
            for sample in (SAMPLE, SAMPLE):  # two values: the history shows too
                app.ui.apply(SystemSample(sample))
                screen.tick()
            await until(pilot, lambda: "23.5%" in str(panel.query_one("#cpu").render()), what="the sample")
            await pilot.pause()

            asked: list[Widget] = []
            refresh = Widget.refresh

            def counted(self, *regions, **kwargs):
                asked.append(self)
                return refresh(self, *regions, **kwargs)

            monkeypatch.setattr(Widget, "refresh", counted)
            screen.tick()  # the same values again
            assert asked == []
            monkeypatch.undo()

            painted: set[str] = set()
            render_lines = Widget.render_lines

            def recorded(self, crop):
                painted.add(f"{type(self).__name__}#{self.id}")
                return render_lines(self, crop)

            monkeypatch.setattr(Widget, "render_lines", recorded)
            app.ui.apply(SystemSample(dataclasses.replace(SAMPLE, cpu_per_core=(31.0, 16.0, 99.0, 4.0))))
            screen.tick()
            await until(pilot, lambda: "Rows#cpu" in painted, what="the new CPU lines painted")
            assert "VerticalScroll#cards" not in painted and "Static#no-apps" not in painted, painted
            assert not any(name.startswith(("AppCard", "ScrollBar")) for name in painted), painted


async def test_the_histories_move_every_step_of_samples_and_the_figures_every_sample(layout, clean_env):
    """The CPU and GPU histories are drawn again every STEP samples (docs/tui.md), the figures at once."""
    from aiui_tui.core.events import GpuSample
    from aiui_tui.core.monitor import GpuStats
    from aiui_tui.tui.widgets.gpu_panel import GpuPanel
    from aiui_tui.tui.widgets.sparkline import CachedSparkline

    gpu = GpuStats(0, "NVIDIA GeForce RTX 4090", "GPU-0", 10, 2 * GiB, 24 * GiB, 40, 80.0, 450.0, 30, ())
    async with running_services(layout, run_downloads=False) as services:
        await services.monitor.close()  # only the samples below
        app = make_app(services)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app.screen.query(GpuPanel), what="the GPU panel")
            screen = app.screen

            def sample(n: int) -> None:
                app.ui.apply(SystemSample(dataclasses.replace(SAMPLE, cpu_percent=float(n))))
                app.ui.apply(GpuSample(True, (dataclasses.replace(gpu, utilization=n),)))
                screen.tick()

            sample(1)
            await until(pilot, lambda: screen.query("#gpu-0-util"), what="the GPU's lines")
            cpu, util = (
                screen.query_one("#cpu-history", CachedSparkline),
                screen.query_one("#gpu-0-util", CachedSparkline),
            )
            gpu_text = screen.query_one("#gpu-0")
            shown = []
            for n in range(2, 10):
                sample(n)
                await pilot.pause()
                assert f"{n:3d}%" in str(gpu_text.render())  # the figure: every sample
                shown.append((len(cpu.data or ()), len(util.data or ())))
            # Samples 2..9: the histories at 2 values (first shown), then at samples 3, 6 and 9.
            assert shown == [(2, 2), (3, 3), (3, 3), (3, 3), (6, 6), (6, 6), (6, 6), (9, 9)], shown


async def test_a_footer_key_s_tooltip_shows_whole_under_the_mouse_on_the_dashboard(layout, clean_env):
    """The dashboard's columns are the screen's own children: its layout must still place Textual's tooltip
    (a layer of its own) at the mouse, as high as its text (a grid gave it a one-line cell's height)."""
    async with running_services(layout, run_downloads=False) as services:
        app = make_app(services)
        async with app.run_test(size=(120, 40), tooltips=True) as pilot:
            await until(pilot, lambda: isinstance(app.screen, DashboardScreen), what="the dashboard")
            footer = app.screen.query_one(KeysFooter)
            x = str(footer.render()).index("palette")
            await pilot.hover(KeysFooter, offset=(x, 0))
            tip = app.screen.query_one("#textual-tooltip")
            await until(pilot, lambda: tip.display and tip.region.height > 0, what="the tooltip")
            assert "command palette" in str(tip.render())
            region = tip.region
            assert region.height == 3 and region.x <= footer.region.x + x < region.right, region
