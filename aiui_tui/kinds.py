"""The library's model kinds, loaded from the packaged data table `data/kinds.toml`."""

from __future__ import annotations

import pkgutil
from dataclasses import dataclass
from functools import cache


@dataclass(frozen=True)
class ModelKind:
    name: str
    title: str
    a1111: tuple[str, ...] = ()  # AUTOMATIC1111/Forge folders, relative to the install
    forge: tuple[str, ...] = ()  # further folders only Forge reads
    webui_flag: str | None = None  # AUTOMATIC1111/Forge flag pointing at a folder of this kind
    comfyui: tuple[str, ...] = ()  # relative to ComfyUI's models/; the first is ComfyUI's folder name
    fooocus: str | None = None  # Fooocus' config.txt key
    fooocus_default: str | None = None  # Fooocus' folder when the key is absent, relative to its install
    fooocus_list: bool = False  # the key takes a list of folders (else exactly one)
    fooocus_folder: str | None = None  # library folder for the key, relative to models/ (default: the kind's)
    fooocus_needs: tuple[str, ...] = ()  # files that folder must hold before Fooocus is pointed at it

    @property
    def comfyui_name(self) -> str | None:
        """ComfyUI's folder name for this kind (folder_paths, extra_model_paths.yaml)."""
        return self.comfyui[0] if self.comfyui else None


@cache
def model_kinds() -> dict[str, ModelKind]:
    from aiui_tui.tomlcompat import tomllib

    data = pkgutil.get_data("aiui_tui.data", "kinds.toml")  # not importlib.resources: ~10 ms of every start
    assert data is not None, "the package's data folder has no loader"
    table = tomllib.loads(data.decode("utf-8"))
    return {
        name: ModelKind(
            name=name,
            title=row["title"],
            a1111=tuple(row.get("a1111", ())),
            forge=tuple(row.get("forge", ())),
            webui_flag=row.get("webui_flag"),
            comfyui=tuple(row.get("comfyui", ())),
            fooocus=row.get("fooocus"),
            fooocus_default=row.get("fooocus_default"),
            fooocus_list=bool(row.get("fooocus_list", False)),
            fooocus_folder=row.get("fooocus_folder"),
            fooocus_needs=tuple(row.get("fooocus_needs", ())),
        )
        for name, row in table.items()
    }


def kind_names() -> tuple[str, ...]:
    return tuple(model_kinds())
