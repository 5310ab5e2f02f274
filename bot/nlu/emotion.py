"""Emotion detector: adds `emotion` (`angry` / `neutral`) to every parsed message.

Emotion is independent of the intent (an angry user may still ask for the
balance, a calm one may still complain), so it is a separate component that
never looks at the intent. It is the soft vote of a multinomial naive Bayes over
the n-grams and words and a logistic regression over four views of the whole
message, trained during `rasa train` on the `emotion` metadata of the NLU
examples and stored inside the Rasa model. The regression's views:

* character 1–4-grams (sarcasm, dialect, typos, pinyin and punctuation runs
  that no word list foresees: "给空气供的吧", "sb", "？？？"),
* jieba words and word pairs (with the heating dictionary),
* the families of the documented anger lexicon (`bot.nlu.anger_lexicon`), so a
  rare insult the data never shows still counts, and every decision can be
  explained by the cues it found,
* style: calm markers (politeness, family context) and a length bucket, so a
  long, polite story from an elderly resident is not read as anger for its length.

Digit runs are folded to one symbol first: an account number is not a mood.
The threshold is chosen on data at training time: the one that maximises F-beta (β = 0.7) of
out-of-fold probabilities (5-fold cross-validation on the training examples, three fold draws pooled),
unless `threshold` is set in config.yml. See docs/nlu.md.
"""

from __future__ import annotations

import logging
import re
from typing import Any, Dict, List, Optional, Sequence, Text, Tuple

import numpy as np
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.base import BaseEstimator, ClassifierMixin, clone

from bot.nlu.anger_lexicon import FAMILIES, cue_scores
from bot.nlu.component import SklearnComponent, text_features, texts_of

logger = logging.getLogger(__name__)

EMOTION = "emotion"
ANGRY = "angry"
NEUTRAL = "neutral"
_LABELS = (ANGRY, NEUTRAL)


def lexicon_features(texts: Sequence[str]) -> Any:
    """One column per lexicon family (its cue weight when found) for each text."""
    from scipy.sparse import csr_matrix

    rows = np.zeros((len(texts), len(FAMILIES)), dtype=np.float64)
    for row, text in enumerate(texts):
        for family, weight in cue_scores(text):
            column = FAMILIES.index(family)
            rows[row, column] = max(rows[row, column], weight)
    return csr_matrix(rows)


# Calm markers: politeness and family context ("麻烦您", "老伴儿让我…", "孙子怕冻着"). Long, calm stories
# from elderly residents and parents carry many negative words (冷, 冻, 整不明白); these columns let the
# regression learn that such a story is not anger by itself. Not anger cues, so not in the lexicon.
_CALM_MARKERS = (
    re.compile(r"您|请问|麻烦|劳驾|谢谢|辛苦|打扰|不好意思|多谢"),
    re.compile(r"老伴|孙子|孙女|外孙|孩子|闺女|儿子|我妈|我爸|老人|岁数|年纪大|老太太|老头"),
)
# Length as three buckets (< 8, 8–39, ≥ 40 characters), not as a number: short messages are almost
# all calm (greetings, yes/no, digits), but a longer message is not angrier for being longer, and a
# monotonic length column learned exactly that (long calm stories flagged angry; docs/nlu.md).
_LENGTH_BUCKETS = (8, 40)
_STYLE_COLUMNS = len(_CALM_MARKERS) + len(_LENGTH_BUCKETS) + 1


def style_features(texts: Sequence[str]) -> Any:
    """Calm-marker columns and a one-hot length bucket for each text."""
    from scipy.sparse import csr_matrix

    markers = len(_CALM_MARKERS)
    rows = np.zeros((len(texts), _STYLE_COLUMNS), dtype=np.float64)
    for row, text in enumerate(texts):
        for column, pattern in enumerate(_CALM_MARKERS):
            rows[row, column] = 1.0 if pattern.search(text) else 0.0
        bucket = sum(len(text) >= edge for edge in _LENGTH_BUCKETS)
        rows[row, markers + bucket] = 1.0
    return csr_matrix(rows)


class SoftVote(BaseEstimator, ClassifierMixin):
    """The mean of two readers' probabilities over one feature matrix, so the features are computed once.

    A logistic regression reads every column (n-grams, words, lexicon, style) and learns which cues
    weigh; a multinomial naive Bayes reads only the n-gram and word columns (the first ones) and ranks
    short, unseen phrasings better. Scikit-learn's `VotingClassifier` would need a pipeline per reader
    and so compute the same tf-idf features twice for every message.
    """

    def __init__(self, regression: Any, bayes: Any, extra_columns: int) -> None:
        self.regression = regression
        self.bayes = bayes
        self.extra_columns = extra_columns  # trailing columns the naive Bayes does not read

    def _text_columns(self, features: Any) -> Any:
        return features[:, : features.shape[1] - self.extra_columns]

    def fit(self, features: Any, labels: Any) -> "SoftVote":
        self.regression_ = clone(self.regression).fit(features, labels)
        self.bayes_ = clone(self.bayes).fit(self._text_columns(features), labels)
        self.classes_ = self.regression_.classes_
        return self

    def predict_proba(self, features: Any) -> np.ndarray:
        return (self.regression_.predict_proba(features)
                + self.bayes_.predict_proba(self._text_columns(features))) / 2.0

    def predict(self, features: Any) -> np.ndarray:
        return self.classes_[self.predict_proba(features).argmax(axis=1)]


