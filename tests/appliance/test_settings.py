"""Settings come from the environment and fail clearly on bad values."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_python

PRINT_SETTINGS = """
import json, os
os.environ['DJANGO_SETTINGS_MODULE'] = 'appliance.settings'
from django.conf import settings
db = settings.DATABASES['default']
print(json.dumps({
    'debug': settings.DEBUG, 'engine': db['ENGINE'], 'name': str(db.get('NAME')),
    'options': db.get('OPTIONS', {}), 'layer': settings.CHANNEL_LAYERS['default']['BACKEND'],
    'hosts': settings.ALLOWED_HOSTS, 'key': settings.SECRET_KEY,
}))
"""


def settings_with(tmp_path, **env: str) -> dict:
    result = run_python(PRINT_SETTINGS, {"APPLIANCE_VAR_DIR": str(tmp_path), **env})
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def error_with(tmp_path, **env: str) -> str:
    result = run_python(PRINT_SETTINGS, {"APPLIANCE_VAR_DIR": str(tmp_path), **env})
    assert result.returncode != 0
    return result.stderr.strip().splitlines()[-1]


def test_the_default_is_sqlite_under_var_in_wal_mode_with_immediate_transactions(tmp_path):
    values = settings_with(tmp_path, DEBUG="1")
    assert values["engine"] == "django.db.backends.sqlite3"
    assert values["name"] == str(tmp_path / "appliance.sqlite3")
    assert values["options"]["transaction_mode"] == "IMMEDIATE"
    assert "journal_mode=WAL" in values["options"]["init_command"]
    assert values["options"]["timeout"] > 0
    assert values["layer"] == "channels.layers.InMemoryChannelLayer"


def test_debug_is_off_unless_asked_for(tmp_path):
    assert settings_with(tmp_path, SECRET_KEY="k" * 60)["debug"] is False


def test_development_generates_a_secret_key_once_and_keeps_it(tmp_path):
    first = settings_with(tmp_path, DEBUG="1")["key"]
    assert len(first) >= 50
    assert settings_with(tmp_path, DEBUG="1")["key"] == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_production_refuses_to_start_without_a_secret_key(tmp_path):
    message = error_with(tmp_path)
    assert "ImproperlyConfigured" in message and "SECRET_KEY" in message


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("DATABASE_URL", "nonsense://whatever"),
        ("DEBUG", "maybe"),
        ("REDIS_URL", "localhost:6379"),
        ("LOG_LEVEL", "LOUD"),
        ("CSRF_TRUSTED_ORIGINS", "dns.example.org"),
        ("RECONCILE_INTERVAL_MS", "soon"),
    ],
)
def test_a_bad_value_names_the_variable(tmp_path, variable, value):
    message = error_with(tmp_path, **{"DEBUG": "1", variable: value})
    assert "ImproperlyConfigured" in message and variable in message


def test_redis_url_switches_to_the_redis_channel_layer(tmp_path):
    values = settings_with(tmp_path, DEBUG="1", REDIS_URL="redis://127.0.0.1:6379/0")
    assert values["layer"] == "channels_redis.core.RedisChannelLayer"


def test_database_url_selects_postgresql(tmp_path):
    values = settings_with(tmp_path, DEBUG="1", DATABASE_URL="postgres://u:p@127.0.0.1:5432/db")
    assert values["engine"] == "django.db.backends.postgresql"
    assert values["options"]["pool"] is True


def test_allowed_hosts_is_a_comma_separated_list(tmp_path):
    values = settings_with(tmp_path, DEBUG="1", ALLOWED_HOSTS="dns.example.org, example.org")
    assert values["hosts"] == ["dns.example.org", "example.org"]


def test_an_env_file_is_read_but_the_environment_wins(tmp_path):
    env_file = tmp_path / "env"
    env_file.write_text("# settings\nDEBUG=1\nALLOWED_HOSTS=from-file.example\n")
    values = settings_with(tmp_path, APPLIANCE_ENV_FILE=str(env_file), ALLOWED_HOSTS="from-env")
    assert values["debug"] is True
    assert values["hosts"] == ["from-env"]


def test_check_deploy_is_clean_with_production_variables(tmp_path):
    production = {
        "SECRET_KEY": "a-production-key-" + "q7Z" * 20,
        "ALLOWED_HOSTS": "dns.example.org",
        "CSRF_TRUSTED_ORIGINS": "https://dns.example.org",
        "APPLIANCE_VAR_DIR": str(tmp_path),
    }
    code = (
        "import os, sys; os.environ['DJANGO_SETTINGS_MODULE'] = 'appliance.settings';"
        "from django.core.management import execute_from_command_line;"
        "execute_from_command_line(['manage.py', 'check', '--deploy', '--fail-level', 'DEBUG'])"
    )
    result = run_python(code, production)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "no issues" in result.stdout
