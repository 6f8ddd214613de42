"""Lexicon scoring for the other languages of crypto chats (ar, fa, ru, es, pt, tr, id, vi) and for emoji alone.

Each language has sentiment words (stems allowed), negations (before, or after the word as Turkish değil) and
intensifiers (before, or after as Arabic جدا), read from ``lexicon_multi.tsv`` after the language's light
normalisation. Emoji carry the same valences in every language (the crypto lexicon's, else VADER's reading of
the emoji's name). Scores use VADER's arithmetic (compound = s / sqrt(s^2 + 15)), like the Chinese scorer.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache

from sentiment.errors import InputError
from sentiment.scoring.chinese import _scores
from sentiment.scoring.lexicon import MULTI_FILE, _rows, _valence, normalise_emoji

__all__ = [
    "KINDS",
    "LANGS",
    "LangLexicon",
    "MultiScorer",
    "emoji_valences",
    "emoticon_valences",
    "load_multi_lexicon",
    "normalise",
]

LANGS = ("ar", "fa", "ru", "es", "pt", "tr", "id", "vi")
KINDS = ("sentiment", "negation", "negation_after", "degree", "degree_after")
NEGATION_WINDOW = 3
MIN_STEM = 2

_ARABIC_MARKS = re.compile("[\u064b-\u065f\u0670\u0640\u06d6-\u06ed]")  # harakat, dagger alef, tatweel, Quranic
_ARABIC_FOLD = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ة": "ه", "ى": "ي", "ئ": "ي", "ؤ": "و"})
_PERSIAN_FOLD = str.maketrans({"ي": "ی", "ك": "ک", "ة": "ه", "أ": "ا", "إ": "ا", "آ": "ا", "\u200c": ""})
_TURKISH_LOWER = str.maketrans({"I": "ı", "İ": "i"})
_LATIN_FOLD = str.maketrans(
    "áàâãäéèêëíìîïóòôõöúùûüçñğışÁÀÂÃÄÉÈÊËÍÌÎÏÓÒÔÕÖÚÙÛÜÇÑĞŞ", "aaaaaeeeeiiiiooooouuuucngisaaaaaeeeeiiiiooooouuuucngs"
)
_ELONGATED = re.compile(r"(\w)\1{2,}")
# Words (letters, with inner apostrophes), sentence punctuation (resets negation), and any other single symbol
# (emoji are looked up; the rest is ignored).
# Emoticons (VADER's own, e.g. ":)", ":-(", "<3") come first so their punctuation is not read as a boundary.
_EMOTICONS = (":)", ":-)", ":(", ":-(", ":D", ":-D", ";)", ";-)", ":P", ":-P", ":/", ":'(", "=)", "<3")
_TOKEN = re.compile(
    "|".join(re.escape(e) for e in sorted(_EMOTICONS, key=len, reverse=True))
    + r"|[^\W\d_]+(?:['’][^\W\d_]+)*|[.!?,;:؟،…]+|[^\w\s]"
)
_BOUNDARY = re.compile(r"^[.!?,;:؟،…]+$")
# Arabic clitics written onto the word: conjunctions wa/fa, prepositions bi/li/ka, the article al (and their
# combinations), and the present-tense person prefixes ya/ta/na ("يلعن": لعن), which must leave 3 letters. Tried
# only when the whole word is not in the lexicon.
_ARABIC_PREFIXES = ("وال", "بال", "فال", "كال", "لل", "ال", "و", "ف", "ب", "ل", "ك", "ي", "ت", "ن")
_VERB_PREFIXES = ("ي", "ت", "ن")
# Arabic endings written onto a word: attached pronouns (-ha, -hum, -ak, -i, -na, ...), sound plurals and verb
# endings (-at, -in, -un, -u); a ta marbuta before a pronoun is written ta ("مشكلتي": مشكله + ي). Tried on a word
# the lexicon does not know, longest ending first, leaving at least 3 letters.
_ARABIC_SUFFIXES = ("هما", "كما", "هم", "هن", "كم", "كن", "نا", "ها", "ني", "ات", "ين", "ون", "وا", "ه", "ك", "ي", "ت")
# A run of heh (or of kha, Gulf) is written laughter: read as the lexicon's "هاها" (haha).
_ARABIC_LAUGH = re.compile("(?:ه){3,}|(?:خ){4,}|(?:ها){2,}")


def normalise(text: str, lang: str) -> str:
    """The light normalisation ``lang``'s lexicon entries are written in (see ``lexicon_multi.tsv``)."""
    if lang == "ar":
        return _ARABIC_MARKS.sub("", text).translate(_ARABIC_FOLD)
    if lang == "fa":
        return _ARABIC_MARKS.sub("", text).translate(_PERSIAN_FOLD)
    if lang == "tr":
        return text.translate(_TURKISH_LOWER).lower().translate(_LATIN_FOLD)
    if lang in ("es", "pt"):
        return text.lower().translate(_LATIN_FOLD)
    if lang == "ru":
        return text.lower().replace("ё", "е")
    return unicodedata.normalize("NFC", text).lower()


