"""Finding plugins without importing them, and their per-plugin settings files.

Two kinds: folders `<root>/plugins/NAME/plugin.toml` (+ their module), and installed packages
exposing the entry point group `aiui_tui.plugins`. Discovery reads metadata only; a plugin's code
runs only once `config/plugins/NAME.toml` says `enabled = true`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiui_tui.core.errors import ConfigError, SecretsError
from aiui_tui.paths import Layout
from aiui_tui.tomlcompat import tomllib
from aiui_tui.tomledit import read_text

ENTRY_POINT_GROUP = "aiui_tui.plugins"
MANIFEST = "plugin.toml"
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")

# States, as `plugins list` and the TUI show them.
DISABLED = "disabled"  # found, not enabled: nothing of it was imported
LOADED = "loaded"  # enabled and running
FAILED = "failed"  # enabled, but failed to import or in a hook: off for this session
REFUSED = "refused"  # targets a plugin API this version does not provide
BROKEN = "broken"  # its plugin.toml or settings file cannot be read


@dataclass
class PluginInfo:
    name: str
    kind: str  # "folder" or "package"
    location: str  # the folder, or "DIST VERSION (entry point MODULE)"
    version: str = ""
    description: str = ""
    api: str = ""  # the plugin API it targets; packages say so in their module (AIUI_API)
    module: str = ""  # folder: a .py file or package folder inside it; package: the entry point
    folder: Path | None = None
    entry_point: Any = None
    enabled: bool = False
    settings: dict[str, Any] = field(default_factory=dict)
    state: str = DISABLED
    problem: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "version": self.version,
            "description": self.description,
            "api": self.api,
            "location": self.location,
            "enabled": self.enabled,
            "state": self.state,
            "problem": self.problem,
        }


def settings_path(layout: Layout, name: str) -> Path:
    return layout.plugin_config_dir / f"{name}.toml"


def read_settings(layout: Layout, name: str) -> dict[str, Any]:
    """The plugin's settings file as a dict (empty when absent); ConfigError with the line when broken.

    Settings can hold secrets (a webhook's key, a token in a URL), and nobody can tell which: the
    file is held to secrets.toml's rule (credentials.check_private), whatever it holds.
    """
    from aiui_tui.credentials import check_private

    path = settings_path(layout, name)
    try:
        st = path.stat()
        check_private(path, st)
        text = read_text(path)  # a regular file of at most 1 MiB, UTF-8; refusals are one line
    except FileNotFoundError:
        return {}
    except SecretsError as exc:
        raise ConfigError(exc.message, exc.fix) from None
    except OSError as exc:
        raise ConfigError(f"Cannot read {path}: {exc.strerror}.", "check the file's permissions") from None
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}.", "fix the TOML syntax (key = value)") from None
    if "enabled" in data and not isinstance(data["enabled"], bool):
        raise ConfigError(f"{path}: `enabled` must be true or false.", "write enabled = true")
    return data


def enabled_names(layout: Layout) -> list[str]:
    """Plugins whose settings say enabled = true (a broken settings file counts: it is reported)."""
    names = []
    folder = layout.plugin_config_dir
    if not folder.is_dir():
        return []
    for path in sorted(folder.glob("*.toml")):
        try:
            if read_settings(layout, path.stem).get("enabled") is True:
                names.append(path.stem)
        except ConfigError:
            names.append(path.stem)
    return names


def _folder_plugin(folder: Path) -> PluginInfo:
    manifest = folder / MANIFEST
    info = PluginInfo(name=folder.name, kind="folder", location=str(folder), folder=folder)
    try:
        data = tomllib.loads(read_text(manifest))
    except ConfigError as exc:
        info.state, info.problem = BROKEN, exc.message
        return info
    except tomllib.TOMLDecodeError as exc:
        info.state, info.problem = BROKEN, f"{manifest}: {exc}"
        return info
    info.version = str(data.get("version", ""))
    info.description = str(data.get("description", ""))
    info.api = str(data.get("api", ""))
    info.module = str(data.get("module", "plugin.py"))
    name = str(data.get("name", ""))
    if name != folder.name:
        info.state = BROKEN
        info.problem = f"{manifest}: name {name!r} differs from its folder {folder.name!r}; make them equal"
    elif not NAME.match(name):
        info.state, info.problem = BROKEN, f"{manifest}: name must be lowercase letters, digits, - or _"
    elif not info.api:
        info.state, info.problem = BROKEN, f'{manifest}: `api` is missing (the plugin API it targets, e.g. "1.0")'
    elif ".." in Path(info.module).parts or Path(info.module).is_absolute():
        info.state, info.problem = BROKEN, f"{manifest}: `module` must be a path inside the plugin's folder"
    elif not (folder / info.module).exists():
        info.state, info.problem = BROKEN, f"{manifest}: its module {info.module} does not exist"
    return info


def _package_plugins() -> list[PluginInfo]:
    from importlib.metadata import entry_points

    found = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        dist = getattr(ep, "dist", None)
        version = dist.version if dist is not None else ""
        description = (dist.metadata.get("Summary") or "") if dist is not None else ""
        dist_name = dist.metadata.get("Name", "?") if dist is not None else "?"
        found.append(
            PluginInfo(
                name=ep.name,
                kind="package",
                location=f"{dist_name} {version} (entry point {ep.value})",
                version=version,
                description=description,
                module=ep.value,
                entry_point=ep,
            )
        )
    return found


def discover(layout: Layout) -> dict[str, PluginInfo]:
    """Every plugin by name, with its enabled flag and settings. Folders shadow packages of the same name."""
    plugins: dict[str, PluginInfo] = {}
    if layout.plugins_dir.is_dir():
        for folder in sorted(layout.plugins_dir.iterdir()):
            if folder.is_dir() and (folder / MANIFEST).is_file():
                plugins[folder.name] = _folder_plugin(folder)
    for info in _package_plugins():
        plugins.setdefault(info.name, info)
    for name, info in plugins.items():
        try:
            settings = read_settings(layout, name)
        except ConfigError as exc:
            info.enabled, info.state, info.problem = True, BROKEN, exc.one_line()
            continue
        info.enabled = settings.get("enabled") is True
        info.settings = {k: v for k, v in settings.items() if k != "enabled"}
    return plugins


def set_enabled(layout: Layout, name: str, enabled: bool) -> Path:
    """Write `enabled` into config/plugins/NAME.toml, keeping the user's other settings and comments."""
    import tomlkit

    from aiui_tui.tomledit import atomic_write, parse_document

    path = settings_path(layout, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        doc = parse_document(path)
    else:
        doc = tomlkit.document()
        doc.add(tomlkit.comment(f"Settings of the plugin {name!r}; `aiui-tui plugins info {name}` lists them."))
    doc["enabled"] = enabled
    atomic_write(path, tomlkit.dumps(doc), mode=0o600)  # settings may hold secrets (webhook keys)
    return path
