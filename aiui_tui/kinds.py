"""The library's model kinds, loaded from the packaged data table `data/kinds.toml`."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

from aiui_tui.tomlcompat import tomllib


@dataclass(frozen=True)
class ModelKind:
    name: str
    title: str
    a1111: tuple[str, ...] = ()
    comfyui: tuple[str, ...] = ()
    fooocus: str | None = None


@cache
def model_kinds() -> dict[str, ModelKind]:
    text = resources.files("aiui_tui.data").joinpath("kinds.toml").read_text(encoding="utf-8")
    table = tomllib.loads(text)
    return {
        name: ModelKind(
            name=name,
            title=row["title"],
            a1111=tuple(row.get("a1111", ())),
            comfyui=tuple(row.get("comfyui", ())),
            fooocus=row.get("fooocus"),
        )
        for name, row in table.items()
    }


def kind_names() -> tuple[str, ...]:
    return tuple(model_kinds())
