"""Offline language identification for chat messages: writing system first, then function words and letters.

Returns an ISO 639-1 code, or ``und`` when a message has no letters (emoji, numbers, punctuation only, or nothing).
Built for short chat text and speed (it runs on every distinct message): a script test decides most non-Latin
text outright; Latin-script text is told apart by diacritics that belong to one language (Vietnamese tone marks,
Turkish ğ/ı/ş, Portuguese ã/õ, Spanish ñ) and by counting each language's most common function words. Latin text
with no clue at all is read as English: crypto chat's shared vocabulary (tickers, slang) is English.
"""

from __future__ import annotations

import re

__all__ = ["SCRIPT_LANGS", "UNDETERMINED", "detect"]

UNDETERMINED = "und"

# One character class per writing system whose language is decided by the script alone (after the checks that
# single out a language within the script, below).
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_KANA = re.compile(r"[\u3040-\u30ff]")
_HANGUL = re.compile(r"[\uac00-\ud7af\u1100-\u11ff\u3130-\u318f]")
_ARABIC = re.compile(r"[\u0600-\u06ff\u0750-\u077f\ufb50-\ufdff\ufe70-\ufeff]")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_OTHER_SCRIPTS = (
    (re.compile(r"[\u0e00-\u0e7f]"), "th"),
    (re.compile(r"[\u0590-\u05ff]"), "he"),
    (re.compile(r"[\u0900-\u097f]"), "hi"),
    (re.compile(r"[\u0370-\u03ff]"), "el"),
    (re.compile(r"[\u0980-\u09ff]"), "bn"),
    (re.compile(r"[\u0b80-\u0bff]"), "ta"),
    (re.compile(r"[\u10a0-\u10ff]"), "ka"),
    (re.compile(r"[\u0530-\u058f]"), "hy"),
)
# Letters of the Arabic script used by Persian (and Urdu) but not by Arabic: pe, che, zhe, gaf; Urdu's own letters.
_PERSIAN = re.compile("[\u067e\u0686\u0698\u06af]")
_URDU = re.compile("[\u0679\u0688\u0691\u06ba\u06be\u06d2]")
# Ukrainian letters absent from Russian.
_UKRAINIAN = re.compile("[\u0456\u0457\u0454\u0491]")
# Vietnamese: letters with horn/breve/stroke and the stacked tone marks no other Latin-script language uses.
_VIETNAMESE = re.compile(
    "[ơưăđƠƯĂĐạảấầẩẫậắằẳẵặẹẻẽếềểễệỉịọỏốồổỗộớờởỡợụủứừửữựỳỵỷỹẠẢẤẦẨẪẬẮẰẲẴẶẸẺẼẾỀỂỄỆỈỊỌỎỐỒỔỖỘỚỜỞỠỢỤỦỨỪỬỮỰỲỴỶỸ]"
)
# Links and cashtags carry no language: their letters are not counted.
_NOT_WORDS = re.compile(r"(?i)https?://\S+|www\.\S+|\$[a-z][\w.]*")
_LATIN_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")
_ANY_LETTER = re.compile(r"[^\W\d_]")

# Letters that point to one language among the Latin-script ones scored here (weight: how many function words
# such a letter is worth).
_LETTER_HINTS: dict[str, tuple[str, float]] = {
    "ğ": ("tr", 3.0),
    "ı": ("tr", 3.0),
    "ş": ("tr", 3.0),
    "İ": ("tr", 3.0),
    "ã": ("pt", 2.0),
    "õ": ("pt", 2.0),
    "ñ": ("es", 2.0),
    "¿": ("es", 2.0),
    "¡": ("es", 2.0),
    "ß": ("de", 2.0),
}

# The most frequent short words of each language, chosen so that few are shared; a word shared by two languages
# counts for both. These are grammar words (articles, pronouns, conjunctions, negation), not sentiment words.
_FUNCTION_WORDS: dict[str, str] = {
    "en": "the and is are was were to of this that it i you my we they for with be will not what have has just but "
    "on so its it's im i'm dont don't can cant can't your from about all if or would should do does did at as no a "
    "in me he she his her they them their there been out up now how who when why get got lol",
    "es": "el la los las que y en es por para con muy pero está esta como del al una un lo se mi yo no hoy más "
    "mas también tambien vamos ya pues porque cuando todo nada eso este esto hay son",
    "pt": "o os as que e é em não nao um uma para com muito mas está você voce isso isto do da dos das no na eu tá "
    "vai ao hoje agora pra pro também tambem porque quando tudo nada esse essa são sao tem",
    "tr": "ve bir bu da de çok cok ne için icin ama gibi daha var yok ben sen değil degil mi mı şu olarak kadar şimdi "
    "simdi hala artık artik neden nasıl nasil her hiç hic bence zaten",
    "id": "yang dan di ini itu tidak ga gak nggak enggak aku saya kamu ada dengan untuk dari ke juga sudah udah akan "
    "bisa sangat banget aja saja tapi karena kalau kalo lagi nya apa belum mau sih deh dong kok adalah dalam "
    "ingin kembali inilah kepada oleh pada bagi atau jadi masih lebih sekali hanya seperti tentang bahwa para mereka "
    "kami kita sama baru kalian",
    "de": "der die das und ist nicht ich ein eine zu mit auf sie es den dem sehr aber auch wir noch nur wie",
    "fr": "le la les et est une des du je pas ne pour avec sur que qui très tres mais c'est il elle nous vous ce",
    "it": "il lo gli e è che di non un una per con molto ma sono questo questa anche come della perché perche",
    "nl": "de het een en is niet ik je dat van op te zijn met voor maar ook wat",
}
_WORD_LANGS: dict[str, tuple[str, ...]] = {}
for _lang, _words in _FUNCTION_WORDS.items():
    for _w in _words.split():
        _WORD_LANGS[_w] = (*_WORD_LANGS.get(_w, ()), _lang)
