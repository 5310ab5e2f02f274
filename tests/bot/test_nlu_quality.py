"""The trained model on the held-out split (never trained on): intents and anger."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.nlu.evaluation import Report, evaluate

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def report() -> Report:
    model = ROOT / "var" / "models" / "current.tar.gz"
    if not model.exists():
        raise RuntimeError("no trained model: run `make train` (make test does it)")
    return evaluate(model, ROOT / "tests" / "data" / "nlu_heldout")


def test_heldout_split_is_large_enough(report: Report) -> None:
    intents = {case.intent for case in report.cases}
    assert len(intents) == 27
    assert len(report.cases) >= 270


def test_intent_accuracy_and_macro_f1(report: Report) -> None:
    assert report.intent_accuracy >= 0.90, report.confusions()
    assert report.macro_f1 >= 0.90


def test_anger_precision_and_recall(report: Report) -> None:
    anger = report.anger()
    assert anger["n"] == len(report.cases)
    assert anger["precision"] >= 0.98, [c.text for c in report.errors()]
    assert anger["recall"] >= 0.95, [c.text for c in report.errors()]


def test_angry_balance_question_keeps_its_intent(report: Report) -> None:
    angry_balance = [c for c in report.cases if c.intent == "ask_balance" and c.emotion == "angry"]
    assert angry_balance
    assert all(c.predicted_emotion == "angry" for c in angry_balance)
    assert sum(c.predicted_intent == "ask_balance" for c in angry_balance) >= len(angry_balance) - 1
