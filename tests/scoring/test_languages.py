"""Language detection, the per-language lexicons (negation, intensifiers, normalisation) and emoji-only messages."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentiment.scoring.hybrid import HybridScorer
from sentiment.scoring.langid import detect
from sentiment.scoring.multilingual import MultiScorer, load_multi_lexicon, normalise


@pytest.fixture(scope="module")
def hybrid() -> HybridScorer:
    return HybridScorer()


@pytest.fixture(scope="module")
def multi() -> MultiScorer:
    return MultiScorer()


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("ETH is looking strong this week", "en"),
        ("比特币又涨了", "zh"),
        ("ビットコインが上がった", "ja"),
        ("비트코인 간다", "ko"),
        ("البيتكوين رايح للقمر", "ar"),
        ("این کوین خیلی خوبه", "fa"),
        ("биткоин растет", "ru"),
        ("біткоїн росте", "uk"),
        ("el precio está subiendo mucho", "es"),
        ("o preço caiu muito, que merda", "pt"),
        ("bu coin çok iyi", "tr"),
        ("harganya naik terus, mantap banget", "id"),
        ("giá giảm mạnh quá", "vi"),
        ("das ist nicht gut", "de"),
        ("$ETH.X https://example.com/ethereum", "en"),
        ("🚀🚀🚀", "und"),
        ("12345 !!", "und"),
        ("", "und"),
    ],
)
def test_detects_the_language(text: str, lang: str) -> None:
    """Script first, then language-specific letters and function words; no letters is ``und``."""
    assert detect(text) == lang


# (lang, a positive message, the same negated, a negative message, an intensified positive message)
CASES = [
    ("ar", "المشروع جميل", "المشروع مش جميل", "المشروع فاشل", "المشروع جميل جدا"),
    ("fa", "این پروژه خوب", "این پروژه خوب نیست", "این پروژه افتضاح", "این پروژه خیلی خوب"),
    ("ru", "проект хороший", "проект не хороший", "проект ужасный", "проект очень хороший"),
    ("es", "el proyecto es bueno", "el proyecto no es bueno", "el proyecto es una estafa", "es muy bueno"),
    ("pt", "o projeto é bom", "o projeto não é bom", "o projeto é um golpe", "o projeto é muito bom"),
    ("tr", "bu proje iyi", "bu proje iyi değil", "bu proje berbat", "bu proje çok iyi"),
    ("id", "proyek ini bagus", "proyek ini tidak bagus", "proyek ini jelek", "proyek ini bagus banget"),
    ("vi", "dự án này tốt", "dự án này không tốt", "dự án này tệ", "dự án này rất tốt"),
]


@pytest.mark.parametrize(("lang", "good", "negated", "bad", "stronger"), CASES, ids=[c[0] for c in CASES])
def test_negation_and_intensifiers(
    multi: MultiScorer, lang: str, good: str, negated: str, bad: str, stronger: str
) -> None:
    """A sentiment word is positive; negated (before it, or after it as Turkish değil, Persian نیست) it turns
    negative; a negative word is negative; an intensifier (before, or after as Arabic جدا, Indonesian banget)
    makes the positive stronger."""
    score = lambda text: multi.polarity_scores(text, lang)["compound"]  # noqa: E731
    assert score(good) > 0.05
    assert score(negated) < -0.05
    assert score(bad) < -0.05
    assert score(stronger) > score(good)


@pytest.mark.parametrize(("lang", "good", "negated", "bad", "stronger"), CASES, ids=[c[0] for c in CASES])
def test_hybrid_routes_each_language(
    hybrid: HybridScorer, lang: str, good: str, negated: str, bad: str, stronger: str
) -> None:
    """The default scorer detects the language and labels it (Indonesian through the learned model)."""
    rows = [hybrid.score_one(t) for t in (good, negated, bad)]
    assert [r["lang"] for r in rows] == [lang] * 3
    assert [r["label"] for r in rows] == ["bullish", "bearish", "bearish"]


def test_arabic_normalisation(multi: MultiScorer) -> None:
    """Diacritics, tatweel and hamza/ta-marbuta spellings are folded; clitic prefixes (wa-, al-) are stripped."""
    assert normalise("جَمِيلَة", "ar") == "جميله"
    assert normalise("رائـــع", "ar") == "رايع"
    for text in ("والجميل", "وجميلة", "رااااائع"):
        assert multi.polarity_scores(text, "ar")["compound"] > 0.05, text


def test_arabic_endings_and_verb_prefixes(multi: MultiScorer) -> None:
    """Attached pronouns and plural/verb endings are read off a word the lexicon does not list as written
    (مشكلتي: مشكله + ي, the ta marbuta written ta), and present-tense prefixes off a verb (يلعن: لعن)."""
    lex = load_multi_lexicon()["ar"]
    assert "مشكلتي" not in lex.words and "مشكله" in lex.words
    assert multi.polarity_scores("مشكلتي", "ar")["compound"] < -0.05
    assert multi.polarity_scores("يلعن", "ar")["compound"] < -0.05
    assert multi.polarity_scores("الله يلعن", "ar")["compound"] == multi.polarity_scores("لعن", "ar")["compound"]
    # A verb prefix must leave three letters: "تحب" is not read as the two-letter "حب" through the prefix.
    assert multi._arabic_affixed("تحبب", lex) is None
    # Negation still applies to a word read through its affixes.
    assert multi.polarity_scores("ما عجبني", "ar")["compound"] < -0.05


def test_arabic_laughter_and_emoticons(multi: MultiScorer) -> None:
    """A run of heh is written laughter (haha); VADER's emoticons keep their valence in every language."""
    assert multi.polarity_scores("هههههههه", "ar")["compound"] > 0.05
    assert multi.polarity_scores("ه", "ar")["compound"] == 0
    assert multi.polarity_scores("اليوم :)", "ar")["compound"] > 0.05
    assert multi.polarity_scores("сегодня :(", "ru")["compound"] < -0.05
    # Kept whole, an emoticon's colon is not also read as a sentence boundary.
    assert multi.polarity_scores(":(", "es")["compound"] < -0.05


