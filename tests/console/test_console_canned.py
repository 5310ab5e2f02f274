"""Canned replies (issue 15) through the HTTP API, on SQLite and PostgreSQL: supervisors manage
them, agents get them filled in from the ticket (masked name, 户号, amounts, ticket number)."""

from __future__ import annotations

import json
import uuid

import redis

from console_helpers import ConsoleServer, add_ticket


def _verified_summary() -> str:
    return json.dumps({
        "account_no": "2024000001", "holder_masked": "张*", "address": "阳光小区3号楼2单元501",
        "bills": [{"season": "2023-2024", "unpaid": "100.50", "late_fee": "3.20"},
                  {"season": "2024-2025", "unpaid": "1509.00", "late_fee": "68.62"}],
    }, ensure_ascii=False)


def test_supervisors_manage_canned_replies_and_agents_get_them_filled(server: ConsoleServer, r: redis.Redis) -> None:
    shortcut = f"催{uuid.uuid4().hex[:6]}"
    agent, _, _ = server.new_agent(display_name="小孙")
    with server.admin() as admin, agent:
        # The defaults a new installation starts with; the leak reply no longer promises a crew on its way.
        defaults = {item["shortcut"]: item for item in agent.get("/api/canned-replies").json()}
        assert {"问候", "欠费", "漏水"} <= set(defaults)
        assert "正在赶往现场" not in defaults["漏水"]["text"] and defaults["漏水"]["category"] == "report_leak"

        template = "{name}您好，户号 {account} 欠费 {unpaid} 元、滞纳金 {late_fee} 元，合计 {total} 元（{ticket_no}，客服{agent}）"
        assert agent.post("/api/canned-replies", json={"shortcut": shortcut, "title": "t", "text": "x"}).status_code == 403
        bad = admin.post("/api/canned-replies", json={"shortcut": shortcut, "title": "催缴", "text": "{phone}"})
        assert bad.status_code == 400 and "phone" in bad.json()["detail"]
        made = admin.post("/api/canned-replies", json={"shortcut": shortcut, "title": "催缴", "text": template})
        assert made.status_code == 201, made.text
        assert admin.post("/api/canned-replies", json={"shortcut": shortcut, "title": "x", "text": "x"}).status_code == 409

        verified = add_ticket(server, r, agent, account_verified="1", summary=_verified_summary())
        filled = agent.get(f"/api/tickets/{verified['ticket_no']}/canned-replies", params={"q": shortcut}).json()
        assert filled == [{
            "id": made.json()["id"], "shortcut": shortcut, "title": "催缴", "category": None, "missing": [],
            "text": f"张*您好，户号 2024****01 欠费 1609.50 元、滞纳金 71.82 元，合计 1681.32 元（{verified['ticket_no']}，客服小孙）",
        }]
        # An account nobody proved fills nothing personal: the gaps are visible and named.
        typed = add_ticket(server, r, agent, account_verified="", summary=_verified_summary())
        gap = agent.get(f"/api/tickets/{typed['ticket_no']}/canned-replies", params={"q": shortcut}).json()[0]
        assert gap["missing"] == ["name", "account", "unpaid", "late_fee", "total"]
        assert gap["text"].startswith("【户主姓名】您好，户号 【户号】") and "2024000001" not in gap["text"]

        # Category replies only on their own tickets (the fixture's tickets are ask_balance).
        shortcuts = {item["shortcut"] for item in agent.get(f"/api/tickets/{typed['ticket_no']}/canned-replies").json()}
        assert "问候" in shortcuts and "漏水" not in shortcuts
        leak = add_ticket(server, r, agent, category="report_leak", priority="urgent")
        leak_replies = {i["shortcut"]: i for i in agent.get(f"/api/tickets/{leak['ticket_no']}/canned-replies").json()}
        assert "0451-12345678" in leak_replies["漏水"]["text"]  # {hotline} from config/city.yml

        # Switched off: gone for agents, still listed for the supervisor.
        off = admin.patch(f"/api/canned-replies/{made.json()['id']}", json={"active": False})
        assert off.status_code == 200 and off.json()["active"] is False
        assert agent.get(f"/api/tickets/{verified['ticket_no']}/canned-replies", params={"q": shortcut}).json() == []
        listed = admin.get("/api/canned-replies", params={"include_inactive": "true"}).json()
        assert shortcut in {item["shortcut"] for item in listed}
