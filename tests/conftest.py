"""Fixtures shared by the whole suite."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def run_python(
    code: str, env: dict[str, str] | None = None, **kwargs
) -> subprocess.CompletedProcess:
    """Run ``code`` in a fresh interpreter at the project root, with only ``env`` added."""
    base = {k: v for k, v in os.environ.items() if k not in STRIPPED_VARIABLES}
    base["APPLIANCE_ENV_FILE"] = os.devnull  # a developer's .env must not leak into tests
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**base, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
        **kwargs,
    )


# Settings read from the environment; removed so each test states what it sets.
STRIPPED_VARIABLES = {
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "CSRF_TRUSTED_ORIGINS",
    "DATABASE_URL",
    "REDIS_URL",
    "SECURE_SSL_REDIRECT",
    "SECURE_HSTS_SECONDS",
    "DJANGO_SETTINGS_MODULE",
    "APPLIANCE_VAR_DIR",
}


@pytest.fixture
def staff_client(client, django_user_model):
    user = django_user_model.objects.create_user("staff", password="pw", is_staff=True)
    client.force_login(user)
    client.user = user
    return client


@pytest.fixture
def user_client(client, django_user_model):
    """A signed-in user who is not staff, granted view on every zone (and no more)."""
    from dnsadmin.models import ZonePermission

    user = django_user_model.objects.create_user("viewer", password="pw")
    ZonePermission.objects.create(user=user, zone=None, level=ZonePermission.VIEW)
    client.force_login(user)
    client.user = user
    return client


@pytest.fixture
def worker_env(transactional_db, tmp_path) -> dict[str, str]:
    """Environment for a worker subprocess that shares the test database."""
    from django.conf import settings
    from django.db import connection

    env = {
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url(connection.settings_dict),
        "APPLIANCE_VAR_DIR": str(tmp_path),
        "PYTHONUNBUFFERED": "1",
    }
    if settings.REDIS_URL:
        env["REDIS_URL"] = settings.REDIS_URL
    return env


def clean_environment(extra: dict[str, str]) -> dict[str, str]:
    """This environment without the appliance's settings (nor a developer's .env), plus ``extra``."""
    base = {k: v for k, v in os.environ.items() if k not in STRIPPED_VARIABLES}
    return {**base, "APPLIANCE_ENV_FILE": os.devnull, **extra}


def database_url(settings: dict) -> str:
    """A DATABASE_URL naming the test database, for processes the tests start."""
    if settings["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{settings['NAME']}"
    user = settings.get("USER") or ""
    password = f":{settings['PASSWORD']}" if settings.get("PASSWORD") else ""
    host = f"{settings.get('HOST') or '127.0.0.1'}:{settings.get('PORT') or 5432}"
    return f"postgres://{user}{password}@{host}/{settings['NAME']}"
