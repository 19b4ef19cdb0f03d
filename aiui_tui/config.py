"""`config/aiui.toml`: the schema, loading with clear errors, and edits that keep comments.

The user's file is never overwritten or repaired silently: a bad file is reported (file, line,
key) and left as it is. Programmatic edits go through `set_values`, which validates the result
before writing it atomically.
"""

from __future__ import annotations

import ipaddress
import os
import pkgutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from aiui_tui.core.errors import ConfigError
from aiui_tui.paths import Layout
from aiui_tui.schema import InvalidSettings, Section, validator
from aiui_tui.schema import field as Field
from aiui_tui.tomlcompat import tomllib
from aiui_tui.tomledit import (
    atomic_write,
    parse_cli_value,
    parse_document,
    read_text,
    set_in_document,
    validation_error,
    write_settings,
)

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
Profile = Literal["auto", "low", "normal", "high", "cpu"]
HF_ENDPOINT_ENV = "HF_ENDPOINT"


class General(Section):
    log_level: LogLevel = "INFO"
    theme: str = "textual-dark"

    @validator("log_level", mode="before")
    def _upper(v: Any) -> Any:
        return v.upper() if isinstance(v, str) else v


class Network(Section):
    bind_address: str = "127.0.0.1"
    proxy: str = ""
    check_timeout_s: float = Field(3.0, gt=0, le=60)

    @validator("bind_address")
    def _ip(v: str) -> str:
        ipaddress.ip_address(v)  # raises ValueError with a clear message
        return v

    @validator("proxy")
    def _proxy(v: str) -> str:
        if v and not v.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https:// (or be empty)")
        return v

    @property
    def exposed(self) -> bool:
        """True when apps would listen beyond this machine."""
        return not ipaddress.ip_address(self.bind_address).is_loopback


class Docker(Section):
    host: str = ""
    timeout_s: int = Field(60, gt=0, le=3600)

    @validator("host")
    def _scheme(v: str) -> str:
        if v and not v.startswith(("unix://", "tcp://", "ssh://", "http://", "https://", "npipe://")):
            raise ValueError("must start with unix://, tcp://, ssh:// or https:// (or be empty)")
        return v


class AppOverride(Section):
    image: str | None = None
    host_port: int | None = Field(None, ge=1, le=65535)
    profile: Profile | None = None
    extra_args: list[str] = []
    # "host" where Docker has no bridge network (rootless, --bridge=none); the UI then listens on bind_address.
    network: Literal["bridge", "host"] | None = None
    options: dict[str, str] = {}  # performance options by name (see `aiui-tui app options NAME`)


class Apps(Section):
    enabled: list[str] = ["fooocus", "automatic1111", "comfyui"]
    profile: Profile = "auto"
    overrides: dict[str, AppOverride] = {}


class Downloads(Section):
    concurrent: int = Field(2, ge=1, le=16)
    connections: int = Field(4, ge=1, le=16)
    segment_threshold_mib: int = Field(64, ge=1)
    retries: int = Field(1, ge=0, le=20)
    retry_backoff_s: float = Field(1.0, ge=0, le=60)
    free_space_margin_mib: int = Field(1024, ge=0)


class Sources(Section):
    huggingface_url: str = "https://huggingface.co"
    civitai_url: str = "https://civitai.com"

    @validator("huggingface_url", "civitai_url")
    def _http(v: str) -> str:
        if not v.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return v.rstrip("/")


class Library(Section):
    hash_workers: int = Field(2, ge=1, le=32)
    other_ui_paths: list[str] = []


class Monitor(Section):
    interval_s: float = Field(1.0, ge=0.1, le=60)


class Config(Section):
    general: General = General()
    network: Network = Network()
    docker: Docker = Docker()
    apps: Apps = Apps()
    downloads: Downloads = Downloads()
    sources: Sources = Sources()
    library: Library = Library()
    monitor: Monitor = Monitor()


def default_config_text() -> str:
    data = pkgutil.get_data("aiui_tui.data", "aiui.default.toml")  # lighter to import than importlib.resources
    assert data is not None, "the package's data folder has no loader"
    return data.decode("utf-8")


def write_default_config(layout: Layout) -> bool:
    """Write the commented default file if there is none; True when written."""
    if layout.config_file.exists() or layout.config_file.is_symlink():
        return False
    atomic_write(layout.config_file, default_config_text(), mode=0o644)
    return True


def load_config(layout: Layout, env: Mapping[str, str] | None = None) -> Config:
    """Load and validate `config/aiui.toml` (defaults when there is no file and no link there).

    Whatever is there is read like any settings file (`read_text`): a dangling link, a loop, a
    folder, a pipe, a file over 1 MiB or not UTF-8 is one ConfigError, never silent defaults.
    """
    env = os.environ if env is None else env
    path = layout.config_file
    if not os.path.lexists(path):
        config = Config()
    else:
        config = _validate(path, read_text(path))
    if env.get(HF_ENDPOINT_ENV):
        config.sources.huggingface_url = env[HF_ENDPOINT_ENV].rstrip("/")
    return config


def _validate(path: Path, text: str) -> Config:
    """tomllib reads the file (fast); tomlkit only when tomllib refuses it, for its error's words."""
    text = text.removeprefix("\ufeff")  # as parse_document does
    try:
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, ValueError, RecursionError):
        doc = parse_document(path, text)  # raises the ConfigError with line and column
        text = doc.as_string()
        data = doc.unwrap()
    try:
        return Config.model_validate(data)
    except InvalidSettings as exc:
        raise validation_error(path, text, exc) from None


def get_value(config: Config, dotted_key: str) -> Any:
    node: Any = config
    for part in dotted_key.split("."):
        if isinstance(node, Section) and part in type(node).model_fields:
            node = getattr(node, part)
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise ConfigError(f"Unknown setting: {dotted_key}.", "run `aiui-tui config show` to list the keys")
    return node.model_dump() if isinstance(node, Section) else node


def set_values(layout: Layout, values: Mapping[str, Any]) -> Config:
    """Set dotted keys in the user's file, keeping its comments; validated before anything is written.

    String values given as `raw` CLI text should go through `parse_cli_value` first. A file that
    is a symbolic link stays one: its target is written.
    """
    path = layout.config_file
    write_default_config(layout)
    doc = parse_document(path)
    for key, value in values.items():
        set_in_document(doc, key.split("."), value)
    text = doc.as_string()
    try:
        config = Config.model_validate(doc.unwrap())
    except InvalidSettings as exc:
        raise validation_error(path, text, exc) from None
    write_settings(path, text)
    return config


def set_from_cli(layout: Layout, key: str, raw: str) -> Config:
    return set_values(layout, {key: parse_cli_value(raw)})
