"""Every command and request the README prints works as printed, in a second terminal.

The shell lines are read from README.md itself, so a README that drifts from the code
fails here. They run as an operator runs them after the first `make run`: beside a
development `.env` (written as `make run` writes it), with nothing else set. What is
changed: the interpreter's path, a free port for 5300 (other tests may hold it), and the
placeholders (`$TOKEN`, `42`, `…`, `...BIND text...`) filled with real values. Not run
here: `make run`/`make test` themselves (this is part of `make test`) and the production
block, which wants PostgreSQL and Redis (tests/services.py covers those).
"""

from __future__ import annotations

import re
import shlex
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from appliance.env import write_development_env
from dnsadmin.models import ApiToken
from tests.conftest import ROOT, clean_environment
from tests.dnsadmin.conftest import ZONE

README = (ROOT / "README.md").read_text()


def shell_lines(section: str) -> list[str]:
    """The lines of the ```sh blocks under the README heading ``section``."""
    start = README.index(f"\n{section}\n")
    end = README.find("\n## ", start + 1)
    text = README[start : end if end > 0 else None]
    blocks = re.findall(r"```sh\n(.*?)```", text, re.S)
    return [line for block in blocks for line in block.splitlines() if line.strip()]


def free_port() -> int:
    with socket.socket() as tcp, socket.socket(type=socket.SOCK_DGRAM) as udp:
        tcp.bind(("127.0.0.1", 0))
        port = tcp.getsockname()[1]
        udp.bind(("127.0.0.1", port))
        return port


