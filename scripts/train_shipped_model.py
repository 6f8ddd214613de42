"""Train the learned models shipped in ``src/sentiment/scoring/models/`` from ``../shared/sentiment-train/``.

Reproducible: fixed seed, fixed folds, deterministic solver. Writes ``en.npz``/``en.json`` (Twitter Financial News
Sentiment, MIT) and ``id.npz``/``id.json`` (IndoNLU SmSA, Apache-2.0): plain arrays, no pickle. Each card records
the data, licence, features and 5-fold cross-validated scores of the exact recipe shipped.

    .venv/bin/python scripts/train_shipped_model.py [--data ../shared/sentiment-train] [--lang en]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from sentiment.scoring.core import label_for
from sentiment.scoring.evaluate import scores_of
from sentiment.scoring.hybrid import HybridScorer, reads_as_report
from sentiment.scoring.learned import SEED, LinearTextModel, fit_linear, save_linear

REPO = Path(__file__).resolve().parents[1]
FOLDS = 5
DENSE = ("lexicon_compound", "lexicon_pos", "lexicon_neg")
SOURCES = {
    "en": {
        "file": "twitter_financial_news_sentiment_train.csv",
        "dataset": "Twitter Financial News Sentiment, train split (zeroshot/twitter-financial-news-sentiment)",
        "licence": "MIT",
        "kind": "English finance-news tweets (headlines with cashtags and links)",
    },
    "id": {
        "file": "indonlu_smsa_indonesian_train.tsv",
        "dataset": "IndoNLU SmSA, train split (IndoNLP/indonlu)",
        "licence": "Apache-2.0",
        "kind": "Indonesian reviews and social comments",
    },
}
MAP = {"positive": "bullish", "negative": "bearish", "neutral": "neutral", "bullish": "bullish", "bearish": "bearish"}


def read(lang: str, data: Path) -> tuple[list[str], list[str], str]:
    path = data / SOURCES[lang]["file"]
    if lang == "en":
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
        texts, labels = frame["text"].tolist(), frame["label_name"].map(MAP).tolist()
    else:
        frame = pd.read_csv(path, sep="\t", header=None, dtype=str, quoting=csv.QUOTE_NONE, keep_default_na=False)
        texts, labels = frame[0].tolist(), frame[1].map(MAP).tolist()
    return texts, labels, hashlib.sha256(path.read_bytes()).hexdigest()


def dense_of(scorer: HybridScorer, texts: list[str], lang: str) -> np.ndarray:
    rows = []
    for text in texts:
        s = scorer.lexicon_scores(text, lang)
        rows.append((s["compound"], s["pos"], s["neg"]))
    return np.array(rows, dtype="float64")


def cross_validated(texts: list[str], labels: list[str], dense: np.ndarray, lang: str) -> dict[str, object]:
    """Out-of-fold labels of the shipped recipe (stratified folds, fixed seed), scored two ways: the most probable
    class, and the label the hybrid scorer gives (for English, chat-like text by compound; see scoring.hybrid)."""
    from sklearn.model_selection import StratifiedKFold

    y = np.asarray(labels, dtype=object)
    argmax = np.empty(len(y), dtype=object)
    hybrid = np.empty(len(y), dtype=object)
    for train, test in StratifiedKFold(FOLDS, shuffle=True, random_state=SEED).split(texts, y):
        arrays, _ = fit_linear([texts[i] for i in train], y[train].tolist(), dense[train], DENSE)
        model = LinearTextModel.from_arrays(arrays, {})
        for i in test:
            p = dict(zip(model.classes, model.proba(texts[i], dense[i]), strict=True))
            argmax[i] = max(p, key=p.__getitem__)
            in_domain = lang != "en" or reads_as_report(texts[i])
            hybrid[i] = argmax[i] if in_domain else label_for(p["bullish"] - p["bearish"])
    return {"argmax": scores_of(labels, argmax.tolist()), "hybrid_labels": scores_of(labels, hybrid.tolist())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "sentiment-train")
    parser.add_argument("--out", type=Path, default=REPO / "src" / "sentiment" / "scoring" / "models")
    parser.add_argument("--lang", choices=sorted(SOURCES), action="append")
    args = parser.parse_args(argv)
    scorer = HybridScorer.__new__(HybridScorer)  # only its lexicons are used: no shipped model needed yet
    scorer._en = scorer._zh = scorer._multi = None
    scorer._models = {}
    for lang in args.lang or sorted(SOURCES):
        texts, labels, digest = read(lang, args.data)
        dense = dense_of(scorer, texts, lang)
        cv = cross_validated(texts, labels, dense, lang)
        arrays, _ = fit_linear(texts, labels, dense, DENSE)
        card = {
            **SOURCES[lang],
            "lang": lang,
            "file_sha256": digest,
            "rows": len(labels),
            "classes": {k: int(v) for k, v in pd.Series(labels).value_counts().sort_index().items()},
            "features": "word unigrams+bigrams (links, cashtags, numbers as placeholders), TF-IDF sublinear tf, "
            "min_df 2, l2; plus the lexicon's compound, pos, neg",
            "model": "multinomial logistic regression, C=4, balanced class weights, lbfgs",
            "n_features": len(arrays["idf"]),
            "seed": SEED,
            "cv_folds": FOLDS,
            "cv": cv,
        }
        save_linear(arrays, card, args.out / f"{lang}.npz")
        print(f"{lang}: {len(labels)} rows, {card['n_features']} features, {FOLDS}-fold CV {cv}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
