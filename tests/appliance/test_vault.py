"""Secrets at rest are sealed with a key kept outside the database."""

from __future__ import annotations

import stat

import pytest
from cryptography.fernet import Fernet

from appliance import vault


@pytest.fixture
def key_file(settings, tmp_path, monkeypatch):
    monkeypatch.delenv("APPLIANCE_SECRETS_KEY", raising=False)
    settings.SECRETS_KEY_FILE = tmp_path / "var" / "secrets.key"
    vault._fernet.cache_clear()
    yield settings.SECRETS_KEY_FILE
    vault._fernet.cache_clear()


def test_a_secret_comes_back_and_is_not_stored_in_the_clear(key_file):
    sealed = vault.seal(b"tsig secret")
    assert b"tsig secret" not in sealed.encode() and vault.unseal(sealed) == b"tsig secret"


def test_the_key_file_is_made_once_readable_by_its_owner_only(key_file):
    vault.seal(b"x")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    key = key_file.read_text()
    vault._fernet.cache_clear()
    vault.seal(b"y")
    assert key_file.read_text() == key


def test_another_key_cannot_open_it(key_file, monkeypatch):
    sealed = vault.seal(b"private key")
    monkeypatch.setenv("APPLIANCE_SECRETS_KEY", Fernet.generate_key().decode())
    vault._fernet.cache_clear()
    with pytest.raises(vault.SealedSecretError, match="another key"):
        vault.unseal(sealed)
