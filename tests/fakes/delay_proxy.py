"""A real local HTTP proxy that can be told to be slow (stdlib only: both envs import it).

Put it between two real processes (e.g. `BILLING_URL` of the action server →
proxy → the real billing service) to make one hop slow for real, without
touching either side: `delay` seconds are slept before each request is
forwarded. `set_upstream()` may be called after start, so the proxy can be
started before the stack that owns the upstream's port.
"""

from __future__ import annotations

import http.client
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, List, Optional, Tuple

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade",
               "proxy-authorization", "proxy-authenticate", "host", "content-length"}


class DelayingProxy:
    """Forwards every request to `upstream` (`host:port`) after sleeping `delay` seconds."""

    def __init__(self, upstream: Optional[Tuple[str, int]] = None) -> None:
        self.upstream = upstream
        self.delay = 0.0
        self.lock = threading.Lock()
        self.forwarded: List[Tuple[str, str, float]] = []  # (method, path, delay applied)
        self._server: Optional[ThreadingHTTPServer] = None

    def start(self) -> "DelayingProxy":
        proxy = self

        class Handler(_ProxyHandler):
            owner = proxy

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("proxy is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def set_upstream(self, host: str, port: int) -> None:
        with self.lock:
            self.upstream = (host, port)

    def set_delay(self, seconds: float) -> None:
        with self.lock:
            self.delay = seconds

    def delayed_requests(self) -> List[Tuple[str, str, float]]:
        with self.lock:
            return [entry for entry in self.forwarded if entry[2] > 0]


class _ProxyHandler(BaseHTTPRequestHandler):
    owner: DelayingProxy
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        return

    def _forward(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        with self.owner.lock:
            upstream, delay = self.owner.upstream, self.owner.delay
            self.owner.forwarded.append((self.command, self.path, delay))
        if delay:
            time.sleep(delay)
        if upstream is None:
            self._send(502, b'{"detail": "proxy has no upstream"}', "application/json")
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        connection = http.client.HTTPConnection(*upstream, timeout=30)
        try:
            connection.request(self.command, self.path, body=body, headers=headers)
            answer = connection.getresponse()
            data = answer.read()
            self._send(answer.status, data, answer.getheader("Content-Type") or "application/octet-stream")
        except OSError:
            self._send(502, b'{"detail": "upstream unreachable"}', "application/json")
        finally:
            connection.close()

    def _send(self, status: int, data: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = _forward
    do_POST = _forward
    do_PUT = _forward
    do_PATCH = _forward
    do_DELETE = _forward
