"""The jieba tokenizer keeps heating terms whole and never emits whitespace tokens."""

from __future__ import annotations

from pathlib import Path

from rasa.engine.graph import ExecutionContext
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.tokenizer import HeatingJiebaTokenizer

ROOT = Path(__file__).resolve().parents[2]


def _tokens(tmp_path: Path, text: str) -> list[str]:
    config = {**HeatingJiebaTokenizer.get_default_config(), "dictionary_path": str(ROOT / "bot/nlu/dictionary")}
    tokenizer = HeatingJiebaTokenizer.create(
        config, LocalModelStorage(tmp_path), Resource("tokenizer"), ExecutionContext(None)  # type: ignore[arg-type]
    )
    return [token.text for token in tokenizer.tokenize(Message(data={"text": text}), "text")]


def test_heating_words_stay_whole(tmp_path: Path) -> None:
    tokens = _tokens(tmp_path, "滞纳金怎么算 报停以后咋开栓")
    for word in ("滞纳金", "报停", "开栓"):
        assert word in tokens


def test_no_whitespace_tokens_in_mixed_text(tmp_path: Path) -> None:
    tokens = _tokens(tmp_path, "查 欠费  TMD  户号 2024000001")
    assert all(token.strip() for token in tokens)
    assert "TMD" in tokens and "户号" in tokens
