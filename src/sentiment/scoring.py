"""Sentiment scores for chat text: VADER behind a small adapter, with a per-message language check.

Only text in a language the scorer understands is scored. Anything else gets ``label = "unscored"`` and null
scores, never a fake neutral 0 (VADER returns exactly 0.0 for Chinese, which would read as "neutral").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import pandas as pd
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

__all__ = ["LABELS", "VaderScorer", "detect_lang", "label_for", "score_messages"]

LABELS = ("bullish", "bearish", "neutral", "unscored")
BULLISH_AT = 0.05
BEARISH_AT = -0.05
SCORED_KINDS = ("message", "media")

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")
_ANY_LETTER = re.compile(r"[^\W\d_]")


def detect_lang(text: str | None) -> str:
    """A cheap script check: ``zh`` (any Han character), ``en`` (Latin words), ``other``, or ``none`` (no text)."""
    if not text or not text.strip():
        return "none"
    if _CJK.search(text):
        return "zh"
    if _LATIN_WORD.search(text):
        return "en"
    if _ANY_LETTER.search(text):
        return "other"
    # Emoji and punctuation only: VADER reads emoji, so treat it as English-scorable text.
    return "en"


def label_for(compound: float | None) -> str:
    """bullish / bearish / neutral by VADER's customary +-0.05 thresholds; unscored when there is no score."""
    if compound is None or pd.isna(compound):
        return "unscored"
    if compound >= BULLISH_AT:
        return "bullish"
    if compound <= BEARISH_AT:
        return "bearish"
    return "neutral"


@dataclass
class VaderScorer:
    """Vanilla VADER, built once and reused; scores each distinct text once."""

    name: str = "vader"
    version: str = "3.3.2-1"
    _analyzer: SentimentIntensityAnalyzer = field(default_factory=SentimentIntensityAnalyzer, repr=False)

    def score_one(self, text: str) -> dict[str, object]:
        lang = detect_lang(text)
        if lang != "en":
            return {
                "compound": None,
                "pos": None,
                "neu": None,
                "neg": None,
                "label": "unscored",
                "lang": lang,
            }
        s = self._analyzer.polarity_scores(text)
        return {
            "compound": s["compound"],
            "pos": s["pos"],
            "neu": s["neu"],
            "neg": s["neg"],
            "label": label_for(s["compound"]),
            "lang": lang,
        }

    def score_texts(self, texts: pd.Series) -> pd.DataFrame:
        """compound, pos, neu, neg, label, lang for each text, aligned to ``texts``' index."""
        cols = ["compound", "pos", "neu", "neg", "label", "lang"]
        if texts.empty:
            return pd.DataFrame(columns=cols, index=texts.index)
        filled = texts.fillna("").astype(str)
        distinct = pd.unique(filled.to_numpy())
        table = pd.DataFrame([self.score_one(t) for t in distinct], index=distinct, columns=cols)
        out = table.loc[filled.to_numpy()]
        out.index = texts.index
        for c in ("compound", "pos", "neu", "neg"):
            out[c] = out[c].astype("float64")
        return out


def score_messages(messages: pd.DataFrame, scorer: VaderScorer, scored_at: pd.Timestamp) -> pd.DataFrame:
    """Rows of the ``scores`` table for the user messages in ``messages`` (system events are not scored)."""
    users = messages[messages["kind"].isin(SCORED_KINDS)]
    scored = scorer.score_texts(users["text"])
    out = users[["platform", "chat_id", "message_id"]].reset_index(drop=True)
    out = pd.concat([out, scored.reset_index(drop=True)], axis=1)
    out["scorer"] = scorer.name
    out["scorer_version"] = scorer.version
    out["scored_at"] = scored_at
    return out
