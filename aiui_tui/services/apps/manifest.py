"""App manifests: an app is data (one TOML file), validated with errors that name file, line and key.

Built-ins ship in `aiui_tui/data/apps/`; a user's `<root>/config/apps/NAME.toml` adds an app or
replaces a built-in of the same name; plugins add folders of their own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from aiui_tui.core.errors import AiuiError, ConfigError
from aiui_tui.kinds import kind_names
from aiui_tui.schema import InvalidSettings, Section, model_check, validator
from aiui_tui.schema import field as Field
from aiui_tui.tomlcompat import tomllib
from aiui_tui.tomledit import parse_document, read_text, validation_error

NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,39}$")
PROFILES = ("low", "normal", "high", "cpu")


class _Strict(Section, frozen=True):
    """Unknown keys refused, frozen; checked without pydantic unless a value needs it (aiui_tui.schema)."""


class Ready(_Strict):
    http_path: str = "/"
    timeout_s: float = Field(600, gt=0, le=7200)

    @validator("http_path")
    def _path(v: str) -> str:
        if not v.startswith("/"):
            raise ValueError("must start with /")
        return v


class ModelPathsFile(_Strict):
    """A file aiui-tui writes before each start telling the UI where the library's folders are mounted."""

    format: Literal["comfyui"]  # ComfyUI's extra_model_paths.yaml (the app's args name it)
    file: str  # relative to the app's config folder; `{model_paths}` in args/env is its container path

    @validator("file")
    def _inside(v: str) -> str:
        return _relative(v)


class Mounts(_Strict):
    models: dict[str, str] = {}  # library kind -> path in the container
    outputs: str | None = None  # <root>/outputs/<name>
    config: str | None = None  # <root>/config/<name>: the app's own files (settings, caches, its code copy)
    # Subfolders of the app's config folder mounted at further places, e.g. where an image's
    # entrypoint copies its own files at start ("models" = "/content/app/models" for Fooocus).
    config_subdirs: dict[str, str] = {}
    models_read_only: bool = False  # some UIs rewrite files they think are corrupt
    model_paths: ModelPathsFile | None = None

    @validator("config_subdirs")
    def _subdirs(v: dict[str, str]) -> dict[str, str]:
        for sub, path in v.items():
            _relative(sub)
            _absolute(path)
        return v

    @validator("models")
    def _kinds(v: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(v) - set(kind_names()))
        if unknown:
            raise ValueError(f"unknown model kind {unknown[0]!r}; known kinds: {', '.join(kind_names())}")
        for path in v.values():
            _absolute(path)
        return v

    @validator("outputs", "config")
    def _abs(v: str | None) -> str | None:
        return _absolute(v) if v is not None else v

    @model_check
    def _distinct(self) -> Mounts:
        seen: dict[str, str] = {}
        places = [
            *(("models." + k, p) for k, p in self.models.items()),
            ("outputs", self.outputs),
            ("config", self.config),
            *(("config_subdirs." + k, p) for k, p in self.config_subdirs.items()),
        ]
        for key, path in places:
            if path is None:
                continue
            normal = _normal(path)
            if normal == "/":
                raise ValueError(f"{key}: a container path cannot be / (it would hide the whole image)")
            if normal in seen:
                raise ValueError(f"{key} and {seen[normal]} are both mounted at {path}: give each its own path")
            seen[normal] = key
        if self.model_paths and not self.config:
            raise ValueError("model_paths needs a config mount (the file is written into the app's config folder)")
        return self


class Contract(_Strict):
    """What the image is expected to be, checked after a pull and before a container is created.

    An image that changed upstream (another user, working directory or entrypoint) would otherwise
    crash-loop or write elsewhere; a mismatch stops the start with one line naming the field.
    Only the fields given are checked. Values are as `docker image inspect` shows them (Config.*).
    """

    user: str | None = None  # Config.User: the user the image runs as ("" or "root": root)
    workdir: str | None = None  # Config.WorkingDir ("" means /)
    entrypoint: list[str] | None = None  # Config.Entrypoint ([] for none)
    cmd: list[str] | None = None  # Config.Cmd
    exposed_ports: list[str] | None = None  # keys of Config.ExposedPorts, e.g. ["8188/tcp"]
    source: str = ""  # which upstream file and commit the manifest follows (shown by `app doctor`)


class Choice(_Strict):
    """One value of a performance option and what it does to the container."""

    args: list[str] = []  # appended to the app's arguments (wherever args_to puts them)
    env: dict[str, str] = {}
    settings: dict[str, Any] = {}  # keys merged into `performance.settings_file` (JSON, in config/NAME/)
    help: str = ""


