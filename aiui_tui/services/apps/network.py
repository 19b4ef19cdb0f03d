"""Does the engine have the network a manifest asks for?

A bridge-mode app on an engine started with `--bridge=none` runs with no network at all: Docker
creates and starts it, publishes nothing, and the readiness probe waits its whole timeout. Asked
first, the answer is one line with the fix. Blocking: run it in a thread.
"""

from __future__ import annotations

from typing import Any, Literal

from aiui_tui.services.apps.errors import AppError

# Default networks containers join when no network is named: Docker's and Podman's.
DEFAULT_BRIDGES = ("bridge", "podman")
_DEFAULT_OPTION = "com.docker.network.bridge.default_bridge"


def has_default_bridge(client: Any) -> bool:
    """The engine has the default bridge network that a container without a named network joins."""
    for network in client.networks.list():
        attrs = network.attrs or {}
        if network.name in DEFAULT_BRIDGES or (attrs.get("Options") or {}).get(_DEFAULT_OPTION) == "true":
            return True
    return False


def no_bridge_fix(names: list[str]) -> str:
    which = names[0] if len(names) == 1 else "NAME"
    return (
        f'set apps.overrides.{which}.network = "host" in config/aiui.toml, or start dockerd with its default '
        'bridge (remove --bridge=none / "bridge": "none" from its settings)'
    )


def no_bridge_error(title: str, name: str) -> AppError:
    return AppError(
        f"{title} needs Docker's bridge network, and this engine has none (dockerd runs with --bridge=none).",
        no_bridge_fix([name]),
    )


def bridge_apps(layout: Any, config: Any) -> list[str]:
    """Enabled apps (and every app of the user's) that run in bridge mode, overrides applied. Blocking."""
    from aiui_tui.services.apps.manifest import load_manifests

    names = []
    for name, loaded in load_manifests(layout.user_apps_dir).apps.items():
        override = config.apps.overrides.get(name)
        mode = override.network if override is not None and override.network else loaded.manifest.network
        if mode == "bridge" and (name in config.apps.enabled or loaded.source != "built-in"):
            names.append(name)
    return sorted(names)


def bridge_check(client: Any, layout: Any, config: Any) -> tuple[Literal["ok", "warn"], str, str]:
    """For `doctor`: (status, detail, fix) of the engine's bridge network against the apps that need it."""
    if has_default_bridge(client):
        return "ok", "the default bridge network is there (bridge-mode apps publish their ports)", ""
    needing = bridge_apps(layout, config)
    if not needing:
        return "ok", "no bridge network (dockerd runs with --bridge=none); no enabled app needs one", ""
    detail = f"no bridge network (dockerd runs with --bridge=none), and {', '.join(needing)} need one"
    return "warn", detail, no_bridge_fix(needing)