@dataclass
class LangLexicon:
    """One language's entries: exact words/phrases, stems (longest first) and the modifiers."""

    words: dict[str, tuple[str, float]] = field(default_factory=dict)
    stems: dict[str, tuple[str, float]] = field(default_factory=dict)
    max_phrase: int = 1

    def stem_lengths(self) -> list[int]:
        return sorted({len(s) for s in self.stems}, reverse=True)


@lru_cache(maxsize=1)
def load_multi_lexicon() -> dict[str, LangLexicon]:
    """Parse ``lexicon_multi.tsv`` (lang, term, kind, value, note). Raises InputError naming a bad line."""
    out: dict[str, LangLexicon] = {lang: LangLexicon() for lang in LANGS}
    for lineno, (lang, term, kind, value, _note) in _rows(MULTI_FILE, 5):
        if lang not in out:
            raise InputError(MULTI_FILE, f"language {lang!r} is not one of {', '.join(LANGS)}", lineno)
        if kind not in KINDS:
            raise InputError(MULTI_FILE, f"kind {kind!r} is not one of {', '.join(KINDS)}", lineno)
        lex = out[lang]
        key = " ".join(normalise(term, lang).split())
        target = lex.words
        if key.endswith("*"):
            key = key[:-1]
            target = lex.stems
            if len(key) < MIN_STEM:
                raise InputError(MULTI_FILE, f"stem {term!r} is shorter than {MIN_STEM} letters", lineno)
        if key in target:
            raise InputError(MULTI_FILE, f"duplicate term {term!r} for {lang}", lineno)
        target[key] = (kind, _valence(MULTI_FILE, lineno, value))
        lex.max_phrase = max(lex.max_phrase, len(key.split()))
    return out


@lru_cache(maxsize=1)
def emoji_valences() -> dict[str, float]:
    """Valence of each emoji: the crypto lexicon's where listed, else the VADER lexicon's valences of the words of
    the emoji's name as VADER describes it (e.g. 😂 'face with tears of joy'), summed; emoji with 0 left out."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    from sentiment.scoring.lexicon import load_crypto_lexicon

    vader = SentimentIntensityAnalyzer()
    out: dict[str, float] = {}
    for emoji, name in vader.emojis.items():
        base = normalise_emoji(emoji)
        if len(base) != 1:
            continue
        value = sum(vader.lexicon.get(w, 0.0) for w in name.lower().split())
        if value:
            out[base] = max(-3.0, min(3.0, value))
    out.update(load_crypto_lexicon().emoji)
    return out


@lru_cache(maxsize=1)
def emoticon_valences() -> dict[str, float]:
    """VADER's valence of each emoticon the tokenizer keeps whole (``_EMOTICONS``)."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    lexicon = SentimentIntensityAnalyzer().lexicon
    return {e: lexicon[e] for e in _EMOTICONS if e in lexicon}