class Terminal:
    """A second terminal in a checkout where `make run` ran once."""

    def __init__(self, home: Path) -> None:
        self.home = home
        assert write_development_env(home / ".env")
        self.env = clean_environment(
            {
                "APPLIANCE_ENV_FILE": str(home / ".env"),
                "APPLIANCE_VAR_DIR": str(home),
                # Loopback only: `dnssec checkds` finds no parent rather than asking the host's.
                "DNS_PARENT_RESOLVER": "127.0.0.1:9",
            }
        )
        self.env.pop("DJANGO_SETTINGS_MODULE", None)
        self.port = free_port()
        self.background: list[subprocess.Popen] = []

    def spelled(self, line: str) -> str:
        line = line.split("  #", 1)[0].strip()
        line = line.replace(".venv/bin/python manage.py", f"{sys.executable} {ROOT}/manage.py")
        return line.replace("5300", str(self.port))

    def run(self, line: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            self.spelled(line),
            shell=True,
            cwd=self.home,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def start(self, line: str) -> subprocess.Popen:
        process = subprocess.Popen(
            shlex.split(self.spelled(line)),
            cwd=self.home,
            env={**self.env, "PYTHONUNBUFFERED": "1"},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.background.append(process)
        return process

    def stop_all(self) -> list[int]:
        codes = []
        for process in self.background:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
            codes.append(process.wait(timeout=20))
            process.stderr.close()
        return codes


@pytest.fixture
def terminal(tmp_path):
    term = Terminal(tmp_path)
    assert term.run(".venv/bin/python manage.py migrate --noinput").returncode == 0
    yield term
    for process in term.background:
        if process.poll() is None:
            process.kill()


def wait_for_line(process: subprocess.Popen, pattern: str) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if re.search(pattern, line):
            return line
        if not line and process.poll() is not None:
            break
    raise AssertionError(f"no {pattern!r}: {process.stderr.read()}")


def test_the_dns_commands_work_as_printed(terminal):
    (terminal.home / "example.org.zone").write_text(ZONE)
    lines = shell_lines("## DNS")
    assert any("loadzone" in line for line in lines) and any("dig " in line for line in lines)
    assert any("dnssec enable" in line for line in lines)
    assert any("nsupdate -k" in line for line in lines)
    for line in lines:
        if " rundns " in line:
            wait_for_line(terminal.start(line), r"serving \d+ zones")
            continue
        result = terminal.run(line)
        assert result.returncode == 0, (line, result.stderr)
        if line.startswith("dig ") and " TXT " in line:  # the record nsupdate added
            assert result.stdout.strip() == '"token"', result.stdout
        elif line.startswith("dig "):
            assert "192.0.2.80" in result.stdout and "status: NOERROR" in result.stdout
        if " lookup " in line:
            assert "192.0.2.80" in result.stdout
    assert "www" in (terminal.home / "example.org.zone").read_text()
    assert terminal.stop_all() == [0]


def bot_started(home: Path) -> bool:
    with sqlite3.connect(home / "appliance.sqlite3") as db:
        query = "select count(*) from appliance_workerstatus where kind = 'bot'"
        return db.execute(query).fetchone()[0] > 0


def test_the_bot_commands_work_as_printed(terminal):
    lines = shell_lines("## The bot")
    assert any("plugin config dig" in line for line in lines)
    for line in lines:
        if line.endswith("manage.py runbot"):
            process = terminal.start(line)
            deadline = time.monotonic() + 60
            while not bot_started(terminal.home) and process.poll() is None:
                assert time.monotonic() < deadline, "runbot reported no heartbeat"
                time.sleep(0.2)
            continue
        result = terminal.run(line)
        assert result.returncode == 0, (line, result.stderr)
        assert "Traceback" not in result.stderr
    assert terminal.stop_all() == [0]


def test_a_missing_setting_is_one_line_not_a_traceback(tmp_path):
    env = clean_environment({"APPLIANCE_VAR_DIR": str(tmp_path)})
    env.pop("DJANGO_SETTINGS_MODULE", None)
    result = subprocess.run(
        [sys.executable, ROOT / "manage.py", "check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "manage.py: SECRET_KEY is not set; production (DEBUG off) refuses to start without one "
        "(for development set DEBUG=1, as the .env that `make run` writes does)"
    ]


def test_make_run_writes_a_development_env_once(tmp_path):
    target = tmp_path / ".env"
    assert write_development_env(target) and "DEBUG=1" in target.read_text().splitlines()
    target.write_text("DEBUG=0\n")
    assert not write_development_env(target) and target.read_text() == "DEBUG=0\n"
    makefile = (ROOT / "Makefile").read_text()
    run_recipe = makefile[makefile.index("\nrun:") + 1 :].split("\n\n", 1)[0]
    assert "-m appliance.env .env" in run_recipe.splitlines()[1]


# -- the JSON API, request by request ---------------------------------------------------------

CURL = re.compile(r"^curl (?P<args>.*)$")


def api_requests() -> list[tuple[str, str, str]]:
    """(method, path with query, body) of each curl line of the README's API section."""
    found = []
    for line in shell_lines("### JSON API"):
        if not (match := CURL.match(line)):
            continue
        words = shlex.split(match["args"].replace('"$H"', "HEADER"))
        method, data, url = "GET", "", ""
        for index, word in enumerate(words):
            if word == "-X":
                method = words[index + 1]
            elif word == "-d":
                data = words[index + 1]
            elif word.startswith("http://"):
                url = word
        found.append((method, url.removeprefix("http://127.0.0.1:8000"), data))
    return found


@pytest.mark.django_db
def test_every_api_request_in_the_readme_works(client, django_user_model):
    staff = django_user_model.objects.create_user("ops", is_staff=True)
    _, key = ApiToken.issue(staff, "readme")
    requests = api_requests()
    assert [method for method, _, _ in requests] == [
        "GET", "POST", "POST", "POST", "GET", "PATCH", "DELETE",
    ]  # fmt: skip
    auth = {"HTTP_AUTHORIZATION": f"Token {key}"}
    record = fingerprint = ""
    for method, path, data in requests:
        data = data.replace("...BIND text...", "mail IN A 192.0.2.25\\n")
        data = data.replace("…", fingerprint)
        path = path.replace("/records/42/", f"/records/{record}/").replace("…", fingerprint)
        response = client.generic(method, path, data, content_type="application/json", **auth)
        assert response.status_code < 300, (method, path, response.content)
        if method == "POST" and path.endswith("/records/"):
            (rrset,) = [r for r in response.json()["rrsets"] if r["owner"] == "www"]
            record, fingerprint = rrset["records"][0]["id"], rrset["fingerprint"]
        if method == "PATCH":  # as an operator would: GET the record for its RRset's print
            fingerprint = client.get(path, **auth).json()["fingerprint"]
