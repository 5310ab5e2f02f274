"""The trained model on both held-out sets (never trained on): intents and anger.

Set 1 (`tests/data/nlu_heldout`) was written with the training data; it must not fall
below the figures measured before issue 10. Set 2 (`tests/data/nlu_heldout2`) was
written independently, in styles nobody tuned for (dialect, typos, pinyin, emoji,
long messages, numbers); it holds the goals of issue 10. Set 3 (`tests/data/nlu_heldout3`) was
written by a third hand after sets 1 and 2 had been used for tuning, and was never used to tune:
it is the honest ruler, held at its first measurement. See docs/nlu.md.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, List

import pytest

from bot.nlu.evaluation import Report, evaluate_many

ROOT = Path(__file__).resolve().parents[2]
SETS = {
    "heldout1": ROOT / "tests" / "data" / "nlu_heldout",
    "heldout2": ROOT / "tests" / "data" / "nlu_heldout2",
    "heldout3": ROOT / "tests" / "data" / "nlu_heldout3",
}
# name: (intent accuracy, macro-F1, anger precision, anger recall, minimum examples, minimum angry)
# Set 1 holds the level of the linear intent model (07bc556: 0.983 / 0.985 / 1.00 / 1.00) minus a margin.
# Set 2 holds the round-3 model (0.983 / 0.985 / 0.955 / 0.960, docs/nlu.md) minus a small margin, so that a
# regression fails; its anger precision is still under the issue-10 goal of 0.98.
GOALS = {
    "heldout1": (0.975, 0.975, 1.0, 0.99, 270, 90),
    "heldout2": (0.97, 0.97, 0.94, 0.94, 27 * 18, 170),
    # Set 3, first measured at the merge of the round-3 data (0.938 / 0.947 / 0.994 / 0.892): below
    # the goals of issue 10 on intents and anger recall; held minus a small margin.
    "heldout3": (0.925, 0.935, 0.97, 0.87, 27 * 15, 180),
}


@pytest.fixture(scope="module")
def reports() -> Dict[str, Report]:
    # HEATDESK_NLU_MODEL: measure another archive (e.g. one trained with `rasa train nlu --out var/nlu-models`)
    # without replacing the shared model.
    model = Path(os.environ.get("HEATDESK_NLU_MODEL") or ROOT / "var" / "models" / "current.tar.gz")
    if not model.exists():
        raise RuntimeError("no trained model: run `make train` (make test does it)")
    return dict(zip(SETS, evaluate_many(model, list(SETS.values()))))


def _errors(report: Report) -> List[str]:
    return [f"{c.intent}/{c.emotion} → {c.predicted_intent}/{c.predicted_emotion}" for c in report.errors()]


@pytest.mark.parametrize("name", SETS)
def test_heldout_set_is_large_enough(reports: Dict[str, Report], name: str) -> None:
    report = reports[name]
    *_figures, minimum, minimum_angry = GOALS[name]
    assert len({case.intent for case in report.cases}) == 27
    assert len(report.cases) >= minimum
    assert sum(case.emotion == "angry" for case in report.cases) >= minimum_angry


@pytest.mark.parametrize("name", SETS)
def test_intent_accuracy_and_macro_f1(reports: Dict[str, Report], name: str) -> None:
    report = reports[name]
    accuracy, macro_f1, *_rest = GOALS[name]
    assert report.intent_accuracy >= accuracy, report.confusions()
    assert report.macro_f1 >= macro_f1, report.confusions()


@pytest.mark.parametrize("name", SETS)
def test_anger_precision_and_recall(reports: Dict[str, Report], name: str) -> None:
    report = reports[name]
    _accuracy, _macro_f1, precision, recall, *_rest = GOALS[name]
    anger = report.anger()
    assert anger["n"] == len(report.cases)
    assert anger["precision"] >= precision, _errors(report)
    assert anger["recall"] >= recall, _errors(report)


def test_angry_balance_question_keeps_its_intent(reports: Dict[str, Report]) -> None:
    angry_balance = [c for c in reports["heldout1"].cases if c.intent == "ask_balance" and c.emotion == "angry"]
    assert angry_balance
    assert all(c.predicted_emotion == "angry" for c in angry_balance)
    assert sum(c.predicted_intent == "ask_balance" for c in angry_balance) >= len(angry_balance) - 1
