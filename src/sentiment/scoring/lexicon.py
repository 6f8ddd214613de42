"""The lexicon data files shipped in this package: reading, checking and fingerprinting them."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources
from importlib.metadata import PackageNotFoundError, version

from sentiment.errors import InputError

__all__ = [
    "CRYPTO_FILE",
    "MULTI_FILE",
    "ZH_FILE",
    "CryptoLexicon",
    "ZhLexicon",
    "data_digest",
    "load_crypto_lexicon",
    "load_zh_lexicon",
    "model_digest",
    "normalise_emoji",
]

CRYPTO_FILE = "lexicon_crypto.tsv"
ZH_FILE = "lexicon_zh.tsv"
MULTI_FILE = "lexicon_multi.tsv"
ZH_KINDS = ("sentiment", "negation", "degree")

# Variation selectors (text/emoji presentation) and skin-tone modifiers change how an emoji looks, not what it means.
_PRESENTATION = re.compile("[\ufe0e\ufe0f\U0001f3fb-\U0001f3ff]")
_LETTER = re.compile(r"[A-Za-z]")


def normalise_emoji(text: str) -> str:
    """``text`` without variation selectors and skin-tone modifiers."""
    return _PRESENTATION.sub("", text)


@dataclass(frozen=True)
class CryptoLexicon:
    """English crypto slang: single words, multi-word phrases and emoji (sequences), each with a VADER valence."""

    words: dict[str, float]
    phrases: dict[str, float]
    emoji: dict[str, float]


@dataclass(frozen=True)
class ZhLexicon:
    """Chinese sentiment words (valence), negation words (multiplier) and degree words (multiplier)."""

    sentiment: dict[str, float]
    negation: dict[str, float]
    degree: dict[str, float]


def _read(name: str) -> str:
    return resources.files("sentiment.scoring").joinpath(name).read_text(encoding="utf-8")


def _rows(name: str, n_cols: int) -> list[tuple[int, list[str]]]:
    """Data rows (line number, cells) of a shipped TSV: comments, blank lines and the header skipped."""
    out: list[tuple[int, list[str]]] = []
    header_seen = False
    for lineno, line in enumerate(_read(name).splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        cells = line.split("\t")
        if not header_seen:
            header_seen = True
            continue
        if len(cells) != n_cols or not all(c.strip() for c in cells):
            raise InputError(name, f"expected {n_cols} non-empty tab-separated cells", lineno)
        out.append((lineno, [c.strip() for c in cells]))
    return out


def _valence(name: str, lineno: int, cell: str, low: float = -4.0, high: float = 4.0) -> float:
    try:
        value = float(cell)
    except ValueError as exc:
        raise InputError(name, f"value {cell!r} is not a number", lineno) from exc
    if not low <= value <= high:
        raise InputError(name, f"value {value} outside [{low}, {high}]", lineno)
    return value


def load_crypto_lexicon() -> CryptoLexicon:
    """Parse ``lexicon_crypto.tsv`` (term, valence, note). Raises InputError naming the line of a bad entry."""
    words: dict[str, float] = {}
    phrases: dict[str, float] = {}
    emoji: dict[str, float] = {}
    for lineno, (term, valence, _note) in _rows(CRYPTO_FILE, 3):
        value = _valence(CRYPTO_FILE, lineno, valence)
        if not _LETTER.search(term):
            target, key = emoji, normalise_emoji(term)
        elif " " in term:
            target, key = phrases, " ".join(term.lower().split())
        else:
            target, key = words, term.lower()
        if key in target:
            raise InputError(CRYPTO_FILE, f"duplicate term {term!r}", lineno)
        target[key] = value
    return CryptoLexicon(words=words, phrases=phrases, emoji=emoji)


def load_zh_lexicon() -> ZhLexicon:
    """Parse ``lexicon_zh.tsv`` (term, kind, value, note). Raises InputError naming the line of a bad entry."""
    kinds: dict[str, dict[str, float]] = {k: {} for k in ZH_KINDS}
    seen: set[str] = set()
    for lineno, (term, kind, value, _note) in _rows(ZH_FILE, 4):
        if kind not in kinds:
            raise InputError(ZH_FILE, f"kind {kind!r} is not one of {', '.join(ZH_KINDS)}", lineno)
        if term in seen:
            raise InputError(ZH_FILE, f"duplicate term {term!r}", lineno)
        seen.add(term)
        kinds[kind][term] = _valence(ZH_FILE, lineno, value)
    return ZhLexicon(**kinds)


def data_digest() -> str:
    """12 hex digits over the lexicon files and the versions of the libraries that read them.

    Any edit to a lexicon (or a VADER/jieba upgrade, which changes tokens or base valences) changes it, so stored
    scores are recognised as stale and rescored.
    """
    h = hashlib.sha256()
    for name in (CRYPTO_FILE, ZH_FILE, MULTI_FILE):
        h.update(name.encode() + b"\0" + _read(name).encode("utf-8") + b"\0")
    for dist in ("vaderSentiment", "jieba"):
        try:
            h.update(f"{dist}={version(dist)}\0".encode())
        except PackageNotFoundError:
            h.update(f"{dist}=?\0".encode())
    return h.hexdigest()[:12]


def model_digest() -> str:
    """12 hex digits over the shipped learned models (``models/*.npz`` and their cards): retraining changes it."""
    h = hashlib.sha256()
    folder = resources.files("sentiment.scoring").joinpath("models")
    for entry in sorted((e for e in folder.iterdir() if e.name.endswith((".npz", ".json"))), key=lambda e: e.name):
        h.update(entry.name.encode() + b"\0" + entry.read_bytes() + b"\0")
    return h.hexdigest()[:12]
