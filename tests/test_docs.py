"""The docs stay true: the CLI reference is what `--help` prints, the screenshots are the current
snapshots, every setting is documented, and the example plugins' docs match their files."""

from __future__ import annotations

import os
import subprocess
import sys

from aiui_tui.cli.reference import render
from aiui_tui.config import Config
from aiui_tui.schema import Section
from tests.conftest import REPO

DOCS = REPO / "docs"


def test_cli_reference_is_generated_from_the_current_parser():
    assert (DOCS / "cli.md").read_text() == render(), (
        "docs/cli.md is stale: run `python -m aiui_tui.cli.reference > docs/cli.md`"
    )


def test_cli_reference_matches_real_help_output():
    """What a user's terminal shows (a subprocess, as installed) is on the page, word for word."""
    page = (DOCS / "cli.md").read_text()
    env = {**os.environ, "COLUMNS": "100"}
    for args in (["--help"], ["app", "start", "--help"], ["plugins", "--help"], ["bench", "--help"]):
        shown = subprocess.run(
            [sys.executable, "-m", "aiui_tui", *args], capture_output=True, text=True, env=env, check=True
        ).stdout
        assert shown.strip() in page, args


def test_screenshots_in_the_docs_are_the_current_snapshots():
    snapshots = REPO / "tests" / "tui" / "__snapshots__" / "test_snapshots"
    for svg in sorted(snapshots.glob("*.svg")):
        copy = DOCS / "img" / svg.name
        assert copy.exists() and copy.read_bytes() == svg.read_bytes(), (
            f"docs/img/{svg.name} differs from its snapshot: cp {svg} docs/img/"
        )


def _keys(model: type[Section], prefix: str = "") -> list[str]:
    keys = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, Section):
            keys += _keys(annotation, f"{prefix}{name}.")
        else:
            keys.append(prefix + name)
    return keys


def test_every_setting_is_in_the_user_guide():
    guide = (DOCS / "user-guide.md").read_text()
    missing = [k for k in _keys(Config) if f"`{k}`" not in guide and not k.startswith("apps.overrides")]
    assert not missing, f"document these keys in docs/user-guide.md: {missing}"
    from aiui_tui.config import AppOverride

    for field in AppOverride.model_fields:
        assert f".{field}" in guide, f"apps.overrides.NAME.{field} is not documented"


def test_plugin_guide_lists_every_hook_and_event():
    from aiui_tui.services.plugins.api import API_VERSION, EVENT_NAMES
    from aiui_tui.services.plugins.hookspecs import HOOK_NAMES

    guide = (DOCS / "plugins.md").read_text()
    for hook in HOOK_NAMES:
        assert f"`{hook}(" in guide, hook
    for event in EVENT_NAMES:
        assert f"`{event}`" in guide, event
    assert f"plugin API {API_VERSION}" in guide