def build_classifier(c: float, random_seed: int, bayes_alpha: float = 0.1) -> Any:
    """The untrained model: the features once, then a soft vote of two readers (`SoftVote`).

    Averaged, the regression and the naive Bayes beat either one out of fold and on every
    independent set (docs/nlu.md, round 6).
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.naive_bayes import MultinomialNB
    from sklearn.pipeline import FeatureUnion, Pipeline
    from sklearn.preprocessing import FunctionTransformer

    features = FeatureUnion([
        *text_features(max_ngram=4),
        ("lexicon", FunctionTransformer(lexicon_features)),
        ("style", FunctionTransformer(style_features)),
    ])
    regression = LogisticRegression(C=c, class_weight="balanced", max_iter=2000, random_state=random_seed)
    vote = SoftVote(regression, MultinomialNB(alpha=bayes_alpha), extra_columns=len(FAMILIES) + _STYLE_COLUMNS)
    return Pipeline([("features", features), ("vote", vote)])


def best_threshold(probabilities: np.ndarray, angry: np.ndarray, beta: float = 0.7) -> float:
    """The threshold with the highest F-beta on held-out probabilities (ties: the higher one).

    β = 0.7 weighs precision about twice recall (β² ≈ 0.5), as issue 10's goals do (anger
    precision 0.98, recall 0.95): a false alarm opens a ticket nobody asked for.
    """
    best, best_score = 0.5, -1.0
    for threshold in np.arange(0.2, 0.81, 0.01):
        predicted = probabilities >= threshold
        tp = float(np.sum(predicted & angry))
        precision = tp / max(1.0, float(np.sum(predicted)))
        recall = tp / max(1.0, float(np.sum(angry)))
        denominator = beta * beta * precision + recall
        score = (1 + beta * beta) * precision * recall / denominator if denominator else 0.0
        if score >= best_score:
            best, best_score = float(round(threshold, 2)), score
    return best


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
class EmotionDetector(SklearnComponent):
    """Char/word/lexicon logistic regression → `{"name", "confidence", "cues"}`."""

    MODEL_FILE = "emotion.joblib"

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            "threshold": None,  # None: chosen on out-of-fold probabilities at training time
            "c": 100.0,  # inverse regularisation of the logistic regression (chosen out-of-fold, docs/nlu.md)
            "bayes_alpha": 0.1,  # smoothing of the naive Bayes voter (chosen out-of-fold, docs/nlu.md)
            "folds": 5,
            "threshold_repeats": 3,  # fold draws whose out-of-fold scores are pooled to choose the threshold
            "threshold_beta": 0.7,  # F-beta of the threshold choice: precision weighs about twice recall
            "random_seed": 42,
        }

    def _restore(self, stored: Dict[str, Any]) -> None:
        self._classifier = stored.get("classifier")
        configured = self._config["threshold"]
        self.threshold = float(configured if configured is not None else stored.get("threshold") or 0.5)

    def train(self, training_data: TrainingData) -> Resource:
        """Fits the classifier, picks the threshold on out-of-fold scores, stores both."""
        from sklearn.model_selection import StratifiedKFold, cross_val_predict

        labelled: List[Tuple[str, str]] = [
            (message.get("text"), label)
            for message in training_data.intent_examples
            if (label := emotion_label(message)) is not None
        ]
        if len({label for _text, label in labelled}) < 2:
            raise ValueError("The emotion detector needs angry and neutral examples (metadata: {emotion: ...}).")
        texts = texts_of(labelled)
        angry = np.array([label == ANGRY for _text, label in labelled])
        seed = int(self._config["random_seed"])
        classifier = build_classifier(float(self._config["c"]), seed, float(self._config["bayes_alpha"]))
        # Out-of-fold scores from several fold draws, pooled: the F-beta curve is flat near its top, so the
        # scores of one draw moved the threshold by a few hundredths with every small data change.
        repeats = max(1, int(self._config["threshold_repeats"]))
        pooled = [
            cross_val_predict(classifier, texts, angry, method="predict_proba",
                              cv=StratifiedKFold(n_splits=int(self._config["folds"]), shuffle=True,
                                                 random_state=seed + repeat))[:, 1]
            for repeat in range(repeats)
        ]
        chosen = best_threshold(np.concatenate(pooled), np.tile(angry, repeats), float(self._config["threshold_beta"]))
        classifier.fit(texts, angry)
        logger.info("Emotion classifier trained on %d examples (%d angry); out-of-fold threshold %.2f.",
                    len(texts), int(angry.sum()), chosen)
        return self._store({"classifier": classifier, "threshold": chosen})

    def score(self, text: str) -> float:
        """Probability that `text` is angry, in [0, 1]."""
        if self._classifier is None or not text.strip():
            return 0.0
        return float(self._classifier.predict_proba([text])[0, 1])

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get("text") or ""
            score = self.score(text)
            angry = score >= self.threshold
            message.set(
                EMOTION,
                {
                    "name": ANGRY if angry else NEUTRAL,
                    "confidence": round(score if angry else 1.0 - score, 4),
                    "cues": sorted({family for family, _weight in cue_scores(text)}),
                },
                add_to_output=True,
            )
        return messages
