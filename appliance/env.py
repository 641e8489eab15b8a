"""Typed readers for settings taken from the environment.

Each reader fails with ImproperlyConfigured naming the variable, so an operator
sees which setting is wrong instead of a traceback from deep inside Django.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool = False) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false, yes/no), not {raw!r}")


def env_int(name: str, default: int, minimum: int | None = None) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, not {raw!r}") from None
    if minimum is not None and value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}")
    return value


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return list(default or [])
    return [item.strip() for item in raw.split(",") if item.strip()]


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    """One of ``choices`` (compared case-insensitively, returned as spelled there)."""
    raw = env_str(name)
    if not raw:
        return default
    for choice in choices:
        if raw.lower() == choice.lower():
            return choice
    raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, not {raw!r}")


def env_origins(name: str) -> list[str]:
    """Comma-separated origins such as https://dns.example.org (Django requires the scheme)."""
    origins = env_list(name)
    for origin in origins:
        scheme, sep, host = origin.partition("://")
        if scheme not in ("http", "https") or not sep or not host or "/" in host:
            raise ImproperlyConfigured(
                f"{name} takes origins like https://dns.example.org, not {origin!r}"
            )
    return origins


def env_url(name: str, schemes: tuple[str, ...]) -> str:
    """Return the URL in ``name`` or "" when unset; reject other schemes."""
    raw = env_str(name)
    if raw and not raw.startswith(tuple(f"{scheme}://" for scheme in schemes)):
        allowed = ", ".join(f"{scheme}://" for scheme in schemes)
        raise ImproperlyConfigured(f"{name} must start with one of {allowed}, not {raw!r}")
    return raw


def secret_key(debug: bool, key_file: Path) -> str:
    """SECRET_KEY from the environment; in development, one generated once and kept.

    Production (DEBUG off) refuses to start without an explicit key, because a key
    written to disk by the application would be a key nobody chose to protect.
    """
    key = env_str("SECRET_KEY")
    if key:
        if not debug and len(key) < 50:
            raise ImproperlyConfigured("SECRET_KEY must be at least 50 characters in production")
        return key
    if not debug:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set; production (DEBUG off) refuses to start without one "
            "(for development set DEBUG=1, as the .env that `make run` writes does)"
        )
    if key_file.exists():
        return key_file.read_text().strip()
    key_file.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(50)
    key_file.write_text(key + "\n")
    key_file.chmod(0o600)
    return key


def load_env_file(path: Path) -> None:
    """Read KEY=VALUE lines from ``path`` into the environment, never overriding it.

    Lets an operator keep settings in a `.env` beside manage.py (see .env.example);
    variables set in the real environment win.
    """
    if not path.is_file():
        return
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.removeprefix("export ").partition("=")
        if not sep or not name.strip().isidentifier():
            raise ImproperlyConfigured(f"{path}:{number}: expected NAME=value, got {line!r}")
        os.environ.setdefault(name.strip(), value.strip().strip("'\""))


DEVELOPMENT_ENV = """\
# Written by the first `make run`: development settings for every manage.py command in this
# checkout (debug pages, plain HTTP, a key generated into var/). Production: see .env.example.
DEBUG=1
"""


def write_development_env(path: Path) -> bool:
    """Write a development ``.env`` unless one exists; say whether it was written.

    ``make run`` calls it, so that the README's other commands, run in a second terminal,
    get the same settings as the server instead of stopping on production's checks.
    """
    if path.exists():
        return False
    path.write_text(DEVELOPMENT_ENV)
    return True


if __name__ == "__main__":
    import sys

    target = Path(sys.argv[1] if len(sys.argv) > 1 else ".env")
    if write_development_env(target):
        print(f"Wrote {target} (DEBUG=1) for development; production settings: .env.example")
