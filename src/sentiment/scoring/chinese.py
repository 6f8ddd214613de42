"""Chinese sentiment: jieba segmentation + the shipped Chinese lexicon with negation and degree words."""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import re
import tempfile
from pathlib import Path

from sentiment.scoring.lexicon import ZhLexicon, load_zh_lexicon, normalise_emoji
from sentiment.scoring.rounding import rounded_scores
from sentiment.scoring.segment import Segmenter

__all__ = ["ChineseScorer"]

NEGATION_WINDOW = 3  # a negation flips the next sentiment word at most this many words later
EXCLAIM_STEP = 0.292  # VADER's per-"!" emphasis, up to 4
ALPHA = 15.0  # VADER's normalisation constant: compound = s / sqrt(s^2 + alpha)
_BOUNDARY = frozenset("，。！？；：,.!?;:…~～\n")
_SKIP = re.compile(r"^[\s\W_]+$")
_CACHE_LIMIT = 200_000
TABLE_FORMAT = 2  # bump when the saved segmentation table's layout or meaning changes (2: jieba's patterns)
log = logging.getLogger(__name__)


class ChineseScorer:
    """Scores Chinese (and mixed Chinese/English/emoji) text; builds its own jieba dictionary once (~0.7 s).

    The jieba tokenizer is private to this object (the global ``jieba.dt`` is left alone), knows every lexicon word
    so they segment whole, and caches its dictionary in the system temp folder (jieba's default), never in $HOME.
    Text is segmented by a :class:`Segmenter` over that tokenizer (jieba's ``lcut(text, HMM=False)`` tokens, faster).
    English words and emoji inside Chinese messages are read with the English/crypto lexicon passed in.
    """

    def __init__(
        self,
        lexicon: ZhLexicon | None = None,
        latin_lexicon: dict[str, float] | None = None,
        emoji_lexicon: dict[str, float] | None = None,
    ) -> None:
        self.lexicon = lexicon or load_zh_lexicon()
        self.latin = latin_lexicon or {}
        self.emoji = emoji_lexicon or {}
        self._tokenizer: object | None = None
        self._segmenter: Segmenter | None = None
        self._cache: dict[str, tuple[tuple[str, float], ...]] = {}
        modifiers = {**self.lexicon.negation, **self.lexicon.degree}
        self._prefixes = sorted(modifiers, key=len, reverse=True)
        # If none of these characters occurs, no lexicon word can: the text scores 0 without segmenting.
        firsts = {w[0] for w in (*self.lexicon.sentiment, *modifiers)} | {e[0] for e in self.emoji}
        self._hint = re.compile("[" + "".join(re.escape(c) for c in sorted(firsts)) + "A-Za-z]")

    @property
    def tokenizer(self):  # type: ignore[no-untyped-def]
        if self._tokenizer is None:
            import jieba

            jieba.setLogLevel(logging.WARNING)
            tk = jieba.Tokenizer()
            tk.initialize()
            for word in (*self.lexicon.sentiment, *self.lexicon.negation, *self.lexicon.degree):
                if len(word) > 1:
                    tk.add_word(word, freq=max(tk.suggest_freq(word), 1000))
            self._tokenizer = tk
        return self._tokenizer

    @property
    def segmenter(self) -> Segmenter:
        """jieba's segmentation over the tokenizer with the lexicon words added.

        Its table is saved once in a private folder under the system temp folder (as jieba caches its own
        dictionary there) and read back by later processes, such as each scoring worker: that skips loading
        jieba's dictionary (~1.5 s per process). A missing or damaged file is rebuilt from jieba.
        """
        if self._segmenter is None:
            path: Path | None = None
            try:
                path = _table_path(self.lexicon)
                self._segmenter = Segmenter.from_file(path)
            except (OSError, ValueError):
                segmenter = Segmenter(self.tokenizer)
                try:
                    if path is not None:
                        segmenter.save(path)
                except OSError as exc:  # an unwritable temp folder costs speed, never correctness
                    log.debug("could not save the segmentation table to %s: %s", path, exc)
                self._segmenter = segmenter
        return self._segmenter

    def __getstate__(self) -> dict[str, object]:
        return {**self.__dict__, "_tokenizer": None, "_segmenter": None, "_cache": {}}

    def events(self, token: str) -> tuple[tuple[str, float], ...]:
        """What one token means to the scorer: ``(kind, value)`` pairs, kinds s(entiment) n(egation) d(egree)
        b(oundary) o(ther word); empty for whitespace and symbols. A word jieba keeps whole such as 不太好 is read
        as its parts (不 + 太 + 好) when it starts with negation/degree words and ends in a sentiment word."""
        hit = self._cache.get(token)
        if hit is not None:
            return hit
        out = self._events(token)
        if len(self._cache) >= _CACHE_LIMIT:
            self._cache.clear()
        self._cache[token] = out
        return out

    def _events(self, token: str) -> tuple[tuple[str, float], ...]:
        lex = self.lexicon
        if token in lex.sentiment:
            return (("s", lex.sentiment[token]),)
        if token in lex.negation:
            return (("n", lex.negation[token]),)
        if token in lex.degree:
            return (("d", lex.degree[token]),)
        if token in _BOUNDARY:
            return (("b", 0.0),)
        lower = token.lower()
        if lower in self.latin:
            return (("s", self.latin[lower]),)
        emoji = normalise_emoji(token)
        if emoji in self.emoji:
            return (("s", self.emoji[emoji]),)
        if not token.strip() or _SKIP.match(token):
            return ()
        parts = self._split_modifiers(token)
        return parts if parts is not None else (("o", 0.0),)

    def _split_modifiers(self, token: str) -> tuple[tuple[str, float], ...] | None:
        lex = self.lexicon
        for prefix in self._prefixes:
            if token.startswith(prefix) and len(token) > len(prefix):
                rest = token[len(prefix) :]
                kind = "n" if prefix in lex.negation else "d"
                value = lex.negation.get(prefix, lex.degree.get(prefix, 1.0))
                if rest in lex.sentiment:
                    return ((kind, value), ("s", lex.sentiment[rest]))
                tail = self._split_modifiers(rest)
                if tail is not None:
                    return ((kind, value), *tail)
        return None

    def polarity_scores(self, text: str) -> dict[str, float]:
        """compound in [-1, 1] (VADER's normalisation) and pos/neu/neg shares, as VADER returns them."""
        return rounded_scores(*self.unrounded(text))

    def unrounded(self, text: str) -> tuple[float, float, float, float]:
        """compound, pos, neu, neg of :meth:`polarity_scores` before rounding (a batch is rounded at once)."""
        if not self._hint.search(text):
            return _unrounded_scores([], n_other=1 if text.strip() else 0, text=text)
        valences: list[float] = []
        n_other = 0
        negate = 1.0
        neg_left = 0
        degree = 1.0
        known = self._cache.get  # (events() fills it; looked up here first: one call less per token)
        for token in self.segmenter.cut(text):
            for kind, value in known(token) or self.events(token):
                if kind == "s":
                    v = value * degree
                    if neg_left > 0:
                        v *= negate
                    valences.append(v)
                    negate, neg_left, degree = 1.0, 0, 1.0
                elif kind == "n":
                    negate = value if neg_left == 0 else negate * value
                    neg_left = NEGATION_WINDOW
                elif kind == "d":
                    degree *= value
                elif kind == "b":
                    negate, neg_left, degree = 1.0, 0, 1.0
                else:
                    n_other += 1
                    if neg_left > 0:
                        neg_left -= 1
                        if neg_left == 0:
                            negate = 1.0
        return _unrounded_scores(valences, n_other=n_other, text=text)


