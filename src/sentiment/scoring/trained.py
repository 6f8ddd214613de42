"""Domain adaptation: a TF-IDF + logistic-regression model fitted on the user's own labelled messages."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sentiment.errors import InputError, LakeError
from sentiment.scoring.core import BaseScorer, _scored, _unscored, detect_lang
from sentiment.scoring.evaluate import scores_of

__all__ = ["TrainedScorer", "cross_validate", "fit_model", "load_card", "make_pipeline", "save_model"]

CV_FOLDS = 5
SEED = 0


def make_pipeline(warm_start: bool = False):  # type: ignore[no-untyped-def]
    """Character 1-4-grams (within word boundaries; they work for Chinese, emoji and slang alike) + balanced LR.

    ``warm_start``: the shipped hybrid scorer's compound, pos, neu and neg are added as features, so the model
    starts from what the shipped models and lexicons know and the user's labels adjust it."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, Pipeline
    from sklearn.preprocessing import FunctionTransformer

    tfidf = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), min_df=2, sublinear_tf=True)
    features = (
        FeatureUnion([("tfidf", tfidf), ("shipped", FunctionTransformer(shipped_scores))]) if warm_start else tfidf
    )
    return Pipeline([("tfidf", features), ("lr", LogisticRegression(C=4.0, max_iter=2000, class_weight="balanced"))])


def shipped_scores(texts: Sequence[str]) -> np.ndarray:
    """The shipped hybrid scorer's (compound, pos, neu, neg) of each text; 0 where it leaves a text unscored."""
    from sentiment.scoring.hybrid import HybridScorer

    values, _, _ = HybridScorer().score_arrays(list(texts))
    return np.nan_to_num(values, nan=0.0)


def cross_validate(
    texts: Sequence[str], labels: Sequence[str], folds: int = CV_FOLDS, *, warm_start: bool = False
) -> list[str]:
    """Out-of-fold predicted labels (stratified ``folds``-fold CV) of the recipe on ``texts``."""
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    y = np.asarray(labels, dtype=object)
    n_splits = min(folds, int(pd.Series(y).value_counts().min()))
    if n_splits < 2:
        raise InputError("labels", "each label needs at least 2 examples for cross-validation")
    cv = StratifiedKFold(n_splits=n_splits, shuffle=True, random_state=SEED)
    proba = cross_val_predict(make_pipeline(warm_start), list(texts), y, cv=cv, method="predict_proba")
    classes = sorted(set(y))
    return [_label_from(dict(zip(classes, p, strict=True))) for p in proba]


def _label_from(proba: dict[str, float]) -> str:
    from sentiment.scoring.core import label_for

    return label_for(_compound(proba))


def _compound(proba: dict[str, float]) -> float:
    return float(proba.get("bullish", 0.0) - proba.get("bearish", 0.0))


def fit_model(
    texts: Sequence[str], labels: Sequence[str], *, warm_start: bool = False
) -> tuple[object, dict[str, object]]:
    """Fit the recipe on all rows; the card records the data, the recipe and its cross-validated scores."""
    labels = list(labels)
    predicted = cross_validate(texts, labels, warm_start=warm_start)
    model = make_pipeline(warm_start)
    model.fit(list(texts), np.asarray(labels, dtype=object))
    langs = sorted({detect_lang(t) for t in texts} - {"und"})
    card: dict[str, object] = {
        "recipe": "tfidf char_wb 1-4 + logistic regression (balanced)"
        + (" + shipped hybrid scores (warm start)" if warm_start else ""),
        "rows": len(labels),
        "classes": {k: int(v) for k, v in pd.Series(labels).value_counts().sort_index().items()},
        "langs": langs,
        "cv_folds": CV_FOLDS,
        "cv": scores_of(labels, predicted),
    }
    return model, card


def save_model(model: object, card: dict[str, object], path: Path) -> None:
    """Write ``path`` (joblib) and its card ``path.with_suffix('.json')`` atomically."""
    import joblib

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        joblib.dump(model, tmp)
        card = {**card, "sha256": hashlib.sha256(tmp.read_bytes()).hexdigest()}
        tmp_card = path.with_name(f".{path.stem}.json.tmp")
        tmp_card.write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        tmp.replace(path)
        tmp_card.replace(path.with_suffix(".json"))
    except OSError as exc:
        raise LakeError(path, f"cannot write model: {exc}") from exc


def load_card(path: Path) -> dict[str, object]:
    return json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))


@dataclass
class TrainedScorer(BaseScorer):
    """A stored model applied to the languages it was trained on (others unscored); vectorised, so in-process.

    compound = P(bullish) - P(bearish); pos/neg are those probabilities and neu P(neutral) (0 without that class).
    Only load models you trained yourself: joblib files run code when loaded.
    """

    model: object
    langs: tuple[str, ...]
    version: str
    name: str = "trained"
    parallel = False

    @classmethod
    def load(cls, path: Path) -> TrainedScorer:
        import joblib

        card = load_card(path)
        return cls(model=joblib.load(path), langs=tuple(card.get("langs", ("en",))), version=str(card["sha256"])[:12])

    def warm(self) -> None:
        return None

    def score_one(self, text: str) -> dict[str, object]:
        return self.score_many([text])[0]

    def score_many(self, texts: Sequence[str]) -> list[dict[str, object]]:
        langs = [detect_lang(t) for t in texts]
        todo = [i for i, lang in enumerate(langs) if lang in self.langs]
        out: list[dict[str, object]] = [_unscored(lang) for lang in langs]
        if todo:
            proba = self.model.predict_proba([texts[i] for i in todo])  # type: ignore[attr-defined]
            classes = list(self.model.classes_)  # type: ignore[attr-defined]
            for i, p in zip(todo, proba, strict=True):
                d = dict(zip(classes, (float(x) for x in p), strict=True))
                s = {
                    "compound": round(_compound(d), 4),
                    "pos": round(d.get("bullish", 0.0), 3),
                    "neu": round(d.get("neutral", 0.0), 3),
                    "neg": round(d.get("bearish", 0.0), 3),
                }
                out[i] = _scored(s, langs[i])
        return out
