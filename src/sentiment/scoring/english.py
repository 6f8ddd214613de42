"""VADER extended for crypto chat: slang, phrases, emoji (sequences included), cashtags and chat spellings."""

from __future__ import annotations

import math
import re

import numpy as np
from vaderSentiment.vaderSentiment import (
    BOOSTER_DICT,
    C_INCR,
    N_SCALAR,
    NEGATE,
    SPECIAL_CASES,
    SentimentIntensityAnalyzer,
    SentiText,
    allcap_differential,
    scalar_inc_dec,
)

from sentiment.scoring.lexicon import CryptoLexicon, load_crypto_lexicon, normalise_emoji
from sentiment.scoring.rounding import round_scores, rounded_scores

__all__ = ["CASHTAG", "CryptoVader"]

# $TICKER: a dollar sign, then a letter and up to 14 letters/digits; "$100" is a price, not a cashtag.
CASHTAG = re.compile(r"(?<![\w$])\$([A-Za-z][A-Za-z0-9]{0,14})\b")
CASHTAG_TOKEN = "cashtag"
_ZWJ = "\u200d"
_NEEDS_NORMALISING = re.compile("[\ufe0e\ufe0f\u200d\U0001f3fb-\U0001f3ff]")
# Chat intensifiers VADER lacks; they boost a following sentiment word like "very" (and are neutral otherwise).
CHAT_BOOSTERS = {
    "super": "very",
    "mega": "very",
    "insanely": "very",
    "crazy": "very",
    "rly": "really",
    "rlly": "really",
}
# Chat spellings of VADER's negations.
CHAT_NEGATIONS = {"dnt": "dont", "nvr": "never", "havnt": "havent", "doesnt": "doesnt"}
_ELONGATED = re.compile(r"([A-Za-z])\1{2,}")
_CHAT_WORDS = frozenset({*CHAT_BOOSTERS, *CHAT_NEGATIONS})
_WORD_CACHE_LIMIT = 200_000
# Words that make VADER's valence of a following sentiment word differ from its lexicon value: boosters, negations
# and the words of its other rules ("no" and "no ... or/nor", "least", "never so/this", "without doubt", and the
# "so"/"this" 1.25 rule). Words containing "n't" are negations too (checked separately).
_CONTEXT = frozenset(
    {k for k in BOOSTER_DICT if " " not in k}
    | set(NEGATE)
    | {"no", "or", "nor", "least", "never", "so", "this", "without", "doubt"}
)
# Words of VADER's special-case idioms and multi-word boosters ("the shit", "kind of"): only texts with one of
# them need the idiom check.
_IDIOMS = tuple(k for k in (*SPECIAL_CASES, *BOOSTER_DICT) if " " in k)
_IDIOM_WORDS = frozenset(w for k in _IDIOMS for w in k.split())
_ANY_IDIOM = re.compile("|".join(map(re.escape, _IDIOMS)))  # any of them as a substring, in one scan