class MultiScorer:
    """Scores text of one of ``LANGS`` (or emoji-only text, ``lang=None``) with that language's lexicon."""

    def __init__(self) -> None:
        self.lexicons = load_multi_lexicon()
        self.emoji = emoji_valences()
        self._stem_lengths = {lang: lex.stem_lengths() for lang, lex in self.lexicons.items()}
        self.emoticons = emoticon_valences()

    def polarity_scores(self, text: str, lang: str | None) -> dict[str, float]:
        """compound in [-1, 1] and pos/neu/neg shares, as VADER returns them."""
        valences, n_other = self.valences(text, lang)
        return _scores(valences, n_other=n_other, text=text)

    def valences(self, text: str, lang: str | None) -> tuple[list[float], int]:
        """(valence of each sentiment word after negation and degree, number of other words)."""
        lex = self.lexicons.get(lang) if lang else None
        # Elongated words ("حلووو", "bagusss") as written once (Arabic script) or twice (others, which double
        # letters in spelling: "cool", "класс").
        squash = r"\1" if lang in ("ar", "fa") else r"\1\1"
        text = normalise(text, lang) if lang else text
        if lang == "ar":
            text = _ARABIC_LAUGH.sub(" هاها ", text)
        tokens = _TOKEN.findall(_ELONGATED.sub(squash, text))
        valences: list[float] = []
        n_other = 0
        negate_left = 0
        degree = 1.0
        last: int | None = None  # index in valences of the latest sentiment word, for modifiers written after it
        since_last = 0
        i = 0
        while i < len(tokens):
            token = tokens[i]
            hit, width = self._lookup(tokens, i, lang, lex)
            i += width
            if hit is None:
                if _BOUNDARY.match(token):
                    negate_left, degree, last = 0, 1.0, None
                elif token.isalpha():
                    n_other += 1
                    since_last += 1
                    negate_left = max(0, negate_left - 1)
                continue
            kind, value = hit
            if kind == "sentiment":
                v = value * degree
                if negate_left > 0:
                    v *= -0.74
                valences.append(v)
                last, since_last, negate_left, degree = len(valences) - 1, 0, 0, 1.0
            elif kind == "negation":
                negate_left = NEGATION_WINDOW
            elif kind == "degree":
                degree *= value
            elif last is not None and since_last <= 1:  # negation_after / degree_after the word they modify
                valences[last] *= value
                if kind == "negation_after":
                    last = None
        return valences, n_other

    def _lookup(
        self, tokens: list[str], i: int, lang: str | None, lex: LangLexicon | None
    ) -> tuple[tuple[str, float] | None, int]:
        """The entry at token ``i`` (longest phrase first, then the word, its stems, Arabic clitics) and its width."""
        token = tokens[i]
        if not token[0].isalpha() and (len(token) == 1 or token in self.emoticons):
            value = self.emoji.get(token) if len(token) == 1 else self.emoticons[token]
            return (("sentiment", value), 1) if value is not None else (None, 1)
        if lex is None:
            return None, 1
        for width in range(min(lex.max_phrase, len(tokens) - i), 1, -1):
            phrase = " ".join(tokens[i : i + width])
            if phrase in lex.words:
                return lex.words[phrase], width
        hit = lex.words.get(token) or self._stem(token, lang, lex)
        if hit is None and lang == "ar" and len(token) > 3:
            hit = self._arabic_affixed(token, lex)
        return hit, 1

    def _arabic_affixed(self, token: str, lex: LangLexicon) -> tuple[str, float] | None:
        """The entry of an Arabic word read without its clitic prefixes, then also without an ending."""
        bases = [token] + [
            token[len(p) :]
            for p in _ARABIC_PREFIXES
            if token.startswith(p) and len(token) - len(p) >= (3 if p in _VERB_PREFIXES else 2)
        ]
        for base in bases[1:]:
            hit = lex.words.get(base) or self._stem(base, "ar", lex)
            if hit is not None:
                return hit
        for base in bases:
            for suffix in _ARABIC_SUFFIXES:
                if base.endswith(suffix) and len(base) - len(suffix) >= 3:
                    rest = base[: -len(suffix)]
                    forms = (rest, rest[:-1] + "ه") if rest.endswith("ت") else (rest,)
                    for form in forms:
                        hit = lex.words.get(form) or self._stem(form, "ar", lex)
                        if hit is not None:
                            return hit
        return None

    def _stem(self, word: str, lang: str | None, lex: LangLexicon) -> tuple[str, float] | None:
        for n in self._stem_lengths.get(lang or "", ()):
            if n <= len(word):
                hit = lex.stems.get(word[:n])
                if hit is not None:
                    return hit
        return None
