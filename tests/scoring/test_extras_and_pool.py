"""Mentions, questions, links; distinct texts scored once, in worker processes for big inputs; versions."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sentiment.scoring import DEFAULT_ALIASES, LexiconScorer, MessageFacts, VaderScorer, analyse_texts, lexicon
from sentiment.settings import Settings


@pytest.mark.parametrize(
    ("text", "mentions"),
    [
        ("VIRTUAL looks strong", ["VIRTUAL/USDT"]),
        ("$virtual and $BTC", ["$BTC", "VIRTUAL/USDT"]),
        ("Virtuals ecosystem", ["VIRTUAL/USDT"]),
        ("a virtual meeting", []),  # an all-caps ticker alias matches only in capitals
        ("paid $100 for it", []),  # a price, not a cashtag
        ("VIRTUALS", ["VIRTUAL/USDT"]),
    ],
)
def test_mentions(text: str, mentions: list[str]) -> None:
    """Configured aliases and cashtags are found as whole words, with the documented case rules."""
    assert MessageFacts().mentions(text) == mentions


def test_custom_aliases() -> None:
    """Aliases come from configuration: another symbol, other names."""
    facts = MessageFacts({"AIXBT/USDT": ("AIXBT", "aixbt agent")})
    assert facts.mentions("the aixbt agent pumps") == ["AIXBT/USDT"]
    assert facts.version != MessageFacts().version


@pytest.mark.parametrize(
    ("text", "question", "link"),
    [
        ("wen moon?", True, False),
        ("要涨了吗", True, False),
        ("要涨了吗？", True, False),
        ("gm", False, False),
        ("see https://example.org/x", False, True),
        ("join t.me/virtuals", False, True),
        ("什么意思呢 😂", True, False),
    ],
)
def test_question_and_link(text: str, question: bool, link: bool) -> None:
    """Questions by ? / ？ or a Chinese final particle; links by scheme, www. or t.me/."""
    _, q, lk = MessageFacts().of(text)
    assert (q, lk) == (question, link)


def test_settings_default_aliases_match_the_library() -> None:
    """The Settings default and the library default name the same aliases."""
    assert {k: tuple(v) for k, v in Settings().aliases.items()} == DEFAULT_ALIASES


def test_parallel_and_in_process_agree() -> None:
    """Worker processes (analyzer built once per worker) give the same rows as scoring in-process."""
    texts = pd.Series(["gm", "🚀🚀 $VIRTUAL", "要涨了吗", "not bullish", "привет", "gm", None, "rekt?"] * 50)
    texts = texts.where(texts.isna(), texts + pd.Series([f" {i % 40}" for i in range(len(texts))]))
    facts = MessageFacts()
    single = analyse_texts(texts, LexiconScorer(), facts, workers=1)
    multi = analyse_texts(texts, LexiconScorer(), facts, workers=2, min_parallel=10)
    pd.testing.assert_frame_equal(single, multi)
    assert list(single.index) == list(texts.index)


@pytest.mark.parametrize("make", [LexiconScorer, VaderScorer])
def test_batch_rows_equal_score_one(make) -> None:  # type: ignore[no-untyped-def]
    """analyse_texts' batch path (arrays, vectorised labels) gives exactly score_one's dict for every text."""
    texts = ["gm", "🚀🚀 $VIRTUAL", "要涨了吗", "not bullish", "привет", "", "  ", "rekt?", "SO BULLISH!!", "别梭哈"]
    scorer = make()
    out = analyse_texts(pd.Series(texts), scorer, workers=1)
    for text, (_, row) in zip(texts, out.iterrows(), strict=True):
        expected = scorer.score_one(text)
        got = {c: (None if isinstance(v, float) and np.isnan(v) else v) for c, v in row.items()}
        assert got == expected, text


def test_version_tracks_the_lexicon_files(monkeypatch: pytest.MonkeyPatch) -> None:
    """Editing a lexicon file changes the scorer version (so stored scores get rescored)."""
    before = LexiconScorer().version
    original = lexicon._read
    monkeypatch.setattr(lexicon, "_read", lambda name: original(name) + ("\n" if name == lexicon.ZH_FILE else ""))
    assert LexiconScorer().version != before
    assert VaderScorer().version == "3.3.2-1"


def test_lexicon_files_ship_in_the_package() -> None:
    """The data files are package resources (hatch puts everything under src/sentiment into the wheel)."""
    from importlib import resources

    files = {p.name for p in resources.files("sentiment.scoring").iterdir()}
    assert {"lexicon_crypto.tsv", "lexicon_zh.tsv"} <= files


def test_jieba_caches_outside_home(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """Building the Chinese scorer writes nothing to $HOME (jieba caches in the temp folder)."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    from sentiment.scoring.chinese import ChineseScorer

    ChineseScorer().polarity_scores("要涨了")
    assert list(home.iterdir()) == []


def test_scoring_pauses_gc_only_while_it_runs() -> None:
    """The cyclic collector is off while a batch is scored and back on afterwards, also when scoring fails."""
    import gc

    class Failing(LexiconScorer):
        def score_arrays(self, texts):  # type: ignore[no-untyped-def]
            assert not gc.isenabled()
            raise RuntimeError("boom")

    assert gc.isenabled()
    with pytest.raises(RuntimeError, match="boom"):
        analyse_texts(pd.Series(["gm"]), Failing(), workers=1)
    assert gc.isenabled()
    analyse_texts(pd.Series(["gm", "rekt"]), LexiconScorer(), workers=1)
    assert gc.isenabled()