def _scores(valences: list[float], *, n_other: int, text: str) -> dict[str, float]:
    """:func:`_unrounded_scores`, rounded as VADER rounds them."""
    return rounded_scores(*_unrounded_scores(valences, n_other=n_other, text=text))


def _unrounded_scores(valences: list[float], *, n_other: int, text: str) -> tuple[float, float, float, float]:
    """VADER's ``score_valence`` arithmetic over a list of word valences (other words count as neutral), before
    rounding: compound, pos, neu, neg."""
    if not valences and not n_other:
        return 0.0, 0.0, 0.0, 0.0
    total = sum(valences)
    emphasis = min(text.count("!") + text.count("！"), 4) * EXCLAIM_STEP
    if total > 0:
        total += emphasis
    elif total < 0:
        total -= emphasis
    compound = max(-1.0, min(1.0, total / math.sqrt(total * total + ALPHA)))
    pos_sum = sum([v + 1 for v in valences if v > 0])
    neg_sum = sum([v - 1 for v in valences if v < 0])
    neu = n_other + valences.count(0)
    if pos_sum > abs(neg_sum):
        pos_sum += emphasis
    elif pos_sum < abs(neg_sum):
        neg_sum -= emphasis
    denom = pos_sum + abs(neg_sum) + neu
    return compound, abs(pos_sum / denom), abs(neu / denom), abs(neg_sum / denom)


def _table_path(lexicon: ZhLexicon) -> Path:
    """Where the segmentation table for this lexicon and jieba version lives, in a folder only this user owns.
    Raises OSError when that folder cannot be made or belongs to someone else."""
    from importlib.metadata import version

    added = [w for w in (*lexicon.sentiment, *lexicon.negation, *lexicon.degree) if len(w) > 1]  # in added order
    key = hashlib.sha256(json.dumps([version("jieba"), TABLE_FORMAT, added]).encode()).hexdigest()[:16]
    uid = os.getuid() if hasattr(os, "getuid") else None
    folder = Path(tempfile.gettempdir()) / f"sentiment-{uid if uid is not None else 'user'}"
    folder.mkdir(mode=0o700, exist_ok=True)
    if uid is not None and folder.stat().st_uid != uid:
        raise OSError(f"{folder} belongs to another user")
    return folder / f"zh-segment-{key}.npz"
