"""Jieba tokenizer with the heating-industry dictionary and no whitespace tokens.

Rasa's JiebaTokenizer already copies `dictionary_path` into the model, so the
dictionary travels with it; we only drop the whitespace tokens jieba emits for
mixed Chinese/English text ("查 欠费 TMD"), which would otherwise become features.
"""

from __future__ import annotations

from typing import List, Text

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.tokenizers.jieba_tokenizer import JiebaTokenizer
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.shared.nlu.training_data.message import Message


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=True
)
class HeatingJiebaTokenizer(JiebaTokenizer):
    """Jieba segmentation with the user dictionary; whitespace never becomes a token."""

    def tokenize(self, message: Message, attribute: Text) -> List[Token]:
        import jieba

        text = message.get(attribute)
        tokens = [
            Token(word, start)
            for word, start, _end in jieba.tokenize(text)
            if word.strip()
        ]
        return self._apply_token_pattern(tokens)
