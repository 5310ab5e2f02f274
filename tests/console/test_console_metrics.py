"""Supervisor dashboard and export: human replies only, SLA, handoff rate, arrears from billing."""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid

import redis

from console_helpers import ConsoleServer, add_ticket


def _today_local() -> dt.date:
    return (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=8)).date()


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_dashboard_counts_human_replies_sla_and_handoff_rate(sqlite_server: ConsoleServer, r: redis.Redis) -> None:
    """A window of its own (a past week) so other tests' tickets do not disturb the figures."""
    server = sqlite_server
    day = dt.date(2025, 1, 6) + dt.timedelta(days=uuid.uuid4().int % 300)  # some past Monday-ish day
    local_noon = dt.datetime.combine(day, dt.time(12, 0), tzinfo=dt.timezone(dt.timedelta(hours=8)))
    district = "指标区" + uuid.uuid4().hex[:4]
    agent, _, _ = server.new_agent()
    with agent, server.admin() as admin:
        angry = add_ticket(server, r, agent, created_at=_iso(local_noon), priority="high",
                           summary='{"district": "%s"}' % district)
        leak = add_ticket(server, r, agent, created_at=_iso(local_noon), priority="urgent", category="report_leak",
                          trigger_kind="intent", trigger_name="report_leak", summary="{}")
        polite = add_ticket(server, r, agent, created_at=_iso(local_noon - dt.timedelta(days=1)),
                            category="complain", trigger_kind="intent", trigger_name="complain", priority="normal",
                            summary='{"district": "%s"}' % district)
        # Replied now: months after the due time, so SLA breached; the leak is never answered (breached too).
        agent.post(f"/api/tickets/{angry['ticket_no']}/claim").raise_for_status()
        agent.post(f"/api/tickets/{angry['ticket_no']}/messages", json={"text": "您好"}).raise_for_status()
        agent.post(f"/api/tickets/{angry['ticket_no']}/resolve", json={"resolution_category": "answered"})
        agent.post(f"/api/tickets/{angry['ticket_no']}/csat", json={"score": 4}).raise_for_status()
        for offset in range(2):
            key = server.keys.conversations_of_day(f"{day - dt.timedelta(days=offset):%Y%m%d}")
            r.pfadd(key, *[f"c{offset}-{i}" for i in range(10)])

        window = {"from": (day - dt.timedelta(days=1)).isoformat(), "to": day.isoformat()}
        board = admin.get("/api/metrics/dashboard", params=window)
        assert board.status_code == 200, board.text
        data = board.json()
        assert data["window"] == {"from": window["from"], "to": window["to"], "timezone": "Asia/Shanghai"}
        assert data["handoff"] == {"tickets": 3, "conversations": 20, "rate": 0.15, "conversations_source": "redis"}
        assert data["first_response"]["count"] == 1 and data["first_response"]["avg_seconds"] > 0
        assert data["handle_time"]["count"] == 1
        assert data["sla"] == {"met": 0, "breached": 3, "pending": 0, "attainment": 0.0}
        assert data["tickets_per_day"] == [{"date": window["from"], "count": 1}, {"date": window["to"], "count": 2}]
        assert data["complaints_per_day"] == [{"date": window["from"], "count": 1},
                                              {"date": window["to"], "count": 1}]
        assert data["complaints_per_district"] == [{"district": district, "count": 2}]
        assert data["csat"] == {"count": 1, "average": 4.0}
        assert data["queue"]["length"] >= 1 and data["queue"]["oldest_waiting"] is not None
        arrears = data["arrears_by_district"]
        assert arrears["available"] is True and arrears["as_of"] == "2025-02-15"
        nangang = next(item for item in arrears["items"] if item["district"] == "南岗区")
        assert nangang["accounts"] >= 1 and nangang["amount"].count(".") == 1

        export = admin.get("/api/metrics/export.csv", params=window)
        assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(export.text.lstrip("\ufeff"))))
        assert {row["ticket_no"] for row in rows} == {angry["ticket_no"], leak["ticket_no"], polite["ticket_no"]}
        answered = next(row for row in rows if row["ticket_no"] == angry["ticket_no"])
        assert answered["status"] == "resolved" and int(answered["first_response_seconds"]) > 0
        assert answered["csat_score"] == "4" and answered["sla_status"] == "breached"

        assert admin.get("/api/metrics/dashboard", params={"from": "2025-02-10", "to": "2025-02-01"}).status_code == 400
        assert admin.get("/api/metrics/dashboard", params={"from": "2020-01-01", "to": "2025-02-01"}).status_code == 400
        assert admin.get("/api/metrics/dashboard", params={"to": "0001-01-01"}).status_code == 400
        assert admin.get("/api/metrics/dashboard", params={"to": "yesterday"}).status_code == 422


def test_bot_turns_never_count_as_replies(sqlite_server: ConsoleServer, r: redis.Redis) -> None:
    """User messages and bot turns arrive on the ticket; only an agent's message sets the first reply."""
    with sqlite_server.admin() as admin:
        fields = add_ticket(sqlite_server, r, admin)
        detail = admin.get(f"/api/tickets/{fields['ticket_no']}").json()
        assert detail["first_human_reply_at"] is None and detail["sla_status"] == "pending"


def test_default_window_is_the_last_seven_days(sqlite_server: ConsoleServer) -> None:
    with sqlite_server.admin() as admin:
        data = admin.get("/api/metrics/dashboard").json()
    assert data["window"]["to"] == _today_local().isoformat()
    assert len(data["tickets_per_day"]) == 7
    assert data["handoff"]["conversations_source"] in ("redis", "unavailable")
