"""score-text's streamed batch path (order, repeats, worker processes) and eval's per-set/per-language output."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest

from sentiment.cli import run_cli
from sentiment.errors import EncodingError
from sentiment.scoring import stream as stream_module
from sentiment.scoring.coverage import language_coverage
from sentiment.scoring.extras import MessageFacts
from sentiment.scoring.hybrid import HybridScorer
from sentiment.scoring.stream import render_lines, score_lines, score_stream

LINES = ["to the moon 🚀", "rug pull, total scam", "要涨了", "bu coin çok iyi", "", "안녕", "to the moon 🚀"]


def test_stream_keeps_order_and_repeats_across_chunks_and_workers() -> None:
    """In worker processes and small chunks, every input line gets its own row in input order, equal to the
    in-process rendering of the same text."""
    scorer, facts = HybridScorer(), MessageFacts()
    lines = [f"{LINES[i % len(LINES)]} {i % 5}" if i % 3 else LINES[i % len(LINES)] for i in range(120)]
    out = io.StringIO()
    assert score_lines([line + "\n" for line in lines], scorer, facts, out, workers=2, chunk=40).lines == 120
    rows = out.getvalue().splitlines()
    assert [json.loads(r)["text"] for r in rows] == lines
    expected = render_lines(scorer, facts, lines)
    assert [r + "\n" for r in rows] == expected


@pytest.mark.parametrize("cache_limit", [1_000_000, 30])
def test_texts_in_flight_are_scored_once(cache_limit: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """A text repeated in the next chunks, while its first chunk is still in the workers, is scored once and its
    line reused; once the cache of rendered lines is full, repeats are scored again, and every line stays right."""
    monkeypatch.setattr(stream_module, "CACHE_LIMIT", cache_limit)
    scorer, facts = HybridScorer(), MessageFacts()
    # chunks of 20 lines: each repeats 10 texts of the chunk before it (in flight: up to two chunks are pending)
    lines = [f"gm {(i // 20) * 10 + i % 20}" for i in range(100)]
    out = io.BytesIO()
    stats = score_stream(io.BytesIO(("\n".join(lines) + "\n").encode()), scorer, facts, out, workers=2, chunk=20)
    assert stats.workers == 2
    distinct = len(set(lines))
    assert (stats.rendered == distinct) if cache_limit > len(lines) else (stats.rendered > distinct)
    assert out.getvalue().decode().splitlines(keepends=True) == render_lines(scorer, facts, lines)


def test_stream_in_process_for_small_input() -> None:
    """Below one full chunk nothing is started; unscored rows carry null scores and their lang."""
    out = io.StringIO()
    score_lines(LINES, HybridScorer(), MessageFacts(), out, workers=2)
    rows = [json.loads(r) for r in out.getvalue().splitlines()]
    assert [r["lang"] for r in rows] == ["en", "en", "zh", "tr", "und", "ko", "en"]
    assert rows[5]["compound"] is None and rows[5]["label"] == "unscored"
    assert rows[0] == rows[6]


def test_eval_prints_per_set_and_per_language(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """eval takes several files (CSV with its own column names, header-less TSV) and prints macro-F1 per file and
    per detected language beside vanilla VADER."""
    csv = tmp_path / "posts.csv"
    pd.DataFrame(
        {
            "message": ["great pump, bullish", "total scam, dump it", "proyek ini bagus banget", "proyek ini jelek"],
            "sentiment": ["Bullish", "Bearish", "Bullish", "Bearish"],
        }
    ).to_csv(csv, index=False)
    tsv = tmp_path / "comments.tsv"
    tsv.write_text("makanannya enak sekali\tpositive\npelayanan buruk dan lambat\tnegative\n", encoding="utf-8")
    assert run_cli(["--lake", str(tmp_path / "lake"), "eval", str(csv), str(tsv)]) == 0
    shown = capsys.readouterr().out
    assert "per language" in shown and "vanilla VADER" in shown and "macro-F1 per set" in shown
    lang_rows = [line for line in shown.splitlines() if line.startswith("│ id ") or line.startswith("│ en ")]
    assert len(lang_rows) >= 2
    set_rows = [line for line in shown.splitlines() if "posts.csv" in line or "comments.tsv" in line]
    assert len(set_rows) >= 2


def test_train_can_warm_start_from_the_shipped_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """train --warm-start adds the shipped scorer's scores as features; the card says so."""
    data = tmp_path / "mine.csv"
    rows = [
        ("wen lambo, pumping", "up"),
        ("rugged again, rekt", "down"),
        ("love this team", "up"),
        ("dev sold everything", "down"),
    ] * 4
    pd.DataFrame(rows, columns=["text", "label"]).to_csv(data, index=False)
    lake = tmp_path / "lake"
    spec = ["--label-map", "up=bullish,down=bearish", "--warm-start"]
    assert run_cli(["--lake", str(lake), "train", str(data), *spec]) == 0
    card = json.loads((lake / ".models" / "trained.json").read_text())
    assert "warm start" in card["recipe"]


