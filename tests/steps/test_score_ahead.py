"""Scoring while the ingest parses: the same scores as the score step, for exactly the messages the ingest wrote."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from sentiment.errors import ParseError
from sentiment.lake import Lake
from sentiment.settings import Settings, load_settings
from sentiment.steps import ingest as ingest_step
from sentiment.steps import score as score_step
from sentiment.steps import score_ahead

NOW = pd.Timestamp("2024-06-01T00:00:00", tz="UTC")
TEXTS = ["gm, $VIRTUAL to the moon 🚀", "this is a rug, sell", "牛市来了", "ok?", "gm, $VIRTUAL to the moon 🚀", ""]


def _export(path: Path, ids: range, edited: bool = False) -> Path:
    """A Telegram JSON export of one chat: user messages (repeated texts, Chinese, empty) and service joins."""
    messages: list[dict[str, object]] = []
    for i in ids:
        record: dict[str, object] = {
            "id": i,
            "type": "message",
            "date": "2024-03-04T10:00:00",
            "date_unixtime": str(1709546400 + i * 3600),
            "from": f"user {i % 5}",
            "from_id": f"user{i % 5}",
            "text": TEXTS[i % len(TEXTS)] + (" (edited, bearish dump)" if edited else ""),
        }
        if i % 9 == 0:
            record = {**record, "type": "service", "action": "join_group_by_link", "actor": "x", "actor_id": "user9"}
            record.pop("from"), record.pop("from_id")
        messages.append(record)
    path.write_text(json.dumps({"name": "Group", "type": "public_supergroup", "id": 7, "messages": messages}))
    return path


def _settings(lake: Path, key_from: Path | None = None) -> Settings:
    settings = load_settings(lake=lake, tz="UTC")
    if key_from is not None:
        Lake(lake).key_path.parent.mkdir(parents=True, exist_ok=True)
        Lake(lake).key_path.write_bytes(Lake(key_from).key_path.read_bytes())
    return settings


def _scores(lake: Path) -> pd.DataFrame:
    return Lake(lake).read("SELECT * FROM scores ORDER BY platform, chat_id, message_id").reset_index(drop=True)


@pytest.fixture
def ahead_from_the_first_row(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(score_ahead, "SCORE_AHEAD_MIN_ROWS", 1)


@pytest.mark.usefixtures("ahead_from_the_first_row")
def test_scores_equal_the_score_steps_and_cover_what_was_written(tmp_path: Path) -> None:
    """Two overlapping exports (the overlap edited in the second): the scores written while parsing equal what the
    score step writes after a plain ingest, one per user message, of the text that was kept."""
    first, second = _export(tmp_path / "a.json", range(1, 61)), _export(tmp_path / "b.json", range(40, 101), True)
    ahead = _settings(tmp_path / "ahead")
    ingest_step.pseudonym_key(ahead)
    plain = _settings(tmp_path / "plain", key_from=tmp_path / "ahead")

    summary = ingest_step.ingest_chats(ahead, [first, second], now=NOW, score=True)
    users = Lake(tmp_path / "ahead").read("SELECT count(*) AS n FROM messages_raw WHERE kind = 'message'")["n"][0]
    assert summary.rows_written == 100
    assert summary.scored_all
    assert summary.rows_scored == users > 0
    assert score_step.score_new_messages(ahead, now=NOW, scored_ingest=NOW) == 0
    assert score_step.score_new_messages(ahead, now=NOW) == 0  # nothing was left unscored

    reference = ingest_step.ingest_chats(plain, [first, second], now=NOW, score=False)
    assert (reference.rows_scored, reference.scored_all) == (0, False)
    assert score_step.score_new_messages(plain, now=NOW) == users
    pd.testing.assert_frame_equal(_scores(tmp_path / "ahead"), _scores(tmp_path / "plain"))
    kept = Lake(tmp_path / "ahead").read("SELECT text FROM messages_raw WHERE message_id = '50'")["text"][0]
    assert "edited" not in kept  # the first export's message was kept, and scored

    again = ingest_step.ingest_chats(ahead, [first, second], now=NOW + pd.Timedelta("1h"), score=True)
    assert (again.rows_written, again.rows_scored) == (0, 0)
    assert Lake(tmp_path / "ahead").count("scores") == users


@pytest.mark.usefixtures("ahead_from_the_first_row")
def test_older_unscored_messages_are_left_to_the_score_step(tmp_path: Path) -> None:
    """Messages stored unscored by an earlier ingest are not this ingest's: the score step still finds them."""
    settings = _settings(tmp_path / "lake")
    ingest_step.ingest_chats(settings, [_export(tmp_path / "a.json", range(1, 31))], now=NOW, score=False)
    later = NOW + pd.Timedelta("1h")
    summary = ingest_step.ingest_chats(settings, [_export(tmp_path / "b.json", range(1, 61))], now=later, score=True)
    assert summary.rows_written == 30 and summary.scored_all
    assert (
        summary.rows_scored
        == Lake(tmp_path / "lake").read(
            "SELECT count(*) AS n FROM messages_raw WHERE kind = 'message' AND CAST(message_id AS INT) > 30"
        )["n"][0]
    )
    older = score_step.score_new_messages(settings, now=later, scored_ingest=later)
    users = Lake(tmp_path / "lake").read("SELECT count(*) AS n FROM messages_raw WHERE kind = 'message'")["n"][0]
    assert older == users - summary.rows_scored > 0
    assert Lake(tmp_path / "lake").count("scores") == users


def test_a_small_ingest_starts_no_worker(tmp_path: Path) -> None:
    """Below the threshold nothing is scored ahead; the score step scores everything, as before."""
    settings = _settings(tmp_path / "lake")
    summary = ingest_step.ingest_chats(settings, [_export(tmp_path / "a.json", range(1, 31))], now=NOW, score=True)
    assert (summary.rows_scored, summary.scored_all) == (0, False)
    assert score_step.score_new_messages(settings, now=NOW) > 0


@pytest.mark.usefixtures("ahead_from_the_first_row")
def test_a_bad_export_after_scoring_started_leaves_nothing(tmp_path: Path) -> None:
    """Scoring ahead has started on the first export when the second one turns out truncated: the ingest fails as
    before, with neither messages nor scores written and nothing left in the staging folder."""
    settings = _settings(tmp_path / "lake")
    good = _export(tmp_path / "a.json", range(1, 61))
    broken = tmp_path / "b.json"
    broken.write_text(_export(tmp_path / "whole.json", range(100, 160)).read_text()[:-300])
    with pytest.raises(ParseError) as caught:
        ingest_step.ingest_chats(settings, [good, broken], now=NOW, score=True)
    assert "b.json" in str(caught.value)
    lake = Lake(tmp_path / "lake")
    assert lake.count("messages_raw") == 0 and lake.count("scores") == 0
    assert not any((tmp_path / "lake" / ".staging").iterdir())
