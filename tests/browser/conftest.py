"""Browser tests: Playwright for Python driving Debian's Chromium against the running stack.

The browser itself (`chromium`, `new_context`) is in tests/conftest.py: tests/security shares it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Iterator, List

import httpx
import pytest
from playwright.sync_api import Page

from tests.stack import ROOT, Stack

SCREENSHOTS = ROOT / "var" / "screenshots"
AXE = ROOT / "console" / "static" / "app" / "vendor" / "axe.min.js"
ADMIN = ("admin", "admin-test-password")


@dataclass
class Account:
    id: int
    username: str
    password: str
    display_name: str


@pytest.fixture(scope="session")
def console_base(stack: Stack) -> str:
    """The UI's address: /console/ once the app is mounted there, /console/app/ until then."""
    root = stack.url("console")
    for path in ("/console/", "/console/app/"):
        answer = httpx.get(root + path, timeout=10)
        if answer.status_code == 200 and 'id="topbar"' in answer.text:
            return root + path
    raise RuntimeError("the console UI is not served under /console/ nor /console/app/")


@pytest.fixture(scope="session")
def supervisor_api(stack: Stack) -> Iterator[httpx.Client]:
    client = httpx.Client(base_url=stack.url("console"), timeout=15)
    client.post("/api/login", json={"username": ADMIN[0], "password": ADMIN[1]}).raise_for_status()
    yield client
    client.close()


@pytest.fixture(scope="session")
def agents(supervisor_api: httpx.Client) -> Dict[str, Account]:
    """Two agent accounts (not supervisors), created by the supervisor through POST /api/agents."""
    made: Dict[str, Account] = {}
    suffix = uuid.uuid4().hex[:6]
    for key, display in (("wang", "客服小王"), ("li", "客服小李")):
        username, password = f"{key}-{suffix}", f"pw-{key}-{uuid.uuid4().hex[:10]}"
        answer = supervisor_api.post(
            "/api/agents", json={"username": username, "password": password, "display_name": display, "role": "agent"}
        )
        assert answer.status_code == 201, answer.text
        made[key] = Account(answer.json()["id"], username, password, display)
    return made


class PageLog:
    """Console errors and page errors of one page, to assert the UI ran cleanly."""

    def __init__(self, page: Page) -> None:
        self.lines: List[str] = []
        page.on("console", lambda m: self.lines.append(f"{m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: self.lines.append(f"pageerror: {e}"))

    def csp_violations(self) -> List[str]:
        return [line for line in self.lines if "Content Security Policy" in line]

    def script_errors(self) -> List[str]:
        return [line for line in self.lines if line.startswith("pageerror")]


def login(page: Page, base: str, username: str, password: str) -> None:
    page.goto(base)
    page.fill("#login-username", username)
    page.fill("#login-password", password)
    page.click(".login-form button[type=submit]")
    page.wait_for_selector("#topbar:not([hidden])")
    page.wait_for_selector("#conn[data-state=open]")


def screenshot(page: Page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def serious_axe_violations(page: Page) -> List[Dict[str, object]]:
    """axe-core (vendored from npm) on the current page: violations of impact serious or critical."""
    page.add_script_tag(path=str(AXE))
    violations = page.evaluate(
        """async () => {
            const result = await axe.run(document, { resultTypes: ["violations"] });
            return result.violations.map((v) => ({
                id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 5).map((n) => n.target.join(" ")),
            }));
        }"""
    )
    return [v for v in violations if v["impact"] in ("serious", "critical")]
