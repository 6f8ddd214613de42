"""The build step's features, read from the lake chunk by chunk and joined in passes, equal the features of the
whole messages frame."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from sentiment.features import LANGUAGE_COLUMNS, weekly_community_features, weekly_language_coverage
from sentiment.lake import Lake
from sentiment.settings import load_settings
from sentiment.steps import build
from sentiment.steps import ingest as ingest_step
from sentiment.steps import score as score_step

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "chats"
NOW = pd.Timestamp("2024-06-01T00:00:00", tz="UTC")
EXPORTS = ["telegram_single_chat.json", "discord_channel.json", "whatsapp_android_24h.txt", "telegram_html_group"]


def test_chunked_features_equal_the_whole_frames(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = load_settings(lake=tmp_path / "lake", tz="UTC", symbols=("VIRTUAL/USDT",))
    ingest_step.ingest_chats(settings, [FIXTURES / name for name in EXPORTS], now=NOW)
    score_step.score_new_messages(settings, now=NOW)
    lake = Lake(tmp_path / "lake")
    whole = lake.read("SELECT *, len(mentions) AS mention_count FROM messages").drop(columns="mentions")
    assert whole["platform"].nunique() == 3 and len(whole) > 20 and whole["label"].isna().any()

    expected = weekly_community_features(whole, aliases=build._aliases(settings)).merge(
        weekly_language_coverage(whole), on=["scope", "week_start"], how="left"
    )
    expected = expected.fillna({c: 0 for c in LANGUAGE_COLUMNS if c.endswith("_posts")})
    monkeypatch.setattr(build, "FEATURE_CHUNK_ROWS", 7)  # many chunks
    monkeypatch.setattr(build, "FEATURE_JOIN_ROWS", 10)  # several passes over slices of the ids
    got = build.community_features(settings)

    keys = ["scope", "week_start"]
    expected = expected.sort_values(keys, ignore_index=True)
    got = got.sort_values(keys, ignore_index=True)
    pd.testing.assert_frame_equal(got, expected, check_exact=False, rtol=1e-12)
