"""The crypto analyzer keeps VADER's rules: with an empty crypto lexicon it scores exactly like vanilla VADER."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
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
    # each rule the fast path must not skip, with a sentiment word three or more words in
    "the movie was this good",
    "the movie was never so good",
    "the team is not good",
    "the team isn't good",
    "the price is at least good",
    "it was very least good",
    "no it is good",
    "a a no or good",
    "the movie is kind of good",
    "this is the shit",
    "it was the bomb",
    "the team is GOOD and bad",
    "a kiss of death",
    "without a doubt good",
]


PLAIN = CryptoVader(CryptoLexicon(words={}, phrases={}, emoji={}))
VANILLA = SentimentIntensityAnalyzer()


@pytest.mark.parametrize("text", SENTENCES)
def test_same_scores_as_vanilla_vader(text: str) -> None:
    """VADER's negation, booster, caps, 'but', 'least', idiom and emoji rules give identical numbers."""
    ours = CryptoVader(CryptoLexicon(words={}, phrases={}, emoji={}))
    assert ours.polarity_scores(text) == SentimentIntensityAnalyzer().polarity_scores(text)


# Words that exercise every VADER rule the fast paths skip or shortcut: boosters and dampeners, negations (also
# "n't" forms), "no", "least", "never so/this", "without doubt", "kind of", idioms, "but", ALL CAPS, punctuation.
VOCAB = [
    *("good", "bad", "great", "love", "hate", "happy", "sad", "nice", "terrible", "funny", "lol", "kind", "ok"),
    *("GOOD", "BAD", "GREAT", "Love", "HAPPY", "VERY", "EXTREMELY", "NOT", "NO"),
    *("very", "extremely", "really", "so", "barely", "somewhat", "kinda", "sort", "of", "just", "enough", "total"),
    *("not", "no", "nor", "or", "never", "isn't", "don't", "cannot", "without", "doubt", "least", "at", "this"),
    *("the", "shit", "bomb", "bad", "ass", "yeah", "right", "kiss", "death", "to", "die", "for", "beating", "heart"),
    *(
        "but",
        "and",
        "it",
        "is",
        "a",
        "movie",
        "price",
        "team",
        "!",
        "!!",
        "?",
        "??",
        "...",
        ":)",
        ":(",
        "good!",
        "bad.",
    ),
]


@settings(max_examples=400, deadline=None)
@given(words=st.lists(st.sampled_from(VOCAB), max_size=16))
def test_random_sentences_score_like_vanilla_vader(words: list[str]) -> None:
    """The fast paths (direct lexicon valence, skipped idiom checks, inlined arithmetic) never change a number."""
    text = " ".join(words)
    assert PLAIN.polarity_scores(text) == VANILLA.polarity_scores(text)


@settings(max_examples=200, deadline=None)
@given(texts=st.lists(st.lists(st.sampled_from(VOCAB), max_size=16).map(" ".join), max_size=8))
def test_batch_features_are_the_rounded_scores(texts: list[str]) -> None:
    """``features`` (rounded over the batch at once) gives exactly polarity_scores' compound, pos and neg."""
    got = PLAIN.features(texts)
    expected = [(s["compound"], s["pos"], s["neg"]) for s in map(PLAIN.polarity_scores, texts)]
    assert got.shape == (len(texts), 3)
    assert [tuple(row) for row in got.tolist()] == expected
