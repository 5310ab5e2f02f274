"""A real local HTTP server that plays the WeChat API for tests (stdlib only: both envs import it).

Serves `/cgi-bin/token`, `/cgi-bin/stable_token`, `/cgi-bin/message/custom/send` and
`/cgi-bin/message/template/send` on 127.0.0.1 and a free port, records every request it
receives, and can be told to refuse tokens (40001/42001), refuse sends (45015, 45047,
45009, …, one queue for both message APIs) or be slow.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Deque, Dict, List, Optional
from urllib.parse import parse_qs, urlsplit


CUSTOM_SEND = "/cgi-bin/message/custom/send"
TEMPLATE_SEND = "/cgi-bin/message/template/send"
SEND_PATHS = (CUSTOM_SEND, TEMPLATE_SEND)


@dataclass
class Recorded:
    """One request as the fake received it."""

    method: str
    path: str
    query: Dict[str, str]
    body: Any


@dataclass
class FakeWeChatState:
    """What the fake knows and what it has been told to do (guarded by `lock`)."""

    appid: str
    secret: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    requests: List[Recorded] = field(default_factory=list)
    valid_tokens: set = field(default_factory=set)
    issued: int = 0
    template_msgids: int = 0
    send_errors: Deque[int] = field(default_factory=deque)
    send_delay: float = 0.0
    token_delay: float = 0.0
    expires_in: int = 7200


class FakeWeChat:
    """Start with `start()`, point `WECHAT_API_BASE` at `base_url`, `stop()` at the end."""

    def __init__(self, appid: str = "wxfakeappid0001", secret: str = "fake-secret") -> None:
        self.state = FakeWeChatState(appid, secret)
        self._server: Optional[ThreadingHTTPServer] = None
        self._thread: Optional[threading.Thread] = None

    # -- lifecycle --------------------------------------------------------------------

    def start(self) -> "FakeWeChat":
        state = self.state

        class Handler(_Handler):
            fake_state = state

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("fake WeChat is not running")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- scripting ----------------------------------------------------------------------

    def fail_next_sends(self, *errcodes: int) -> None:
        """The next sends answer these errcodes, one each, in order."""
        with self.state.lock:
            self.state.send_errors.extend(errcodes)

    def invalidate_tokens(self) -> None:
        """Every token issued so far becomes invalid (sends with it get 40001)."""
        with self.state.lock:
            self.state.valid_tokens.clear()

    def set_send_delay(self, seconds: float) -> None:
        with self.state.lock:
            self.state.send_delay = seconds

    def set_token_delay(self, seconds: float) -> None:
        with self.state.lock:
            self.state.token_delay = seconds

    # -- inspection -------------------------------------------------------------------

    def requests(self, path: Optional[str] = None) -> List[Recorded]:
        with self.state.lock:
            return [r for r in self.state.requests if path is None or r.path == path]

    def sends(self) -> List[Recorded]:
        return self.requests(CUSTOM_SEND)

    def delivered(self, path: str = CUSTOM_SEND) -> List[Dict[str, Any]]:
        """Bodies of the sends the fake accepted (errcode 0) on one message API."""
        with self.state.lock:
            return [r.body for r in self.state.requests if r.path == path and r.body.get("_accepted")]

    def delivered_templates(self) -> List[Dict[str, Any]]:
        return self.delivered(TEMPLATE_SEND)

    def delivered_any(self) -> List[Dict[str, Any]]:
        """Accepted bodies of both message APIs, in the order they arrived."""
        with self.state.lock:
            return [r.body for r in self.state.requests if r.path in SEND_PATHS and r.body.get("_accepted")]

    def token_fetches(self) -> List[Recorded]:
        return [r for r in self.requests() if r.path in ("/cgi-bin/token", "/cgi-bin/stable_token")]

    def wait_for_delivered(self, count: int, timeout: float = 10.0) -> List[Dict[str, Any]]:
        """Poll until at least `count` sends were accepted (background deliveries)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            delivered = self.delivered()
            if len(delivered) >= count:
                return delivered
            time.sleep(0.02)
        return self.delivered()


class _Handler(BaseHTTPRequestHandler):
    fake_state: FakeWeChatState
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        return

    def _reply(self, payload: Dict[str, Any], status: int = 200) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _read_json(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw.decode("utf-8")) if raw else {}
        except ValueError:
            return {"_unparsable": raw.decode("utf-8", "replace")}

    def _record(self, body: Any) -> Recorded:
        parts = urlsplit(self.path)
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        recorded = Recorded(self.command, parts.path, query, body)
        with self.fake_state.lock:
            self.fake_state.requests.append(recorded)
        return recorded

    def _issue_token(self, appid: str, secret: str) -> None:
        state = self.fake_state
        time.sleep(state.token_delay)
        if appid != state.appid or secret != state.secret:
            self._reply({"errcode": 40125, "errmsg": "invalid appsecret"})
            return
        with state.lock:
            state.issued += 1
            token = f"TOKEN-{state.issued}"
            state.valid_tokens.add(token)
        self._reply({"access_token": token, "expires_in": state.expires_in})

    def do_GET(self) -> None:
        recorded = self._record(None)
        if recorded.path == "/cgi-bin/token":
            self._issue_token(recorded.query.get("appid", ""), recorded.query.get("secret", ""))
        else:
            self._reply({"errcode": 404, "errmsg": "not found"}, status=404)

    def do_POST(self) -> None:
        body = self._read_json()
        recorded = self._record(body)
        state = self.fake_state
        if recorded.path == "/cgi-bin/stable_token":
            self._issue_token(str(body.get("appid", "")), str(body.get("secret", "")))
            return
        if recorded.path not in SEND_PATHS:
            self._reply({"errcode": 404, "errmsg": "not found"}, status=404)
            return
        time.sleep(state.send_delay)
        with state.lock:
            token_ok = recorded.query.get("access_token") in state.valid_tokens
            scripted = state.send_errors.popleft() if token_ok and state.send_errors else 0
        if not token_ok:
            self._reply({"errcode": 40001, "errmsg": "invalid credential, access_token is invalid"})
        elif scripted:
            if scripted in (40001, 42001):
                with state.lock:
                    state.valid_tokens.discard(recorded.query.get("access_token"))
            self._reply({"errcode": scripted, "errmsg": f"scripted error {scripted}"})
        else:
            with state.lock:
                body["_accepted"] = True
                state.template_msgids += 1
                msgid = state.template_msgids
            self._reply({"errcode": 0, "errmsg": "ok", "msgid": msgid} if recorded.path == TEMPLATE_SEND
                        else {"errcode": 0, "errmsg": "ok"})
