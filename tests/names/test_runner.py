"""The standalone runner: python -m dnsadmin.names serve (benchmarks, manual testing)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import dns.exception
import dns.message
import dns.query
import dns.rcode
import pytest

from tests.conftest import ROOT
from tests.names.zones import EXAMPLE_COM, free_port

pytestmark = pytest.mark.integration


def ask_until_up(port: int, process: subprocess.Popen) -> dns.message.Message:
    query = dns.message.make_query("www.example.com.", "A")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        assert process.poll() is None, process.stderr.read()
        try:
            return dns.query.udp(query, "127.0.0.1", port=port, timeout=0.5)
        except dns.exception.Timeout:
            continue
    raise AssertionError("the runner never answered")


def test_the_runner_serves_zone_files_and_stops_on_sigterm(tmp_path):
    zone_file = tmp_path / "example.com.zone"
    zone_file.write_text(EXAMPLE_COM)
    port = free_port()
    command = [sys.executable, "-m", "dnsadmin.names", "serve", "--port", str(port)]
    command += ["--zone", f"example.com.={zone_file}"]
    process = subprocess.Popen(command, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    try:
        response = ask_until_up(port, process)
        assert response.rcode() == dns.rcode.NOERROR
        assert response.answer[0][0].to_text() == "192.0.2.10"
    finally:
        process.send_signal(signal.SIGTERM)
        _, log = process.communicate(timeout=15)
    assert process.returncode == 0
    assert "serving 1 zone(s)" in log
    assert "stopped" in log


def test_the_runner_rejects_a_malformed_zone_argument():
    command = [sys.executable, "-m", "dnsadmin.names", "serve", "--zone", "no-equals-sign"]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert "ORIGIN=FILE" in result.stderr
