"""Lexicon rules, one test each, by the sign they must give: emoji, slang, negation, intensifiers, cashtags, Chinese."""

from __future__ import annotations

import pytest
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from sentiment.scoring import LexiconScorer
from sentiment.scoring.lexicon import load_crypto_lexicon, load_zh_lexicon


@pytest.fixture(scope="module")
def scorer() -> LexiconScorer:
    return LexiconScorer()


def compound(scorer: LexiconScorer, text: str) -> float:
    value = scorer.score_one(text)["compound"]
    assert isinstance(value, float)
    return value


@pytest.mark.parametrize(
    ("text", "sign"),
    [
        ("VIRTUAL to the moon 🚀🚀", 1),
        ("🔥🔥", 1),  # vanilla VADER reads "fire": negative
        ("📉📉", -1),
        ("🐻", -1),
        ("🐂", 1),
        ("love it ❤️", 1),
        ("❤️‍🔥", 1),  # ZWJ sequence matched whole
        ("👍🏽", 1),  # skin tone ignored
        ("⬇️", -1),  # variation selector ignored
    ],
)
def test_emoji(scorer: LexiconScorer, text: str, sign: int) -> None:
    """Crypto emoji, with skin tones, variation selectors and ZWJ sequences, carry their listed sign."""
    assert compound(scorer, text) * sign > 0.05


def test_variation_selector_no_longer_hides_an_emoji(scorer: LexiconScorer) -> None:
    """Vanilla VADER scores "❤️" 0 (the selector breaks its lookup) but "❤" positive; here both are positive."""
    vanilla = SentimentIntensityAnalyzer()
    assert vanilla.polarity_scores("❤️")["compound"] == 0.0
    assert compound(scorer, "❤️") == compound(scorer, "❤") > 0


@pytest.mark.parametrize(
    ("text", "sign"),
    [
        ("bullish", 1),
        ("bearish", -1),
        ("wagmi", 1),
        ("ngmi", -1),
        ("got rekt", -1),
        ("this is a rug", -1),
        ("buy the dip", 1),  # the phrase outweighs "dip"
        ("Buy-the-Dip!", 1),
        ("pump and dump", -1),  # the phrase outweighs "pump"
    ],
)
def test_slang_and_phrases(scorer: LexiconScorer, text: str, sign: int) -> None:
    """Slang words and whole phrases carry the sign of their meaning."""
    assert compound(scorer, text) * sign > 0.05


@pytest.mark.parametrize(
    ("negated", "plain"),
    [
        ("not bullish", "bullish"),
        ("no rug", "rug"),
        ("not a rug", "rug"),
        ("dont think its bearish", "bearish"),
        ("no 🚀", "🚀"),
    ],
)
def test_negation_flips_the_sign(scorer: LexiconScorer, negated: str, plain: str) -> None:
    """A negation in front of a slang word or emoji flips its sign."""
    assert compound(scorer, negated) * compound(scorer, plain) < 0


@pytest.mark.parametrize(
    ("boosted", "plain"),
    [
        ("so bearish", "bearish"),
        ("super bearish", "bearish"),
        ("super bullish", "bullish"),
        ("soooo bullishhh", "bullish"),
    ],
)
def test_intensifiers_strengthen_without_flipping(scorer: LexiconScorer, boosted: str, plain: str) -> None:
    """so/super and elongated spellings strengthen the word's own sign ("super" alone is positive in VADER)."""
    assert abs(compound(scorer, boosted)) > abs(compound(scorer, plain))
    assert compound(scorer, boosted) * compound(scorer, plain) > 0


def test_cashtags_are_names_not_sentiment(scorer: LexiconScorer) -> None:
    """$PUMP and $MOON name tokens: they score 0 while the words pump and moon are positive."""
    assert compound(scorer, "$PUMP") == 0.0 and compound(scorer, "$MOON listed") == 0.0
    assert compound(scorer, "pump") > 0 and compound(scorer, "moon") > 0


@pytest.mark.parametrize(
    ("text", "sign"),
    [
        ("要涨了", 1),
        ("这个项目要起飞了🚀", 1),
        ("又暴跌了", -1),
        ("割韭菜", -1),
        ("跑路了", -1),
        ("不错", 1),
        ("gm 大家 wagmi", 1),
    ],
)
def test_chinese_words(scorer: LexiconScorer, text: str, sign: int) -> None:
    """Chinese slang and general words (and English slang or emoji inside Chinese text) carry their sign."""
    assert compound(scorer, text) * sign > 0.05


@pytest.mark.parametrize(
    ("negated", "plain"),
    [("不涨", "涨"), ("没有跑路", "跑路"), ("不满意", "满意"), ("不太好", "好"), ("别跌", "跌")],
)
def test_chinese_negation_flips_the_sign(scorer: LexiconScorer, negated: str, plain: str) -> None:
    """A negation word flips the next sentiment word, also inside a word jieba keeps whole (不太好)."""
    assert compound(scorer, negated) * compound(scorer, plain) < 0


def test_chinese_negation_window_ends_at_punctuation(scorer: LexiconScorer) -> None:
    """不 does not reach across a comma: "不，好" stays positive."""
    assert compound(scorer, "不，好") > 0


@pytest.mark.parametrize(("strong", "weak"), [("非常好", "好"), ("太差", "差"), ("好", "有点好")])
def test_chinese_degree_words_scale(scorer: LexiconScorer, strong: str, weak: str) -> None:
    """Degree words scale the next sentiment word (非常/太 up, 有点 down) without changing its sign."""
    assert abs(compound(scorer, strong)) > abs(compound(scorer, weak)) > 0
    assert compound(scorer, strong) * compound(scorer, weak) > 0


def test_unknown_chinese_text_is_neutral_not_unscored(scorer: LexiconScorer) -> None:
    """Chinese without sentiment words is scored neutral (0), as VADER scores English without them."""
    row = scorer.score_one("我们明天开会")
    assert row["label"] == "neutral" and row["compound"] == 0.0 and row["lang"] == "zh"


def test_other_languages_stay_unscored(scorer: LexiconScorer) -> None:
    """Russian is neither English nor Chinese: unscored with null scores."""
    row = scorer.score_one("привет всем")
    assert row["label"] == "unscored" and row["compound"] is None


def test_every_lexicon_entry_has_a_reason() -> None:
    """Both data files parse, every entry is in range (the loaders check notes are non-empty)."""
    crypto, zh = load_crypto_lexicon(), load_zh_lexicon()
    assert len(crypto.words) > 40 and len(crypto.emoji) > 15 and len(crypto.phrases) >= 5
    assert {"不", "没", "没有", "别", "未", "无"} <= set(zh.negation)
    assert {"很", "非常", "太", "超", "特别", "有点"} <= set(zh.degree)
    assert all(-4 <= v <= 4 for v in (*crypto.words.values(), *zh.sentiment.values()))
