"""Secrets at rest: TSIG secrets and DNSSEC private keys are sealed before they reach the database.

They are encrypted (Fernet: AES-128-CBC with HMAC-SHA256, from ``cryptography``) with a key kept
outside the database, so a copy of the database alone reveals none of them. The key is the
``APPLIANCE_SECRETS_KEY`` variable when set, else the file ``SECRETS_KEY_FILE`` (default
``var/secrets.key``), created on first use readable by its owner only. Back that file up apart
from the database: without it the sealed secrets cannot be read back.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class SealedSecretError(ValueError):
    """A sealed secret that the current key cannot open (another key, or damaged data)."""


def seal(secret: bytes) -> str:
    """Encrypt ``secret`` for storage; return text safe for a CharField."""
    return _fernet().encrypt(secret).decode("ascii")


def unseal(sealed: str) -> bytes:
    """Decrypt what ``seal`` returned; raise SealedSecretError if the key does not fit."""
    try:
        return _fernet().decrypt(sealed.encode("ascii"))
    except (InvalidToken, ValueError):
        raise SealedSecretError(
            "This secret was sealed with another key: check APPLIANCE_SECRETS_KEY or "
            "SECRETS_KEY_FILE."
        ) from None


@functools.cache
def _fernet() -> Fernet:
    key = os.environ.get("APPLIANCE_SECRETS_KEY", "").strip() or _key_from_file(
        Path(settings.SECRETS_KEY_FILE)
    )
    try:
        return Fernet(key)
    except ValueError:
        raise ImproperlyConfigured(
            "APPLIANCE_SECRETS_KEY (or the secrets key file) must be a Fernet key: "
            "32 url-safe base64-encoded bytes"
        ) from None


def _key_from_file(path: Path) -> str:
    """Read the key file, creating it (mode 0600) with a new key the first time."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    key = Fernet.generate_key()
    with os.fdopen(fd, "wb") as out:
        out.write(key + b"\n")
    return key.decode("ascii")
