"""The image contract: what a manifest expects of its image, compared with what the image says.

A manifest is written against one image's user, working directory and start command (see its
`[contract]`). When the image changes upstream, or the user points the app at another image, a
container built from the manifest would crash-loop or write into the wrong place; this check
turns that into one line naming the field, before a container is created. Pure: it takes the
image's `docker image inspect` attributes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiui_tui.services.apps.errors import AppError
from aiui_tui.services.apps.manifest import AppManifest

_ROOT_USERS = ("", "root", "0", "0:0", "root:root")


@dataclass(frozen=True)
class ContractLine:
    field: str  # the manifest key, e.g. "contract.user"
    expected: Any
    actual: Any

    @property
    def ok(self) -> bool:
        return bool(_normal(self.field, self.expected) == _normal(self.field, self.actual))

    def describe(self) -> str:
        actual, expected = _show(self.field, self.actual), _show(self.field, self.expected)
        return f"{self.field}: image has {actual}, manifest expects {expected}"


def image_facts(attrs: dict[str, Any]) -> dict[str, Any]:
    """The fields of `docker image inspect` (Config.*) that a contract can name."""
    config = attrs.get("Config") or {}
    return {
        "user": config.get("User") or "",
        "workdir": config.get("WorkingDir") or "",
        "entrypoint": list(config.get("Entrypoint") or []),
        "cmd": list(config.get("Cmd") or []),
        "exposed_ports": sorted(config.get("ExposedPorts") or {}),
    }


def compare(manifest: AppManifest, attrs: dict[str, Any]) -> list[ContractLine]:
    """One line per field the manifest's contract names, in the manifest's order."""
    facts = image_facts(attrs)
    wanted = manifest.contract.model_dump(exclude={"source"}, exclude_none=True)
    return [ContractLine(f"contract.{name}", value, facts[name]) for name, value in wanted.items()]


def check(manifest: AppManifest, image: str, attrs: dict[str, Any]) -> None:
    """Raise one AppError for the first field that differs; nothing when the image keeps its contract."""
    for line in compare(manifest, attrs):
        if not line.ok:
            raise AppError(
                f"{manifest.display_title}: the image {image} does not match its manifest ({line.describe()}).",
                f"the image changed upstream or is another one: pin a tag that matches "
                f"(apps.overrides.{manifest.name}.image), or update the manifest and its paths "
                f"(aiui-tui app doctor {manifest.name})",
            )


def _normal(field: str, value: Any) -> Any:
    if field == "contract.user":
        text = str(value or "")
        return "root" if text in _ROOT_USERS else text
    if field == "contract.workdir":
        return (str(value or "/").rstrip("/")) or "/"
    if field == "contract.exposed_ports":
        return sorted(value or [])
    return list(value or [])


def _show(field: str, value: Any) -> str:
    if isinstance(value, list):
        return "[" + ", ".join(repr(v) for v in value) + "]" if value else "none"
    if not value:
        return {"contract.user": "'' (root)", "contract.workdir": "'' (/)"}.get(field, "''")
    return repr(value)
