"""Security: every endpoint but login and health needs a live session; roles; secrets stay secret."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis
from fastapi.routing import APIRoute, iter_route_contexts
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import inspect, text

from console.deps import get_current_supervisor
from console.main import create_app
from console.security import SESSION_COOKIE
from console.settings import Settings
from console_helpers import ADMIN_PASSWORD, RASA_TOKEN, SESSION_SECRET, ConsoleServer, add_ticket

# Besides login and health: the redirect from /console to the static UI, the widget demo
# homepage (a public page of the company site), and the API documentation pages (no data; the
# schema is public like the docs in docs/console_api.md).
PUBLIC = {
    ("POST", "/api/login"), ("GET", "/health"), ("GET", "/console"), ("GET", "/console/"),
    ("GET", "/"), ("GET", "/index.html"),
    ("GET", "/docs"), ("GET", "/docs/oauth2-redirect"), ("GET", "/redoc"),
}
PATH_VALUES = {"ticket_no": "GD202502150001", "agent_id": "1", "message_id": "1", "campaign_id": "1", "reply_id": "1",
               "team_id": "1"}


def _api_routes() -> Iterator[tuple[str, str, Any]]:
    """Every (method, path) of the app, included routers flattened (FastAPI composes them lazily)."""
    app = create_app(Settings(), start_background=False)
    for context in iter_route_contexts(app.routes):
        if isinstance(context.original_route, APIRoute):
            for method in sorted(context.methods or ()):
                yield method, context.path, context


ROUTES = list(_api_routes())
PROTECTED = [(m, p, r) for m, p, r in ROUTES if (m, p) not in PUBLIC]


def _needs_supervisor(route: Any) -> bool:
    stack = list(route.dependant.dependencies)
    while stack:
        dependency = stack.pop()
        if dependency.call is get_current_supervisor:
            return True
        stack.extend(dependency.dependencies)
    return False


SUPERVISOR_ONLY = [(m, p) for m, p, r in PROTECTED if _needs_supervisor(r)]


def _url(path: str) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: PATH_VALUES[m.group(1)], path)


def _call(client: httpx.Client, method: str, path: str) -> httpx.Response:
    return client.request(method, _url(path), json={} if method in ("POST", "PUT", "PATCH") else None)


def test_the_route_table_is_what_we_expect() -> None:
    paths = {(m, p) for m, p, _r in ROUTES}
    assert len(PROTECTED) >= 20
    assert {("GET", "/api/agents"), ("POST", "/api/agents"), ("POST", "/api/agents/{agent_id}/deactivate"),
            ("GET", "/api/metrics/dashboard"), ("GET", "/api/metrics/export.csv")} <= set(SUPERVISOR_ONLY)
    assert ("GET", "/api/events") in paths and ("POST", "/api/tickets/{ticket_no}/claim") in paths


@pytest.mark.parametrize(("method", "path"), [(m, p) for m, p, _r in PROTECTED])
def test_anonymous_requests_are_refused(sqlite_server: ConsoleServer, method: str, path: str) -> None:
    with sqlite_server.client() as anonymous:
        response = _call(anonymous, method, path)
    assert response.status_code == 401, response.text
    assert "log in" in response.json()["detail"].lower()


def _forged_cookies(server: ConsoleServer) -> dict[str, str]:
    """Cookies that must not work: garbage, a wrong key, and a correctly signed one that is too old."""
    token = "t" * 43

    class OldSerializer(URLSafeTimedSerializer):
        def get_timestamp(self) -> int:
            return int(time.time()) - 13 * 3600  # older than the 12 h session lifetime

    return {
        "garbage": "not-a-cookie",
        "wrong_key": URLSafeTimedSerializer("another-secret", salt="heatdesk.console.session").dumps(token),
        "too_old": OldSerializer(SESSION_SECRET, salt="heatdesk.console.session").dumps(token),
        "unknown_token": URLSafeTimedSerializer(SESSION_SECRET, salt="heatdesk.console.session").dumps(token),
    }


def test_expired_forged_and_ended_sessions_are_refused_everywhere(sqlite_server: ConsoleServer) -> None:
    agent, info, _ = sqlite_server.new_agent()
    expired_cookie = agent.cookies.get(SESSION_COOKIE)
    assert agent.get("/api/me").status_code == 200
    with sqlite_server.engine.begin() as conn:
        conn.execute(text("UPDATE agent_sessions SET expires_at = :past WHERE agent_id = :id"),
                     {"past": "2020-01-01 00:00:00", "id": info["id"]})
    cookies = {"expired": expired_cookie, **_forged_cookies(sqlite_server)}
    logged_out, _, _ = sqlite_server.new_agent()
    logged_out_cookie = logged_out.cookies.get(SESSION_COOKIE)
    assert logged_out.post("/api/logout").status_code == 204
    cookies["logged_out"] = logged_out_cookie
    for name, cookie in cookies.items():
        with httpx.Client(base_url=sqlite_server.url, cookies={SESSION_COOKIE: cookie}) as client:
            for method, path, _route in PROTECTED:
                response = _call(client, method, path)
                assert response.status_code == 401, (name, method, path, response.text)


def test_agents_cannot_reach_supervisor_endpoints(sqlite_server: ConsoleServer) -> None:
    agent, _, _ = sqlite_server.new_agent()
    with agent:
        for method, path in SUPERVISOR_ONLY:
            response = _call(agent, method, path)
            assert response.status_code == 403, (method, path, response.text)
        assert agent.get("/api/agents/directory").status_code == 200
    with sqlite_server.admin() as admin:
        assert admin.get("/api/agents").status_code == 200
        assert admin.get("/api/metrics/dashboard").status_code == 200
        assert admin.get("/api/metrics/export.csv").status_code == 200


def test_a_deactivated_agent_is_out_at_once(sqlite_server: ConsoleServer, r: redis.Redis) -> None:
    agent, info, password = sqlite_server.new_agent()
    with agent, sqlite_server.admin() as admin:
        ticket = add_ticket(sqlite_server, r, agent)
        agent.post(f"/api/tickets/{ticket['ticket_no']}/claim").raise_for_status()
        assert agent.get("/api/me").status_code == 200
        done = admin.post(f"/api/agents/{info['id']}/deactivate")
        assert done.status_code == 200 and done.json()["active"] is False
        assert agent.get("/api/me").status_code == 401
        assert agent.get("/api/tickets").status_code == 401
        relogin = sqlite_server.client().post("/api/login", json={"username": info["username"], "password": password})
        assert relogin.status_code == 401
        back = admin.get(f"/api/tickets/{ticket['ticket_no']}").json()
        assert back["status"] == "new" and back["assignee"] is None  # returned to the queue
        assert admin.post(f"/api/agents/{admin.get('/api/me').json()['id']}/deactivate").status_code == 400
        assert admin.post("/api/agents/987654/deactivate").status_code == 404
        admin.post(f"/api/agents/{info['id']}/activate").raise_for_status()
        assert sqlite_server.login(info["username"], password).get("/api/me").status_code == 200


def _all_stored_text(server: ConsoleServer) -> str:
    chunks: list[str] = []
    with server.engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                chunks.append(" ".join(str(value) for value in row))
    return "\n".join(chunks)


def test_passwords_are_never_stored_or_logged_in_clear(server: ConsoleServer) -> None:
    agent, info, password = server.new_agent()
    with agent, server.admin() as admin:
        new_password = "Changed-" + uuid.uuid4().hex
        changed = agent.post("/api/me/password", json={"current_password": password, "new_password": new_password})
        assert changed.status_code == 204
        wrong = server.client().post("/api/login", json={"username": info["username"], "password": "x" + password})
        assert wrong.status_code == 401 and password not in wrong.text
        too_long = "P" * 300
        invalid = server.client().post("/api/login", json={"username": info["username"], "password": too_long})
        assert invalid.status_code == 422 and too_long not in invalid.text
        bad_create = admin.post("/api/agents", json={"username": "x", "password": "Secret-short-name-1"})
        assert bad_create.status_code == 422 and "Secret-short-name-1" not in bad_create.text
        cookie = agent.cookies.get(SESSION_COOKIE)

    stored = _all_stored_text(server)
    for secret in (password, new_password, ADMIN_PASSWORD, cookie):
        assert secret not in stored
    with server.engine.connect() as conn:
        hashes = [row[0] for row in conn.execute(text("SELECT password_hash FROM agents"))]
        tokens = [row[0] for row in conn.execute(text("SELECT token_hash FROM agent_sessions"))]
    assert hashes and all(h.startswith("$argon2id$") for h in hashes)
    assert all(re.fullmatch(r"[0-9a-f]{64}", t) for t in tokens)

    log = server.log_text()
    assert "logged in" in log  # the log is really captured
    for secret in (password, new_password, ADMIN_PASSWORD, cookie, SESSION_SECRET, RASA_TOKEN, "13800005678"):
        assert secret not in log


def test_login_is_rate_limited_per_username_and_address(sqlite_server: ConsoleServer) -> None:
    agent, info, password = sqlite_server.new_agent()
    with sqlite_server.client() as client:
        for _ in range(5):
            assert client.post("/api/login", json={"username": info["username"], "password": "wrong"}).status_code == 401
        blocked = client.post("/api/login", json={"username": info["username"], "password": password})
        assert blocked.status_code == 429
        assert 0 < int(blocked.headers["Retry-After"]) <= 300
        assert "try again" in blocked.json()["detail"]
        other_user = client.post("/api/login", json={"username": "someone-else", "password": "wrong"})
        assert other_user.status_code == 401  # the budget is per username (and address)
    assert agent.get("/api/me").status_code == 200  # existing sessions are unaffected


def test_session_cookie_flags_and_json_only_login(sqlite_server: ConsoleServer) -> None:
    with sqlite_server.client() as client:
        response = client.post("/api/login", json={"username": "admin", "password": ADMIN_PASSWORD})
        header = response.headers["set-cookie"].lower()
        assert response.headers["cache-control"] == "no-store"
        assert "httponly" in header and "samesite=lax" in header and "path=/" in header
        form = client.post("/api/login", data={"username": "admin", "password": ADMIN_PASSWORD})
        assert form.status_code == 422  # a cross-site HTML form cannot log in or post


def test_static_pages_are_served_without_login(sqlite_server: ConsoleServer) -> None:
    """The UI itself (and the demo page hosting the widget) load before anyone logs in."""
    with sqlite_server.client() as anonymous:
        redirect = anonymous.get("/console")
        assert redirect.status_code in (302, 307) and redirect.headers["location"] == "/console/app/"
        for path in ("/console/app/", "/"):
            page = anonymous.get(path)
            assert page.status_code in (200, 404)  # 404 only while the UI folder is still empty
        docs = anonymous.get("/docs")
        assert docs.status_code == 200 and "http" not in docs.text.split("<body>")[0].lower()  # no CDN
        assert anonymous.get("/static-offline-docs/swagger-ui-bundle.js").status_code == 200
        missing = anonymous.get("/api/no-such-endpoint")
        assert missing.status_code == 404 and missing.json() == {"detail": "Not Found"}


def test_health_needs_no_login(sqlite_server: ConsoleServer) -> None:
    response = httpx.get(f"{sqlite_server.url}/health")
    assert response.status_code == 200
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "SAMEORIGIN"
    health = response.json()
    assert {k: health[k] for k in ("status", "database", "redis")} == {"status": "ok", "database": "ok", "redis": "ok"}
    assert "redis_persistence" in health  # reported, never a failure (issue 14)


