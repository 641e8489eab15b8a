"""A small real HTTP server on 127.0.0.1 for the plugins that reach out to web services.

It answers each path with what the test set up: a recorded answer from ``recorded/``, any
body, an error status, or no answer at all (until the server stops). With an ETag or a
Last-Modified set it answers matching conditional requests with 304. Every request is kept,
headers included, so a test can see what the plugin asked.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

RECORDED = Path(__file__).parent / "recorded"
NOT_FOUND = b'{"message": "Not Found"}'


def recorded(name: str) -> Any:
    """Load a recorded answer, decoded (for tests that build variants of it)."""
    return json.loads((RECORDED / name).read_text())


@dataclass(frozen=True)
class Answer:
    body: bytes
    status: int = 200
    content_type: str = "application/json"
    etag: str | None = None
    last_modified: str | None = None
    stall: bool = False

    def unchanged_for(self, headers: dict[str, str]) -> bool:
        """Tell whether the request's validators match (If-None-Match wins, as RFC 9110 says)."""
        if "if-none-match" in headers:
            return self.etag is not None and self.etag in headers["if-none-match"]
        return self.last_modified is not None and headers.get("if-modified-since") == (
            self.last_modified
        )


@dataclass(frozen=True)
class Request:
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # names lower-cased


class HttpService:
    """The server; ``url`` is its base URL. Answers are set per path (the query is ignored)."""

    def __init__(self) -> None:
        self.answers: dict[str, Answer] = {}
        self.requests: list[Request] = []
        self.released = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False  # a stalled handler must not hold up the teardown
        self._server.service = self  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.released.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    # -- what to answer --------------------------------------------------------------------

    def serve(
        self,
        path: str,
        source: str | bytes | Any,
        status: int = 200,
        content_type: str = "application/json",
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> None:
        """Answer path with a recorded file (a str names one), raw bytes, or data as JSON."""
        if isinstance(source, str):
            body = (RECORDED / source).read_bytes()
        elif isinstance(source, bytes):
            body = source
        else:
            body = json.dumps(source).encode()
        self.answers[path] = Answer(body, status, content_type, etag, last_modified)

    def fail(self, path: str, status: int = 500) -> None:
        self.serve(path, b"<html><body>Internal Server Error</body></html>", status, "text/html")

    def stall(self, path: str) -> None:
        """Never answer path (until the server stops): slower than any plugin's timeout."""
        self.answers[path] = Answer(b"", stall=True)

    def asked(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]


@contextmanager
def running() -> Iterator[HttpService]:
    service = HttpService()
    service.start()
    try:
        yield service
    finally:
        service.stop()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real services do

    def do_GET(self) -> None:
        service: HttpService = self.server.service  # type: ignore[attr-defined]
        url = urlsplit(self.path)
        headers = {name.lower(): value for name, value in self.headers.items()}
        service.requests.append(Request(url.path, dict(parse_qsl(url.query)), headers))
        answer = service.answers.get(url.path, Answer(NOT_FOUND, 404))
        if answer.stall:
            service.released.wait()
            self.close_connection = True
            return
        if answer.unchanged_for(headers):
            self.send_response(304)
            self._validators(answer)
            self.end_headers()
            return
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        self._validators(answer)
        self.end_headers()
        self.wfile.write(answer.body)

    def _validators(self, answer: Answer) -> None:
        if answer.etag:
            self.send_header("ETag", answer.etag)
        if answer.last_modified:
            self.send_header("Last-Modified", answer.last_modified)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests look at ``requests`` instead."""
