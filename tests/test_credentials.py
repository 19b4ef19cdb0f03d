"""Tokens: environment over file, the file private (0600) or refused."""

from __future__ import annotations

import os

import pytest

from aiui_tui.core.errors import SecretsError
from aiui_tui.credentials import load_credentials, save_secret
from aiui_tui.logs import REDACTED, redact_text
from aiui_tui.tomledit import chown_arg


def test_no_tokens_anywhere(layout):
    creds = load_credentials(layout, env={})
    assert creds.present() == {"huggingface_token": False, "civitai_api_token": False}


def test_saved_file_is_0600_and_keeps_comments(layout):
    save_secret(layout, "huggingface_token", "hf_filetoken0000000001")
    assert layout.secrets_file.stat().st_mode & 0o777 == 0o600
    layout.secrets_file.write_text(layout.secrets_file.read_text() + "# my note\n")
    save_secret(layout, "civitai_api_token", "civitai-key-123456")
    text = layout.secrets_file.read_text()
    assert "# my note" in text and "hf_filetoken0000000001" in text
    creds = load_credentials(layout, env={})
    assert creds.huggingface_token.get_secret_value() == "hf_filetoken0000000001"
    assert creds.civitai_api_token.get_secret_value() == "civitai-key-123456"
    save_secret(layout, "civitai_api_token", "")
    assert load_credentials(layout, env={}).civitai_api_token is None


def test_environment_wins_over_file(layout):
    save_secret(layout, "huggingface_token", "hf_filetoken0000000001")
    creds = load_credentials(layout, env={"HF_TOKEN": "hf_envtoken00000000002", "CIVITAI_API_TOKEN": "ck-env-999"})
    assert creds.huggingface_token.get_secret_value() == "hf_envtoken00000000002"
    assert creds.civitai_api_token.get_secret_value() == "ck-env-999"


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604])
def test_file_readable_by_others_is_refused(layout, mode):
    layout.secrets_file.write_text('huggingface_token = "hf_x0000000000000"\n')
    layout.secrets_file.chmod(mode)
    with pytest.raises(SecretsError) as err:
        load_credentials(layout, env={})
    assert str(layout.secrets_file) in err.value.message and err.value.fix == f"chmod 600 {layout.secrets_file}"
    assert err.value.exit_code == 2
    assert layout.secrets_file.stat().st_mode & 0o777 == mode  # not "repaired" silently


def test_unknown_key_and_wrong_type_are_refused(layout):
    layout.secrets_file.write_text('hf_token = "x"\n')
    layout.secrets_file.chmod(0o600)
    with pytest.raises(SecretsError, match="unknown key 'hf_token'"):
        load_credentials(layout, env={})
    layout.secrets_file.write_text("huggingface_token = 12\n")
    with pytest.raises(SecretsError, match="must be a string"):
        load_credentials(layout, env={})


def test_tokens_never_show_in_reprs_or_logs(layout):
    creds = load_credentials(layout, env={"CIVITAI_API_TOKEN": "plain-civitai-key-77"})
    assert "plain-civitai-key-77" not in repr(creds)
    # Registered with the redactor: it disappears from any text logged later.
    assert redact_text("GET /x?foo=plain-civitai-key-77") == f"GET /x?foo={REDACTED}"


def test_file_owned_by_another_user_is_refused_unless_sudo_acts_for_them(layout, monkeypatch):
    monkeypatch.delenv("SUDO_UID", raising=False)
    layout.secrets_file.write_text('huggingface_token = "hf_planted00000000000"\n')
    layout.secrets_file.chmod(0o600)
    os.chown(layout.secrets_file, 4321, 4321)
    with pytest.raises(SecretsError) as err:
        load_credentials(layout, env={})
    assert "belongs to uid 4321" in err.value.message and "can read or replace the secrets in it" in err.value.message
    assert f"sudo chown {chown_arg(os.geteuid())}: {layout.secrets_file}" in err.value.fix
    with pytest.raises(SecretsError, match="belongs to uid 4321"):
        save_secret(layout, "civitai_api_token", "ck-1234567890")
    # `sudo aiui-tui ...` run by uid 4321: their file, and it stays theirs after an edit.
    monkeypatch.setenv("SUDO_UID", "4321")
    monkeypatch.setenv("SUDO_GID", "4321")
    assert load_credentials(layout, env={}).huggingface_token.get_secret_value() == "hf_planted00000000000"
    if os.geteuid() == 0:
        save_secret(layout, "civitai_api_token", "ck-1234567890")
        st = layout.secrets_file.stat()
        assert (st.st_uid, st.st_gid, st.st_mode & 0o777) == (4321, 4321, 0o600)


def test_execute_bits_expose_nothing(layout):
    layout.secrets_file.write_text('huggingface_token = "hf_x0000000000000"\n')
    layout.secrets_file.chmod(0o711)
    assert load_credentials(layout, env={}).huggingface_token is not None


def test_secrets_link_loop_and_dangling_link_are_errors(layout):
    layout.secrets_file.symlink_to(layout.secrets_file)
    with pytest.raises(SecretsError, match="loop of symbolic links"):
        load_credentials(layout, env={})
    with pytest.raises(SecretsError, match="loop of symbolic links"):
        save_secret(layout, "huggingface_token", "hf_x0000000000000")
    layout.secrets_file.unlink()
    layout.secrets_file.symlink_to(layout.root / "nowhere.toml")
    with pytest.raises(SecretsError, match="which does not exist"):
        load_credentials(layout, env={})
    assert not (layout.root / "nowhere.toml").exists()
