"""`aiui-tui app doctor NAME`: does the app's image still keep the contract its manifest was written
for, and what container would it start (user, working directory, arguments, mounts, port)?"""

from __future__ import annotations

import asyncio
import json
import os
import socket
from dataclasses import asdict, dataclass

from aiui_tui.cli.console import escape
from aiui_tui.cli.context import Context
from aiui_tui.core.errors import EXIT_FAILED, EXIT_OK

_STYLE = {"ok": "green", "info": "blue", "warn": "yellow", "fail": "bold red"}


@dataclass(frozen=True)
class Row:
    name: str
    status: str  # ok, info, warn, fail
    detail: str
    fix: str = ""


async def app_doctor(ctx: Context, service) -> int:
    name = ctx.args.name
    loaded = service.apps[name]
    manifest = loaded.manifest
    rows = [Row("manifest", "info", f"{loaded.source}; follows {manifest.contract.source or 'no upstream file named'}")]
    image, lines = await service.image_contract(name)
    if lines is None:
        after_pull = f"the contract is checked after the pull: aiui-tui app start {name}"
        rows.append(Row("image", "warn", f"{image} is not pulled yet", after_pull))
    else:
        rows.append(Row("image", "ok", f"{image} is on the engine"))
        for line in lines:
            fix = f"pin a tag that matches (apps.overrides.{name}.image) or update the manifest"
            rows.append(Row(line.field, "ok" if line.ok else "fail", line.describe(), "" if line.ok else fix))
        if not lines:
            rows.append(Row("contract", "warn", "the manifest names no [contract]: nothing to check", ""))
    spec = await service.describe(name)
    rows.append(Row("runs as", "info", f"{spec.user} (you)" if spec.user else "the image's own user"))
    rows.append(Row("working dir", "info", spec.working_dir or "the image's own"))
    where = manifest.arguments_go_to
    if where == "env":
        variable = manifest.args_env or ""
        rows.append(Row("arguments", "info", f"${variable} = {spec.environment.get(variable, '')}"))
    else:
        shown = " ".join(spec.command) if spec.command else "the image's own command"
        rows.append(Row("arguments", "info", shown))
    rows += await asyncio.to_thread(_mount_rows, spec)
    rows.append(await asyncio.to_thread(_network_row, service, name))
    rows.append(await asyncio.to_thread(_port_row, service, name, spec))
    failed = any(r.status == "fail" for r in rows)
    if ctx.args.json:
        print(json.dumps({"app": name, "checks": [asdict(r) for r in rows]}, indent=2))
        return EXIT_FAILED if failed else EXIT_OK
    width = max(len(r.name) for r in rows)
    for r in rows:
        ctx.out.out.print(f"[{_STYLE[r.status]}]{r.status:<4}[/] {escape(r.name):<{width}}  {escape(r.detail)}")
        if r.fix:
            ctx.out.out.print(f"     {'':<{width}}  fix: {escape(r.fix)}")
    if failed:
        ctx.out.error(f"{manifest.display_title} would not start as its manifest expects; see the fixes above.")
    return EXIT_FAILED if failed else EXIT_OK


def _mount_rows(spec) -> list[Row]:
    rows = []
    for host, mount in spec.volumes.items():
        state = "ok" if os.path.isdir(host) else "info"
        detail = f"{host} -> {mount['bind']} ({mount['mode']})" + ("" if state == "ok" else ", created at start")
        rows.append(Row("mount", state, detail))
    return rows


def _network_row(service, name: str) -> Row:
    """Bridge mode needs the engine's default bridge network (absent with dockerd --bridge=none)."""
    from aiui_tui.services import has_default_bridge, no_bridge_fix

    if service.manifest(name).network == "host":
        return Row("network", "info", "host: the UI listens on this machine's network (network.bind_address)")
    if has_default_bridge(service.client):
        return Row("network", "ok", "bridge: the engine has its default bridge network")
    detail = "bridge, and this engine has no bridge network (dockerd runs with --bridge=none)"
    return Row("network", "fail", detail, no_bridge_fix([service.apps[name].base]))


def _port_row(service, name: str, spec) -> Row:
    host, port = spec.url.split("//", 1)[1].rstrip("/").rsplit(":", 1)
    if service.status(name).running:
        return Row("port", "ok", f"{host}:{port} is this app's (it is running)")
    with socket.socket() as probe:
        try:
            probe.bind((host, int(port)))
        except OSError:
            fix = f"stop it, or set apps.overrides.{name}.host_port"
            return Row("port", "warn", f"{host}:{port} is in use by another program", fix)
    return Row("port", "ok", f"{host}:{port} is free")