class CryptoVader(SentimentIntensityAnalyzer):
    """VADER's rules and lexicon plus the crypto lexicon; built once per process (reading lexicons takes ~20 ms).

    Differences from vanilla VADER, each a rule with a test:

    * crypto words, phrases (``buy the dip``) and emoji carry the valences of ``lexicon_crypto.tsv``; emoji and
      phrases become placeholder tokens, so VADER's negation, booster and ALL-CAPS rules apply to them too
      ("not bullish", "so bearish", "no rug", "not a rug", "no 🚀");
    * variation selectors and skin tones are dropped (vanilla VADER scores "❤️" 0 but "❤" positive), ZWJ
      sequences are matched whole when listed, else split into their parts; emoji glued to words are separated;
    * cashtags are names, not sentiment: ``$PUMP`` and ``$MOON`` score 0;
    * chat intensifiers (super, mega, insanely, crazy) boost a following sentiment word like "very", elongated
      words ("soooo bullishhh") are read as their lexicon form, and chat spellings of negations count.
    """

    def __init__(self, lexicon: CryptoLexicon | None = None) -> None:
        super().__init__()
        lex = lexicon or load_crypto_lexicon()
        extra: dict[str, float] = dict(lex.words)
        # Instance-level copies: vanilla analyzers in the same process keep VADER's own tables.
        emojis: dict[str, str] = {}
        for key, description in self.emojis.items():
            base = normalise_emoji(key)
            if len(base) == 1 and base not in emojis:
                emojis[base] = description
        for key, description in self.emojis.items():
            if len(key) == 1:
                emojis[key] = description
        self._multi_emoji: dict[str, str] = {}
        for emoji, valence in lex.emoji.items():
            token = "emoji_" + "_".join(f"{ord(c):x}" for c in emoji)
            extra[token] = valence
            if len(emoji) == 1:
                emojis[emoji] = token
            else:
                self._multi_emoji[emoji] = token
        self.emojis = {k: f" {v} " for k, v in emojis.items() if k.strip()}
        self._phrases: dict[str, str] = {}
        for phrase, valence in lex.phrases.items():
            token = "phrase_" + "_".join(phrase.split())
            extra[token] = valence
            self._phrases[phrase] = token
        self.lexicon = {**self.lexicon, **extra}
        # A character class of ~1,200 emoji is scanned linearly per character by ``re``; matching any non-ASCII
        # character and looking it up is ~50x faster (emoji are few per message, most messages have none).
        self._emoji_re = re.compile(r"[^\x00-\x7f]")
        self._multi_re = (
            re.compile("|".join(re.escape(k) for k in sorted(self._multi_emoji, key=len, reverse=True)))
            if self._multi_emoji
            else None
        )
        self._phrase_re = (
            re.compile(
                r"(?<!\w)("
                + "|".join(_phrase_pattern(p) for p in sorted(self._phrases, key=len, reverse=True))
                + r")(?!\w)",
                re.IGNORECASE,
            )
            if self._phrases
            else None
        )
        # A phrase can only match where its longest word occurs: a substring test per phrase skips the regex.
        self._phrase_keys = tuple(sorted({max(p.split(), key=len) for p in self._phrases}))
        # Any key as a substring of the case-folded text (one regex scan: faster than a scan per key).
        self._phrase_key_re = re.compile("|".join(map(re.escape, self._phrase_keys)) or "(?!)")
        known = set(self.lexicon) | set(BOOSTER_DICT) | set(NEGATE)
        self._known = frozenset(known)
        self._word_of: dict[str, str] = {}
        self._lower_of: dict[str, str] = {}
        self._chat_tokens: set[str] = set()

    # ---- preprocessing -----------------------------------------------------------------------------------
    def prepare(self, text: str) -> str:
        """The text VADER's word rules see: masked cashtags, placeholder tokens, chat spellings resolved."""
        text = self._rewrite(text)
        tokens = text.split()
        self._tokens(tokens)  # records which tokens a chat-spelling rule applies to
        if not self._chat_tokens.isdisjoint(tokens):
            text = self._chat_words(text)
        return text.strip()

    def _rewrite(self, text: str) -> str:
        """:meth:`prepare` up to the chat spellings. Each rewrite runs only when a cheap check (a character or
        substring test) says it could change something."""
        if not text.isascii() and _NEEDS_NORMALISING.search(text):
            text = normalise_emoji(text)
            if _ZWJ in text:
                if self._multi_re is not None:
                    text = self._multi_re.sub(lambda m: f" {self._multi_emoji[m.group()]} ", text)
                text = text.replace(_ZWJ, " ")
        if "$" in text:
            text = CASHTAG.sub(CASHTAG_TOKEN, text)
        if self._phrase_re is not None and self._phrase_key_re.search(text.casefold()):
            text = self._phrase_re.sub(lambda m: f" {self._phrases[_phrase_key(m.group())]} ", text)
        if not text.isascii():
            text = self._emoji_re.sub(self._emoji_name, text)
        return text

    def _tokens(self, tokens: list[str]) -> tuple[list[str], list[str]]:
        """For whitespace tokens: VADER's punctuation-stripped words and their lower case (after recording in
        ``_chat_tokens`` those a chat-spelling rule applies to: an elongated word or a chat negation/intensifier).
        Cached per distinct token: chat reuses few words."""
        lower = self._lower(tokens)
        return list(map(self._word_of.get, tokens)), lower  # type: ignore[arg-type]

    def _lower(self, tokens: list[str]) -> list[str]:
        """The lower case of :meth:`_tokens`' words alone (both caches filled for every token)."""
        words_of, lower_of = self._word_of, self._lower_of
        lower = list(map(lower_of.get, tokens))
        if None in lower:
            if len(words_of) + len(tokens) > _WORD_CACHE_LIMIT:
                words_of.clear()
                lower_of.clear()
                self._chat_tokens.clear()
            for token in tokens:
                if token not in words_of:
                    word = _strip_punc_if_word(token)
                    words_of[token] = word
                    lower_of[token] = word.lower()
                    low = token.lower()
                    if low in _CHAT_WORDS or _ELONGATED.search(low):
                        self._chat_tokens.add(token)
            lower = list(map(lower_of.get, tokens))
        return lower  # type: ignore[return-value]

    def _emoji_name(self, match: re.Match[str]) -> str:
        char = match.group()
        return self.emojis.get(char, char)

    def _chat_words(self, text: str) -> str:
        words = text.split()
        lower = [w.lower() for w in words]
        for i, w in enumerate(lower):
            if _ELONGATED.search(w):
                squashed = _squash(w, self._known)
                if squashed is not None:
                    words[i] = lower[i] = squashed
        for i, w in enumerate(lower):
            if w in CHAT_NEGATIONS:
                words[i] = CHAT_NEGATIONS[w]
            elif w in CHAT_BOOSTERS and i + 1 < len(lower) and lower[i + 1].strip(".,!?") in self.lexicon:
                words[i] = CHAT_BOOSTERS[w]
        return " ".join(words)

    # ---- scoring -----------------------------------------------------------------------------------------
    def polarity_scores(self, text: str) -> dict[str, float]:
        """VADER 3.3.2's ``polarity_scores`` on :meth:`prepare`'s output.

        Same rules and arithmetic as VADER (parity tests pin that on text without crypto terms), restructured for
        speed: emoji were already replaced by :meth:`prepare` (VADER rescans every character); each token's
        punctuation-stripped and lower-cased forms are looked up in a per-analyzer cache; and a sentiment word with
        no modifier among itself and the three words before it (no booster, negation, "no", "least", "so"/"this",
        "never", "without", ALL-CAPS emphasis) takes its lexicon valence directly, which is what VADER's rules
        compute for it.
        """
        return rounded_scores(*self._unrounded(text))

    def features(self, texts: list[str]) -> np.ndarray:
        """compound, pos and neg of :meth:`polarity_scores` for each text, as an (n, 3) float64 array: the same
        numbers, rounded over the whole array at once (see ``scoring.rounding``)."""
        return round_scores(np.array([self._unrounded(t) for t in texts], dtype="float64"))[:, [0, 1, 3]]

    def _unrounded(self, text: str) -> tuple[float, float, float, float]:
        """compound, pos, neu, neg before VADER's rounding."""
        text = self._rewrite(text)
        tokens = text.split()
        lower = self._lower(tokens)
        if not self._chat_tokens.isdisjoint(tokens):
            text = self._chat_words(text)
            tokens = text.split()
            lower = self._lower(tokens)
        # ALL-CAPS emphasis needs an upper-case letter; an all-lower-case text (the usual chat message) has none.
        # Without it the rules read each word only in lower case (VADER's booster rule lower-cases it, and its
        # upper-case checks all need the emphasis): the words are their lower case.
        if text.islower():
            words, is_cap_diff = lower, False
        else:
            words = list(map(self._word_of.get, tokens))
            is_cap_diff = allcap_differential(words)
        lexicon = self.lexicon
        context: list[bool] | None = None
        if not _CONTEXT.isdisjoint(lower) or ("'" in text and any("n't" in w for w in lower)):
            context = [w in _CONTEXT or "n't" in w for w in lower]
        idioms = False
        if not _IDIOM_WORDS.isdisjoint(lower):
            joined = " ".join(lower)  # every idiom VADER checks is a run of these words
            idioms = _ANY_IDIOM.search(joined) is not None
        n = len(words)
        but = "but" in lower
        sentiments: list[float] = [0] * n if but else []  # every word's valence only for the "but" rule
        if context is None and not (idioms or is_cap_diff or but):
            # No word any rule reads (boosters are context words; "kind of" is an idiom): every lexicon word keeps
            # its valence, and the scores need only the non-zero ones, in order.
            return _score_valence(list(filter(None, map(lexicon.get, lower))), n, text)
        found: list[float] = []  # else the lexicon words' valences, in order (all that the scores need)
        for i in [i for i, low in enumerate(lower) if low in lexicon]:
            low = lower[i]
            if low in BOOSTER_DICT or (low == "kind" and i < n - 1 and lower[i + 1] == "of"):
                continue
            if (context is None or not any(context[max(0, i - 3) : i + 1])) and not (
                is_cap_diff and words[i].isupper()
            ):
                valence = lexicon[low]
                if idioms and i > 2 and lower[i - 3] not in lexicon:
                    valence = self._special_idioms_check(valence, lower, i)
            else:
                valence = self._valence(words, lower, i, is_cap_diff, idioms, context)
            if but:
                sentiments[i] = valence
            elif valence:
                found.append(valence)
        if but:
            found = [x for x in self._but_check(lower, sentiments) if x]
        return _score_valence(found, n, text)

    def _valence(
        self,
        words: list[str],
        lower: list[str],
        i: int,
        is_cap_diff: bool,
        idioms: bool = True,
        context: list[bool] | None = None,
    ) -> float:
        """VADER's ``sentiment_valence`` for the lexicon word at ``i`` (``idioms=False``: the text has none).

        ``context`` (see :meth:`polarity_scores`) marks the words VADER's booster and negation rules read: a word
        before ``i`` that is not one of them adds nothing (its booster scalar is 0, it negates nothing), so only
        the rules that look at other words are applied for it; None means every word is looked at."""
        lexicon = self.lexicon
        item, low = words[i], lower[i]
        valence = lexicon[low]
        if low == "no" and i != len(words) - 1 and lower[i + 1] in lexicon:
            valence = 0.0
        if (
            (i > 0 and lower[i - 1] == "no")
            or (i > 1 and lower[i - 2] == "no")
            or (i > 2 and lower[i - 3] == "no" and lower[i - 1] in ("or", "nor"))
        ):
            valence = lexicon[low] * N_SCALAR
        if item.isupper() and is_cap_diff:
            valence = valence + C_INCR if valence > 0 else valence - C_INCR
        for start_i in range(3):
            j = i - (start_i + 1)
            if j < 0 or lower[j] in lexicon:
                continue
            if context is None or context[j]:
                s = scalar_inc_dec(words[j], valence, is_cap_diff)
                if start_i == 1 and s != 0:
                    s = s * 0.95
                if start_i == 2 and s != 0:
                    s = s * 0.9
                valence = valence + s
                valence = self._negation_check(valence, lower, start_i, i)
            elif start_i == 2 and lower[i - 1] in ("so", "this"):
                valence = valence * 1.25  # the one rule of the third word back that reads another word
            if start_i == 2 and idioms:
                valence = self._special_idioms_check(valence, lower, i)
        # VADER's ``_least_check``
        if (
            i > 0
            and lower[i - 1] == "least"
            and "least" not in lexicon
            and (i == 1 or (lower[i - 2] != "at" and lower[i - 2] != "very"))
        ):
            valence = valence * N_SCALAR
        return valence

    @staticmethod
    def _negation_check(valence: float, lower: list[str], start_i: int, i: int) -> float:  # type: ignore[override]
        """VADER's ``_negation_check`` on an already lower-cased word list, with a set lookup for negations."""
        if start_i == 0:
            if _negated(lower[i - 1]):
                valence = valence * N_SCALAR
        elif start_i == 1:
            if lower[i - 2] == "never" and lower[i - 1] in ("so", "this"):
                valence = valence * 1.25
            elif lower[i - 2] == "without" and lower[i - 1] == "doubt":
                pass
            elif _negated(lower[i - 2]):
                valence = valence * N_SCALAR
        else:
            if (lower[i - 3] == "never" and lower[i - 2] in ("so", "this")) or lower[i - 1] in ("so", "this"):
                valence = valence * 1.25
            elif lower[i - 3] == "without" and (lower[i - 2] == "doubt" or lower[i - 1] == "doubt"):
                pass
            elif _negated(lower[i - 3]):
                valence = valence * N_SCALAR
        return valence

    @staticmethod
    def _special_idioms_check(valence: float, lower: list[str], i: int) -> float:  # type: ignore[override]
        """VADER's ``_special_idioms_check`` on an already lower-cased word list."""
        onezero = f"{lower[i - 1]} {lower[i]}"
        twoonezero = f"{lower[i - 2]} {lower[i - 1]} {lower[i]}"
        twoone = f"{lower[i - 2]} {lower[i - 1]}"
        threetwoone = f"{lower[i - 3]} {lower[i - 2]} {lower[i - 1]}"
        threetwo = f"{lower[i - 3]} {lower[i - 2]}"
        for seq in (onezero, twoonezero, twoone, threetwoone, threetwo):
            if seq in SPECIAL_CASES:
                valence = SPECIAL_CASES[seq]
                break
        if len(lower) - 1 > i:
            zeroone = f"{lower[i]} {lower[i + 1]}"
            if zeroone in SPECIAL_CASES:
                valence = SPECIAL_CASES[zeroone]
        if len(lower) - 1 > i + 1:
            zeroonetwo = f"{lower[i]} {lower[i + 1]} {lower[i + 2]}"
            if zeroonetwo in SPECIAL_CASES:
                valence = SPECIAL_CASES[zeroonetwo]
        for n_gram in (threetwoone, threetwo, twoone):
            if n_gram in BOOSTER_DICT:
                valence = valence + BOOSTER_DICT[n_gram]
        return valence


