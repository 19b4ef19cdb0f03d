"""Tokens for the model sites: from the environment or `config/secrets.toml` (mode 0600).

Values are held as pydantic `SecretStr`, so a repr, a log line or a crash report shows `**********`.
Every token loaded is registered with the log redactor.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass

import tomlkit
from pydantic import SecretStr

from aiui_tui.core.errors import SecretsError
from aiui_tui.logs import register_secret
from aiui_tui.paths import Layout
from aiui_tui.tomledit import atomic_write, parse_document

# secrets.toml key -> environment variables that override it, first found wins.
ENV_NAMES = {
    "huggingface_token": ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"),
    "civitai_api_token": ("CIVITAI_API_TOKEN",),
}
_HEADER = """\
# aiui-tui secrets. Keep this file private (mode 0600); aiui-tui refuses it when others can read it.
# HF_TOKEN and CIVITAI_API_TOKEN in the environment take precedence over these values.
"""


@dataclass(frozen=True)
class Credentials:
    huggingface_token: SecretStr | None = None
    civitai_api_token: SecretStr | None = None

    def present(self) -> dict[str, bool]:
        return {name: getattr(self, name) is not None for name in ENV_NAMES}


def load_credentials(layout: Layout, env: Mapping[str, str] | None = None) -> Credentials:
    env = os.environ if env is None else env
    from_file = _read_secrets_file(layout)
    values: dict[str, SecretStr | None] = {}
    for key, env_names in ENV_NAMES.items():
        value = next((env[n] for n in env_names if env.get(n)), None) or from_file.get(key)
        if value:
            register_secret(value)
        values[key] = SecretStr(value) if value else None
    return Credentials(**values)


def _read_secrets_file(layout: Layout) -> dict[str, str]:
    path = layout.secrets_file
    try:
        st = path.stat()
    except FileNotFoundError:
        return {}
    check_private(path, st.st_mode)
    doc = parse_document(path)
    data = doc.unwrap()
    unknown = sorted(set(data) - set(ENV_NAMES))
    if unknown:
        raise SecretsError(f"{path}: unknown key {unknown[0]!r}.", f"use only {', '.join(ENV_NAMES)}")
    for key, value in data.items():
        if not isinstance(value, str):
            raise SecretsError(f"{path}: {key} must be a string in quotes.", f'write it as {key} = "..."')
    return {k: v for k, v in data.items() if v}


def check_private(path, mode: int) -> None:
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretsError(
            f"{path} can be read by other users (mode {stat.filemode(mode)}); it holds your tokens.",
            f"chmod 600 {path}",
        )


def save_secret(layout: Layout, key: str, value: str) -> None:
    """Store one token, creating the file 0600; other keys and comments stay."""
    if key not in ENV_NAMES:
        raise SecretsError(f"Unknown secret {key!r}.", f"use one of {', '.join(ENV_NAMES)}")
    path = layout.secrets_file
    if path.exists():
        check_private(path, path.stat().st_mode)
        doc = parse_document(path)
    else:
        doc = tomlkit.parse(_HEADER)
    if value:
        doc[key] = value
        register_secret(value)
    elif key in doc:
        del doc[key]
    atomic_write(path, doc.as_string(), mode=0o600)
