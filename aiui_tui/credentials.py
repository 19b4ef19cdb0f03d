"""Tokens for the model sites: from the environment or `config/secrets.toml` (mode 0600).

Values are held as `SecretStr` (pydantic's interface), so a repr, a log line or a crash report shows
`**********`.
Every token loaded is registered with the log redactor.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from aiui_tui.core.errors import SecretsError
from aiui_tui.logs import register_secret
from aiui_tui.paths import Layout, invoking_ids
from aiui_tui.tomlcompat import tomllib
from aiui_tui.tomledit import chown_arg, file_status, parse_document, read_text, user_name, write_settings

# secrets.toml key -> environment variables that override it, first found wins.
ENV_NAMES = {
    "huggingface_token": ("HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"),
    "civitai_api_token": ("CIVITAI_API_TOKEN",),
}
_HEADER = """\
# aiui-tui secrets. Keep this file private (mode 0600); aiui-tui refuses it when others can read or change it.
# HF_TOKEN and CIVITAI_API_TOKEN in the environment take precedence over these values.
"""


class SecretStr:
    """A token that never shows itself: pydantic's `SecretStr` interface, without importing pydantic."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value

    def __str__(self) -> str:
        return "**********" if self._value else ""

    def __repr__(self) -> str:
        return f"SecretStr('{self}')"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SecretStr) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __len__(self) -> int:
        return len(self._value)


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
    st = file_status(path, SecretsError)
    if st is None:
        return {}
    check_private(path, st)
    text = read_text(path, error=SecretsError)
    try:
        data = tomllib.loads(text.removeprefix("\ufeff"))
    except (tomllib.TOMLDecodeError, ValueError, RecursionError):
        data = parse_document(path, text).unwrap()  # raises the error with line and column
    unknown = sorted(set(data) - set(ENV_NAMES))
    if unknown:
        raise SecretsError(f"{path}: unknown key {unknown[0]!r}.", f"use only {', '.join(ENV_NAMES)}")
    for key, value in data.items():
        if not isinstance(value, str):
            raise SecretsError(f"{path}: {key} must be a string in quotes.", f'write it as {key} = "..."')
    return {k: v for k, v in data.items() if v}


def check_private(path: Path, st: os.stat_result) -> None:
    """Refuse a secrets file (the link's target, for a link) that another user owns, reads or writes."""
    me = os.geteuid()
    if st.st_uid not in (me, invoking_ids()[0]):  # under sudo, the user behind it owns the file
        raise SecretsError(
            f"{path} belongs to {user_name(st.st_uid)}, not to you ({user_name(me)}): that user can read"
            " or replace the secrets in it.",
            f"check its contents, then take it: sudo chown {chown_arg(me)}: {path} && chmod 600 {path}",
        )
    exposed = _exposure(st.st_mode)
    if exposed:
        raise SecretsError(
            f"{path} {exposed} (mode {stat.filemode(st.st_mode)}); it holds secrets.",
            f"chmod 600 {path}",
        )


def _exposure(mode: int) -> str:
    """`can be read by other users`, `can be written by users outside your group`: what the mode allows."""
    audience = {(True, True): "other users", (True, False): "your group", (False, True): "users outside your group"}
    found: dict[str, list[str]] = {}
    for verb, group, others in (("read", stat.S_IRGRP, stat.S_IROTH), ("written", stat.S_IWGRP, stat.S_IWOTH)):
        who = audience.get((bool(mode & group), bool(mode & others)))
        if who:
            found.setdefault(who, []).append(verb)
    return " and ".join(f"can be {' and '.join(verbs)} by {who}" for who, verbs in found.items())


def save_secret(layout: Layout, key: str, value: str) -> None:
    """Store one token, creating the file 0600; other keys and comments stay.

    A secrets file that is a symbolic link stays one: its target is written (and checked first).
    """
    if key not in ENV_NAMES:
        raise SecretsError(f"Unknown secret {key!r}.", f"use one of {', '.join(ENV_NAMES)}")
    path = layout.secrets_file
    st = file_status(path, SecretsError)
    if st is not None:
        check_private(path, st)
        doc = parse_document(path, read_text(path, error=SecretsError))
    else:
        import tomlkit

        doc = tomlkit.parse(_HEADER)
    if value:
        doc[key] = value
        register_secret(value)
    elif key in doc:
        del doc[key]
    write_settings(path, doc.as_string(), mode=0o600 if st is None else None, error=SecretsError)
