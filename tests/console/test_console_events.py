"""The live event stream: SSE ids are Redis stream ids; reconnects replay what was missed."""

from __future__ import annotations

import redis

from console_helpers import ConsoleServer, SseReader, add_ticket, ticket_request, wait_for


def _ids(events: list[dict]) -> list[tuple[int, int]]:
    return [tuple(int(p) for p in e["id"].split("-")) for e in events]  # type: ignore[misc]


def test_reconnect_resumes_after_the_last_event_id(server: ConsoleServer, r: redis.Redis) -> None:
    agent, _, _ = server.new_agent()
    with agent:
        fields = add_ticket(server, r, agent)
        no = fields["ticket_no"]
        first = SseReader(server, agent.cookies).start_and_wait()
        agent.post(f"/api/tickets/{no}/claim").raise_for_status()
        first.wait_for(lambda _e: any(e["event"] == "ticket.claimed" for e in first.for_ticket(no)))
        claimed = next(e for e in first.for_ticket(no) if e["event"] == "ticket.claimed")
        assert claimed["data"]["ticket"]["status"] == "assigned"
        assert r.xrange(server.keys.events_stream(), claimed["id"], claimed["id"])  # id = stream id
        first.close()

        # While the agent is offline:
        agent.post(f"/api/tickets/{no}/notes", json={"text": "离线期间的备注"}).raise_for_status()
        agent.post(f"/api/tickets/{no}/messages", json={"text": "离线期间的回复"}).raise_for_status()

        for via_query in (False, True):
            again = SseReader(server, agent.cookies, last_event_id=claimed["id"], via_query=via_query)
            again.start_and_wait()
            again.wait_for(lambda _e, a=again: len(a.for_ticket(no)) >= 2)
            mine = again.for_ticket(no)
            assert [e["event"] for e in mine] == ["ticket.note_added", "ticket.message"]
            assert mine[1]["data"]["message"]["text"] == "离线期间的回复"
            assert all(i > _ids([claimed])[0] for i in _ids(again.events))
            assert _ids(again.events) == sorted(set(_ids(again.events)))  # no duplicates, in order
            again.close()


def test_restarted_console_replays_missed_events(server: ConsoleServer, r: redis.Redis) -> None:
    agent, _, _ = server.new_agent()
    with agent:
        cookies = agent.cookies
        reader = SseReader(server, cookies).start_and_wait()
        before = add_ticket(server, r, agent)
        reader.wait_for(lambda _e: bool(reader.for_ticket(before["ticket_no"])))
        last_seen = reader.for_ticket(before["ticket_no"])[-1]["id"]

        server.stop(hard=True)  # mid-stream
        reader.finished.wait(10)
        assert reader.finished.is_set()
        missed = [ticket_request() for _ in range(3)]
        for fields in missed:
            r.xadd(server.keys.tickets_stream(), fields)
        server.start()

        resumed = SseReader(server, cookies, last_event_id=last_seen).start_and_wait()
        wanted = {f["ticket_no"] for f in missed}
        resumed.wait_for(lambda _e: wanted <= {e["data"].get("ticket_no") for e in resumed.events}, timeout=20)
        created = [e for e in resumed.events if e["event"] == "ticket.created"]
        assert [e["data"]["ticket_no"] for e in created if e["data"]["ticket_no"] in wanted] == \
            [f["ticket_no"] for f in missed]
        assert before["ticket_no"] not in {e["data"].get("ticket_no") for e in resumed.events}
        resumed.close()


def test_bad_resume_ids_and_anonymous_streams_are_refused(sqlite_server: ConsoleServer) -> None:
    with sqlite_server.admin() as admin:
        for bad in ("yesterday", "1-2-3", "99999999999999999999999-0", "-1"):
            response = admin.get("/api/events", headers={"Last-Event-ID": bad})
            assert response.status_code == 422, bad
            assert "stream id" in response.json()["detail"]
    with sqlite_server.client() as anonymous:
        assert anonymous.get("/api/events").status_code == 401


def test_deactivation_ends_the_live_stream(sqlite_server: ConsoleServer) -> None:
    agent, info, _ = sqlite_server.new_agent()
    with agent, sqlite_server.admin() as admin:
        reader = SseReader(sqlite_server, agent.cookies).start_and_wait()
        admin.post(f"/api/agents/{info['id']}/deactivate").raise_for_status()
        wait_for(reader.finished.is_set, timeout=10, what="the stream to end")
        assert reader.events[-1]["event"] == "session_ended"


def test_logout_ends_the_live_stream_within_seconds(sqlite_server: ConsoleServer) -> None:
    agent, _, _ = sqlite_server.new_agent()
    with agent:
        reader = SseReader(sqlite_server, agent.cookies).start_and_wait()
        agent.post("/api/logout")
        wait_for(reader.finished.is_set, timeout=10, what="the stream to end")
        assert reader.events[-1]["event"] == "session_ended"


def test_trimmed_history_asks_the_client_to_resync(sqlite_server: ConsoleServer, r: redis.Redis) -> None:
    stream = sqlite_server.keys.events_stream()
    with sqlite_server.admin() as admin:
        for _ in range(3):
            add_ticket(sqlite_server, r, admin)
        entries = r.xrange(stream)
        old_id = entries[-3][0]
        r.xtrim(stream, minid=entries[-1][0], approximate=False)  # entries[-2], right after old_id, is gone
        reader = SseReader(sqlite_server, admin.cookies, last_event_id=old_id).start_and_wait()
        reader.wait_for(lambda events: len(events) >= 2)
        assert reader.events[0]["event"] == "resync"
        assert reader.events[1]["id"] == entries[-1][0]
        reader.close()


def test_position_then_connect_replays_what_happened_in_between(sqlite_server: ConsoleServer, r: redis.Redis) -> None:
    """The UI pins the stream position before its first connect (GET /api/events/position)."""
    with sqlite_server.admin() as admin:
        position = admin.get("/api/events/position")
        assert position.status_code == 200
        pinned = position.json()["last_event_id"]
        fields = add_ticket(sqlite_server, r, admin)  # happens before the stream is opened
        reader = SseReader(sqlite_server, admin.cookies, last_event_id=pinned, via_query=True).start_and_wait()
        reader.wait_for(lambda _e: bool(reader.for_ticket(fields["ticket_no"])))
        assert reader.for_ticket(fields["ticket_no"])[0]["event"] == "ticket.created"
        reader.close()
