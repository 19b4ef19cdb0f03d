"""App manifests: an app is data (one TOML file), validated with errors that name file, line and key.

Built-ins ship in `aiui_tui/data/apps/`; a user's `<root>/config/apps/NAME.toml` adds an app or
replaces a built-in of the same name; plugins add folders of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiui_tui import data as _data
from aiui_tui.core.errors import AiuiError, ConfigError
from aiui_tui.schema import InvalidSettings
from aiui_tui.services.apps.manifest_schema import AppManifest as AppManifest
from aiui_tui.tomlcompat import tomllib
from aiui_tui.tomledit import parse_document, read_text, validation_error


@dataclass(frozen=True)
class LoadedApp:
    manifest: AppManifest
    source: str  # "built-in", a file path, or "plugin NAME"
    instance_of: str | None = None  # an instance on one GPU: the app it runs (its overrides, config)
    gpu_index: int | None = None

    @property
    def base(self) -> str:
        return self.instance_of or self.manifest.name


def instance_name(app: str, gpu_index: int) -> str:
    return f"{app}-gpu{gpu_index}"


def gpu_instance(loaded: LoadedApp, gpu_index: int) -> LoadedApp:
    """The app pinned to one GPU: its own name, container, port (base port + index) and outputs subfolder."""
    m = loaded.manifest
    changes: dict[str, Any] = {
        "name": instance_name(m.name, gpu_index),
        "title": f"{m.display_title} (GPU {gpu_index})",
    }
    if m.network == "host":
        changes["port"] = m.port + gpu_index
    else:
        changes["host_port"] = m.published_port + gpu_index
    return LoadedApp(m.model_copy(update=changes), loaded.source, m.name, gpu_index)


def parse_manifest(path: Path, text: str | None = None) -> AppManifest:
    text = read_text(path) if text is None else text
    try:  # tomllib reads it; tomlkit only when tomllib refuses it, for its error's words
        data = tomllib.loads(text.removeprefix("\ufeff"))
    except (tomllib.TOMLDecodeError, ValueError, RecursionError):
        data = parse_document(path, text).unwrap()
    try:
        manifest: AppManifest = AppManifest.model_validate(data)
    except InvalidSettings as exc:
        raise validation_error(path, text, exc) from None
    if manifest.name != path.stem:
        raise ConfigError(
            f"{path}: the manifest's name {manifest.name!r} differs from its file name.",
            f"rename the file to {manifest.name}.toml or set name = {path.stem!r}",
        )
    return manifest


def builtin_manifests() -> dict[str, LoadedApp]:
    """The manifests shipped in the package's data folder (a folder on disk, as pip installs it; not
    importlib.resources, whose import is ~5 ms of `app list`)."""
    apps: dict[str, LoadedApp] = {}
    folder = Path(next(iter(_data.__path__))) / "apps"
    for path in sorted(folder.iterdir(), key=lambda e: e.name):
        if path.name.endswith(".toml"):
            apps[path.stem] = LoadedApp(parse_manifest(path, path.read_text(encoding="utf-8")), "built-in")
    return apps


@dataclass(frozen=True)
class BrokenApp:
    """A user's manifest that cannot be used: listed with its error, while every other app works."""

    name: str  # the file's stem
    source: str  # the file
    error: AiuiError  # one line naming file, line and key, and the fix


@dataclass(frozen=True)
class Manifests:
    apps: dict[str, LoadedApp]
    broken: dict[str, BrokenApp]


def load_manifests(user_dir: Path, extra: dict[str, LoadedApp] | None = None) -> Manifests:
    """Every app by name: built-ins, then plugins' (`extra`, already parsed), then the user's.

    A user's file that cannot be read or validated does not stop the others: it is `broken`, with
    its error (like a plugin that fails to load). A broken file named like a built-in hides the
    built-in: the user meant to replace it, and running the built-in instead would surprise.
    """
    apps = builtin_manifests()
    apps.update(extra or {})
    broken: dict[str, BrokenApp] = {}
    if user_dir.is_dir():
        for path in sorted(user_dir.glob("*.toml")):
            try:
                apps[path.stem] = LoadedApp(parse_manifest(path), str(path))
            except AiuiError as exc:
                apps.pop(path.stem, None)
                broken[path.stem] = BrokenApp(path.stem, str(path), exc)
    return Manifests(apps, broken)
