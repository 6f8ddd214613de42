"""The default scorer: per-language routing of lexicon scores and the shipped learned models, combined.

* English: VADER + crypto lexicon scores (compound, pos, neg) are features of the shipped model trained on
  finance-news tweets, next to its word features; compound = P(bullish) - P(bearish).
* Indonesian: the same with the Indonesian lexicon's scores and the model trained on IndoNLU SmSA.
* Chinese: jieba + the Chinese lexicon; ar, fa, ru, es, pt, tr, vi: their lexicons; emoji-only text: emoji.
* Any other language: unscored, with its ``lang``.

Labels. Where a model reads the kind of text it was trained on (Indonesian comments; English text that reads as
a news report: it links out or is a headline, with no sign of a person talking) its most probable class is the
label, ``neutral`` included. English chat is not news: people in a trading chat talk because they lean one way,
and the news model's "neutral" mostly means "no news-style evidence" there, so chat is labelled by compound
(+-0.05), as the lexicon scorers are. Lexicon-only languages are labelled by compound too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from sentiment.scoring.core import LABELS, BaseScorer, LexiconParts, label_codes, label_for
from sentiment.scoring.langid import detect
from sentiment.scoring.multilingual import LANGS as LEXICON_LANGS
from sentiment.scoring.rounding import round_scores

__all__ = ["HybridScorer", "reads_as_report"]

MODEL_LANGS = ("en", "id")
_CODE = {label: i for i, label in enumerate(LABELS)}
_LINK = re.compile(r"(?i)https?://|www\.")
_SYMBOL = re.compile("[\u2190-\U0010ffff]")  # arrows, symbols, emoji and everything after them
_CAPS_WORD = re.compile(r"(?<![$\w])[A-Za-z][A-Za-z'’&.-]+")
# Signs of a person talking: first/second person, chat abbreviations, as chat writes them (lower case; a
# headline's "You" or a ticker such as GM is not one), and the capital I.
_CHAT_WORDS = frozenset(
    {"i", "im", "i'm", "i’m", "me", "my", "mine", "we", "our", "us", "you", "your", "u", "ur", "I", "I'm", "I’m"}
    | {"Im", "lol", "lmao", "imo", "imho", "lfg", "wtf", "gm", "gn", "omg", "ngl", "tbh", "idk"}
)


def _code_of(compound: float) -> int:
    return _CODE[label_for(compound)]


def reads_as_report(text: str) -> bool:
    """English text written as news: it links to an article or is a headline (at least 4 words, most of them
    capitalised), and has no first/second person, chat abbreviation or emoji."""
    if text.islower() and "http" not in text and "www." not in text:
        return False  # no capital and no link: neither a headline nor a link to one (the usual chat message)
    if not text.isascii() and _SYMBOL.search(text):
        return False  # arrows, symbols and emoji are chat, not headlines
    words = _CAPS_WORD.findall(text)
    if any(w in _CHAT_WORDS for w in words):
        return False
    if _LINK.search(text):
        return True
    if len(words) < 4:
        return False
    return sum(w[0].isupper() for w in words) >= 0.6 * len(words)


class HybridScorer(LexiconParts, BaseScorer):
    """Lexicons + shipped learned models per language (see the module docstring); the package default."""

    name = "hybrid"
    RULES_VERSION = "2"  # 2: Arabic endings and verb prefixes, written laughter, emoticons

    def __init__(self) -> None:
        from sentiment.scoring.lexicon import data_digest, model_digest

        self.version = f"{self.RULES_VERSION}.{data_digest()}.{model_digest()}"
        self._en = self._zh = self._multi = None
        self._models: dict[str, object] = {}

    def __getstate__(self) -> dict[str, object]:
        return {**self.__dict__, "_en": None, "_zh": None, "_multi": None, "_models": {}}

    # ---- parts, built on first use (and once per worker process) ------------------------------------------
    @property
    def multi(self):  # type: ignore[no-untyped-def]
        if self._multi is None:
            from sentiment.scoring.multilingual import MultiScorer

            self._multi = MultiScorer()
        return self._multi

    def model(self, lang: str):  # type: ignore[no-untyped-def]
        if lang not in self._models:
            from sentiment.scoring.learned import load_shipped

            self._models[lang] = load_shipped(lang)
        return self._models[lang]

    def warm(self) -> None:
        self.score_arrays(["warm up good 好", "bagus", "جميل", "🚀"])

    def lexicon_scores(self, text: str, lang: str) -> dict[str, float]:
        """The lexicon's VADER-style scores of ``text`` in ``lang`` (the learned models' dense features)."""
        if lang == "en":
            return self.english.polarity_scores(text)
        if lang == "zh":
            return self.chinese.polarity_scores(text)
        return self.multi.polarity_scores(text, None if lang == "und" else lang)

    # ---- scoring ------------------------------------------------------------------------------------------
    def score_one(self, text: str) -> dict[str, object]:
        values, labels, langs = self.score_arrays([text])
        row = values[0]
        scored = not np.isnan(row[0])
        return {
            "compound": float(row[0]) if scored else None,
            "pos": float(row[1]) if scored else None,
            "neu": float(row[2]) if scored else None,
            "neg": float(row[3]) if scored else None,
            "label": LABELS[labels[0]],
            "lang": langs[0],
        }

    def score_arrays(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, list[str]]:
        """Scores of a batch, language by language (the learned models predict a language's texts at once)."""
        langs = list(map(detect, texts))
        values = np.full((len(texts), 4), np.nan)
        codes = np.full(len(texts), _CODE["unscored"], dtype="uint8")
        groups: dict[str, list[int]] = {}
        for i, lang in enumerate(langs):
            groups.setdefault(lang, []).append(i)
        for lang, rows in groups.items():
            if lang in MODEL_LANGS:
                self._modelled(lang, list(map(texts.__getitem__, rows)), rows, values, codes)
            elif lang == "zh":
                scores = round_scores(np.array([self.chinese.unrounded(texts[i]) for i in rows], dtype="float64"))
                values[rows] = scores
                codes[rows] = label_codes(scores[:, 0])
            elif lang in LEXICON_LANGS or lang == "und":
                for i in rows:
                    text = texts[i]
                    if lang == "und" and not text.strip():
                        continue
                    s = self.lexicon_scores(text, lang)
                    if lang == "und" and not (s["pos"] or s["neg"]):
                        continue  # no letters and no emoji with a meaning: nothing to read
                    values[i] = (s["compound"], s["pos"], s["neu"], s["neg"])
                    codes[i] = _code_of(s["compound"])
        return values, codes, langs

    def _modelled(self, lang: str, texts: list[str], rows: list[int], values: np.ndarray, codes: np.ndarray) -> None:
        """Lexicon scores as features of ``lang``'s model; compound = P(bullish) - P(bearish)."""
        model = self.model(lang)
        if lang == "en":
            dense = self.english.features(texts)
        else:
            scores = [self.lexicon_scores(t, lang) for t in texts]
            dense = np.array([(s["compound"], s["pos"], s["neg"]) for s in scores], dtype="float64").reshape(-1, 3)
        proba = model.proba_many(texts, dense)
        column = {c: proba[:, k] for k, c in enumerate(model.classes)}
        bull, bear, neu = column["bullish"], column["bearish"], column["neutral"]
        compound = np.round(bull - bear, 4)
        values[rows] = np.column_stack([compound, np.round(bull, 3), np.round(neu, 3), np.round(bear, 3)])
        by_compound = label_codes(compound)
        best = np.array([_CODE[c] for c in model.classes], dtype="uint8")[proba.argmax(axis=1)]
        in_domain = np.ones(len(texts), dtype=bool) if lang == "id" else np.array(list(map(reads_as_report, texts)))
        codes[rows] = np.where(in_domain, best, by_compound)
