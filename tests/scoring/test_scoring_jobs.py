"""Incremental scoring in the lake: new messages scored once, stale versions rescored in place; train/eval CLI."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pandas as pd
import pytest

from sentiment.cli import run_cli
from sentiment.lake import Lake
from sentiment.scoring import LexiconScorer
from sentiment.settings import Settings
from sentiment.steps import score as score_step

NOW = pd.Timestamp("2024-03-01", tz="UTC")


def _messages(n: int = 6) -> pd.DataFrame:
    texts = ["gm", "VIRTUAL to the moon 🚀", "要涨了吗", "rekt", "안녕하세요", "photo"]
    return pd.DataFrame(
        {
            "platform": "telegram",
            "chat_id": "c1",
            "chat_name": "VIRTUAL",
            "message_id": [str(i) for i in range(n)],
            "ts": pd.date_range("2024-01-01", periods=n, freq="h", tz="UTC"),
            "author_id": "a1",
            "author_name": None,
            "kind": ["message"] * (n - 1) + ["media"],
            "join_method": None,
            "inviter_id": None,
            "media_type": [None] * (n - 1) + ["image"],
            "text": texts[:n],
            "reply_to": None,
            "is_forward": False,
            "reactions": None,
            "edited": False,
            "source_file": "x.json",
            "source_record": range(n),
            "ingested_at": NOW,
        }
    )


def test_a_big_backlog_is_scored_in_chunks_by_one_set_of_workers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the first chunk is full, every chunk goes to one shared set of worker processes; the rows equal an
    in-process scoring of the same messages."""
    from sentiment.scoring import core

    started: list[int] = []
    real_start = core._start_pool

    def counting_start(*args: object, **kwargs: object) -> object:
        started.append(1)
        return real_start(*args, **kwargs)  # type: ignore[arg-type]

    messages = pd.concat([_messages()] * 5, ignore_index=True)
    messages["message_id"] = [str(i) for i in range(len(messages))]
    messages["text"] = [f"{t} {i % 7}" for i, t in enumerate(messages["text"])]
    columns = ["message_id", "compound", "label", "lang", "mentions", "is_question", "has_media"]
    expected_lake = tmp_path / "one-process"
    Lake(expected_lake).append("messages", messages)
    monkeypatch.setattr(score_step, "SCORE_CHUNK_ROWS", 1_000)  # the backlog fits one chunk: in-process
    assert score_step.score_new_messages(Settings(lake=expected_lake), now=NOW) == 30
    assert started == []
    monkeypatch.setattr(core, "_start_pool", counting_start)
    monkeypatch.setattr(score_step, "SCORE_CHUNK_ROWS", 8)  # 4 chunks, the first one full
    Lake(tmp_path / "pooled").append("messages", messages)
    assert score_step.score_new_messages(Settings(lake=tmp_path / "pooled"), now=NOW) == 30
    assert started == [1]  # one pool for the 4 chunks
    query = f"SELECT {', '.join(columns)} FROM scores ORDER BY message_id"
    pooled = Lake(tmp_path / "pooled").read(query)
    pd.testing.assert_frame_equal(pooled, Lake(expected_lake).read(query))


def test_new_then_stale_rows_are_scored_once(tmp_path: Path) -> None:
    """First run scores every message; a rerun writes nothing; a new scorer version rescores in place."""
    settings = Settings(lake=tmp_path)
    lake = Lake(tmp_path)
    lake.append("messages", _messages())
    assert score_step.score_new_messages(settings, now=NOW) == 6
    assert score_step.score_new_messages(settings, now=NOW) == 0
    rows = lake.read("SELECT * FROM scores ORDER BY message_id")
    assert list(rows["label"])[1:5] == ["bullish", "bullish", "bearish", "unscored"]
    assert list(rows["lang"]) == ["en", "en", "zh", "en", "ko", "en"]
    assert list(rows["mentions"].iloc[1]) == ["VIRTUAL/USDT"] and rows["is_question"].iloc[2]
    assert list(rows["has_media"]) == [False] * 5 + [True]

    newer = LexiconScorer()
    newer.version = "2.test"
    assert score_step.score_new_messages(settings, now=NOW + pd.Timedelta("1D"), scorer=newer) == 6
    again = lake.read("SELECT * FROM scores ORDER BY message_id")
    assert len(again) == 6 and again["scorer_version"].str.startswith("2.test+m").all()
    assert len(lake.files("scores")) == 1


