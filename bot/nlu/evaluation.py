"""Evaluation of the trained model on held-out sets: intents and anger.

Used by `make eval` (scripts/eval_nlu.py) and by the quality tests, so the
figures in docs/nlu.md and the thresholds the tests hold are computed one way.
Two held-out sets, never trained on: `tests/data/nlu_heldout` (written with the
training data) and `tests/data/nlu_heldout2` (written independently, in styles
the training data was not tuned for).
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

from rasa.core.agent import Agent
from rasa.utils.common import configure_logging_and_warnings
from rasa.utils.log_utils import configure_structlog
from rasa.shared.nlu.training_data.loading import load_data

from bot.nlu.emotion import ANGRY, emotion_label


@dataclass
class Case:
    text: str
    intent: str
    emotion: Optional[str]
    predicted_intent: str = ""
    intent_confidence: float = 0.0
    predicted_emotion: str = ""
    anger_score: float = 0.0


@dataclass
class Report:
    cases: List[Case] = field(default_factory=list)

    @property
    def intent_accuracy(self) -> float:
        return sum(c.intent == c.predicted_intent for c in self.cases) / max(1, len(self.cases))

    def intent_f1(self) -> Dict[str, float]:
        labels = sorted({c.intent for c in self.cases})
        scores: Dict[str, float] = {}
        for label in labels:
            tp = sum(c.intent == label and c.predicted_intent == label for c in self.cases)
            fp = sum(c.intent != label and c.predicted_intent == label for c in self.cases)
            fn = sum(c.intent == label and c.predicted_intent != label for c in self.cases)
            precision = tp / (tp + fp) if tp + fp else 0.0
            recall = tp / (tp + fn) if tp + fn else 0.0
            scores[label] = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return scores

    @property
    def macro_f1(self) -> float:
        scores = self.intent_f1()
        return sum(scores.values()) / max(1, len(scores))

    def per_intent(self) -> Dict[str, Dict[str, float]]:
        """Per true intent: support, precision, recall, F1 and the most frequent wrong prediction."""
        table: Dict[str, Dict[str, Any]] = {}
        f1 = self.intent_f1()
        for label in sorted({c.intent for c in self.cases}):
            support = [c for c in self.cases if c.intent == label]
            predicted = [c for c in self.cases if c.predicted_intent == label]
            correct = sum(c.predicted_intent == label for c in support)
            wrong = Counter(c.predicted_intent for c in support if c.predicted_intent != label)
            table[label] = {
                "n": len(support),
                "precision": correct / len(predicted) if predicted else 0.0,
                "recall": correct / len(support),
                "f1": f1[label],
                "top_confusion": wrong.most_common(1)[0][0] if wrong else "",
            }
        return table

    def confusions(self) -> List[Tuple[Tuple[str, str], int]]:
        pairs = Counter((c.intent, c.predicted_intent) for c in self.cases if c.intent != c.predicted_intent)
        return pairs.most_common()

    def anger(self, threshold: Optional[float] = None) -> Dict[str, float]:
        labelled = [c for c in self.cases if c.emotion is not None]

        def is_angry(case: Case) -> bool:
            return case.anger_score >= threshold if threshold is not None else case.predicted_emotion == ANGRY

        tp = sum(c.emotion == ANGRY and is_angry(c) for c in labelled)
        fp = sum(c.emotion != ANGRY and is_angry(c) for c in labelled)
        fn = sum(c.emotion == ANGRY and not is_angry(c) for c in labelled)
        precision = tp / (tp + fp) if tp + fp else 1.0
        recall = tp / (tp + fn) if tp + fn else 1.0
        return {"precision": precision, "recall": recall, "tp": tp, "fp": fp, "fn": fn, "n": len(labelled)}

    def intent_by_emotion(self) -> Dict[str, Dict[str, int]]:
        """Per true intent: angry/neutral × detected angry/neutral counts."""
        table: Dict[str, Dict[str, int]] = {}
        for c in self.cases:
            row = table.setdefault(c.intent, Counter())
            row[f"{c.emotion or '?'}→{c.predicted_emotion}"] += 1
        return {k: dict(v) for k, v in sorted(table.items())}

    def errors(self) -> List[Case]:
        return [c for c in self.cases if c.intent != c.predicted_intent or (c.emotion and c.emotion != c.predicted_emotion)]


def load_cases(data_dir: Path) -> List[Case]:
    """The examples of every `*.yml` file in `data_dir` (a README may sit beside them)."""
    return [
        Case(message.get("text"), message.get("intent"), emotion_label(message))
        for path in sorted(data_dir.glob("*.yml"))
        for message in load_data(str(path)).intent_examples
    ]


async def _parse_all(agent: Agent, cases: List[Case]) -> Report:
    for case in cases:
        parsed: Dict[str, Any] = await agent.parse_message(case.text)
        intent = parsed.get("intent") or {}
        case.predicted_intent = str(intent.get("name") or "")
        case.intent_confidence = float(intent.get("confidence") or 0.0)
        emotion = parsed.get("emotion") or {}
        case.predicted_emotion = str(emotion.get("name") or "")
        confidence = float(emotion.get("confidence") or 0.0)
        case.anger_score = confidence if case.predicted_emotion == ANGRY else 1.0 - confidence
    return Report(cases)


def evaluate_many(model: Path, data_dirs: Sequence[Path]) -> List[Report]:
    """One report per held-out set, loading the model once."""
    configure_logging_and_warnings(logging.WARNING)
    configure_structlog(logging.WARNING)  # otherwise every parse is logged at debug level
    agent = Agent.load(str(model))

    async def run() -> List[Report]:
        return [await _parse_all(agent, load_cases(data_dir)) for data_dir in data_dirs]

    return asyncio.run(run())


def evaluate(model: Path, data_dir: Path) -> Report:
    return evaluate_many(model, [data_dir])[0]
