"""The Forge plugin: an app manifest (apps/forge.toml) and catalog models (catalog.toml)."""

from __future__ import annotations

from aiui_tui.plugins import hookimpl
from aiui_tui.tomlcompat import tomllib


@hookimpl
def aiui_app_manifests(context):
    return [context.folder / "apps"]


@hookimpl
def aiui_catalog_entries(context):
    with open(context.folder / "catalog.toml", "rb") as fh:
        return tomllib.load(fh)["model"]
