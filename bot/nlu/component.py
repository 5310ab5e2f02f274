"""What the two scikit-learn NLU components share: config, storage in the Rasa model, features.

The intent classifier and the emotion detector are both a linear model over the same two views
of the text (character n-grams and jieba words), trained during `rasa train` and stored inside
the model archive. The Rasa plumbing for that lives here once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Text, Tuple, Type, TypeVar

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.nlu.text import normalise, spelled, words

T = TypeVar("T", bound="SklearnComponent")


def text_features(max_ngram: int, spelling: bool = False) -> List[Tuple[str, Any]]:
    """Character 1–n-grams of the normalised text (`spelling`: typos and pinyin folded too) and
    jieba words of the text as typed (tf-idf), as FeatureUnion parts."""
    from sklearn.feature_extraction.text import TfidfVectorizer

    return [
        ("chars", TfidfVectorizer(analyzer="char", ngram_range=(1, max_ngram), sublinear_tf=True,
                                  preprocessor=spelled if spelling else normalise)),
        ("words", TfidfVectorizer(analyzer=words, sublinear_tf=True)),
    ]


class SklearnComponent(GraphComponent):
    """A trainable component whose whole state is one joblib file in the model storage."""

    MODEL_FILE: str = "model.joblib"

    @staticmethod
    def required_packages() -> List[Text]:
        return ["sklearn", "jieba"]

    def __init__(
        self,
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        stored: Optional[Dict[str, Any]] = None,
    ) -> None:
        self._config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self._restore(stored or {})

    def _restore(self, stored: Dict[str, Any]) -> None:
        """Takes the state `_store` saved (empty when untrained)."""
        raise NotImplementedError

    @classmethod
    def create(
        cls: Type[T],
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> T:
        return cls(config, model_storage, resource)

    def _store(self, state: Dict[str, Any]) -> Resource:
        """Saves the trained state in this component's resource of the model archive."""
        import joblib

        with self._model_storage.write_to(self._resource) as directory:
            joblib.dump(state, Path(directory) / self.MODEL_FILE)
        self._restore(state)
        return self._resource

    @classmethod
    def load(
        cls: Type[T],
        config: Dict[Text, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> T:
        import joblib

        try:
            with model_storage.read_from(resource) as directory:
                stored = joblib.load(Path(directory) / cls.MODEL_FILE)
        except ValueError:  # nothing stored: a model trained without NLU data
            stored = {}
        return cls(config, model_storage, resource, stored)

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        return training_data


def texts_of(examples: Sequence[Tuple[str, Any]]) -> List[str]:
    """The texts of (text, label) pairs."""
    return [text for text, _label in examples]
