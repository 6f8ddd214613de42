"""Judging a scorer against labelled text: label mapping, accuracy, macro-F1 and the confusion matrix."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from sentiment.errors import InputError

__all__ = ["DEFAULT_LABEL_MAP", "confusion", "map_labels", "parse_label_map", "scores_of", "vanilla_vader_labels"]

DEFAULT_LABEL_MAP = {
    "bullish": "bullish",
    "bearish": "bearish",
    "neutral": "neutral",
    "positive": "bullish",
    "negative": "bearish",
}
ORDER = ("bullish", "bearish", "neutral", "unscored")


def parse_label_map(spec: str | None) -> dict[str, str]:
    """``positive=bullish,negative=bearish,1=bullish`` -> dict (added to the default map)."""
    out = dict(DEFAULT_LABEL_MAP)
    for item in (spec or "").split(","):
        if not item.strip():
            continue
        key, sep, value = item.partition("=")
        if not sep or value.strip() not in ORDER[:3]:
            raise InputError("--label-map", f"{item!r} is not FILE_LABEL=bullish|bearish|neutral")
        out[key.strip()] = value.strip()
    return out


def map_labels(raw: pd.Series, mapping: Mapping[str, str], source: str = "labels") -> list[str]:
    """Gold labels as bullish/bearish/neutral; raises InputError listing labels the map does not cover."""
    text = raw.astype(str).str.strip()
    # A label matches exactly, else in lower case (files write Bullish, Positive, NEGATIVE ...).
    folded = {k.lower(): v for k, v in mapping.items()}
    unknown = sorted(v for v in set(text) if v not in mapping and v.lower() not in folded)
    if unknown:
        raise InputError(source, f"labels not in --label-map: {', '.join(unknown[:10])}")
    return [mapping[v] if v in mapping else folded[v.lower()] for v in text]


def scores_of(gold: Sequence[str], predicted: Sequence[str]) -> dict[str, float]:
    """accuracy and macro-F1 over the gold classes (a prediction of any other label counts as a miss)."""
    from sklearn.metrics import accuracy_score, f1_score

    classes = [c for c in ORDER if c in set(gold)]
    return {
        "accuracy": round(float(accuracy_score(gold, predicted)), 4),
        "macro_f1": round(float(f1_score(gold, predicted, labels=classes, average="macro", zero_division=0)), 4),
    }


def confusion(gold: Sequence[str], predicted: Sequence[str]) -> pd.DataFrame:
    """Counts with gold labels as rows and predicted labels as columns."""
    frame = pd.crosstab(pd.Series(gold, name="gold"), pd.Series(predicted, name="predicted"))
    rows = [c for c in ORDER if c in frame.index]
    cols = [c for c in ORDER if c in set(frame.columns) | set(rows)]
    return frame.reindex(index=rows, columns=cols, fill_value=0)


def vanilla_vader_labels(texts: Sequence[str]) -> list[str]:
    """The baseline: ``SentimentIntensityAnalyzer().polarity_scores`` on every text, +-0.05 thresholds, no routing."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    from sentiment.scoring.core import label_for

    analyzer = SentimentIntensityAnalyzer()
    return [label_for(analyzer.polarity_scores(t)["compound"]) for t in texts]
