"""Production settings serve real pages: hashed static files from the manifest, by WhiteNoise."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT, clean_environment

PAGES = ["/accounts/login/", "/logs/", "/healthz", "/robots.txt"]

FETCH = """
import json, os, re, sys
os.environ['DJANGO_SETTINGS_MODULE'] = 'appliance.settings'
import django
django.setup()
from django.test import Client
client = Client(HTTP_HOST='dns.example.org')
found = {}
for path in sys.argv[1:]:
    response = client.get(path, secure=True)
    body = b''.join(response.streaming_content) if response.streaming else response.content
    found[path] = response.status_code
    for asset in re.findall(rb'(?:href|src)="(/static/[^"]+)"', body):
        asset = asset.decode()
        served = client.get(asset, secure=True)
        found[asset] = served.status_code
print(json.dumps(found))
"""


def run(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def test_pages_and_their_hashed_static_files_are_served_with_debug_off(tmp_path):
    env = clean_environment(
        {
            "SECRET_KEY": "a-production-key-" + "q7Z" * 20,
            "ALLOWED_HOSTS": "dns.example.org",
            "APPLIANCE_VAR_DIR": str(tmp_path),
        }
    )
    run(env, "manage.py", "migrate", "--noinput")
    run(env, "manage.py", "collectstatic", "--noinput", "--verbosity", "0")
    assert (tmp_path / "staticfiles" / "staticfiles.json").exists()
    found = json.loads(run(env, "-c", FETCH, *PAGES))
    assert {path: found[path] for path in PAGES} == {path: 200 for path in PAGES}
    assets = {path: status for path, status in found.items() if path.startswith("/static/")}
    assert any(path.endswith(".css") for path in assets), found
    # Manifest names carry a content hash, so a cached old file is never served for a new one.
    assert all(len(path.rsplit(".", 2)) == 3 for path in assets), assets
    assert set(assets.values()) == {200}, assets
