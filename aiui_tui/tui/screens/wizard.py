"""The setup wizard: system check, folders, apps, performance profile, network and tokens, other UIs,
starter models, summary. It only collects choices; `services.setup.apply_setup` writes them, after
validating all of them, so Esc at any step (or a refused value) changes nothing.

Keys: Ctrl+N next, Ctrl+B back, Ctrl+S finish (on the summary), Esc cancel. Digits never switch screens
behind it: they go into the focused input, or do nothing.
"""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import (
    Button,
    Checkbox,
    ContentSwitcher,
    Header,
    Input,
    Label,
    RadioButton,
    RadioSet,
    SelectionList,
    Static,
)

from aiui_tui.core.format import human_bytes
from aiui_tui.services.setup import (
    SetupChoices,
    download_size,
    free_space,
    recommended_options,
    starter_models,
    suggest_profile,
)
from aiui_tui.tui.screens.base import run_intent
from aiui_tui.tui.widgets.footer import KeysFooter

STEPS = ("system", "folders", "apps", "profile", "network", "uis", "models", "summary")
TITLES = {
    "system": "System check",
    "folders": "Data folders",
    "apps": "Apps",
    "profile": "GPU / performance profile",
    "network": "Network and tokens",
    "uis": "Other UIs on this machine",
    "models": "Starter models",
    "summary": "Summary",
}
PROFILES = ("auto", "low", "normal", "high", "cpu")


