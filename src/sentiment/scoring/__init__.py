"""Sentiment scores for chat text: the hybrid default (lexicons of ten languages + shipped learned models), vanilla
VADER, VADER + crypto lexicon with a Chinese scorer, a model trained on the user's labels.

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
