"""Rasa tokenizer that uses spaCy's English or German rules per message.

The language comes from the language detector that runs before it in the pipeline
(``config.yml``). Lemmas come from spaCy's lookup tables, tried as written, in lower
case and capitalised, because German nouns are capitalised in the table while users
often type in lower case.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.tokenizers.tokenizer import Token, Tokenizer
from rasa.shared.nlu.training_data.message import Message

from bot.nlu.components import BuiltByRasa
from bot.nlu.language_detector import LANGUAGE_ATTRIBUTE
from bot.nlu.spacy_pipelines import SUPPORTED_LANGUAGES, blank_pipeline, lemma_table


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False
)
class BilingualSpacyTokenizer(BuiltByRasa, Tokenizer):
    """Tokenizes with the spaCy rules and lemma table of each message's language."""

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        return {
            "intent_tokenization_flag": False,
            "intent_split_symbol": "_",
            "token_pattern": None,
            "prefix_separator_symbol": None,
            # Used when no language detector tagged the message.
            "default_language": "de",
        }

    @staticmethod
    def supported_languages() -> Optional[List[str]]:
        return None

    def __init__(self, config: Dict[str, Any]) -> None:
        super().__init__(config)
        self._default_language = config["default_language"]
        self._pipelines = {lang: blank_pipeline(lang) for lang in SUPPORTED_LANGUAGES}
        self._lemmas = {lang: lemma_table(lang) for lang in SUPPORTED_LANGUAGES}

    def _lemma(self, language: str, word: str) -> str:
        table = self._lemmas[language]
        for form in (word, word.lower(), word.capitalize()):
            lemma = table.get(form)
            if lemma is not None:
                return lemma.lower()
        return word.lower()

    def tokenize(self, message: Message, attribute: str) -> List[Token]:
        language = message.get(LANGUAGE_ATTRIBUTE) or self._default_language
        if language not in self._pipelines:
            language = self._default_language
        text = message.get(attribute) or ""
        doc = self._pipelines[language].make_doc(text)
        tokens = [
            Token(
                token.text,
                token.idx,
                lemma=self._lemma(language, token.text),
                data={"language": language},
            )
            for token in doc
            if not (token.is_space or token.is_punct)
        ]
        return self._apply_token_pattern(tokens)
