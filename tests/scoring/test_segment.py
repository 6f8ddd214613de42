"""Segmenter gives exactly jieba's ``lcut(text, HMM=False)`` tokens, with the plain dictionary and the scorer's."""

from __future__ import annotations

import json
import logging
import pickle
import subprocess
import sys
from pathlib import Path

import jieba
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentiment.scoring import chinese
from sentiment.scoring.chinese import ChineseScorer
from sentiment.scoring.lexicon import load_zh_lexicon
from sentiment.scoring.segment import Segmenter

HAND_PICKED = [
    "",
    "好",
    "a",
    "7",
    " ",
    "\n",
    "\r\n",
    "！",
    "兄弟们冲冲冲",
    "今天大盘暴跌，我被割韭菜了",
    "这个项目不太好，别梭哈",
    "割韭菜",
    "不太好",
    "梭哈",
    "哈哈哈哈哈哈",
    "我觉得BTC要涨到100000了",
    "abc123中文def",
    "$VIRTUAL 要起飞了🚀🚀🚀",
    "太牛了👍😂🔥",
    "利好！！！利空？？？",
    "全角，标点。符号；还有：「引号」（括号）",
    "ascii, punct. here; ok: (yes) [no] {x} 'q' \"dq\" a-b a_b a+b a#b a&b 50% 1.5",
    "空格 分开\t制表\n换行\r\n回车换行\r\r\n\n\n结束",
    "  前后空格  ",
    "我們說繁體字，這個幣會漲嗎？",
    "B超T恤AA制卡拉OK",
    "ETH2.0质押年化5%还行",
    "a中b文c",
    "中\u3000文\u00a0空",
    "𠀀𠀁罕见字和ㄅㄆㄇ注音",
    "一二三四五六七八九十百千万亿",
    "涨涨涨涨涨涨涨涨涨涨涨涨涨涨涨涨涨涨涨涨涨涨涨涨涨涨涨涨涨涨",
]

COMMON_HAN = (
    "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面"
    "而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把"
    "性好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质"
    "涨跌币韭菜梭哈冲牛熊盘仓割亏赚爆拉砸庄狗哭笑們這個說會漲嗎樣還對"
)
ASCII = "abcXYZ019 \t\n\r.,!?;:-_+#&%$@()[]{}'\"/\\"
OTHER = "，。！？；：、…～「」（）\u3000🚀🔥😂👍💎🙏🐶🌕ㄅ𠀀é"
LEXICON = load_zh_lexicon()
LEXICON_WORDS = sorted({*LEXICON.sentiment, *LEXICON.negation, *LEXICON.degree})

texts = st.lists(
    st.one_of(st.sampled_from(COMMON_HAN), st.sampled_from(LEXICON_WORDS), st.sampled_from(ASCII + OTHER)),
    max_size=40,
).map("".join)


def _plain_tokenizer() -> jieba.Tokenizer:
    jieba.setLogLevel(logging.WARNING)
    tk = jieba.Tokenizer()
    tk.initialize()
    return tk


@pytest.fixture(scope="module")
def plain() -> tuple[jieba.Tokenizer, Segmenter]:
    tk = _plain_tokenizer()
    return tk, Segmenter(tk)


@pytest.fixture(scope="module")
def scorer() -> ChineseScorer:
    return ChineseScorer()


@pytest.mark.parametrize("text", HAND_PICKED)
def test_hand_picked_plain_dictionary(plain: tuple[jieba.Tokenizer, Segmenter], text: str) -> None:
    tk, seg = plain
    assert seg.cut(text) == tk.lcut(text, HMM=False)


@pytest.mark.parametrize("text", HAND_PICKED)
def test_hand_picked_scorer_dictionary(scorer: ChineseScorer, text: str) -> None:
    assert scorer.segmenter.cut(text) == scorer.tokenizer.lcut(text, HMM=False)


def test_lexicon_words_stay_whole(scorer: ChineseScorer) -> None:
    for word in ("割韭菜", "不太好", "梭哈"):
        assert scorer.segmenter.cut(word) == [word]


@settings(max_examples=200, deadline=None)
@given(text=texts)
def test_random_text_plain_dictionary(plain: tuple[jieba.Tokenizer, Segmenter], text: str) -> None:
    tk, seg = plain
    assert seg.cut(text) == tk.lcut(text, HMM=False)


