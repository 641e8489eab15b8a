"""Login throttling, write-only secrets, the Content-Security-Policy and private files."""

from __future__ import annotations

import stat

import pytest
from django.conf import settings

from botadmin.models import Channel, Network
from dnsadmin import updates
from tests.conftest import run_python

pytestmark = pytest.mark.django_db


def fail_to_sign_in(client, path: str, username: str, times: int):
    for _ in range(times):
        response = client.post(path, {"username": username, "password": "wrong"})
    return response


def test_repeated_failures_lock_the_user_name_out_even_with_the_right_password(
    client, django_user_model
):
    django_user_model.objects.create_user("alice", password="right")
    fail_to_sign_in(client, "/accounts/login/", "alice", settings.AXES_FAILURE_LIMIT)
    locked = client.post("/accounts/login/", {"username": "alice", "password": "right"})
    assert locked.status_code == 429 and "Too many failed sign-ins" in locked.content.decode()
    assert "_auth_user_id" not in client.session


def test_the_admin_login_is_throttled_too_and_staff_see_the_lockouts(
    client, staff_client, django_user_model
):
    from django.test import Client

    stranger = Client(REMOTE_ADDR="198.51.100.7")
    fail_to_sign_in(stranger, "/admin/login/", "nobody", settings.AXES_FAILURE_LIMIT)
    assert stranger.post("/admin/login/", {"username": "x", "password": "y"}).status_code == 429
    django_user_model.objects.filter(username="staff").update(is_superuser=True)
    shown = staff_client.get("/admin/axes/accessattempt/").content.decode()
    assert "198.51.100.7" in shown and "nobody" in shown


def test_a_good_sign_in_is_not_throttled(client, django_user_model):
    django_user_model.objects.create_user("bob", password="right")
    fail_to_sign_in(client, "/accounts/login/", "bob", settings.AXES_FAILURE_LIMIT - 1)
    assert (
        client.post("/accounts/login/", {"username": "bob", "password": "right"}).status_code == 302
    )


def test_the_sasl_password_and_channel_key_are_write_only(staff_client, django_user_model):
    django_user_model.objects.filter(username="staff").update(is_superuser=True)
    network = Network.objects.create(
        name="libera", host="irc.example.org", sasl_password="s3cret-pw"
    )
    channel = Channel.objects.create(network=network, name="#ops", key="chan-k3y")
    pages = [
        f"/bot/networks/{network.pk}/",
        f"/bot/channels/{channel.pk}/",
        f"/admin/botadmin/network/{network.pk}/change/",
        f"/admin/botadmin/channel/{channel.pk}/change/",
    ]
    for path in pages:
        page = staff_client.get(path)
        assert page.status_code == 200, path
        assert "s3cret-pw" not in page.content.decode() and "chan-k3y" not in page.content.decode()
    form = {"name": "#ops", "network": network.pk, "public": "on", "logged": "on", "enabled": "on"}
    form |= {"key": "", "retention_days": "", "entry_notice": ""}
    staff_client.post(f"/admin/botadmin/channel/{channel.pk}/change/", form)
    channel.refresh_from_db()
    assert channel.key == "chan-k3y"  # empty keeps it
    staff_client.post(f"/admin/botadmin/channel/{channel.pk}/change/", {**form, "clear_key": "on"})
    channel.refresh_from_db()
    assert channel.key == ""


def test_the_admin_never_shows_sealed_secrets(rf, django_user_model):
    from django.contrib import admin

    request = rf.get("/admin/")
    request.user = django_user_model.objects.create_user("root", is_staff=True, is_superuser=True)
    sealed = {"sealed_secret", "private_sealed", "key_hash"}
    for model, model_admin in admin.site._registry.items():
        shown = set(model_admin.get_fields(request)) | set(model_admin.get_list_display(request))
        assert not shown & sealed, model.__name__
    key, clause = updates.add_key("acme")
    assert "secret" not in str(key) and clause.split('secret "')[1].split('"')[0] not in str(key)


@pytest.mark.parametrize("path", ["/", "/accounts/login/", "/logs/", "/dns/zones/", "/admin/"])
def test_every_page_has_a_content_security_policy_without_inline_script(staff_client, path):
    response = staff_client.get(path)
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy


def test_no_template_has_inline_script_or_style():
    import re
    from pathlib import Path

    for template in (Path(settings.BASE_DIR) / "templates").rglob("*.html"):
        text = template.read_text()
        for script in re.findall(r"<script\b[^>]*>", text):
            assert "src=" in script, f"{template}: inline script"
        assert not re.search(r"\sstyle=|\son[a-z]+=", text), f"{template}: inline style or handler"


def test_var_and_the_sqlite_file_are_the_owners_only(tmp_path):
    var = tmp_path / "var"
    code = (
        "import django; django.setup();"
        "from django.db import connection; connection.ensure_connection()"
    )
    result = run_python(
        code,
        {
            "DEBUG": "1",
            "APPLIANCE_VAR_DIR": str(var),
            "DJANGO_SETTINGS_MODULE": "appliance.settings",
        },
    )
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(var.stat().st_mode) == 0o700
    database = var / "appliance.sqlite3"
    assert stat.S_IMODE(database.stat().st_mode) & 0o077 == 0
