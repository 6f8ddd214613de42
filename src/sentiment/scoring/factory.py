"""Choosing a scorer from Settings: hybrid (default), lexicon, vader, or the model trained into the lake."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sentiment.errors import ConfigError
from sentiment.scoring.core import BaseScorer, LexiconScorer, VaderScorer
from sentiment.scoring.extras import MessageFacts

if TYPE_CHECKING:
    from sentiment.settings import Settings

__all__ = ["SCORERS", "make_facts", "make_scorer", "model_path"]

SCORERS = ("hybrid", "lexicon", "vader", "trained")
MODEL_FILE = "trained.joblib"


def model_path(lake: Path) -> Path:
    """Where ``sentiment train`` stores its model: ``<lake>/.models/trained.joblib`` (its card beside it, .json)."""
    return Path(lake) / ".models" / MODEL_FILE


def make_scorer(settings: Settings) -> BaseScorer:
    """The scorer ``settings.scorer`` names; ``trained`` needs a model trained into this lake first."""
    name = getattr(settings, "scorer", "hybrid")
    if name == "hybrid":
        from sentiment.scoring.hybrid import HybridScorer

        return HybridScorer()
    if name == "lexicon":
        return LexiconScorer()
    if name == "vader":
        return VaderScorer()
    if name == "trained":
        from sentiment.scoring.trained import TrainedScorer

        path = model_path(settings.lake)
        if not path.is_file():
            raise ConfigError(f"scorer 'trained': no model at {path} (run `sentiment train LABELLED.csv` first)")
        return TrainedScorer.load(path)
    raise ConfigError(f"unknown scorer {name!r} (known: {', '.join(SCORERS)})")


def make_facts(settings: Settings) -> MessageFacts:
    """Mention/question/link rules with the configured symbol aliases."""
    return MessageFacts(getattr(settings, "aliases", None))
