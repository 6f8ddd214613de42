"""The crypto analyzer keeps VADER's rules: with an empty crypto lexicon it scores exactly like vanilla VADER."""

from __future__ import annotations

import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from sentiment.scoring.english import CryptoVader
from sentiment.scoring.lexicon import CryptoLexicon

SENTENCES = [
    "VADER is smart, handsome, and funny.",
    "VADER is VERY SMART, uber handsome, and FRIGGIN FUNNY!!!",
    "VADER is not smart, handsome, nor funny.",
    "At least it isn't a horrible book.",
    "The book was only kind of good.",
    "The plot was good, but the characters are uncompelling and the dialog is not great.",
    "Today only kinda sux! But I'll get by, lol",
    "Make sure you :) or :D today!",
    "Not bad at all",
    "Sentiment analysis has never been this good!",
    "Roger Dodger is one of the least compelling variations on this theme.",
    "Without a doubt, excellent idea.",
    "no no no good",
    "With VADER, sentiment analysis is the shit!",
    "It was one of the worst movies I've seen, despite good reviews. Unbelievably bad acting!! VERY poor production.",
    "Catch utf-8 emoji such as 💘 and 💋 and 😁",
    "",
    "???",
]


@pytest.mark.parametrize("text", SENTENCES)
def test_same_scores_as_vanilla_vader(text: str) -> None:
    """VADER's negation, booster, caps, 'but', 'least', idiom and emoji rules give identical numbers."""
    ours = CryptoVader(CryptoLexicon(words={}, phrases={}, emoji={}))
    assert ours.polarity_scores(text) == SentimentIntensityAnalyzer().polarity_scores(text)
