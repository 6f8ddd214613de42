"""The shipped learned models: word TF-IDF + lexicon scores -> logistic regression, stored as plain arrays.

A model is fitted with scikit-learn by ``fit_linear`` (``scripts/train_shipped_model.py`` runs it on
``../shared/sentiment-train``) and saved by ``save_linear`` as an ``.npz`` of numbers and UTF-8 bytes (no pickle;
``numpy.load(allow_pickle=False)`` reads it). ``LinearTextModel`` predicts from those arrays alone, with the same
features and arithmetic as scikit-learn's ``TfidfVectorizer`` + ``LogisticRegression`` (a test checks parity).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from itertools import chain, pairwise
from pathlib import Path

import numpy as np

from sentiment.errors import InputError
from sentiment.scoring.lexicon import normalise_emoji

__all__ = ["FEATURES_VERSION", "LinearTextModel", "fit_linear", "load_shipped", "save_linear", "text_features"]

FEATURES_VERSION = "1"
SEED = 0
CLASSES = ("bearish", "bullish", "neutral")

_URL = re.compile(r"(?i)https?://\S+|www\.\S+")
_CASHTAG = re.compile(r"(?<![\w$])\$[A-Za-z][A-Za-z0-9]{0,14}(?:\.[A-Za-z]{1,3})?\b")
_DIGIT = re.compile(r"\d")
_NUMBER = re.compile(r"[+-]?\d+(?:[.,:]\d+)*%?")
# Words (letters, inner apostrophes), placeholder tokens, and single symbols that carry tone (emoji, ! and ?).
_WORD = re.compile(r"_[a-z]+_|[^\W\d_]+(?:['’][^\W\d_]+)*|[!?]|[^\w\s.,;:'\"()\[\]{}<>/\\|@#&*=+~^`-]")


def text_features(text: str) -> list[str]:
    """Unigrams and bigrams of the normalised words: links, cashtags and numbers become placeholders
    (``_url_``, ``_cashtag_``, ``_num_``): what a headline links to or which ticker it names is not its tone."""
    words = _words(_normalise(text, _has_link(text)))
    return words + [f"{a} {b}" for a, b in pairwise(words)]


def _has_link(text: str) -> bool:
    """Whether links are masked in ``text`` (checked on the whole text: the check is case-sensitive, the masking
    is not)."""
    return "http" in text or "www." in text


def _normalise(text: str, links: bool) -> str:
    """The text the word pattern reads. Every step is local to a whitespace-separated piece (no pattern matches
    whitespace, lower-casing looks no further than the piece), so a text's words are its pieces' words in order."""
    if not text.isascii():
        text = normalise_emoji(text)
    if links:
        text = _URL.sub(" _url_ ", text)
    if "$" in text:
        text = _CASHTAG.sub(" _cashtag_ ", text)
    text = text.lower()
    if _DIGIT.search(text):
        text = _NUMBER.sub(" _num_ ", text)
    return text


_PIECES: dict[str, list[str]] = {}  # tokens of each whitespace-separated piece seen (chat reuses its words)
_PIECES_LIMIT = 200_000


def _words(text: str) -> list[str]:
    """``_WORD.findall(text)``, piece by piece: no token spans whitespace (the pattern matches none), so the tokens
    of a text are its pieces' tokens in order, each piece's looked up once."""
    cache = _PIECES
    if len(cache) > _PIECES_LIMIT:
        cache.clear()
    words: list[str] = []
    for piece in text.split():
        tokens = cache.get(piece)
        if tokens is None:
            tokens = cache[piece] = _WORD.findall(piece)
        words += tokens
    return words


@dataclass
class LinearTextModel:
    """Predicts class probabilities from texts and their dense (lexicon) features; built from plain arrays."""

    classes: tuple[str, ...]
    dense_names: tuple[str, ...]
    index: dict[str, int]  # feature -> column
    idf: np.ndarray  # (features,)
    coef: np.ndarray  # (features, classes)
    dense_coef: np.ndarray  # (dense features, classes)
    intercept: np.ndarray  # (classes,)
    card: dict[str, object]
    _table: _WordTable | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], card: dict[str, object]) -> LinearTextModel:
        vocab = bytes(arrays["vocab"]).decode("utf-8").split("\n")
        idf, coef = arrays["idf"].astype("float64"), arrays["coef"].astype("float64")
        if coef.shape != (len(arrays["intercept"]), len(vocab)) or idf.shape != (len(vocab),):
            raise InputError("model", f"array shapes do not match: coef {coef.shape}, {len(vocab)} features")
        return cls(
            classes=tuple(bytes(arrays["classes"]).decode("utf-8").split("\n")),
            dense_names=tuple(n for n in bytes(arrays["dense_names"]).decode("utf-8").split("\n") if n),
            index={f: i for i, f in enumerate(vocab)},
            idf=idf,
            coef=np.ascontiguousarray(coef.T),
            dense_coef=np.ascontiguousarray(arrays["dense_coef"].astype("float64").T),
            intercept=arrays["intercept"].astype("float64"),
            card=card,
        )

    @classmethod
    def load(cls, path: Path | str) -> LinearTextModel:
        """Read an ``.npz`` written by ``save_linear`` (pickle disabled) and its card (same name, ``.json``)."""
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
            card = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        except (OSError, ValueError, KeyError) as exc:
            raise InputError(path, f"not a readable model: {exc}") from exc
        return cls.from_arrays(arrays, card)

    def proba(self, text: str, dense: Sequence[float]) -> tuple[float, ...]:
        """Class probabilities (in ``classes`` order) of one text."""
        return tuple(self.proba_many([text], np.asarray([dense], dtype="float64"))[0].tolist())

    def proba_many(self, texts: Sequence[str], dense: np.ndarray) -> np.ndarray:
        """(texts, classes) probabilities: TF-IDF with sublinear tf and l2 norm over the known features, plus the
        dense columns, then the softmax of the linear scores (scikit-learn's multinomial logistic regression)."""
        n, width = len(texts), len(self.idf)
        logits = np.asarray(dense, dtype="float64").reshape(n, -1) @ self.dense_coef + self.intercept
        rows, cols = self.feature_cells(texts)
        if len(rows):
            keys, counts = np.unique(rows * width + cols, return_counts=True)
            row, col = keys // width, keys % width
            value = (1.0 + np.log(counts)) * self.idf[col]
            value /= np.sqrt(np.bincount(row, weights=value * value, minlength=n))[row]
            weighted = self.coef[col] * value[:, None]
            for c in range(logits.shape[1]):
                logits[:, c] += np.bincount(row, weights=weighted[:, c], minlength=n)
        logits -= logits.max(axis=1, keepdims=True)
        exps = np.exp(logits)
        return exps / exps.sum(axis=1, keepdims=True)

    def feature_cells(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """(text, column) of every known feature occurrence in ``texts``, as two int64 arrays: what looking up each
        of ``text_features(text)`` in ``index`` gives (a test checks that), found without building the feature
        strings. Each whitespace-separated piece is normalised and tokenised once (cached as word ids); unigram
        columns are an array lookup and bigrams are pairs of neighbouring ids, looked up in a sorted array."""
        if self._table is None:
            self._table = _WordTable.of(self.index)
        return self._table.cells(texts)


_PIECE_CACHE_LIMIT = 200_000


@dataclass
class _WordTable:
    """A model's features as word ids: each word of its vocabulary has an id (``unknown`` for any other word); a
    unigram's column is ``unigram[id]`` (-1 when not a feature), a bigram's is found by the key ``a * base + b``."""

    ids: dict[str, int]
    unknown: int
    unigram: np.ndarray  # (words + 1,) column of each word's unigram feature, or -1
    bigram_keys: np.ndarray  # sorted keys of the bigram features
    bigram_cols: np.ndarray  # their columns
    pieces: tuple[dict[str, tuple[int, ...]], dict[str, tuple[int, ...]]] = field(
        default_factory=lambda: ({}, {}), repr=False
    )

    @classmethod
    def of(cls, index: dict[str, int]) -> _WordTable:
        words = sorted({w for feature in index for w in feature.split(" ")})
        ids = {w: i for i, w in enumerate(words)}
        base = len(words) + 1
        unigram = np.full(base, -1, dtype="int64")
        keys: list[int] = []
        cols: list[int] = []
        for feature, col in index.items():
            parts = feature.split(" ")
            if len(parts) == 1:
                unigram[ids[feature]] = col
            elif len(parts) == 2:
                keys.append(ids[parts[0]] * base + ids[parts[1]])
                cols.append(col)
        order = np.argsort(np.asarray(keys, dtype="int64"), kind="stable")
        return cls(
            ids=ids,
            unknown=len(words),
            unigram=unigram,
            bigram_keys=np.asarray(keys, dtype="int64")[order],
            bigram_cols=np.asarray(cols, dtype="int64")[order],
        )

    def _piece(self, piece: str, links: bool) -> tuple[int, ...]:
        cache = self.pieces[links]
        if len(cache) > _PIECE_CACHE_LIMIT:
            cache.clear()
        get, unknown = self.ids.get, self.unknown
        found = cache[piece] = tuple(get(w, unknown) for w in _WORD.findall(_normalise(piece, links)))
        return found

    def cells(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        plain, linked = self.pieces
        parts: list[tuple[int, ...]] = []  # word ids of each piece of each text, in order
        counts: list[int] = []  # pieces per text
        for text in texts:
            links = "http" in text or "www." in text
            pieces = text.split()
            got = list(map((linked if links else plain).get, pieces))
            if None in got:
                got = [g if g is not None else self._piece(p, links) for g, p in zip(got, pieces, strict=True)]
            parts += got
            counts.append(len(got))
        sizes = np.fromiter(map(len, parts), dtype="int64", count=len(parts))
        ids = np.fromiter(chain.from_iterable(parts), dtype="int64", count=int(sizes.sum()))
        rows = np.repeat(np.repeat(np.arange(len(texts), dtype="int64"), counts), sizes)
        uni = self.unigram[ids]
        known = uni >= 0
        out_rows, out_cols = [rows[known]], [uni[known]]
        if len(self.bigram_keys) and len(ids) > 1:
            same = rows[1:] == rows[:-1]
            first = np.flatnonzero(same & (ids[:-1] != self.unknown) & (ids[1:] != self.unknown))
            keys = ids[first] * (self.unknown + 1) + ids[first + 1]
            at = np.minimum(np.searchsorted(self.bigram_keys, keys), len(self.bigram_keys) - 1)
            hit = self.bigram_keys[at] == keys
            out_rows.append(rows[first[hit]])
            out_cols.append(self.bigram_cols[at[hit]])
        return np.concatenate(out_rows), np.concatenate(out_cols)


def fit_linear(
    texts: Sequence[str], labels: Sequence[str], dense: np.ndarray, dense_names: Sequence[str], *, c: float = 4.0
) -> tuple[dict[str, np.ndarray], object]:
    """Fit TF-IDF (``text_features``, min_df 2, sublinear tf) + balanced multinomial logistic regression with the
    ``dense`` columns appended; returns the arrays ``save_linear`` stores and the fitted scikit-learn pipeline
    parts (vectorizer, model), for parity checks."""
    from scipy.sparse import csr_matrix, hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vectorizer = TfidfVectorizer(analyzer=text_features, min_df=2, sublinear_tf=True)
    matrix = hstack([vectorizer.fit_transform(list(texts)), csr_matrix(np.asarray(dense, dtype="float64"))]).tocsr()
    model = LogisticRegression(C=c, max_iter=5000, class_weight="balanced", random_state=SEED)
    model.fit(matrix, np.asarray(labels, dtype=object))
    vocab = vectorizer.get_feature_names_out().tolist()
    if any("\n" in f for f in vocab):
        raise InputError("features", "a feature contains a newline")
    n = len(vocab)
    arrays = {
        "vocab": np.frombuffer("\n".join(vocab).encode("utf-8"), dtype="uint8"),
        "idf": vectorizer.idf_.astype("float32"),
        "coef": model.coef_[:, :n].astype("float32"),
        "dense_coef": model.coef_[:, n:].astype("float64"),
        "intercept": model.intercept_.astype("float64"),
        "classes": np.frombuffer("\n".join(model.classes_.tolist()).encode("utf-8"), dtype="uint8"),
        "dense_names": np.frombuffer("\n".join(dense_names).encode("utf-8"), dtype="uint8"),
    }
    return arrays, (vectorizer, model)


def save_linear(arrays: dict[str, np.ndarray], card: dict[str, object], path: Path) -> None:
    """Write ``path`` (.npz, compressed, no object arrays) and the card beside it (.json)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)
    path.with_suffix(".json").write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def load_shipped(lang: str) -> LinearTextModel:
    """The model shipped in this package for ``lang`` (``models/<lang>.npz``)."""
    with resources.as_file(resources.files("sentiment.scoring").joinpath("models", f"{lang}.npz")) as path:
        return LinearTextModel.load(path)
