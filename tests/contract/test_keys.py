"""Redis key names: the strings on the wire (docs/architecture.md) and the queue's order."""

from __future__ import annotations

import pytest

from heatdesk_contract import streams
from heatdesk_contract.keys import DEFAULT, KeySpace, optout_member, queue_score


def test_the_default_key_names_are_the_documented_ones() -> None:
    k = DEFAULT
    assert k.owner("rest:u1") == "heatdesk:owner:rest:u1"
    assert k.queue() == "heatdesk:queue" and k.presence() == "heatdesk:presence"
    assert k.ticket_seq("20250215") == "heatdesk:ticket_seq:20250215"
    assert k.conversations_of_day("20250215") == "heatdesk:stats:conversations:20250215"
    assert k.tickets_stream() == "heatdesk:stream:tickets"
    assert k.outbox_stream() == "heatdesk:stream:outbox"
    assert k.events_stream() == "heatdesk:stream:events"
    assert k.dead_letter_stream() == "heatdesk:stream:tickets:dead"
    assert k.inbox("rest:u1") == "heatdesk:inbox:rest:u1"
    assert k.inbox_token("rest:u1") == "heatdesk:inbox_token:rest:u1"
    assert k.identity_lock("2024000001", "rest:u1") == "heatdesk:identity:lock:2024000001:rest:u1"
    assert k.identity_failures("2024000001", "rest:u1") == "heatdesk:identity:fail:2024000001:rest:u1"
    assert k.identity_account_failures("2024000001") == "heatdesk:identity:account_fail:2024000001"
    assert k.identity_account_cooldown("2024000001") == "heatdesk:identity:account_cooldown:2024000001"
    assert k.identity_client_failures("ip:1.2.3.4") == "heatdesk:identity:client_fail:ip:1.2.3.4"
    assert k.identity_conversation_failures("rest:u1") == "heatdesk:identity:conversation_fail:rest:u1"
    assert k.identity_session("rest:u1") == "heatdesk:identity:session:rest:u1"
    assert k.identity_pattern() == "heatdesk:identity:*"
    assert k.wechat_binding("o1") == "heatdesk:bind:wechat:o1"
    assert k.wechat_binding_pattern() == "heatdesk:bind:wechat:*"
    assert k.wechat_choices("wechat:o1") == "heatdesk:choices:wechat:wechat:o1"
    assert k.wechat_last_seen("o1") == "heatdesk:wechat:last_seen:o1"
    assert k.wechat_dedupe("m1") == "heatdesk:wechat:dedupe:m1"
    assert k.wechat_nonce("1700000000", "n1") == "heatdesk:wechat:nonce:1700000000:n1"
    assert k.wechat_access_token("wx1") == "heatdesk:wechat:access_token:wx1"
    assert k.wechat_access_token_lock("wx1") == "heatdesk:wechat:access_token_lock:wx1"
    assert k.widget_seq("s1") == "heatdesk:widget:seq:s1"
    assert k.widget_transcript("s1") == "heatdesk:widget:transcript:s1"
    assert k.widget_seen("agent", "m1") == "heatdesk:widget:seen:agent:m1"
    assert k.widget_session("s1") == "heatdesk:widget:session:s1"
    assert k.widget_socketio("9") == "heatdesk:widget:socketio:9"
    assert k.reminder_optouts() == "heatdesk:remind:optout"
    assert k.csat_pending("wechat:o1") == "heatdesk:csat:pending:wechat:o1"
    assert k.csat_asked("GD202502150001") == "heatdesk:csat:asked:GD202502150001"
    assert k.login_attempts("abc") == "heatdesk:ratelimit:login:abc"
    assert k.login_attempts_of_ip("abc") == "heatdesk:ratelimit:login_ip:abc"
    assert k.login_attempts_all() == "heatdesk:ratelimit:login_all"
    assert k.rasa_store_prefix() == "heatdesk"
    assert optout_member("wechat", "o1") == "wechat:o1"


def test_a_prefix_moves_every_key() -> None:
    keys = KeySpace("hdtest-1:")
    assert keys.owner("c") == "hdtest-1:owner:c" and keys.tickets_stream() == "hdtest-1:stream:tickets"
    assert keys.openid_of_binding(keys.wechat_binding("o1")) == "o1"
    with pytest.raises(ValueError):
        keys.stream("stream:nowhere")
    assert {keys.stream(name) for name in streams.ALL_STREAMS} == {
        "hdtest-1:stream:tickets", "hdtest-1:stream:outbox", "hdtest-1:stream:events", "hdtest-1:stream:tickets:dead"}


def test_the_queue_is_ordered_by_priority_then_sla_due_time() -> None:
    soon, later = 1_739_606_400.0, 1_739_610_000.0
    assert queue_score("urgent", later) < queue_score("high", soon) < queue_score("normal", soon)
    assert queue_score("normal", soon) < queue_score("normal", later) < queue_score("unknown", soon)
