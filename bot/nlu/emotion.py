"""Emotion detector: adds `emotion` (`angry` / `neutral`) to every parsed message.

Emotion is independent of the intent (an angry user may still ask for the
balance), so it is a separate component rather than more intents. It combines a
spaCy text classifier, trained during `rasa train` on the `emotion` metadata of
the NLU examples and stored inside the Rasa model, with the documented anger
lexicon in `bot.nlu.anger_lexicon`.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path
from typing import Any, Dict, List, Optional, Text, Tuple

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.anger_lexicon import cue_scores, noisy_or

logger = logging.getLogger(__name__)

EMOTION = "emotion"
ANGRY = "angry"
NEUTRAL = "neutral"
_LABELS = {ANGRY: "ANGRY", NEUTRAL: "NEUTRAL"}
_MODEL_DIR = "textcat"


def blank_chinese() -> Any:
    """`spacy.blank("zh")` segmented by jieba (no model download is possible here)."""
    import spacy

    return spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "jieba"}}})


def emotion_label(message: Message) -> Optional[str]:
    """The `emotion` label of a training example (`metadata: {emotion: ...}`)."""
    metadata = message.get("metadata") or {}
    example = metadata.get("example") if isinstance(metadata, dict) else None
    if isinstance(example, dict):
        label = example.get(EMOTION)
        if label in _LABELS:
            return str(label)
    return None


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, is_trainable=True
)
class EmotionDetector(GraphComponent):
    """spaCy textcat + anger lexicon → `{"name": angry|neutral, "confidence": p}`."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "threshold": 0.5,  # angry when the combined score reaches it (tuned by `make eval`)
            "epochs": 20,
            "dropout": 0.2,
            "use_lexicon": True,
            "random_seed": 42,
        }

    @staticmethod
    def required_packages() -> List[Text]:
        return ["spacy", "jieba"]

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        nlp: Any = None,
    ) -> None:
        self._config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self._nlp = nlp

    @classmethod
    def create(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> "EmotionDetector":
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        """Trains the textcat on the labelled examples and stores it with the model."""
        from spacy.training import Example
        from spacy.util import fix_random_seed, minibatch

        labelled: List[Tuple[str, str]] = [
            (message.get("text"), label)
            for message in training_data.intent_examples
            if (label := emotion_label(message)) is not None
        ]
        if not labelled:
            logger.warning("No example carries an emotion label; only the lexicon will be used.")
            return self._resource

        fix_random_seed(self._config["random_seed"])
        nlp = blank_chinese()
        textcat = nlp.add_pipe(
            "textcat",
            config={
                "model": {
                    "@architectures": "spacy.TextCatBOW.v2",
                    "exclusive_classes": True,
                    "ngram_size": 2,
                    "no_output_layer": False,
                }
            },
        )
        for label in _LABELS.values():
            textcat.add_label(label)
        examples = [
            Example.from_dict(
                nlp.make_doc(text),
                {"cats": {value: float(key == label) for key, value in _LABELS.items()}},
            )
            for text, label in labelled
        ]
        optimizer = nlp.initialize(lambda: examples)
        rng = random.Random(self._config["random_seed"])
        for _epoch in range(int(self._config["epochs"])):
            rng.shuffle(examples)
            for batch in minibatch(examples, size=16):
                nlp.update(batch, sgd=optimizer, drop=float(self._config["dropout"]))
        self._nlp = nlp
        with self._model_storage.write_to(self._resource) as directory:
            nlp.to_disk(Path(directory) / _MODEL_DIR)
        logger.info("Emotion textcat trained on %d labelled examples.", len(examples))
        return self._resource

    @classmethod
    def load(
        cls,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> "EmotionDetector":
        import spacy

        nlp = None
        try:
            with model_storage.read_from(resource) as directory:
                path = Path(directory) / _MODEL_DIR
                if path.exists():
                    nlp = spacy.load(path)
        except ValueError:
            logger.warning("No emotion textcat in the model; only the lexicon will be used.")
        return cls(config, model_storage, resource, nlp)

    def score(self, text: str) -> float:
        """Probability-like anger score in [0, 1] for one text."""
        signals: List[float] = []
        if self._nlp is not None and text.strip():
            signals.append(float(self._nlp(text).cats.get(_LABELS[ANGRY], 0.0)))
        if self._config["use_lexicon"]:
            signals.extend(weight for _family, weight in cue_scores(text))
        return noisy_or(signals)

    def process(self, messages: List[Message]) -> List[Message]:
        threshold = float(self._config["threshold"])
        for message in messages:
            text = message.get("text") or ""
            score = self.score(text)
            angry = score >= threshold
            message.set(
                EMOTION,
                {
                    "name": ANGRY if angry else NEUTRAL,
                    "confidence": round(score if angry else 1.0 - score, 4),
                },
                add_to_output=True,
            )
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data
