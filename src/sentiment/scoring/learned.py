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
from dataclasses import dataclass
from importlib import resources
from itertools import pairwise
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
    if not text.isascii():
        text = normalise_emoji(text)
    if "http" in text or "www." in text:
        text = _URL.sub(" _url_ ", text)
    if "$" in text:
        text = _CASHTAG.sub(" _cashtag_ ", text)
    text = text.lower()
    if _DIGIT.search(text):
        text = _NUMBER.sub(" _num_ ", text)
    words = _words(text)
    return words + [f"{a} {b}" for a, b in pairwise(words)]


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
        get = self.index.get
        ids: list[int] = []
        lengths: list[int] = []
        for text in texts:
            found = [i for i in map(get, text_features(text)) if i is not None]
            ids.extend(found)
            lengths.append(len(found))
        logits = np.asarray(dense, dtype="float64").reshape(n, -1) @ self.dense_coef + self.intercept
        if ids:
            rows = np.repeat(np.arange(n), lengths)
            keys, counts = np.unique(rows * width + np.asarray(ids, dtype="int64"), return_counts=True)
            row, col = keys // width, keys % width
            value = (1.0 + np.log(counts)) * self.idf[col]
            value /= np.sqrt(np.bincount(row, weights=value * value, minlength=n))[row]
            weighted = self.coef[col] * value[:, None]
            for c in range(logits.shape[1]):
                logits[:, c] += np.bincount(row, weights=weighted[:, c], minlength=n)
        logits -= logits.max(axis=1, keepdims=True)
        exps = np.exp(logits)
        return exps / exps.sum(axis=1, keepdims=True)


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
