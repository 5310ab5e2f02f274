"""Keeps `make bench` (scripts/bench.py) from rotting. Never asserts a timing.

The fast tests drive the load driver against a fake REST channel (httpx.MockTransport)
and check the statistics, ratios and table on made-up results; the smoke test runs the
whole benchmark with tiny counts against a real stack and a bare `rasa run`.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any, Dict, List

import httpx
import pytest

from scripts import bench
from scripts.bench_emotion import percentile

ROOT = Path(__file__).resolve().parents[2]


def fake_rest_channel(seen: List[Dict[str, Any]]) -> httpx.MockTransport:
    """Answers like HeatDesk: a greeting, the identity questions, then the balance."""

    async def handler(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.001)  # like a server: let the other users run meanwhile
        body = json.loads(request.content)
        seen.append(body)
        text, sender = body["message"], body["sender"]
        if text == bench.PLAIN_TEXT:
            reply = "您好！我是热力公司的智能客服小暖"
        elif text == "查欠费":
            reply = "请告诉我您的供热户号"
        elif "-t-1-" in sender:  # user 1 is always answered with the apology
            reply = "抱歉，系统开小差了，请稍后再试。"
        else:
            reply = "2024-2025 采暖期：应交 2509.00 元，已交 1000.00 元，未交 1509.00 元"
        return httpx.Response(200, json=[{"recipient_id": sender, "text": reply}])

    return httpx.MockTransport(handler)


def run_point(scenario: str, users: int, conversations: int, seen: List[Dict[str, Any]]) -> Dict[str, Any]:
    async def go() -> Dict[str, Any]:
        async with httpx.AsyncClient(transport=fake_rest_channel(seen)) as client:
            point = bench.LoadPoint(client, "http://fake", scenario, users, conversations, 2, "t")
            await point.setup()
            await point.measure(0.2)
            await point.measure(0.2)
            return point.summary()

    return asyncio.run(go())


def test_plain_point_runs_timed_rounds_and_rotates_conversations() -> None:
    seen: List[Dict[str, Any]] = []
    summary = run_point("plain", 3, 500, seen)
    assert len(summary["rounds"]) == 2 and summary["window_s"] == pytest.approx(0.4)
    assert summary["turns"] > 3 and summary["turns_per_s"] > 0
    assert summary["failed"] == summary["unexpected"] == summary["setup_failed"] == summary["inline_setups"] == 0
    assert len(seen) == summary["turns"]  # plain conversations need no set-up: every turn is measured
    per_sender: Dict[str, int] = {}
    for message in seen:
        per_sender[message["sender"]] = per_sender.get(message["sender"], 0) + 1
    assert max(per_sender.values()) <= 2  # two turns per conversation, then the next one
    assert summary["conversations"] == len(per_sender)
    assert set(summary["latency_ms"]) == {"p50", "p95", "p99", "mean"}


def test_balance_users_check_identity_first_and_again_when_prepared_conversations_run_out() -> None:
    seen: List[Dict[str, Any]] = []
    summary = run_point("balance", 1, 1, seen)
    first = [m["message"] for m in seen if m["sender"] == "bench-t-0-0"]
    assert first == ["查欠费", "2024000001 5678", bench.BALANCE_TEXT, bench.BALANCE_TEXT]
    assert summary["inline_setups"] == summary["conversations"] - 1 > 0
    assert summary["turns"] == sum(m["message"] == bench.BALANCE_TEXT for m in seen)
    assert summary["setup_failed"] == summary["unexpected"] == 0


def test_balance_point_flags_failed_checks_and_wrong_answers() -> None:
    seen: List[Dict[str, Any]] = []
    summary = run_point("balance", 2, 50, seen)
    assert summary["setup_failed"] >= 50  # user 1 gets the apology whenever it verifies
    assert summary["unexpected"] > 0 and summary["samples"]


def test_rounds_are_long_enough_for_many_users_and_bounded() -> None:
    profile = bench.PROFILES["full"]
    assert bench.round_length(profile, 1, 0.02) == profile.round_seconds
    assert bench.round_length(profile, 50, 0.06) == pytest.approx(9.0)
    assert bench.round_length(profile, 50, 1.0) == profile.max_round_seconds
    assert 1 <= bench.conversations_needed(profile, 50, 9.0, 0.06) <= bench.conversations_needed(profile, 1, 4.0, 0.06)
    assert bench.conversations_needed(profile, 1, 4.0, 0.06) <= 200


def test_percentile_interpolates() -> None:
    assert percentile([], 50) is None
    assert percentile([1.0], 99) == 1.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == pytest.approx(2.5)


def test_heldout_texts_are_plain_text_and_bounded() -> None:
    texts = bench.heldout_texts(350)
    assert len(texts) == 350
    assert not any("](" in text for text in texts)


def test_rss_tree_of_this_process() -> None:
    memory = bench.rss_tree(os.getpid())
    assert memory["rss_mib"] > 0 and memory["processes"] >= 1


def made_up_result() -> Dict[str, Any]:
    def point(scenario: str, users: int, stack: str, p50: float, tps: float) -> Dict[str, Any]:
        return {"scenario": scenario, "users": users, "stack": stack, "turns": 10, "turns_per_s": tps,
                "latency_ms": {"p50": p50, "p95": p50 * 2, "p99": p50 * 3, "mean": p50},
                "failed": 0, "unexpected": 0, "setup_failed": 0, "rounds": [], "inline_setups": 0}

    points = [point("plain", 1, "full", 60.0, 16.0), point("plain", 1, "bare", 50.0, 20.0),
              point("balance", 1, "full", 300.0, 3.0), point("balance", 1, "bare", 100.0, 10.0)]
    return {
        "date": "2025-02-15T10:00:00+08:00", "model": "m.tar.gz", "elapsed_s": 1.0, "notes": ["n"],
        "machine": {"nproc": 2, "cpu_model": "cpu", "ram_gib": 4.0, "loadavg_start": [1.0], "loadavg_end": [1.0]},
        "turns": points, "ratios": bench.ratios(points),
    }


def test_ratios_and_goals() -> None:
    rows = {(r["scenario"], r["users"]): r for r in bench.ratios(made_up_result()["turns"])}
    assert rows[("plain", 1)]["mean"] == pytest.approx(1.2) and rows[("plain", 1)]["meets_goal"]
    assert rows[("balance", 1)]["mean"] == pytest.approx(3.0) and not rows[("balance", 1)]["meets_goal"]
    assert rows[("balance", 1)]["throughput"] == pytest.approx(10 / 3, rel=1e-3)


def test_table_renders_partial_results() -> None:
    text = bench.table(made_up_result())
    assert "| plain | 1 | full |" in text and "≤ 1.3×" in text
    assert not bench.healthy(made_up_result())  # no NLU, billing or late-fee figures: not a whole run


def test_bare_errors_do_not_fail_the_run_but_full_stack_errors_do() -> None:
    result = made_up_result()
    result.update(nlu_parse={"failed": 0}, emotion={"ok": True}, billing_api={"failed": 0}, late_fee_batch={"ok": True},
                  reminder_planning={"ok": True})
    result["turns"][1]["unexpected"] = 2  # bare
    assert bench.healthy(result)
    result["turns"][0]["failed"] = 1  # full
    assert not bench.healthy(result)


def test_smoke_run_of_the_whole_benchmark(tmp_path: Path) -> None:
    """Tiny counts through a real stack and a bare rasa; checks the shape, never the speed."""
    out = tmp_path / "bench.json"
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "bench.py"), "--profile", "smoke", "--out", str(out)],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    result = json.loads(out.read_text(encoding="utf-8"))
    assert result["ok"]
    assert result["elapsed_s"] > 0
    assert {(p["scenario"], p["users"], p["stack"]) for p in result["turns"]} == {
        (scenario, users, stack) for scenario in ("plain", "balance") for users in (1, 2) for stack in ("full", "bare")
    }
    assert len(result["ratios"]) == 4
    assert result["emotion"]["ok"] and result["emotion"]["messages"] == 5
    assert set(result["memory"]) == {"billing", "actions", "rasa", "console", "rasa (bare)"}
    assert result["cold_start"]["stack_s"] > 0
    assert result["reminder_planning"]["households"] == 500 and result["reminder_planning"]["targeted"] > 0
    assert "| full ÷ bare |" in proc.stdout
