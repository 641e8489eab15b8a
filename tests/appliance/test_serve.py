"""What `make run` does, step by step on a fresh var/: the admin, the pages, Ctrl-C."""

from __future__ import annotations

import http.cookiejar
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from tests.conftest import ROOT, clean_environment
from tests.services import free_port

pytestmark = pytest.mark.integration


def manage(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return result.stdout


@pytest.fixture
def fresh_site(tmp_path) -> dict[str, str]:
    """make run's environment on an empty var/ (DEBUG on, SQLite, no Redis)."""
    env = clean_environment(
        {"DEBUG": "1", "APPLIANCE_VAR_DIR": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    )
    manage(env, "migrate", "--noinput")
    return env


def test_the_first_administrator_is_created_once_with_a_password_shown_once(fresh_site):
    first = manage(fresh_site, "ensureadmin")
    password = re.search(r"with password (\S+)", first)
    assert password is not None and "admin" in first
    assert manage(fresh_site, "ensureadmin") == ""  # a second run creates nothing


def test_admin_password_comes_from_the_environment_when_set(fresh_site):
    out = manage({**fresh_site, "ADMIN_PASSWORD": "s3cret-enough"}, "ensureadmin")
    assert "ADMIN_PASSWORD" in out and "s3cret-enough" not in out


class Browser:
    """Just enough of a browser for Django's login form: cookies and the CSRF token."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def get(self, path: str) -> tuple[int, str, str]:
        with self.opener.open(self.base + path, timeout=10) as response:
            return response.status, response.geturl(), response.read().decode()

    def log_in(self, username: str, password: str) -> tuple[int, str, str]:
        _, _, page = self.get("/accounts/login/")
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
        form = {"username": username, "password": password, "csrfmiddlewaretoken": token}
        data = urllib.parse.urlencode(form).encode()
        request = urllib.request.Request(
            self.base + "/accounts/login/", data, headers={"Referer": self.base + "/"}
        )
        with self.opener.open(request, timeout=10) as response:
            return response.status, response.geturl(), response.read().decode()


def wait_for_page(browser: Browser, process: subprocess.Popen, path: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert process.poll() is None, "serve exited"
        try:
            browser.get(path)
            return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    raise AssertionError("the web server did not come up")


def children_of(pid: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout
    return [int(line) for line in found.split()]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_serve_runs_the_site_and_every_worker_and_ctrl_c_stops_them_all(fresh_site):
    password = re.search(r"with password (\S+)", manage(fresh_site, "ensureadmin")).group(1)
    manage(fresh_site, "collectstatic", "--noinput", "--verbosity", "0")
    port = free_port()
    dns_port = free_port()
    env = {**fresh_site, "DNS_PORT": str(dns_port)}
    serve = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--port", str(port)], cwd=ROOT, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        browser = Browser(f"http://127.0.0.1:{port}")
        wait_for_page(browser, serve, "/healthz")
        status, url, page = browser.get("/")
        assert url.endswith("/accounts/login/?next=/") and 'name="password"' in page
        status, url, page = browser.log_in("admin", password)
        assert (status, url) == (200, f"http://127.0.0.1:{port}/") and "Log out" in page
        workers = children_of(serve.pid)
        assert len(workers) == 3  # daphne, rundns, runbot
    finally:
        serve.send_signal(signal.SIGINT)
        output = serve.communicate(timeout=30)[0]
    assert serve.returncode == 0, output
    assert "Stopped." in output
    assert not [pid for pid in workers if alive(pid)]
