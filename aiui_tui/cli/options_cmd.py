"""`aiui-tui app options NAME [KEY=VALUE ...]`: the app's performance options, the recommendation, and edits."""

from __future__ import annotations

import asyncio
import json

from aiui_tui.cli.console import escape
from aiui_tui.cli.context import Context
from aiui_tui.config import set_values
from aiui_tui.core.errors import EXIT_OK, UsageError


async def options(ctx: Context, service) -> int:
    from aiui_tui.services import probe_gpus, recommend

    name = ctx.args.name
    manifest = service.manifest(name)
    base = service.apps[name].base
    available = manifest.performance.options
    if ctx.args.settings:
        changes = {}
        for pair in ctx.args.settings:
            key, sep, value = pair.partition("=")
            if not sep or key not in available:
                raise UsageError(
                    f"Not an option of {name}: {pair!r}.",
                    f"use KEY=VALUE with KEY one of: {', '.join(available) or '-'}",
                )
            if value not in available[key].choices:
                raise UsageError(
                    f"{key} = {value!r} is not a choice of {name}.",
                    f"choose one of: {', '.join(available[key].choices)}",
                )
            changes[f"apps.overrides.{base}.options.{key}"] = value
        ctx.config = set_values(ctx.layout, changes)
        ctx.out.success(f"Saved in {ctx.layout.config_file}; used from the next start of {name}.")
    probe = await asyncio.to_thread(probe_gpus)
    advice = recommend(probe.gpus if probe.available else [], manifest)
    override = ctx.config.apps.overrides.get(base)
    current = override.options if override else {}
    rows = [
        {
            "option": key,
            "title": option.title,
            "value": current.get(key, option.default),
            "default": option.default,
            "recommended": advice.options.get(key),
            "choices": {c: choice.help for c, choice in option.choices.items()},
            "gpu_only": option.gpu_only,
        }
        for key, option in available.items()
    ]
    if ctx.args.json:
        out = {"app": name, "options": rows, "recommended_profile": advice.profile, "why": list(advice.reasons)}
        print(json.dumps(out, indent=2))
        return EXIT_OK
    if not rows:
        ctx.out.info(f"{manifest.display_title} declares no performance options (only the VRAM profiles).")
    for row in rows:
        mark = "" if row["recommended"] in (None, row["value"]) else f"  [yellow](recommended: {row['recommended']})[/]"
        ctx.out.out.print(
            f"[bold]{escape(row['option']):<12}[/] {escape(row['value']):<10} {escape(row['title'])}{mark}",
            highlight=False,
        )
        for choice, help_text in row["choices"].items():
            ctx.out.out.print(f"    {escape(choice):<10} [dim]{escape(help_text)}[/]", highlight=False)
    ctx.out.out.print(f"Recommended profile: [bold]{advice.profile}[/] ({escape(advice.why())})", highlight=False)
    return EXIT_OK