class PerfOption(_Strict):
    title: str
    help: str = ""
    default: str
    gpu_only: bool = False  # ignored in the cpu profile (whose own arguments decide)
    choices: dict[str, Choice]

    @validator("choices")
    def _some(v: dict[str, Choice]) -> dict[str, Choice]:
        if not v:
            raise ValueError("needs at least one choice")
        return v

    @model_check
    def _default_is_a_choice(self) -> None:
        if self.default not in self.choices:
            raise ValueError(f"default {self.default!r} is not one of the choices ({', '.join(self.choices)})")


class Performance(_Strict):
    """Tunables beyond the VRAM profile: attention backend, precision, model cache, as data."""

    settings_file: str | None = None  # e.g. "config.json": A1111 reads its checkpoint cache settings there
    options: dict[str, PerfOption] = {}

    @validator("settings_file")
    def _plain(v: str | None) -> str | None:
        if v is not None and ("/" in v or v.startswith(".")):
            raise ValueError("must be a plain file name in the app's config folder")
        return v


# The HTTP API an app speaks, for `aiui-tui bench` (txt2img requests).
APIS = ("a1111", "comfyui", "fooocus-api", "none")


ArgsTo = Literal["command", "image-command", "env"]


class AppManifest(_Strict):
    name: str
    title: str = ""
    description: str = ""
    image: str
    command: list[str] | None = None  # replaces the image's CMD (its ENTRYPOINT still runs); "{port}" etc.
    # The app's own arguments, followed by the VRAM profile's, the performance options' and the
    # user's extra_args. Where they go (`args_to`): "command" after `command` (the whole command when
    # there is none); "image-command" after the image's own CMD (read from the image); "env" into
    # the environment variable `args_env`, split by the image as `args_env_split` says.
    args: list[str] = []
    args_to: ArgsTo | None = None  # default: "command" when `command` is set, else "image-command"
    args_env: str | None = None
    args_env_split: Literal["shell", "whitespace"] = "whitespace"  # shlex-like, or plain $VAR field splitting
    workdir: str | None = None  # the container's working directory (the image's when unset)
    port: int = Field(ge=1, le=65535)
    host_port: int | None = Field(None, ge=1, le=65535)
    network: Literal["bridge", "host"] = "bridge"
    gpu: Literal["auto", "required", "none"] = "auto"
    run_as_user: bool = True  # run as the invoking uid:gid, so outputs are not root-owned
    env: dict[str, str] = {}
    ready: Ready = Ready()
    mounts: Mounts = Mounts()
    profiles: dict[str, list[str]] = {}
    performance: Performance = Performance()
    api: Literal["a1111", "comfyui", "fooocus-api", "none"] = "none"
    docs: str = ""  # a line on what the image needs (e.g. "runs as root: outputs are chowned")
    contract: Contract = Contract()

    @validator("workdir")
    def _workdir(v: str | None) -> str | None:
        return _absolute(v) if v is not None else v

    @model_check
    def _arguments(self) -> AppManifest:
        if self.args_to == "env" and not self.args_env:
            raise ValueError('args_to = "env" needs args_env, the variable the image reads its arguments from')
        if self.args_env and self.args_to not in ("env", None):
            raise ValueError(f'args_env is only used with args_to = "env" (args_to is {self.args_to!r})')
        return self

    @property
    def arguments_go_to(self) -> str:
        if self.args_to:
            return self.args_to
        if self.args_env:
            return "env"
        return "command" if self.command is not None else "image-command"

    @validator("name")
    def _name(v: str) -> str:
        if not NAME.match(v):
            raise ValueError("must be lowercase letters, digits and dashes (e.g. my-ui)")
        return v

    @validator("profiles")
    def _profiles(v: dict[str, list[str]]) -> dict[str, list[str]]:
        unknown = sorted(set(v) - set(PROFILES))
        if unknown:
            raise ValueError(f"unknown profile {unknown[0]!r}; profiles are {', '.join(PROFILES)}")
        return v

    @property
    def published_port(self) -> int:
        return self.host_port or self.port

    @property
    def display_title(self) -> str:
        return self.title or self.name


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


def _absolute(path: str) -> str:
    if not path.startswith("/"):
        raise ValueError(f"container paths must be absolute (got {path!r})")
    return path


def _relative(path: str) -> str:
    parts = path.split("/")
    if path.startswith("/") or not path or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"must be a plain relative path inside the app's config folder (got {path!r})")
    return path


def _normal(path: str) -> str:
    return "/" + "/".join(p for p in path.split("/") if p and p != ".")


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
    apps: dict[str, LoadedApp] = {}
    folder = resources.files("aiui_tui") / "data" / "apps"
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            path = Path(str(entry))
            apps[path.stem] = LoadedApp(parse_manifest(path, entry.read_text(encoding="utf-8")), "built-in")
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
