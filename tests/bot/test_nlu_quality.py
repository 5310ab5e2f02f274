"""The trained model on the held-out sets (never trained on): intents and anger.

Set 1 (`tests/data/nlu_heldout`) was written with the training data; it must not fall below
the figures measured before issue 10. Sets 2–7 were each written by a different hand that never
saw `nlu_data/`: set 2 in styles nobody tuned for (dialect, typos, pinyin, emoji, long messages);
sets 3 and 4 by later writers, their errors then read as families for new training data; sets 5
and 6 read as totals only; set 7 (`tests/data/nlu_heldout7`) last, measured once with the final
model of round 7. Each set is held at the figures of the model in use minus a small margin, so
that a regression fails. See docs/nlu.md.
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
    "heldout4": ROOT / "tests" / "data" / "nlu_heldout4",
    "heldout5": ROOT / "tests" / "data" / "nlu_heldout5",
    "heldout6": ROOT / "tests" / "data" / "nlu_heldout6",
    "heldout7": ROOT / "tests" / "data" / "nlu_heldout7",
}
# name: (intent accuracy, macro-F1, anger precision, anger recall, minimum examples, minimum angry).
# Measured with the round-8 model (docs/nlu.md, "Figures of the model in use"):
#   set 1 0.990 / 0.991 / 0.990 / 0.990     set 2 0.980 / 0.984 / 0.990 / 0.960
#   set 3 0.977 / 0.981 / 0.995 / 0.959     set 4 0.980 / 0.983 / 0.912 / 1.000
#   set 5 0.975 / 0.981 / 0.985 / 0.985     set 6 0.960 / 0.967 / 0.957 / 0.957
#   set 7 0.970 / 0.973 / 0.960 / 0.960
# Issue 10's goals are 0.95 / 0.95 / 0.98 / 0.95 on set 2 (its "second held-out set"), asserted there as
# they stand; set 4's writer labels impatient-but-civil messages neutral where the issue (and sets 2, 3)
# call them anger, hence its precision (docs/nlu.md).
GOALS = {
    "heldout1": (0.98, 0.98, 0.97, 0.98, 270, 90),
    "heldout2": (0.97, 0.97, 0.98, 0.95, 27 * 18, 170),
    "heldout3": (0.965, 0.965, 0.975, 0.955, 27 * 15, 180),
    "heldout4": (0.965, 0.965, 0.87, 0.98, 27 * 20, 180),
    "heldout5": (0.965, 0.965, 0.97, 0.975, 27 * 20, 200),
    "heldout6": (0.95, 0.955, 0.935, 0.94, 27 * 30, 270),
    "heldout7": (0.96, 0.96, 0.935, 0.935, 27 * 22, 190),
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
