"""Sentiment scores for chat text: vanilla VADER, VADER + crypto lexicon, a Chinese scorer, a trained model.

``make_scorer(settings)`` picks one by ``Settings.scorer``; ``score_messages`` turns messages into ``scores`` rows.
"""

from sentiment.scoring.core import (
    EXTRA_COLUMNS,
    LABELS,
    RESULT_COLUMNS,
    BaseScorer,
    LexiconScorer,
    VaderScorer,
    analyse_texts,
    detect_lang,
    label_for,
    score_messages,
    stored_version,
)
from sentiment.scoring.extras import DEFAULT_ALIASES, MessageFacts
from sentiment.scoring.factory import SCORERS, make_scorer

__all__ = [
    "DEFAULT_ALIASES",
    "EXTRA_COLUMNS",
    "LABELS",
    "RESULT_COLUMNS",
    "SCORERS",
    "BaseScorer",
    "LexiconScorer",
    "MessageFacts",
    "VaderScorer",
    "analyse_texts",
    "detect_lang",
    "label_for",
    "make_scorer",
    "score_messages",
    "stored_version",
]
