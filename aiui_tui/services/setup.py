"""First-run setup: what the wizard suggests and what finishing it does.

The wizard screen only collects `SetupChoices`; `apply_setup` validates all of them before it
writes anything (so cancelling or a bad value changes nothing), then writes the config with its
comments kept, stores tokens 0600, creates the folders, links the chosen UIs and queues the models.
"""

from __future__ import annotations

import asyncio
import ipaddress
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiui_tui.config import set_values
from aiui_tui.core.errors import UsageError
from aiui_tui.core.format import human_bytes
from aiui_tui.core.library import CatalogEntry
from aiui_tui.credentials import save_secret
from aiui_tui.logs import get_logger
from aiui_tui.paths import ensure_layout
from aiui_tui.services.config_change import apply_config

log = get_logger(__name__)
GiB = 1024**3


@dataclass
class SetupChoices:
    apps: list[str]
    profile: str = "auto"
    ports: dict[str, int] = field(default_factory=dict)  # app -> host port
    bind_address: str = "127.0.0.1"
    proxy: str = ""
    huggingface_token: str = ""  # empty: keep what is stored
    civitai_api_token: str = ""
    link_uis: list[tuple[str, str]] = field(default_factory=list)  # (install path, mode)
    models: list[str] = field(default_factory=list)  # catalog ids
    recommended_options: dict[str, str] = field(default_factory=dict)  # config key -> value (per-app options)

    def __repr__(self) -> str:  # tokens never reach a log line or a crash report
        return f"SetupChoices(apps={self.apps!r}, profile={self.profile!r}, models={self.models!r})"


@dataclass(frozen=True)
class SetupResult:
    queued: tuple[str, ...]
    linked: tuple[str, ...]
    problems: tuple[str, ...]


def suggest_profile(gpus: list[Any]) -> tuple[str, str]:
    """A VRAM profile for this machine's GPUs, and why (services.apps.recommend does the reasoning)."""
    from aiui_tui.services.apps.recommend import recommend

    advice = recommend(gpus)
    return advice.profile, advice.why()


def recommended_options(services: Any, apps: list[str], gpus: list[Any]) -> dict[str, str]:
    """Config values setting each chosen app's performance options to what its GPU suggests."""
    from aiui_tui.services.apps.recommend import recommend

    values: dict[str, str] = {}
    for app in apps:
        advice = recommend(gpus, services.apps.manifest(app))
        for option, value in advice.options.items():
            values[f"apps.overrides.{app}.options.{option}"] = value
    return values


def starter_models(catalog: list[CatalogEntry], apps: list[str]) -> list[CatalogEntry]:
    """The catalog entries the chosen apps fetch by default, each once."""
    wanted = set(apps)
    return [e for e in catalog if wanted & set(e.default_for)]


def download_size(entries: list[CatalogEntry], installed: set[str]) -> int:
    return sum(e.approx_size or 0 for e in entries if not (e.sha256 and e.sha256 in installed))


def check_choices(choices: SetupChoices, known_apps: list[str], catalog_ids: set[str], free_bytes: int | None,
                  need_bytes: int) -> list[str]:  # fmt: skip
    """Every problem with the choices, as lines that say what to change; empty when all is well."""
    problems = []
    unknown = [a for a in choices.apps if a not in known_apps]
    if unknown:
        problems.append(f"unknown apps: {', '.join(unknown)}")
    try:
        ipaddress.ip_address(choices.bind_address)
    except ValueError:
        problems.append(f"bind address {choices.bind_address!r} is not an IP address (use 127.0.0.1)")
    ports = [p for a, p in choices.ports.items() if a in choices.apps]
    if any(not 1024 <= p <= 65535 for p in ports):
        problems.append("ports must be between 1024 and 65535")
    if len(set(ports)) != len(ports):
        problems.append("two apps cannot share a port")
    if choices.proxy and not choices.proxy.startswith(("http://", "https://")):
        problems.append("the proxy must start with http:// or https://")
    missing = [m for m in choices.models if m not in catalog_ids]
    if missing:
        problems.append(f"unknown models: {', '.join(missing)}")
    if free_bytes is not None and need_bytes > free_bytes:
        problems.append(f"the models need {human_bytes(need_bytes)} but only {human_bytes(free_bytes)} is free")
    return problems


def free_space(path: Any) -> int | None:
    try:
        return shutil.disk_usage(path).free
    except OSError:
        return None


async def apply_setup(services: Any, choices: SetupChoices) -> SetupResult:
    """Write everything the wizard chose. Raises UsageError (nothing written) when a choice is invalid."""
    layout = services.layout
    catalog = {e.id: e for e in services.library.catalog()}
    installed = await services.library.installed_hashes()
    need = download_size([catalog[m] for m in choices.models if m in catalog], installed)
    free = await asyncio.to_thread(free_space, layout.models_dir if layout.models_dir.exists() else layout.root.parent)
    problems = check_choices(choices, services.apps.names(), set(catalog), free, need)
    if problems:
        raise UsageError("Setup not saved: " + "; ".join(problems) + ".", "change these and finish again")
    values: dict[str, Any] = {
        "apps.enabled": list(choices.apps),
        "apps.profile": choices.profile,
        **choices.recommended_options,
        "network.bind_address": choices.bind_address,
        "network.proxy": choices.proxy,
    }
    for app, port in choices.ports.items():
        if app in choices.apps and port != services.apps.manifest(app).published_port:
            values[f"apps.overrides.{app}.host_port"] = port
    await asyncio.to_thread(ensure_layout, layout)
    config = await asyncio.to_thread(set_values, layout, values)
    for key in ("huggingface_token", "civitai_api_token"):
        token = getattr(choices, key)
        if token:
            await asyncio.to_thread(save_secret, layout, key, token)
    await apply_config(services, config)
    linked, link_problems = [], []
    for path, mode in choices.link_uis:
        try:
            install = await services.library.install_at(Path(path))
            plan = await services.library.plan_link(install, mode)
            link_problems += await services.library.apply(plan)
            linked.append(path)
        except UsageError as exc:
            link_problems.append(f"{path}: {exc.message}")
    queued = []
    for model in choices.models:
        items = await services.library.add(model)
        queued += [i.id for i in items]
    log.info("setup finished", apps=choices.apps, profile=choices.profile, models=len(queued), linked=len(linked))
    return SetupResult(tuple(queued), tuple(linked), tuple(link_problems))
