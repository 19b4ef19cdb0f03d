"""What an app manifest may say: the sections and fields of one TOML file, with their checks.

Loading (built-ins, the user's folder, plugins, GPU instances) is in manifest.py.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from aiui_tui.kinds import kind_names
from aiui_tui.schema import Section, model_check, validator
from aiui_tui.schema import field as Field

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