class WizardScreen(Screen[bool]):
    BINDINGS = [
        Binding("ctrl+n", "next", "Next"),
        Binding("ctrl+b", "back", "Back"),
        Binding("ctrl+s", "finish", "Finish"),
        Binding("escape", "cancel", "Cancel"),
        # The app's digit keys switch screens; here they would hide the wizard behind another screen.
        *(Binding(str(d), "stay", show=False) for d in range(10)),
    ]
    DEFAULT_CSS = """
    WizardScreen #steps { height: 1fr; padding: 0 2; }
    WizardScreen #nav { height: 3; padding: 0 2; }
    WizardScreen .step-title { text-style: bold; margin: 1 0; }
    WizardScreen Input { width: 60; height: 1; border: none; padding: 0 1; background: $boost; }
    WizardScreen Input:focus { border: none; background: $accent 30%; }
    WizardScreen Label { margin-top: 1; }
    WizardScreen .warn { color: $warning; }
    WizardScreen SelectionList { height: auto; max-height: 16; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.step = 0
        self.detected: list = []
        self.installed: set[str] = set()

    @property
    def services(self):  # type: ignore[no-untyped-def]
        return self.app.services  # type: ignore[attr-defined]

    def compose(self) -> ComposeResult:
        services = self.services
        config = services.config
        yield Header()
        with ContentSwitcher(initial="system", id="steps"):
            with VerticalScroll(id="system"):
                yield Label("1/8 System check", classes="step-title")
                yield Static("Checking Docker, the NVIDIA runtime, the GPU, disk and network…", id="doctor")
            with VerticalScroll(id="folders"):
                yield Label("2/8 Data folders", classes="step-title")
                yield Static(id="folder-list")
            with VerticalScroll(id="apps"):
                yield Label("3/8 Apps to enable (Space toggles)", classes="step-title")
                yield SelectionList[str](
                    *(
                        (services.apps.manifest(n).display_title, n, n in config.apps.enabled)
                        for n in services.apps.names()
                    ),
                    id="app-list",
                )
            with VerticalScroll(id="profile"):
                yield Label("4/8 GPU / performance profile", classes="step-title")
                yield Static(id="suggestion")
                with RadioSet(id="profile-set"):
                    for p in PROFILES:
                        yield RadioButton(p, value=p == config.apps.profile, id=f"profile-{p}")
                yield Checkbox(
                    "Also set each app's attention, precision and model cache to what this GPU suggests",
                    value=True,
                    id="apply-options",
                )
                yield Static(
                    "Change them per app later on the Settings screen (key 5) or with `aiui-tui app options NAME`.",
                    classes="dim",
                )
            with VerticalScroll(id="network"):
                yield Label("5/8 Network and tokens", classes="step-title")
                yield Label("Bind address (127.0.0.1 keeps the UIs on this machine)")
                yield Input(config.network.bind_address, id="bind")
                yield Static(id="bind-warning", classes="warn")
                yield Label("HTTP proxy for downloads (empty: none)")
                yield Input(config.network.proxy, id="proxy", placeholder="http://proxy:3128")
                for name in services.apps.names():
                    yield Label(f"Port for {services.apps.manifest(name).display_title}")
                    yield Input(str(self.port_of(name)), id=f"port-{name}", type="integer")
                yield Label("HuggingFace token (stored 0600; empty keeps the current one)")
                yield Input(password=True, id="hf-token", placeholder="hf_…")
                yield Label("CivitAI API key (stored 0600; empty keeps the current one)")
                yield Input(password=True, id="civitai-token")
            with VerticalScroll(id="uis"):
                yield Label(
                    "6/8 Other UIs to link the library into (symlinks; undo with `models unlink`)", classes="step-title"
                )
                yield SelectionList[str](id="ui-list")
                yield Static("Looking for AUTOMATIC1111, ComfyUI, Fooocus, InvokeAI, Stability Matrix…", id="ui-note")
            with VerticalScroll(id="models"):
                yield Label("7/8 Starter models (what the chosen apps download on first start)", classes="step-title")
                yield SelectionList[str](id="model-list")
                yield Static(id="model-total")
            with VerticalScroll(id="summary"):
                yield Label(
                    "8/8 Summary: Ctrl+S (or Finish) writes it; Esc leaves everything as it was", classes="step-title"
                )
                yield Static(id="summary-text")
        with Horizontal(id="nav"):
            yield Button("Back", id="back")
            yield Button("Next", id="next", variant="primary")
            yield Button("Finish", id="finish", variant="success")
        yield KeysFooter()

    def port_of(self, name: str) -> int:
        override = self.services.config.apps.overrides.get(name)
        return (override.host_port if override and override.host_port else None) or self.services.apps.manifest(
            name
        ).published_port

    def on_mount(self) -> None:
        self.show_step()
        run_intent(self, self.doctor, "system check", self.show_doctor)
        run_intent(self, self.services.library.detect, "detect other UIs", self.show_uis)
        run_intent(self, self.services.library.installed_hashes, "read the library", self.set_installed)
        self.show_folders()
        self.show_suggestion()

    # -- step content ---------------------------------------------------------------------------------
    async def doctor(self) -> list:
        from aiui_tui.services.doctor import context_from_env, run_checks

        return await run_checks(context_from_env(self.services.layout, self.services.config))

    def show_doctor(self, results: list) -> None:
        text = Text()
        for r in results:
            mark, style = {"ok": ("✓", "green"), "warn": ("!", "yellow")}.get(r.status, ("✗", "bold red"))
            text.append(f"{mark} {r.name}: ", style=style)
            text.append(f"{r.detail}\n")
            if r.fix and r.status != "ok":
                text.append(f"    fix: {r.fix}\n", style="dim")
        self.query_one("#doctor", Static).update(text)

    def new_folders(self) -> set:
        """The folders this session created (they did not exist when the dashboard started)."""
        return set(getattr(self.app, "new_folders", ()))

    def new_root(self) -> bool:
        return self.services.layout.root in self.new_folders()

    def show_folders(self) -> None:
        layout = self.services.layout
        new = self.new_folders()
        lines = [f"Data root: {layout.root}  (another one: start with --root DIR or set AIUI_ROOT)", ""]
        if self.new_root():
            lines += ["A new data root: it is kept when you finish; quitting before that removes it again.", ""]
        for folder in layout.folders():
            lines.append(f"{'new    ' if folder in new or not folder.exists() else 'exists '} {folder}")
        self.query_one("#folder-list", Static).update("\n".join(lines))

    def show_suggestion(self) -> None:
        profile, why = suggest_profile(self.gpus())
        self.suggested = profile
        self.query_one("#suggestion", Static).update(
            f"Suggested: [b]{profile}[/b] — {why}. 'auto' picks it at each start."
        )

    def gpus(self) -> list:
        gpu = self.app.ui.gpu  # type: ignore[attr-defined]
        return [g for g in gpu.gpus if g.memory_total] if gpu and gpu.available else []

    def show_uis(self, installs: list) -> None:
        self.detected = installs
        ui_list = self.query_one("#ui-list", SelectionList)
        ui_list.clear_options()
        for install in installs:
            ui_list.add_option((f"{install.title}  {install.path}", str(install.path), False))
        self.query_one("#ui-note", Static).update(
            f"{len(installs)} found." if installs else "None found; `aiui-tui models link PATH` links one later."
        )

    def set_installed(self, hashes: set[str]) -> None:
        self.installed = hashes

    def fill_models(self) -> None:
        apps = list(self.query_one("#app-list", SelectionList).selected)
        entries = starter_models(self.services.library.catalog(), apps)
        model_list = self.query_one("#model-list", SelectionList)
        chosen = set(model_list.selected) if model_list.option_count else {e.id for e in entries}
        model_list.clear_options()
        for e in entries:
            have = e.sha256 in self.installed if e.sha256 else False
            label = f"{e.name}  ({human_bytes(e.approx_size)}, {e.kind}){'  installed' if have else ''}"
            model_list.add_option((label, e.id, e.id in chosen and not have))
        self.update_total()

    def update_total(self) -> None:
        catalog = {e.id: e for e in self.services.library.catalog()}
        chosen = [catalog[i] for i in self.query_one("#model-list", SelectionList).selected if i in catalog]
        need = download_size(chosen, self.installed)
        free = free_space(
            self.services.layout.root if self.services.layout.root.exists() else self.services.layout.root.parent
        )
        warn = "  [b red]not enough space[/]" if free is not None and need > free else ""
        self.query_one("#model-total", Static).update(
            f"To download: {human_bytes(need)}; free: {human_bytes(free)}{warn}"
        )

    def on_selection_list_selected_changed(self, event: SelectionList.SelectedChanged) -> None:
        if event.selection_list.id == "model-list":
            self.update_total()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "bind":
            value = event.value.strip()
            warning = ""
            if value in ("0.0.0.0", "::"):
                warning = (
                    "⚠ Every machine that can reach this one can use the UIs (no login). Docker publishes past ufw."
                )
            elif value not in ("127.0.0.1", "::1", "localhost"):
                warning = "⚠ The UIs will be reachable on that address."
            self.query_one("#bind-warning", Static).update(warning)

    def choices(self) -> SetupChoices:
        profile = next((p for p in PROFILES if self.query_one(f"#profile-{p}", RadioButton).value), "auto")
        ports = {}
        for name in self.services.apps.names():
            raw = self.query_one(f"#port-{name}", Input).value.strip()
            ports[name] = int(raw) if raw.isdigit() else 0
        apps = list(self.query_one("#app-list", SelectionList).selected)
        options = (
            recommended_options(self.services, apps, self.gpus())
            if self.query_one("#apply-options", Checkbox).value
            else {}
        )
        return SetupChoices(
            apps=apps,
            recommended_options=options,
            profile=profile,
            ports=ports,
            bind_address=self.query_one("#bind", Input).value.strip(),
            proxy=self.query_one("#proxy", Input).value.strip(),
            huggingface_token=self.query_one("#hf-token", Input).value.strip(),
            civitai_api_token=self.query_one("#civitai-token", Input).value.strip(),
            link_uis=[(path, "symlink") for path in self.query_one("#ui-list", SelectionList).selected],
            models=list(self.query_one("#model-list", SelectionList).selected),
        )

    def show_summary(self) -> None:
        c = self.choices()
        lines = [
            f"Apps: {', '.join(c.apps) or 'none'}",
            f"Profile: {c.profile}"
            + (
                "; options: "
                + ", ".join(sorted({k.split(".")[-1] + "=" + v for k, v in c.recommended_options.items()}))
                if c.recommended_options
                else ""
            ),
            f"Listen on: {c.bind_address}"
            + ("  ⚠ reachable from other machines" if c.bind_address != "127.0.0.1" else ""),
            "Ports: " + ", ".join(f"{a} {p}" for a, p in c.ports.items() if a in c.apps),
            f"Proxy: {c.proxy or 'none'}",
            f"Tokens: HuggingFace {'new' if c.huggingface_token else 'unchanged'}, "
            f"CivitAI {'new' if c.civitai_api_token else 'unchanged'}",
            f"Link into: {', '.join(p for p, _ in c.link_uis) or 'no other UI'}",
            f"Models to queue: {len(c.models)}",
            "",
            f"Writes {self.services.layout.config_file} (comments kept)"
            + (" and keeps the new data folders." if self.new_root() else "."),
        ]
        self.query_one("#summary-text", Static).update("\n".join(lines))

    # -- navigation -----------------------------------------------------------------------------------
    def show_step(self) -> None:
        name = STEPS[self.step]
        if name == "models":
            self.fill_models()
        if name == "summary":
            self.show_summary()
        self.query_one(ContentSwitcher).current = name
        self.title = "aiui-tui setup"
        self.sub_title = f"{self.step + 1}/{len(STEPS)} {TITLES[name]}"
        self.query_one("#back", Button).disabled = self.step == 0
        self.query_one("#next", Button).display = name != "summary"
        self.query_one("#finish", Button).display = name == "summary"
        focusable = self.query_one(f"#{name}").query("SelectionList, RadioSet, Input")
        if focusable:
            focusable.first().focus()
        else:
            self.query_one("#next", Button).focus()

    def action_next(self) -> None:
        if self.step < len(STEPS) - 1:
            self.step += 1
            self.show_step()

    def action_back(self) -> None:
        if self.step > 0:
            self.step -= 1
            self.show_step()

    def action_stay(self) -> None:
        """A digit typed outside an input: nothing happens (the wizard stays in front)."""

    def action_cancel(self) -> None:
        kept = " The new data root is removed when you quit unless you finish the setup." if self.new_root() else ""
        self.notify("Setup cancelled: nothing changed. Run it again from the palette (Ctrl+P → Setup wizard)." + kept)
        self.dismiss(False)

    def action_finish(self) -> None:
        if STEPS[self.step] != "summary":
            self.step = len(STEPS) - 1
            self.show_step()
            return
        choices = self.choices()

        def done(result) -> None:  # type: ignore[no-untyped-def]
            problems = "; ".join(result.problems)
            self.notify(
                f"Setup saved. {len(result.queued)} downloads queued (3 shows them)."
                + (f" Problems: {problems}" if problems else ""),
                severity="warning" if problems else "information",
            )
            self.dismiss(True)

        from aiui_tui.services.setup import apply_setup

        run_intent(self, lambda: apply_setup(self.services, choices), "save the setup", done)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        {"back": self.action_back, "next": self.action_next, "finish": self.action_finish}[str(event.button.id)]()