def test_folded_spellings(multi: MultiScorer) -> None:
    """Chat typed without diacritics reads the same: Turkish cok iyi degil, Spanish increible, Russian ё."""
    assert multi.polarity_scores("cok iyi degil", "tr")["compound"] < -0.05
    assert multi.polarity_scores("increíble", "es")["compound"] == multi.polarity_scores("increible", "es")["compound"]


@pytest.mark.parametrize(
    ("text", "label"), [("🚀🚀", "bullish"), ("📉📉💀", "bearish"), ("😭", "bearish"), ("❤️", "bullish")]
)
def test_emoji_only_messages_are_scored(hybrid: HybridScorer, text: str, label: str) -> None:
    """Emoji carry the same meaning in every language: emoji-only text is scored, with lang ``und``."""
    row = hybrid.score_one(text)
    assert (row["label"], row["lang"]) == (label, "und")


@pytest.mark.parametrize("text", ["", "   ", "12345", "🤷", "안녕하세요 여러분", "das ist alles"])
def test_what_cannot_be_read_stays_unscored(hybrid: HybridScorer, text: str) -> None:
    """No letters and no emoji with a meaning, or a language without lexicon: unscored, never a fake neutral."""
    row = hybrid.score_one(text)
    assert row["label"] == "unscored" and row["compound"] is None
    assert row["lang"] == detect(text)


def test_emoji_signal_inside_other_languages(multi: MultiScorer) -> None:
    """Emoji add to a language's words: a neutral Russian sentence with 🚀 is positive."""
    assert multi.polarity_scores("биткоин сегодня", "ru")["compound"] == 0
    assert multi.polarity_scores("биткоин сегодня 🚀", "ru")["compound"] > 0.05


def test_every_language_has_negation_and_degree_words() -> None:
    """Each lexicon lists negations and intensifiers, and both positive and negative words."""
    for lang, lex in load_multi_lexicon().items():
        kinds = [k for k, _ in (*lex.words.values(), *lex.stems.values())]
        assert any(k.startswith("negation") for k in kinds), lang
        assert any(k.startswith("degree") for k in kinds), lang
        values = [v for k, v in (*lex.words.values(), *lex.stems.values()) if k == "sentiment"]
        assert min(values) < 0 < max(values), lang


_ALPHABET = [
    *"abz éñğışạếơ ابپي яиі 中の한שαก🚀'’,.!1$\u00a0\u2003\t\x1c",
    *("http://x.y", " www.", " the ", " yang ", " que "),
]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_ALPHABET), max_size=25).map("".join))
def test_language_detection_shortcuts_equal_the_full_checks(text: str) -> None:
    """The one-scan union of the script classes finds a script exactly when one of them would, and the cached
    piece-by-piece check finds another language's function word exactly when the word split over the whole text
    does."""
    from sentiment.scoring import langid

    any_one = any(p.search(text) for p in langid._SCRIPT_CLASSES)
    assert (langid._ANY_SCRIPT.search(text) is not None) == any_one
    lowered = text.lower()
    whole = not langid._NOT_ENGLISH.isdisjoint(langid._SPLIT.split(lowered))
    assert langid._has_foreign_word(lowered) == whole
    assert langid._has_foreign_word(lowered) == whole  # again, from the cache


_ZH_PIECES = ["要涨了", "又跌了", "不太好", "非常好", "割韭菜", "梭哈", "！", "，", "🚀"]
_ZH_PIECES += ["这个项目", "没问题", " ", "好"]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.sampled_from(_ZH_PIECES), min_size=1, max_size=8).map("".join), max_size=12))
def test_chinese_batch_equals_one_text_at_a_time(texts: list[str]) -> None:
    """The hybrid scores a batch's Chinese texts unrounded and rounds them as one array: the same numbers and labels
    as the Chinese scorer's own polarity_scores and label rule, text by text."""
    from sentiment.scoring.core import LABELS, label_for

    hybrid = _HYBRID
    values, codes, langs = hybrid.score_arrays(texts)
    assert len(langs) == len(texts)
    for text, row, code, lang in zip(texts, values.tolist(), codes.tolist(), langs, strict=True):
        if lang != "zh":
            continue
        s = hybrid.chinese.polarity_scores(text)
        assert row == [s["compound"], s["pos"], s["neu"], s["neg"]]
        assert LABELS[code] == label_for(s["compound"])


_HYBRID = HybridScorer()