def test_language_coverage_sentence() -> None:
    """Counts per language, the scored share, and a sentence naming the covered and uncovered languages."""
    posts = pd.DataFrame(
        {"lang": ["en", "en", "zh", "ko", "und"], "label": ["bullish", "neutral", "bearish", "unscored", "unscored"]}
    )
    cov = language_coverage(posts)
    assert cov["posts"] == 5 and cov["scored"] == 3 and cov["scored_share"] == 0.6
    assert cov["by_lang"][0] == {"lang": "en", "posts": 2, "scored": 2}
    assert cov["scored_langs"] == ["en", "zh"]
    assert "en (40% of posts)" in cov["in_words"] and "ko" in cov["in_words"]


def test_binary_stream_equals_the_text_path_across_blocks_and_line_ends() -> None:
    """score-text's byte path splits lines as text mode reads them (LF, CRLF, lone CR, a CRLF cut between two
    read blocks, a last line without a newline) and writes the same bytes as the text path, in workers too."""
    lines = [f"{LINES[i % len(LINES)]} {i % 4}" if i % 3 else LINES[i % len(LINES)] for i in range(90)]
    ends = ["\n", "\r\n", "\r"]
    raw = "".join(line + ends[i % 3] for i, line in enumerate(lines[:-1])) + lines[-1]
    # What text mode reads (an empty line after a lone CR reads as one CRLF line end, in both paths).
    expected = [line.rstrip("\r\n") for line in io.StringIO(raw, newline=None)]
    assert len(expected) > 80
    scorer, facts = HybridScorer(), MessageFacts()
    text_out = io.StringIO()
    score_lines(io.StringIO(raw, newline=None), scorer, facts, text_out, workers=1, chunk=25)
    for block in (7, 64, 1 << 20):
        chunks = stream_module._byte_chunks(io.BytesIO(raw.encode()), 25, block=block)
        assert [line.decode() for chunk in chunks for line in chunk] == expected, block
    out = io.BytesIO()
    stats = score_stream(io.BytesIO(raw.encode()), scorer, facts, out, workers=2, chunk=25)
    assert stats.lines == len(expected) and stats.workers == 2
    assert out.getvalue().decode() == text_out.getvalue()


def test_binary_stream_names_the_line_that_is_not_utf8() -> None:
    """A line that is not UTF-8 fails before anything of its chunk is written, naming stdin and the line."""
    data = b"gm\nto the moon\n" + b"ok \xff\xfe broken\n" + b"wagmi\n"
    out = io.BytesIO()
    with pytest.raises(EncodingError) as caught:
        score_stream(io.BytesIO(data), HybridScorer(), MessageFacts(), out, workers=1)
    assert (caught.value.path, caught.value.line) == ("<stdin>", 3)
    assert out.getvalue() == b""


@pytest.mark.parametrize("workers", [1, 2])
def test_a_line_that_is_not_utf8_in_a_later_chunk(workers: int) -> None:
    """Lines are decoded where they are scored (in the workers when there are some): the first line that is not
    UTF-8 is named, even when an earlier chunk is still in flight and the bad text repeats after it; the chunks
    before it are written whole, the chunk holding it not at all."""
    good = [f"gm {i}" for i in range(50)]
    bad = b"ok \xff\xfe broken"
    data = b"\n".join([line.encode() for line in good[:45]] + [bad] + [line.encode() for line in good[45:]] + [bad])
    out = io.BytesIO()
    with pytest.raises(EncodingError) as caught:
        score_stream(io.BytesIO(data + b"\n"), HybridScorer(), MessageFacts(), out, workers=workers, chunk=20)
    assert (caught.value.path, caught.value.line) == ("<stdin>", 46)
    written = out.getvalue().decode().splitlines()
    assert [json.loads(r)["text"] for r in written] == good[:40]  # chunks 1-2 (lines 1-40); chunk 3 holds line 46
