"""Tests for the seeded synthetic world and the files it writes in the exporters' real formats."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sentiment.errors import ConfigError
from sentiment.sandbox.simulate import (
    _EN_COMMON,
    World,
    main,
    simulate_world,
    write_gate_candles,
    write_memotrace_csv,
    write_sample,
    write_telegram_export,
)

UTC8 = timezone(timedelta(hours=8))
REPO = Path(__file__).resolve().parents[2]
SAMPLE_FILES = (
    "chats/telegram/result.json",
    "chats/wechat/VIRTUAL社区/VIRTUAL社区_utf8.csv",
    "exchange/gate/spot_candlesticks/VIRTUAL_USDT_1d.json",
    "exchange/gate/spot_candlesticks/BTC_USDT_1d.json",
)
HEADER = "localId,TalkerId,Type,SubType,IsSender,CreateTime,Status,StrContent,StrTime,Remark,NickName,Sender"
INVITE = re.compile(r'^"[^"]+"邀请"[^"]+"加入了群聊$')
QR = re.compile(r'^"[^"]+"通过扫描"[^"]+"分享的二维码加入群聊$')
RECALL = re.compile(r'^"[^"]+" 撤回了一条消息$')


@pytest.fixture(scope="module")
def world() -> World:
    return simulate_world(16, seed=3, effect=0.5)


@pytest.fixture(scope="module")
def telegram(world: World, tmp_path_factory: pytest.TempPathFactory) -> dict:
    path = tmp_path_factory.mktemp("tg") / "result.json"
    write_telegram_export(world, path)
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def wechat_bytes(world: World, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    path = tmp_path_factory.mktemp("wc") / "VIRTUAL社区_utf8.csv"
    write_memotrace_csv(world, path)
    return path.read_bytes()


def _lead_corr(world: World) -> float:
    z = world.weekly["activity_z"].to_numpy()
    r = world.weekly["token_log_return"].to_numpy()
    return float(np.corrcoef(z[:-1], r[1:])[0, 1])


def test_same_seed_writes_identical_bytes_and_another_seed_differs(tmp_path: Path) -> None:
    """It writes byte-identical files for the same seed and different chats for another seed."""
    for name, seed in (("a", 11), ("b", 11), ("c", 12)):
        write_sample(tmp_path / name, weeks=4, seed=seed, effect=0.5)
    for rel in SAMPLE_FILES:
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes(), rel
        assert (tmp_path / "a" / rel).read_bytes() != (tmp_path / "c" / rel).read_bytes(), rel


def test_telegram_export_has_the_single_chat_shape(telegram: dict) -> None:
    """It writes a Telegram Desktop single-chat export: name, type, numeric id, writer key order."""
    assert list(telegram) == ["name", "type", "id", "messages"]
    assert telegram["name"] == "VIRTUAL Community"
    assert telegram["type"] == "public_supergroup"
    assert isinstance(telegram["id"], int)
    ids = [m["id"] for m in telegram["messages"]]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    for msg in telegram["messages"]:
        assert list(msg)[:4] == ["id", "type", "date", "date_unixtime"]
        assert list(msg)[-2:] in (["text", "text_entities"], ["text_entities", "reactions"])
        local = datetime.fromtimestamp(int(msg["date_unixtime"]), UTC8).strftime("%Y-%m-%dT%H:%M:%S")
        assert msg["date"] == local
        if msg["type"] == "message":
            assert re.fullmatch(r"user\d+", msg["from_id"])
        text = (
            msg["text"]
            if isinstance(msg["text"], str)
            else "".join(p if isinstance(p, str) else p["text"] for p in msg["text"])
        )
        assert text == "".join(e["text"] for e in msg["text_entities"])


def test_telegram_export_has_joins_leaves_and_rich_messages(telegram: dict) -> None:
    """It writes invites, self-joins, link joins, removals, entities, stickers, replies and reactions."""
    msgs = telegram["messages"]
    service = [m for m in msgs if m["type"] == "service"]
    actions = {m["action"] for m in service}
    assert {"invite_members", "join_group_by_link", "remove_members"} <= actions
    invites = [m for m in service if m["action"] == "invite_members"]
    assert any(m["members"] == [m["actor"]] for m in invites), "no self-join"
    assert any(m["actor"] not in m["members"] for m in invites), "no invitation by another member"
    assert all(m["inviter"] for m in service if m["action"] == "join_group_by_link")
    assert all(m["text"] == "" and m["text_entities"] == [] for m in service)
    entity_types = {p["type"] for m in msgs if isinstance(m["text"], list) for p in m["text"] if isinstance(p, dict)}
    assert {"cashtag", "link"} <= entity_types
    assert any(p == {"type": "cashtag", "text": "$VIRTUAL"} for m in msgs for p in m["text_entities"])
    stickers = [m for m in msgs if m.get("media_type") == "sticker"]
    assert stickers and all(m["sticker_emoji"] and m["text"] == "" for m in stickers)
    seen: set[int] = set()
    for m in msgs:
        if "reply_to_message_id" in m:
            assert m["reply_to_message_id"] in seen
        seen.add(m["id"])
    assert any(m.get("reactions") for m in msgs)


def test_wechat_csv_is_memotrace_bytes(wechat_bytes: bytes) -> None:
    """It writes a UTF-8 BOM, the exact 12-column header and CRLF row ends, as csv.writer does."""
    assert wechat_bytes.startswith(b"\xef\xbb\xbf" + HEADER.encode() + b"\r\n")
    assert wechat_bytes.endswith(b"\r\n")
    rows = list(csv.reader(io.StringIO(wechat_bytes.decode("utf-8-sig"), newline="")))
    assert wechat_bytes.count(b"\r\n") == len(rows)
    assert all(len(r) == 12 for r in rows)


def test_wechat_csv_has_exact_system_texts_and_local_times(wechat_bytes: bytes) -> None:
    """It writes Type 10000 invitations (~90%), QR joins and recalls verbatim, with StrTime in UTC+8."""
    rows = list(csv.DictReader(io.StringIO(wechat_bytes.decode("utf-8-sig"), newline="")))
    assert {r["Type"] for r in rows} <= {"1", "3", "47", "10000"}
    system = [r["StrContent"] for r in rows if r["Type"] == "10000"]
    invites = [t for t in system if INVITE.match(t)]
    qrs = [t for t in system if QR.match(t)]
    assert all(INVITE.match(t) or QR.match(t) or RECALL.match(t) for t in system)
    assert invites and qrs and any(RECALL.match(t) for t in system)
    assert 0.75 < len(invites) / (len(invites) + len(qrs)) < 0.97
    assert all(r["Sender"] == "" for r in rows if r["Type"] == "10000")
    assert all(r["StrContent"].startswith("<msg><emoji ") for r in rows if r["Type"] == "47")
    for r in rows:
        assert r["StrTime"] == datetime.fromtimestamp(int(r["CreateTime"]), UTC8).strftime("%Y-%m-%d %H:%M:%S")
    assert [int(r["CreateTime"]) for r in rows] == sorted(int(r["CreateTime"]) for r in rows)
    assert any(r["IsSender"] == "1" for r in rows) and len({r["TalkerId"] for r in rows}) == 1


@pytest.mark.parametrize("chat", ["telegram", "wechat"])
def test_members_join_before_their_first_message(world: World, chat: str) -> None:
    """It never lets a joiner post before their join record (founders predate the export window)."""
    members = getattr(world, f"{chat}_members")
    joined: dict[int, int] = {}
    for ev in getattr(world, f"{chat}_events"):
        if ev.kind == "join":
            for m in ev.members:
                joined.setdefault(m, ev.ts)
        elif ev.kind in ("message", "sticker", "photo") and not members[ev.actor].founder:
            assert ev.actor in joined and joined[ev.actor] <= ev.ts


def test_message_tone_follows_the_latent_mood(world: World) -> None:
    """It draws bullish stock phrases in better moods than bearish ones."""
    moods = {tone: [e.mood for e in world.telegram_events if e.text in _EN_COMMON[tone]] for tone in ("bull", "bear")}
    assert np.mean(moods["bull"]) > np.mean(moods["bear"]) + 0.2


def test_candles_are_ohlc_consistent_contiguous_and_realistic(world: World) -> None:
    """It makes contiguous daily candles for every week: OHLC-consistent, volume > 0, realistic levels."""
    for candles, lo, hi in ((world.token_candles, 0.3, 5.0), (world.btc_candles, 30_000, 120_000)):
        assert len(candles) == 7 * len(world.weekly)
        assert (candles["ts"].diff().dropna() == pd.Timedelta(days=1)).all()
        assert candles["ts"].iloc[0] == world.weekly["week_start"].iloc[0]
        assert (candles["low"] <= candles[["open", "close"]].min(axis=1)).all()
        assert (candles["high"] >= candles[["open", "close"]].max(axis=1)).all()
        assert (candles["volume"] > 0).all()
        assert candles["low"].min() > lo and candles["high"].max() < hi
    closes = world.token_candles["close"].to_numpy()[6::7]
    realised = np.diff(np.log(closes))
    assert np.allclose(realised, world.weekly["token_log_return"].to_numpy()[1:], atol=1e-3)


def test_gate_wire_rows_round_trip(world: World, tmp_path: Path) -> None:
    """It writes ascending, closed Gate wire rows of 8 strings that read back to the same candles."""
    path = tmp_path / "VIRTUAL_USDT_1d.json"
    write_gate_candles(world.token_candles.iloc[::-1], path)
    rows = json.loads(path.read_text(encoding="utf-8"))
    assert all(len(r) == 8 and all(isinstance(x, str) for x in r) and r[7] == "true" for r in rows)
    t = [int(r[0]) for r in rows]
    assert t == sorted(t) and all(x % 86_400 == 0 for x in t)
    back = np.array([[float(r[5]), float(r[3]), float(r[4]), float(r[2]), float(r[6])] for r in rows])
    expected = world.token_candles[["open", "high", "low", "close", "volume"]].to_numpy()
    assert np.allclose(back, expected, rtol=0, atol=1e-9)


def test_a_large_effect_plants_activity_leading_next_week_return() -> None:
    """It makes weekly activity clearly predict next week's token return when the effect is large."""
    assert all(_lead_corr(simulate_world(30, seed, effect=3.0)) > 0.5 for seed in (1, 2))


