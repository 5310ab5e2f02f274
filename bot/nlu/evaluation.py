"""Evaluation of the trained model on the held-out split: intents and anger.

Used by `make eval` (scripts/eval_nlu.py) and by the quality tests, so the
figures in the README and the thresholds the tests hold are computed one way.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

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
    data = load_data(str(data_dir))
    return [
        Case(message.get("text"), message.get("intent"), emotion_label(message))
        for message in data.intent_examples
    ]


async def _evaluate(model: Path, cases: List[Case]) -> Report:
    configure_logging_and_warnings(logging.WARNING)
    configure_structlog(logging.WARNING)  # otherwise every parse is logged at debug level
    agent = Agent.load(str(model))
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


def evaluate(model: Path, data_dir: Path) -> Report:
    return asyncio.run(_evaluate(model, load_cases(data_dir)))