def test_switching_scorer_rescores(tmp_path: Path) -> None:
    """Rows scored by another scorer (vader) are rescored by the configured one."""
    lake = Lake(tmp_path)
    lake.append("messages", _messages())
    score_step.score_new_messages(Settings(lake=tmp_path, scorer="vader"), now=NOW)
    assert lake.read("SELECT label FROM scores WHERE message_id = '2'")["label"].iloc[0] == "unscored"
    score_step.score_new_messages(Settings(lake=tmp_path), now=NOW)
    assert lake.read("SELECT label FROM scores WHERE message_id = '2'")["label"].iloc[0] == "bullish"


def test_train_eval_and_trained_scorer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """train stores a model + card in the lake; eval reports it; --scorer trained uses it."""
    rows = [
        ("to the moon we go", "up"),
        ("great pump today", "up"),
        ("love this project", "up"),
        ("total scam rug", "down"),
        ("dumping hard, rekt", "down"),
        ("terrible team, sell", "down"),
    ] * 4
    data = tmp_path / "labelled.csv"
    pd.DataFrame(rows, columns=["msg", "y"]).to_csv(data, index=False)
    lake = tmp_path / "lake"
    args = ["--lake", str(lake)]
    spec = ["--text-col", "msg", "--label-col", "y", "--label-map", "up=bullish,down=bearish"]
    assert run_cli([*args, "train", str(data), *spec]) == 0
    card = json.loads((lake / ".models" / "trained.json").read_text())
    assert card["rows"] == 24 and 0 <= card["cv"]["macro_f1"] <= 1
    capsys.readouterr()
    assert run_cli([*args, "eval", str(data), *spec]) == 0
    shown = capsys.readouterr().out
    assert "vanilla VADER" in shown and "trained recipe" in shown and "stored model" in shown
    monkeypatch.setattr("sys.stdin", io.StringIO("moon pump love\n"))
    assert run_cli([*args, "score-text", "--scorer", "trained"]) == 0
    row = json.loads(capsys.readouterr().out)
    assert row["scorer"] == "trained" and row["label"] == "bullish"


def test_unmapped_labels_fail_cleanly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A label the map does not cover exits 1 naming it."""
    data = tmp_path / "d.csv"
    pd.DataFrame({"text": ["a", "b"], "label": ["1", "0"]}).to_csv(data, index=False)
    assert run_cli(["--lake", str(tmp_path), "eval", str(data)]) == 1
    assert "0, 1" in capsys.readouterr().err


def test_trained_scorer_needs_a_model(tmp_path: Path) -> None:
    """--scorer trained without a trained model is a configuration error."""
    assert run_cli(["--lake", str(tmp_path), "score-text", "--scorer", "trained"]) == 1


def test_a_lake_of_the_old_scorer_is_brought_up_to_date_in_place(tmp_path: Path) -> None:
    """Rows written by the former default (lexicon, lang other/none) are rescored by the new default in place:
    same row count, the hybrid scorer's version and ISO language codes."""
    lake = Lake(tmp_path)
    lake.append("messages", _messages())
    score_step.score_new_messages(Settings(lake=tmp_path, scorer="lexicon"), now=NOW)
    old = lake.read("SELECT * FROM scores ORDER BY message_id")
    old["lang"] = ["en", "en", "zh", "en", "other", "none"]  # as the former script check wrote them
    old["scorer_version"] = "1.old+m0"
    lake.replace_rows("scores", old)
    assert score_step.score_new_messages(Settings(lake=tmp_path), now=NOW + pd.Timedelta("1D")) == 6
    new = lake.read("SELECT * FROM scores ORDER BY message_id")
    assert len(new) == 6 and (new["scorer"] == "hybrid").all()
    assert list(new["lang"]) == ["en", "en", "zh", "en", "ko", "en"]
    assert score_step.score_new_messages(Settings(lake=tmp_path), now=NOW + pd.Timedelta("2D")) == 0