def _phrase_pattern(phrase: str) -> str:
    return r"[\s\-]+".join(re.escape(w) for w in phrase.split())


def _phrase_key(matched: str) -> str:
    return " ".join(re.split(r"[\s\-]+", matched.lower()))


def _squash(word: str, known: frozenset[str]) -> str | None:
    """An elongated word ("soooo", "moooon", "bullishhh") as the known word it stretches, else None."""
    core = word.strip(".,!?")
    for repeat in (r"\1\1", r"\1"):
        candidate = _ELONGATED.sub(repeat, core)
        if candidate in known:
            return candidate
    return None


_strip_punc_if_word = SentiText._strip_punc_if_word
_NEGATE = frozenset(NEGATE)


def _negated(word: str) -> bool:
    """VADER's ``negated([word])`` for one lower-cased word: a negation word, or any word containing "n't"."""
    return word in _NEGATE or "n't" in word


def _score_valence(nonzero: list[float], n_words: int, text: str) -> tuple[float, float, float, float]:
    """VADER's ``score_valence`` of a text of ``n_words`` words whose non-zero valences are ``nonzero`` (in order),
    before rounding: compound, pos, neu, neg. The same arithmetic in the same order, in one function, and a text
    whose words are all neutral answered at once. (VADER's ``float()`` of each valence is left out: every valence is
    already a float or a small int, which adds to a float exactly as its float does.)"""
    if not n_words:
        return 0.0, 0.0, 0.0, 0.0
    if not nonzero:
        return 0.0, 0.0, 1.0, 0.0
    neu_count = n_words - len(nonzero)
    sum_s = float(sum(nonzero))  # the zeros add nothing
    ep_count = text.count("!")
    amplifier = (4 if ep_count > 4 else ep_count) * 0.292
    qm_count = text.count("?")
    if qm_count > 1:
        amplifier += qm_count * 0.18 if qm_count <= 3 else 0.96
    if sum_s > 0:
        sum_s += amplifier
    elif sum_s < 0:
        sum_s -= amplifier
    compound = sum_s / math.sqrt((sum_s * sum_s) + 15)
    compound = -1.0 if compound < -1.0 else (1.0 if compound > 1.0 else compound)
    pos_sum = 0.0
    neg_sum = 0.0
    for score in nonzero:
        if score > 0:
            pos_sum += score + 1
        else:
            neg_sum += score - 1
    if pos_sum > -neg_sum:
        pos_sum += amplifier
    elif pos_sum < -neg_sum:
        neg_sum -= amplifier
    total = pos_sum - neg_sum + neu_count
    # fabs: 0.0, not -0.0, for neg when there is no negative word
    return compound, pos_sum / total, neu_count / total, math.fabs(neg_sum / total)