@settings(max_examples=200, deadline=None)
@given(text=texts)
def test_random_text_scorer_dictionary(scorer: ChineseScorer, text: str) -> None:
    assert scorer.segmenter.cut(text) == scorer.tokenizer.lcut(text, HMM=False)


def test_cache_does_not_change_results(plain: tuple[jieba.Tokenizer, Segmenter]) -> None:
    """The same text twice (second time cached), and after the cache has hit its limit and been cleared."""
    tk, _ = plain
    seg = Segmenter(tk, cache_limit=3)
    blocks = ["兄弟们冲冲冲", "哈哈哈", "今天大盘暴跌", "割韭菜了", "别梭哈"]
    for _ in range(3):
        for text in [*blocks, "，".join(blocks), " ".join(reversed(blocks))]:
            assert seg.cut(text) == tk.lcut(text, HMM=False)
            assert seg.cut(text) == tk.lcut(text, HMM=False)
            assert len(seg._cache) <= 3


def test_words_added_later_are_seen() -> None:
    """add_word after the Segmenter has built its table: it rebuilds rather than disagree with jieba."""
    tk = _plain_tokenizer()
    seg = Segmenter(tk)
    text = "这个币叫做呱呱呱币"
    assert seg.cut(text) == tk.lcut(text, HMM=False)
    tk.add_word("呱呱呱币", freq=10_000)
    assert seg.cut(text) == tk.lcut(text, HMM=False)
    assert "呱呱呱币" in seg.cut(text)


def test_pickled_scorer_scores_identically(scorer: ChineseScorer) -> None:
    sample = [*HAND_PICKED, "这个项目不太好，别梭哈", "太牛了，要涨了！", "不是很好", "非常好🚀"]
    before = [scorer.polarity_scores(t) for t in sample]
    state = scorer.__getstate__()
    assert state["_segmenter"] is None and state["_tokenizer"] is None
    clone = pickle.loads(pickle.dumps(scorer))
    assert [clone.polarity_scores(t) for t in sample] == before
    assert [clone.segmenter.cut(t) for t in sample] == [scorer.tokenizer.lcut(t, HMM=False) for t in sample]


def test_saved_table_segments_like_jieba(plain: tuple[jieba.Tokenizer, Segmenter], tmp_path: Path) -> None:
    """A table written by save() and read by from_file() (no tokenizer) gives jieba's tokens."""
    tk, seg = plain
    path = tmp_path / "table.npz"
    seg.save(path)
    loaded = Segmenter.from_file(path)
    assert loaded.tokenizer is None
    for text in HAND_PICKED:
        assert loaded.cut(text) == tk.lcut(text, HMM=False)


def test_damaged_table_file_is_rebuilt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A truncated table file is not trusted: the scorer rebuilds it from jieba and rewrites it."""
    path = tmp_path / "zh-segment.npz"
    path.write_bytes(b"PK\x03\x04 truncated")
    monkeypatch.setattr(chinese, "_table_path", lambda lexicon: path)
    fresh = ChineseScorer()
    assert fresh.segmenter.tokenizer is not None  # built from jieba, not from the damaged file
    assert fresh.segmenter.cut("这个项目不太好") == fresh.tokenizer.lcut("这个项目不太好", HMM=False)
    assert Segmenter.from_file(path).cut("别梭哈") == fresh.tokenizer.lcut("别梭哈", HMM=False)


def test_table_folder_of_another_user_is_not_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(chinese.tempfile, "gettempdir", lambda: str(tmp_path))
    monkeypatch.setattr(chinese.os, "getuid", lambda: 12345)
    with pytest.raises(OSError, match="another user"):
        chinese._table_path(LEXICON)


def test_a_saved_table_needs_no_jieba_import(plain: tuple[jieba.Tokenizer, Segmenter], tmp_path: Path) -> None:
    """The saved table carries jieba's block and gap patterns: a process that reads it (a scoring worker) segments
    like jieba without importing jieba (~0.1 s per worker)."""
    tk, seg = plain
    path = tmp_path / "table.npz"
    seg.save(path)
    code = (
        "import sys, json; from sentiment.scoring.segment import Segmenter; "
        f"s = Segmenter.from_file({str(path)!r}); "
        f"print(json.dumps([s.cut(t) for t in {HAND_PICKED!r}])); print('jieba' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    tokens, jieba_loaded = done.stdout.splitlines()
    assert json.loads(tokens) == [tk.lcut(t, HMM=False) for t in HAND_PICKED]
    assert jieba_loaded == "False"