def test_zero_effect_plants_no_lead_on_average() -> None:
    """It plants no lead when the effect is zero: the correlation averages near zero over seeds."""
    corrs = [_lead_corr(simulate_world(30, seed, effect=0.0)) for seed in range(5)]
    assert abs(float(np.mean(corrs))) < 0.2


def test_rejects_a_start_that_is_not_a_monday() -> None:
    """It refuses weeks that would not start on Monday 00:00 UTC."""
    with pytest.raises(ConfigError):
        simulate_world(4, seed=1, start="2024-01-03")


def test_cli_writes_the_sample_tree(tmp_path: Path) -> None:
    """It writes all four sample files from the command line."""
    main(["--out", str(tmp_path), "--seed", "5", "--weeks", "2", "--effect", "0.5"])
    assert all((tmp_path / rel).stat().st_size > 0 for rel in SAMPLE_FILES)


def test_bundled_sample_is_what_the_documented_command_writes(tmp_path: Path) -> None:
    """It regenerates data/sample byte for byte with the command the sample README states."""
    bundled = REPO / "data" / "sample"
    if not (bundled / SAMPLE_FILES[0]).exists():
        pytest.skip("no bundled sample")
    readme = (bundled / "README.md").read_text(encoding="utf-8")
    cmd = re.search(
        r"python -m sentiment\.sandbox\.simulate --out data/sample (--seed (\d+) --weeks (\d+) --effect ([\d.]+))",
        readme,
    )
    assert cmd, "README must state the exact generating command"
    write_sample(tmp_path, weeks=int(cmd.group(3)), seed=int(cmd.group(2)), effect=float(cmd.group(4)))
    for rel in SAMPLE_FILES:
        assert (tmp_path / rel).read_bytes() == (bundled / rel).read_bytes(), rel
