"""Issue 15 through the HTTP API, on SQLite and PostgreSQL: the display name residents are told,
queue rows that say what a ticket is about, and the search box."""

from __future__ import annotations

import json
import re
import uuid

import redis

from console_helpers import ADMIN_USER, ConsoleServer, add_ticket, ticket_request, user_message, wait_for


def _summary(address: str, holder: str = "张*") -> str:
    return json.dumps({"account_no": "2024000001", "holder_masked": holder, "address": address,
                       "district": "南岗区", "last_messages": []}, ensure_ascii=False)


def test_residents_are_told_the_display_name_never_the_login(server: ConsoleServer, r: redis.Redis) -> None:
    with server.admin() as admin:
        me = admin.get("/api/me").json()
        assert me["username"] == ADMIN_USER and me["display_name"] != ADMIN_USER
        assert re.fullmatch(r"\d+号", me["display_name"]), me
    agent, info, _ = server.new_agent()
    with agent:
        with server.admin() as admin:  # an account made without a name gets a staff number
            bare = admin.post("/api/agents", json={"username": f"bare{uuid.uuid4().hex[:8]}",
                                                   "password": "pw-" + uuid.uuid4().hex, "role": "agent"})
            assert bare.status_code == 201
            assert bare.json()["display_name"] == f"{bare.json()['id']}号"
            renamed = admin.patch(f"/api/agents/{bare.json()['id']}", json={"display_name": "小赵"})
            assert renamed.status_code == 200 and renamed.json()["display_name"] == "小赵"
        assert agent.patch(f"/api/agents/{info['id']}", json={"display_name": "x"}).status_code == 403
        assert agent.patch("/api/me", json={"display_name": "  "}).status_code == 422
        assert agent.patch("/api/me", json={"display_name": "小王"}).json()["display_name"] == "小王"

        fields = add_ticket(server, r, agent)
        owner = server.keys.owner(fields['conversation_id'])
        r.hset(owner, mapping={"owner": "agent", "ticket_no": fields["ticket_no"], "channel": "rest", "agent": "",
                               "ticket_key": fields["idempotency_key"]})  # as the handoff action writes it
        agent.post(f"/api/tickets/{fields['ticket_no']}/claim").raise_for_status()
        # What the bot tells the resident ("客服{agent}正在处理") and the widget's banner read the owner hash.
        wait_for(lambda: r.hget(owner, "agent") == "小王", what="owner hash with the display name")
        agent.post(f"/api/tickets/{fields['ticket_no']}/messages", json={"text": "您好"}).raise_for_status()
        sent = [f for _id, f in r.xrange(server.keys.outbox_stream()) if f.get("ticket_no") == fields["ticket_no"]]
        assert [f["agent_name"] for f in sent if f["type"] == "agent.message"] == ["小王"]


def test_queue_rows_say_what_a_ticket_is_about(server: ConsoleServer, r: redis.Redis) -> None:
    agent, _, _ = server.new_agent()
    with agent:
        verified = add_ticket(server, r, agent, account_verified="1", summary=_summary("阳光小区3号楼"))
        typed = add_ticket(server, r, agent, account_no="2024000002", account_verified="")
        no = verified["ticket_no"]

        def row(ticket_no: str) -> dict:
            page = agent.get("/api/tickets", params={"status": "open", "limit": 500}).json()
            return next(item for item in page["items"] if item["ticket_no"] == ticket_no)

        first = row(no)
        assert first["last_user_text"] == verified["trigger_text"]
        assert first["channel"] == "rest" and first["sla_status"] == "pending" and first["sla_seconds_left"] > 0
        assert first["waiting_seconds"] is not None and first["waiting_seconds"] >= 0
        assert (first["holder_masked"], first["account_masked"]) == ("张*", "2024****01")
        unproven = row(typed["ticket_no"])
        assert (unproven["holder_masked"], unproven["account_masked"]) == (None, None)

        # The newest resident message, masked and cut to one line; the live event carries the same row.
        long_text = "我的电话是13800005678，\n" + "暖气片一点都不热" * 12
        r.xadd(server.keys.tickets_stream(), user_message(verified, long_text))
        wait_for(lambda: row(no)["last_user_text"] != verified["trigger_text"], what="last message on the row")
        line = row(no)["last_user_text"]
        assert line.startswith("我的电话是138****5678， 暖气片") and line.endswith("…") and len(line) == 60
        assert "13800005678" not in json.dumps(row(no), ensure_ascii=False)

        agent.post(f"/api/tickets/{no}/claim").raise_for_status()
        agent.post(f"/api/tickets/{no}/messages", json={"text": "马上为您查"}).raise_for_status()
        assert row(no)["waiting_seconds"] is None  # answered: nobody is waiting
        r.xadd(server.keys.tickets_stream(), user_message(verified, "还是不热"))
        wait_for(lambda: row(no)["last_user_text"] == "还是不热", what="the follow-up on the row")
        assert row(no)["waiting_seconds"] is not None