del _lang, _words, _w

# Function words of the other languages only (a text with none of them is English or has no clue: English).
_NOT_ENGLISH = frozenset(w for w, langs in _WORD_LANGS.items() if "en" not in langs)
_SPLIT = re.compile(r"[^\w'’]+")

#: every code ``detect`` can return (besides ``und``)
SCRIPT_LANGS = ("zh", "ja", "ko", "ar", "fa", "ur", "ru", "uk", "vi", *_FUNCTION_WORDS, *(c for _, c in _OTHER_SCRIPTS))


# Every script pattern above is one character class: their union finds in one scan whether any of them occurs
# (most non-ASCII chat is Latin text with emoji, which none of them matches).
_SCRIPT_CLASSES = (_HAN, _KANA, _HANGUL, _ARABIC, _CYRILLIC, *(p for p, _ in _OTHER_SCRIPTS))
assert all(p.pattern.startswith("[") and p.pattern.endswith("]") for p in _SCRIPT_CLASSES)
_ANY_SCRIPT = re.compile("[" + "".join(p.pattern[1:-1] for p in _SCRIPT_CLASSES) + "]")


def detect(text: str | None) -> str:
    """ISO 639-1 code of ``text``'s language, or ``und`` (no letters)."""
    if not text:
        return UNDETERMINED
    if text.isascii():
        return _latin(text.lower(), {}) if _ANY_LETTER.search(text) else UNDETERMINED
    if _ANY_SCRIPT.search(text) is None:
        return _latin_or_vietnamese(text)
    if _HAN.search(text):
        return "ja" if _KANA.search(text) else "zh"
    if _KANA.search(text):
        return "ja"
    if _HANGUL.search(text):
        return "ko"
    if _ARABIC.search(text):
        if _URDU.search(text):
            return "ur"
        # Persian writes yeh and kaf in its own forms (ی ک); Arabic uses ي ك. Either Persian-only letter decides.
        if _PERSIAN.search(text) or ("\u06cc" in text and "\u064a" not in text) or "\u06a9" in text:
            return "fa"
        return "ar"
    if _CYRILLIC.search(text):
        return "uk" if _UKRAINIAN.search(text) else "ru"
    for pattern, code in _OTHER_SCRIPTS:
        if pattern.search(text):
            return code
    return _latin_or_vietnamese(text)


def _latin_or_vietnamese(text: str) -> str:
    """``detect`` of a non-ASCII text in none of the other scripts."""
    if len(_VIETNAMESE.findall(text)) >= 2 or (_VIETNAMESE.search(text) and len(text) < 12):
        return "vi"
    if not _ANY_LETTER.search(text):
        return UNDETERMINED
    hints: dict[str, float] = {}
    for char, (code, weight) in _LETTER_HINTS.items():
        if char in text:
            hints[code] = hints.get(code, 0.0) + weight
    return _latin(text.lower(), hints)


_PIECES: dict[str, bool] = {}  # whitespace-separated piece -> holds a function word of another language
_PIECES_LIMIT = 200_000


def _has_foreign_word(lowered: str) -> bool:
    """Whether ``_SPLIT.split(lowered)`` holds a word of ``_NOT_ENGLISH``, piece by piece (the split pattern
    splits at every whitespace, so the words of a text are its pieces' words), each piece looked up once."""
    cache = _PIECES
    if len(cache) > _PIECES_LIMIT:
        cache.clear()
    for piece in lowered.split():
        hit = cache.get(piece)
        if hit is None:
            hit = cache[piece] = not _NOT_ENGLISH.isdisjoint(_SPLIT.split(piece))
        if hit:
            return True
    return False


def _latin(lowered: str, votes: dict[str, float]) -> str:
    """The Latin-script language with most function-word (and letter) votes; English on a tie or no vote."""
    if "http" in lowered or "www." in lowered or "$" in lowered:
        lowered = _NOT_WORDS.sub(" ", lowered)
    if not votes and not _has_foreign_word(lowered):
        return "en"  # no function word of another language: the common case, without the word regex
    words = _LATIN_WORD.findall(lowered)
    for word in words:
        langs = _WORD_LANGS.get(word)
        if langs is not None:
            share = 1.0 / len(langs)
            for code in langs:
                votes[code] = votes.get(code, 0.0) + share
    if not votes:
        return "en"
    best = max(votes.values())
    if votes.get("en", 0.0) >= best:
        return "en"
    return max(votes, key=votes.__getitem__)