def test_search_by_number_account_phone_tail_address_and_text(server: ConsoleServer, r: redis.Redis) -> None:
    agent, _, _ = server.new_agent()
    tag = uuid.uuid4().hex[:6]
    with agent:
        by_address = add_ticket(server, r, agent, account_no="2024000003",
                                summary=_summary(f"幸福家园{tag}号楼", holder="李*"))
        by_text = add_ticket(server, r, agent, trigger_text=f"暖气漏水了{tag}")
        r.xadd(server.keys.tickets_stream(), user_message(by_text, f"回电 13912345678，暖气片{tag}滴水"))
        wait_for(lambda: len(agent.get(f"/api/tickets/{by_text['ticket_no']}").json()["messages"]) == 1,
                 what="the message")

        def found(q: str) -> set[str]:
            answer = agent.get("/api/tickets", params={"q": q, "limit": 500})
            assert answer.status_code == 200, answer.text
            return {item["ticket_no"] for item in answer.json()["items"]}

        mine = {by_address["ticket_no"], by_text["ticket_no"]}
        assert by_address["ticket_no"] in found(by_address["ticket_no"])
        assert found(by_address["ticket_no"][-6:]) & mine == {by_address["ticket_no"]}  # a part of the number
        assert by_address["ticket_no"] in found("2024000003")
        assert found(f"幸福家园{tag}") == {by_address["ticket_no"]}  # the address from the summary
        assert found(f"{tag} 滴水") == {by_text["ticket_no"]}  # message text, every term must match
        assert found(f"漏水了{tag}") == {by_text["ticket_no"]}  # the trigger
        assert by_text["ticket_no"] in found("5678")  # the phone tail (numbers are kept masked)
        assert found(f"{tag}%") == set() and found(f"_{tag}") == set()  # LIKE wildcards are literal
        assert found(f"没有这个{tag}") == set()
        assert agent.get("/api/tickets", params={"q": "x" * 65}).status_code == 422


def _owner(server: ConsoleServer, r: redis.Redis, fields: dict[str, str]) -> str:
    """The owner hash as the handoff action writes it before the console sees the request."""
    key = server.keys.owner(fields['conversation_id'])
    r.hset(key, mapping={"owner": "agent", "ticket_no": fields["ticket_no"], "channel": fields["channel"],
                         "agent": "", "ticket_key": fields["idempotency_key"]})
    return key


def test_follow_up_goes_back_to_the_agent_on_duty(server: ConsoleServer, r: redis.Redis) -> None:
    agent, info, _ = server.new_agent(display_name="小周")
    with agent:
        first = add_ticket(server, r, agent)
        _owner(server, r, first)
        agent.post(f"/api/tickets/{first['ticket_no']}/claim").raise_for_status()
        agent.post(f"/api/tickets/{first['ticket_no']}/resolve",
                   json={"resolution_category": "answered"}).raise_for_status()

        # The same resident needs a person again: the ticket goes straight to 小周, who is on duty.
        again = ticket_request(conversation_id=first["conversation_id"])
        owner = _owner(server, r, again)
        r.xadd(server.keys.tickets_stream(), again)
        detail = wait_for(lambda: (d := agent.get(f"/api/tickets/{again['ticket_no']}")).status_code == 200
                          and d.json()["status"] == "assigned" and d.json(), what="the routed follow-up")
        assert detail["assignee"]["id"] == info["id"]
        assert detail["follow_up_of"] == first["ticket_no"]
        assert detail["first_human_reply_at"] is None  # the notice is no reply: the SLA still runs
        wait_for(lambda: r.hget(owner, "agent") == "小周", what="the owner hash names 小周")
        # The notice's outbox entry is the op after the owner's: it may land a moment later.
        notices = wait_for(lambda: [f for _id, f in r.xrange(server.keys.outbox_stream())
                                    if f.get("ticket_no") == again["ticket_no"] and f["type"] == "agent.message"],
                           what="the follow-up notice on the outbox")
        assert len(notices) == 1 and notices[0]["agent_name"] == "小周"
        assert "客服小周" in notices[0]["text"] and again["ticket_no"] in notices[0]["text"]
        assert r.zscore(server.keys.queue(), again["ticket_no"]) is None  # not in the queue

        # Off duty (logged out): the next follow-up waits in the queue, marked as one.
        agent.post(f"/api/tickets/{again['ticket_no']}/resolve",
                   json={"resolution_category": "answered"}).raise_for_status()
        agent.post("/api/logout").raise_for_status()
    third = ticket_request(conversation_id=first["conversation_id"])
    with server.admin() as admin:
        r.xadd(server.keys.tickets_stream(), third)
        row = wait_for(lambda: (d := admin.get(f"/api/tickets/{third['ticket_no']}")).status_code == 200 and d.json(),
                       what="the queued follow-up")
        assert row["status"] == "new" and row["assignee"] is None
        assert row["follow_up_of"] == again["ticket_no"]
        # A stranger's ticket is no follow-up.
        stranger = add_ticket(server, r, admin)
        assert admin.get(f"/api/tickets/{stranger['ticket_no']}").json()["follow_up_of"] is None
