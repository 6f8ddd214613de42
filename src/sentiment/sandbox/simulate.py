"""Seeded synthetic world: latent weekly activity drives two chat exports and a token's daily candles.

The model (:func:`simulate_world`) is pure and deterministic for a seed; the writers turn a
:class:`World` into files in the exporters' real formats (Telegram Desktop JSON, WeChatMsg/MemoTrace
CSV, Gate candle wire rows).

Planted structure, per week t (weeks start Monday 00:00 UTC):

* activity a_t = PHI * a_{t-1} + innovation, plus occasional bursts; z_t = a_t standardised over the sample.
* BTC log return b_t: noise around a slow drift, weakly pulled towards a price path (keeps BTC ~40k-100k).
* token log return r_t = BETA * b_t + SIGMA * (effect * z_{t-1} + eps_t) - KAPPA * (log p_{t-1} - log P_MID);
  ``effect`` is in units of the token's idiosyncratic weekly volatility SIGMA, the last term a weak pull that
  keeps the price in a realistic range (~0.5-3 USDT). effect > 0 plants "activity leads next week's return".
* mood m_t = tanh(0.6 * r_t / sd(r) + 0.35 * z_t + 0.5 * noise): mood reacts to the same week's price.
* message and join counts per chat ~ Poisson(base * exp(0.45 z_t)) and Poisson(base * exp(0.6 z_t)).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sentiment.chats.wechat import MEMOTRACE_HEADER
from sentiment.errors import ConfigError

__all__ = [
    "EXPORT_TZ",
    "ChatEvent",
    "Member",
    "World",
    "main",
    "simulate_world",
    "world_messages",
    "world_prices",
    "write_gate_candles",
    "write_memotrace_csv",
    "write_sample",
    "write_telegram_export",
]

# Both exports are written as if by a PC set to UTC+8 (China Standard Time, no DST).
EXPORT_TZ = timezone(timedelta(hours=8))

DAY = 86_400
PHI = 0.6  # activity persistence
BURST_P = 0.08  # weekly chance of a burst (a news event, a listing rumour)
BETA = 1.3  # token beta to BTC
SIGMA = 0.10  # token idiosyncratic weekly log-return volatility
KAPPA = 0.10  # weak pull of the token's log price towards P_MID
P_MID = 1.2  # USDT
BTC_P0 = 42_500.0
BTC_DRIFT = 0.008  # per week
BTC_SD = 0.04
BTC_KAPPA = 0.15

TELEGRAM_NAME = "VIRTUAL Community"
WECHAT_REMARK = "VIRTUAL社区"
NOT_INCLUDED = "(File not included. Change data exporting settings to download.)"

# Local-hour (UTC+8) message intensity: quiet at night, busiest in the evening.
_HOUR_WEIGHTS = np.array(
    [3, 2, 1.2, 0.6, 0.4, 0.4, 0.8, 1.5, 2.5, 3.5, 4.5, 5, 5, 4.5, 4.5, 5, 5, 5.5, 6, 7, 8, 8.5, 7.5, 5]
)


@dataclass(frozen=True)
class Member:
    """A chat member: ``key`` is the export's raw identity (Telegram ``user<id>``, WeChat wxid)."""

    key: str
    name: str | None  # None = deleted Telegram account (the export writes null)
    remark: str  # WeChat contact remark (equals name on Telegram)
    lang: str  # "en" | "zh": the language the member mostly writes in
    weight: float  # how talkative
    founder: bool = False  # in the group before the export window (so no join record)
    is_owner: bool = False  # the exporting account (WeChat IsSender=1)


@dataclass(frozen=True)
class ChatEvent:
    """One record of a chat, platform-neutral; ``id`` is the export's record id (message id / localId)."""

    id: int
    ts: int  # unix seconds, UTC
    kind: str  # message | sticker | photo | join | leave | remove | recall
    actor: int  # member index: author; inviter or link/QR sharer for joins; remover; the recaller
    text: str = ""
    members: tuple[int, ...] = ()  # joined or removed members
    join_method: str | None = None  # invite | self | link | qr
    mood: float = 0.0  # the mood the text was drawn with
    reply_to: int | None = None  # id of an earlier record
    reactions: tuple[tuple[str, int, tuple[int, ...]], ...] = ()  # (emoji, count, recent reactors)
    emoji: str = ""  # sticker emoji
    edited_after: int = 0  # seconds after ts; 0 = never edited
    forwarded_from: str | None = None


@dataclass(frozen=True)
class World:
    """Everything the writers need: the weekly latent table, daily candles and both chats' events."""

    seed: int
    effect: float
    weekly: pd.DataFrame
    token_candles: pd.DataFrame
    btc_candles: pd.DataFrame
    telegram_chat_id: int
    telegram_members: list[Member]
    telegram_events: list[ChatEvent]
    wechat_talker_id: int
    wechat_chatroom: str
    wechat_members: list[Member]
    wechat_events: list[ChatEvent]


@dataclass(frozen=True)
class _ChatSpec:
    platform: str
    msgs_per_week: float
    joins_per_week: float
    leaves_per_week: float
    founders: int
    zh_share: float
    sticker_p: float
    photo_p: float


_TELEGRAM = _ChatSpec("telegram", 82, 7, 1.2, 35, 0.06, 0.05, 0.02)
_WECHAT = _ChatSpec("wechat", 62, 5, 0.8, 30, 0.88, 0.06, 0.03)


# ---------------------------------------------------------------------------------------------------- model


def simulate_world(
    weeks: int, seed: int, effect: float = 0.0, start: str = "2024-01-01", *, chat_scale: float = 1.0
) -> World:
    """Simulate ``weeks`` weeks from ``start`` (a Monday, UTC) with a planted lead ``effect``; seeded.

    ``chat_scale`` multiplies the chats' message and join rates (1.0: the bundled sample's sizes); smaller
    worlds simulate faster, which the power tests use. The latent table and prices do not depend on it.
    """
    if not chat_scale > 0:
        raise ConfigError(f"chat_scale must be positive, got {chat_scale!r}")
    if weeks < 2:
        raise ConfigError(f"weeks must be at least 2, got {weeks}")
    start_ts = pd.Timestamp(start, tz="UTC")
    if start_ts != start_ts.normalize() or start_ts.day_of_week != 0:
        raise ConfigError(f"start must be a Monday at 00:00 UTC, got {start!r}")
    if not math.isfinite(effect):
        raise ConfigError(f"effect must be a finite number, got {effect!r}")

    # Independent streams so that changing one part (e.g. chat sizes) does not reshuffle the prices.
    latent_rng, token_rng, btc_rng, tg_rng, wc_rng, id_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(6)
    )
    weekly = _latent(latent_rng, weeks, effect, start_ts)
    token = _daily_candles(
        token_rng,
        weekly,
        "token_log_return",
        p0=P_MID,
        daily_sd=0.035,
        decimals=4,
        vol_decimals=2,
        base_volume=6e6,
        activity_loading=0.35,
    )
    btc = _daily_candles(
        btc_rng,
        weekly,
        "btc_log_return",
        p0=BTC_P0,
        daily_sd=0.018,
        decimals=1,
        vol_decimals=8,
        base_volume=4_500.0,
        activity_loading=0.0,
    )
    weekly["token_close"] = token["close"].to_numpy()[6::7]
    weekly["btc_close"] = btc["close"].to_numpy()[6::7]

    closes = token["close"].to_numpy()
    tg_spec, wc_spec = _TELEGRAM, _WECHAT
    if chat_scale != 1.0:
        tg_spec, wc_spec = (
            replace(s, msgs_per_week=s.msgs_per_week * chat_scale, joins_per_week=s.joins_per_week * chat_scale)
            for s in (_TELEGRAM, _WECHAT)
        )
    tg_members, tg_events = _chat(tg_rng, tg_spec, weekly, closes)
    wc_members, wc_events = _chat(wc_rng, wc_spec, weekly, closes)
    for prefix, events in (("telegram", tg_events), ("wechat", wc_events)):
        week_of = np.array([(e.ts - int(start_ts.timestamp())) // (7 * DAY) for e in events], dtype=int)
        is_msg = np.array([e.kind in ("message", "sticker", "photo") for e in events])
        joins = np.array([len(e.members) if e.kind == "join" else 0 for e in events])
        weekly[f"{prefix}_messages"] = np.bincount(week_of[is_msg], minlength=weeks)[:weeks]
        weekly[f"{prefix}_joins"] = np.bincount(week_of, weights=joins, minlength=weeks)[:weeks].astype(int)

    chat_id = int(id_rng.integers(1_500_000_000, 2_400_000_000))
    chatroom = f"{int(id_rng.integers(10_000_000_000, 60_000_000_000))}@chatroom"
    talker_id = int(id_rng.integers(80, 900))
    return World(
        seed=seed,
        effect=effect,
        weekly=weekly,
        token_candles=token,
        btc_candles=btc,
        telegram_chat_id=chat_id,
        telegram_members=tg_members,
        telegram_events=tg_events,
        wechat_talker_id=talker_id,
        wechat_chatroom=chatroom,
        wechat_members=wc_members,
        wechat_events=wc_events,
    )


def _latent(rng: np.random.Generator, weeks: int, effect: float, start: pd.Timestamp) -> pd.DataFrame:
    """The weekly latent table: activity (AR(1) + bursts), BTC and token log returns, mood."""
    burst = rng.random(weeks) < BURST_P
    shocks = rng.normal(0.0, math.sqrt(1 - PHI**2), weeks) + burst * rng.uniform(1.5, 3.0, weeks)
    activity = np.empty(weeks)
    prev = rng.normal()  # the week before the sample, from the stationary law
    for t in range(weeks):
        prev = activity[t] = PHI * prev + shocks[t]
    z = (activity - activity.mean()) / activity.std()
    z_prev = np.concatenate([[0.0], z[:-1]])  # no information about the pre-sample week

    btc_noise = rng.normal(0.0, BTC_SD, weeks)
    eps = rng.normal(0.0, 1.0, weeks)
    btc_r = np.empty(weeks)
    token_r = np.empty(weeks)
    log_btc, log_token = math.log(BTC_P0), math.log(P_MID)
    for t in range(weeks):
        target = math.log(BTC_P0) + BTC_DRIFT * t
        btc_r[t] = BTC_DRIFT + btc_noise[t] - BTC_KAPPA * (log_btc - target)
        token_r[t] = BETA * btc_r[t] + SIGMA * (effect * z_prev[t] + eps[t]) - KAPPA * (log_token - math.log(P_MID))
        log_btc += btc_r[t]
        log_token += token_r[t]
    mood = np.tanh(0.6 * token_r / token_r.std() + 0.35 * z + 0.5 * rng.normal(0.0, 1.0, weeks))
    return pd.DataFrame(
        {
            "week_start": pd.date_range(start, periods=weeks, freq="7D", unit="us"),
            "activity": activity,
            "activity_z": z,
            "burst": burst,
            "mood": mood,
            "btc_log_return": btc_r,
            "token_log_return": token_r,
        }
    )


def _daily_candles(
    rng: np.random.Generator,
    weekly: pd.DataFrame,
    column: str,
    *,
    p0: float,
    daily_sd: float,
    decimals: int,
    vol_decimals: int,
    base_volume: float,
    activity_loading: float,
) -> pd.DataFrame:
    """Daily OHLCV whose 7 daily log steps of each week sum to that week's log return exactly."""
    weeks = len(weekly)
    noise = rng.normal(0.0, daily_sd, (weeks, 7))
    noise -= noise.mean(axis=1, keepdims=True)
    steps = (weekly[column].to_numpy()[:, None] / 7 + noise).ravel()
    close = p0 * np.exp(np.cumsum(steps))
    open_ = np.concatenate([[p0], close[:-1]])
    wicks = np.abs(rng.normal(0.0, daily_sd * 0.6, (len(steps), 2)))
    high = np.maximum(open_, close) * np.exp(wicks[:, 0])
    low = np.minimum(open_, close) * np.exp(-wicks[:, 1])
    # Rounding is monotone, so low <= open, close <= high survives it.
    open_, high, low, close = (np.round(x, decimals) for x in (open_, high, low, close))
    activity = np.repeat(weekly["activity_z"].to_numpy(), 7)
    volume = base_volume * np.exp(activity_loading * activity + 3.0 * np.abs(steps) + rng.normal(0, 0.25, len(steps)))
    volume = np.round(volume, vol_decimals)
    quote = np.round(volume * (open_ + high + low + close) / 4, 8)
    ts = pd.date_range(weekly["week_start"].iloc[0], periods=len(steps), freq="D", unit="us")
    return pd.DataFrame(
        {
            "ts": ts,
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": volume,
            "quote_volume": quote,
        }
    )


# ---------------------------------------------------------------------------------------------------- chats


def _chat(
    rng: np.random.Generator, spec: _ChatSpec, weekly: pd.DataFrame, closes: np.ndarray
) -> tuple[list[Member], list[ChatEvent]]:
    """Members and time-ordered records of one chat; every joiner joins before their first message."""
    names = _NameMaker(rng, spec.platform)
    members: list[Member] = []

    def new_member(founder: bool = False, owner: bool = False) -> int:
        lang = "zh" if rng.random() < spec.zh_share else "en"
        name, remark, key = names.make(lang)
        weight = float(rng.pareto(1.6) + 0.2) if not owner else 1.5
        members.append(Member(key, name, remark, lang, weight, founder, owner))
        return len(members) - 1

    for i in range(spec.founders):
        new_member(founder=True, owner=(spec.platform == "wechat" and i == 1))
    if spec.platform == "telegram":
        # One founder later deleted their account: the export writes null names for them.
        m = members[5]
        members[5] = Member(m.key, None, "", m.lang, m.weight, founder=True)
    admin = 0
    active: list[int] = list(range(spec.founders))
    joined_at = [-(10**12)] * spec.founders  # by member index
    start = int(weekly["week_start"].iloc[0].timestamp())
    next_id = int(rng.integers(20_000, 200_000))
    events: list[ChatEvent] = []
    recent_ids: list[int] = []
    cache: dict[str, Any] = {}
    version = 0

    def take_id() -> int:
        nonlocal next_id
        # Gaps: deleted messages and records of other chats share the counter.
        next_id += 1 + int(rng.random() < 0.06) * int(rng.integers(1, 4))
        return next_id

    for w, row in enumerate(weekly.itertuples(index=False)):
        z, mood = float(row.activity_z), float(row.mood)
        week_start = start + w * 7 * DAY
        n_msg = rng.poisson(spec.msgs_per_week * math.exp(0.45 * z))
        n_join = rng.poisson(spec.joins_per_week * math.exp(0.6 * z))
        n_leave = rng.poisson(spec.leaves_per_week)
        stamps = [(t, 0) for t in _times(rng, week_start, n_join)]
        stamps += [(t, 1) for t in _times(rng, week_start, n_leave)]
        stamps += [(t, 2) for t in _times(rng, week_start, n_msg)]
        stamps.sort()
        for ts, what in stamps:
            if what == 0:
                events.append(_join(rng, spec, ts, take_id(), active, members, new_member, admin))
                for m in events[-1].members:
                    joined_at.append(ts)
                    active.append(m)
                version += 1
            elif what == 1:
                leavers = [m for m in active if not members[m].is_owner and m != admin]
                if len(leavers) < 5:
                    continue
                who = leavers[int(rng.integers(len(leavers)))]
                active.remove(who)
                version += 1
                if spec.platform == "telegram":  # WeChat does not record leaving at all
                    by_admin = rng.random() < 0.3
                    kind = "remove" if by_admin else "leave"
                    events.append(ChatEvent(take_id(), ts, kind, admin if by_admin else who, members=(who,)))
            else:
                day = (ts - start) // DAY
                price = float(closes[max(day - 1, 0)])
                if cache.get("version") != version:
                    # active only changes on joins and leaves: rebuild the arrays then, not for every message.
                    idx = np.array(active)
                    cache.update(
                        version=version,
                        idx=idx,
                        weights=np.array([members[m].weight for m in active]),
                        joined=np.array(joined_at)[idx],
                    )
                ev = _message(rng, spec, ts, take_id(), active, members, joined_at, mood, price, recent_ids, cache)
                events.append(ev)
                if ev.kind != "recall":
                    recent_ids = [*recent_ids[-24:], ev.id]
    return members, events


def _times(rng: np.random.Generator, week_start: int, n: int) -> list[int]:
    """n timestamps inside the UTC week, busiest in the UTC+8 evening, more on some days than others."""
    if n == 0:
        return []
    day_weights = rng.gamma(4.0, 1.0, 7)
    days = rng.choice(7, size=n, p=day_weights / day_weights.sum())
    # hour h UTC is hour (h + 8) % 24 local
    utc_weights = np.roll(_HOUR_WEIGHTS, -8)
    hours = rng.choice(24, size=n, p=utc_weights / utc_weights.sum())
    secs = rng.integers(0, 3600, n)
    return sorted(int(week_start + d * DAY + h * 3600 + s) for d, h, s in zip(days, hours, secs, strict=True))


def _join(
    rng: np.random.Generator,
    spec: _ChatSpec,
    ts: int,
    rid: int,
    active: list[int],
    members: list[Member],
    make: Callable[[], int],
    admin: int,
) -> ChatEvent:
    inviter = active[int(rng.integers(len(active)))]
    if spec.platform == "telegram":
        u = rng.random()
        if u < 0.45:  # joined the public group by themselves: invite_members with actor == member
            m = make()
            return ChatEvent(rid, ts, "join", m, members=(m,), join_method="self")
        if u < 0.75:
            joined = (make(), make()) if rng.random() < 0.12 else (make(),)
            return ChatEvent(rid, ts, "join", inviter, members=joined, join_method="invite")
        m = make()
        return ChatEvent(rid, ts, "join", admin if rng.random() < 0.6 else inviter, members=(m,), join_method="link")
    # WeChat: invitations dominate, QR-code joins are the minority (~10%).
    if rng.random() < 0.9:
        joined = (make(), make()) if rng.random() < 0.1 else (make(),)
        return ChatEvent(rid, ts, "join", inviter, members=joined, join_method="invite")
    m = make()
    return ChatEvent(rid, ts, "join", inviter, members=(m,), join_method="qr")


def _message(
    rng: np.random.Generator,
    spec: _ChatSpec,
    ts: int,
    rid: int,
    active: list[int],
    members: list[Member],
    joined_at: list[int],
    week_mood: float,
    price: float,
    recent_ids: list[int],
    cache: dict[str, Any],
) -> ChatEvent:
    # cache holds np.array(active), the members' weights and join times, rebuilt by _chat when active changes.
    idx = cache["idx"]
    weights = cache["weights"].copy()
    # Newcomers talk more in their first days (greetings, questions).
    weights[ts - cache["joined"] < 3 * DAY] *= 3.0
    cumulative = np.cumsum(weights)
    author = int(idx[min(int(np.searchsorted(cumulative, rng.random() * cumulative[-1])), len(idx) - 1)])
    mood = min(max(week_mood + float(rng.normal(0.0, 0.45)), -1.0), 1.0)
    if spec.platform == "wechat" and rng.random() < 0.006:
        return ChatEvent(rid, ts, "recall", author)
    reply_to = None
    if recent_ids and rng.random() < (0.15 if spec.platform == "telegram" else 0.0):
        reply_to = recent_ids[-1 - int(rng.integers(min(len(recent_ids), 12)))]
    reactions: tuple[tuple[str, int, tuple[int, ...]], ...] = ()
    if spec.platform == "telegram" and rng.random() < 0.1:
        emoji = _pick(rng, _REACTIONS_BULL if mood > -0.1 else _REACTIONS_BEAR)
        count = int(rng.integers(1, 9))
        others = [m for m in active if m != author]
        k = min(count, 3, len(others))
        recent = tuple(int(others[i]) for i in rng.choice(len(others), size=k, replace=False))
        reactions = ((emoji, count, recent),)
    u = rng.random()
    if u < spec.sticker_p:
        emoji = _pick(rng, _STICKERS_BULL if mood > 0 else _STICKERS_BEAR)
        return ChatEvent(rid, ts, "sticker", author, mood=mood, reply_to=reply_to, reactions=reactions, emoji=emoji)
    if u < spec.sticker_p + spec.photo_p:
        return ChatEvent(rid, ts, "photo", author, mood=mood, reply_to=reply_to, reactions=reactions)
    lang = members[author].lang if rng.random() < 0.9 else ("en" if members[author].lang == "zh" else "zh")
    text = _compose(rng, lang, mood, price)
    edited = int(rng.integers(20, 600)) if spec.platform == "telegram" and rng.random() < 0.02 else 0
    forwarded = "VIRTUAL Announcements" if spec.platform == "telegram" and rng.random() < 0.01 else None
    return ChatEvent(
        rid,
        ts,
        "message",
        author,
        text=text,
        mood=mood,
        reply_to=reply_to,
        reactions=reactions,
        edited_after=edited,
        forwarded_from=forwarded,
    )


# ---------------------------------------------------------------------------------------------------- texts

_EN_COMMON = {
    "bull": [
        "gm",
        "wagmi",
        "LFG 🚀",
        "VIRTUAL to the moon 🚀",
        "🚀🚀🚀",
        "bullish",
        "lets gooo",
        "up only",
        "this is great",
        "love this project",
        "$VIRTUAL 🔥",
        "wen moon",
    ],
    "bear": [
        "this dip is scary",
        "rug?",
        "ngmi",
        "oof",
        "pain",
        "rekt",
        "dump incoming",
        "not good",
        "so bad",
        "i am worried",
    ],
    "neutral": [
        "gm",
        "lol",
        "ser",
        "anyone here?",
        "wen binance?",
        "ok",
        "thanks",
        "👀",
        "same",
        "hodl",
        "gn",
    ],
}
_ZH_COMMON = {
    "bull": ["涨了", "牛", "上车", "起飞🚀", "冲冲冲", "牛逼", "稳了", "又涨了", "格局打开", "to the moon"],
    "bear": ["要跌了", "割韭菜", "熊", "跌麻了", "亏麻了", "快跑", "又被割了", "完了", "rug了?"],
    "neutral": ["早", "早上好", "哈哈哈", "有人吗", "收到", "+1", "[捂脸]", "[旺柴]", "好的", "看看", "gm"],
}
# Every template has number or price slots, so composed lines rarely repeat verbatim (unlike stock phrases).
_EN_TEMPLATES = {
    "bull": [
        "VIRTUAL at {p} now, {tail}",
        "just bought {n}k more $VIRTUAL {emo}",
        "agents narrative heating up, {pct}% in {d} days, {tail}",
        "{name} called it, up {pct}% this week at {p}",
        "chart looks great, next stop {p2}",
        "holding {n}k VIRTUAL since {month}, not selling",
        "volume is crazy today, {n}M on {venue} {emo}",
        "broke {p} resistance, {tail}",
        "new agent launch looks amazing {link}",
        "good entry around {p} imo, target {p2}",
    ],
    "bear": [
        "down {pct}% today to {p}, this dip is scary",
        "sold {n}k at {p}, too risky for me",
        "whales dumping again, {n}k moved to {venue} 😭",
        "if we lose {p2} support it's over",
        "is this a rug? team silent for {n} hours",
        "lost {n}k on this, terrible week",
        "{p} again... i am worried",
        "bad news {link}",
        "stop loss hit at {p}, so sad",
    ],
    "neutral": [
        "what's the circulating supply of VIRTUAL? saw {n}M somewhere",
        "anyone staking on {venue}? is {pct}% apy real?",
        "where can I buy $VIRTUAL under {p2}, {venue} or {venue2}?",
        "how do I bridge to base? fees were {d}.{n} usd last time",
        "what time is the AMA? {hh}:{mm} UTC?",
        "read this thread {link}",
        "any news about the {thing} update? {n} days late",
        "@{handle} what do you think about {p2}?",
        "price {p} on {venue} right now",
        "how many holders now? {n}k?",
    ],
}
_ZH_TEMPLATES = {
    "bull": [
        "VIRTUAL 现在{p}了，{tail}",
        "刚又买了{n}万个，{tail}",
        "AI agent 板块{d}天涨了{pct}%{emo} VIRTUAL {p}",
        "这周涨了{pct}%，{p}了，牛",
        "突破{p2}就上车，现在{p}",
        "目标价{p2}，稳了",
        "{venue}上{n}M的量，{tail}",
        "{p}拿住别卖，{tail}",
    ],
    "bear": [
        "今天跌了{pct}%，{p}了，要跌了",
        "{p2}支撑破了就快跑",
        "庄家又在割韭菜，{venue}上砸了{n}万个",
        "亏了{n}千U，熊市来了",
        "项目方{n}小时没说话了，是不是跑路了？",
        "别抄底，还要跌到{p2}",
        "{p}又回来了，难受",
        "一根大阴线，{n}千U没了",
    ],
    "neutral": [
        "请问{p2}在{venue}还是{venue2}买VIRTUAL？",
        "{venue}上能买吗？现在{p}",
        "今晚{hh}点{mm}分有AMA吗？",
        "这个链接看看 {link}",
        "流通量是多少？我看到{n}亿",
        "大家怎么看后市？{p2}能到吗",
        "现在价格{p}，怎么操作？",
        "新人报道，{n}号群友，请多关照",
    ],
}
_TAILS_EN = ["lfg", "wagmi", "so bullish", "love it", "great times", "🚀", "moon soon", "easy 2x"]
_TAILS_ZH = ["冲", "稳了", "起飞", "牛", "格局打开", "上车", "🚀"]
_EMOS = ["🚀", "🔥", "💎🙌", "📈", "😎"]
_VENUES = ["gate", "uniswap", "aerodrome", "binance", "okx", "bybit"]
_THINGS = ["genesis", "staking", "agent", "tokenomics", "bridge", "v2"]
_MONTHS = ["jan", "feb", "march", "april", "may", "june", "july", "aug", "sept", "oct", "nov", "dec"]
_HANDLES = ["agent_watch", "onchain_lena", "base_degen", "virtual_notes", "ai_alpha_cn"]
_REACTIONS_BULL = ["👍", "🔥", "🚀", "❤", "😂"]
_REACTIONS_BEAR = ["😢", "🤡", "👎", "😱"]
_STICKERS_BULL = ["🚀", "😎", "🔥", "🥳", "💪"]
_STICKERS_BEAR = ["😭", "🤡", "😱", "💀"]


def _pick(rng: np.random.Generator, options: Sequence[str]) -> str:
    return options[int(rng.integers(len(options)))]


def _compose(rng: np.random.Generator, lang: str, mood: float, price: float) -> str:
    """A chat line whose tone follows ``mood``; a third are stock phrases that repeat verbatim."""
    p_bull = min(max(0.30 + 0.30 * mood, 0.05), 0.9)
    p_bear = min(max(0.22 - 0.22 * mood, 0.03), 0.9)
    u = rng.random()
    tone = "bull" if u < p_bull else "bear" if u < p_bull + p_bear else "neutral"
    common, templates = (_EN_COMMON, _EN_TEMPLATES) if lang == "en" else (_ZH_COMMON, _ZH_TEMPLATES)
    if rng.random() < 0.33:
        options = common[tone]
        # Zipf-like: the first phrases of each list are by far the most common, as in real chats.
        ranks = np.arange(1, len(options) + 1, dtype=float)
        return options[int(rng.choice(len(options), p=(1 / ranks) / (1 / ranks).sum()))]
    template = _pick(rng, templates[tone])
    move = float(rng.uniform(0.02, 0.2)) * (1 if tone != "bear" else -1)
    live = price * math.exp(rng.normal(0.0, 0.015))  # the price quoted moves during the day
    return template.format(
        p=f"{live:.4f}",
        p2=f"{live * (1 + move):.3f}",
        pct=int(rng.integers(3, 40)),
        n=int(rng.integers(1, 200)),
        d=int(rng.integers(2, 9)),
        emo=_pick(rng, _EMOS),
        tail=_pick(rng, _TAILS_EN if lang == "en" else _TAILS_ZH),
        venue=_pick(rng, _VENUES),
        venue2=_pick(rng, _VENUES),
        hh=int(rng.integers(0, 24)),
        mm=f"{int(rng.integers(0, 12)) * 5:02d}",
        thing=_pick(rng, _THINGS),
        month=_pick(rng, _MONTHS),
        handle=_pick(rng, _HANDLES),
        name=_pick(rng, _HANDLES),
        link=_link(rng),
    )


def _link(rng: np.random.Generator) -> str:
    kind = int(rng.integers(3))
    if kind == 0:
        return f"https://x.com/{_pick(rng, _HANDLES)}/status/{int(rng.integers(10**17, 10**18))}"
    if kind == 1:
        return f"https://t.me/virtual_news_demo/{int(rng.integers(100, 9000))}"
    return f"https://medium.com/@{_pick(rng, _HANDLES)}/virtual-agents-{int(rng.integers(1000, 9999))}"


_EN_FIRST = [
    "Alex",
    "Sam",
    "Kai",
    "Mia",
    "Leo",
    "Nina",
    "Omar",
    "Ivy",
    "Ben",
    "Zoe",
    "Raj",
    "Lena",
    "Tom",
    "Yuki",
    "Dan",
    "Eva",
    "Hugo",
    "Jade",
    "Max",
    "Nora",
    "Ravi",
    "Sofia",
    "Theo",
    "Uma",
    "Victor",
    "Wes",
]
_EN_LAST = [
    "Chen",
    "Smith",
    "Nguyen",
    "Kim",
    "Garcia",
    "Patel",
    "Müller",
    "Rossi",
    "Silva",
    "Ivanov",
    "Lee",
    "Park",
]
_EN_HANDLE = ["degen", "moon", "alpha", "whale", "ape", "based", "gwei", "wagmi", "sats", "agent"]
_ZH_CHARS = [
    "伟",
    "芳",
    "杰",
    "静",
    "磊",
    "敏",
    "强",
    "丽",
    "军",
    "洋",
    "勇",
    "艳",
    "涛",
    "明",
    "超",
    "霞",
    "平",
    "刚",
    "桂",
    "鹏",
]
_ZH_PATTERNS = [
    "阿{a}",
    "小{a}",
    "{a}{b}",
    "老{a}",
    "{a}哥",
    "币圈{a}{b}",
    "Web3{a}{b}",
    "{a}{b}🚀",
    "韭菜{a}号",
]
_PINYIN = ["zhang", "wang", "li", "liu", "chen", "yang", "huang", "zhao", "wu", "zhou", "xu", "sun"]


class _NameMaker:
    """Unique synthetic display names and ids per chat (no real people)."""

    def __init__(self, rng: np.random.Generator, platform: str) -> None:
        self.rng = rng
        self.platform = platform
        self.names: set[str] = set()
        self.keys: set[str] = set()

    def make(self, lang: str) -> tuple[str, str, str]:
        rng = self.rng
        if lang == "zh" or (self.platform == "wechat" and rng.random() < 0.5):
            a, b = _pick(rng, _ZH_CHARS), _pick(rng, _ZH_CHARS)
            name = _pick(rng, _ZH_PATTERNS).format(a=a, b=b)
        else:
            style = int(rng.integers(4))
            first = _pick(rng, _EN_FIRST)
            name = (
                f"{first} {_pick(rng, _EN_LAST)}"
                if style == 0
                else f"{_pick(rng, _EN_HANDLE)}_{first.lower()}"
                if style == 1
                else f"{first} | {_pick(rng, ['VIRTUAL', 'AI agents', 'Base'])}"
                if style == 2
                else f"{first.lower()}{int(rng.integers(1, 100))}"
            )
        base, n = name, 2
        while name in self.names:
            name, n = f"{base}{n}", n + 1
        self.names.add(name)
        while True:
            if self.platform == "telegram":
                key = f"user{int(rng.integers(100_000_000, 7_500_000_000))}"
            elif rng.random() < 0.85:
                key = "wxid_" + "".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz0123456789"), 14))
            else:  # a self-chosen WeChat ID
                key = f"{_pick(rng, _PINYIN)}{_pick(rng, _PINYIN)}{int(rng.integers(1970, 2005))}"
            if key not in self.keys:
                break
        self.keys.add(key)
        # The Remark column: mostly the nickname, sometimes the owner's own label for the contact.
        remark = name
        if self.platform == "wechat" and rng.random() < 0.15:
            remark = f"{name}-{_pick(rng, ['群友', '做市', '老乡', '同事', 'KOL'])}"
        return name, re.sub(r'[\\/:*?"<>|\s.]', "_", remark), key


# ---------------------------------------------------------------------------------------------------- writers

_ENTITY_RE = re.compile(r"(\$[A-Z][A-Z0-9]{1,9}\b|https?://[^\s，。]+|@[A-Za-z]\w{3,31}|#\w+)")
_ENTITY_TYPE = {"$": "cashtag", "h": "link", "@": "mention", "#": "hashtag"}


def _local(ts: int) -> datetime:
    return datetime.fromtimestamp(ts, EXPORT_TZ)


def _tg_text(text: str) -> tuple[str | list[object], list[dict[str, str]]]:
    """Telegram's two renderings: ``text`` (string, or list of strings and entities), ``text_entities``."""
    if not text:
        return "", []
    parts = [p for p in _ENTITY_RE.split(text) if p]
    entities = [{"type": _ENTITY_TYPE[p[0]] if _ENTITY_RE.fullmatch(p) else "plain", "text": p} for p in parts]
    if len(entities) == 1 and entities[0]["type"] == "plain":
        return text, entities
    return [e["text"] if e["type"] == "plain" else e for e in entities], entities


def _telegram_record(world: World, ev: ChatEvent) -> dict[str, object]:
    members = world.telegram_members
    rec: dict[str, object] = {
        "id": ev.id,
        "type": "message" if ev.kind in ("message", "sticker", "photo") else "service",
        "date": _local(ev.ts).strftime("%Y-%m-%dT%H:%M:%S"),
        "date_unixtime": str(ev.ts),
    }
    if ev.edited_after:
        rec["edited"] = _local(ev.ts + ev.edited_after).strftime("%Y-%m-%dT%H:%M:%S")
        rec["edited_unixtime"] = str(ev.ts + ev.edited_after)
    who = members[ev.actor]
    if rec["type"] == "service":
        rec["actor"] = who.name
        rec["actor_id"] = who.key
        if ev.kind == "join" and ev.join_method == "link":
            rec["action"] = "join_group_by_link"
            rec["actor"], rec["actor_id"] = members[ev.members[0]].name, members[ev.members[0]].key
            rec["inviter"] = who.name
        elif ev.kind == "join":
            rec["action"] = "invite_members"
            rec["members"] = [members[m].name for m in ev.members]
        else:  # leave (actor == member) or remove (actor = admin)
            rec["action"] = "remove_members"
            rec["members"] = [members[m].name for m in ev.members]
        rec["text"] = ""
        rec["text_entities"] = []
        return rec
    rec["from"] = who.name
    rec["from_id"] = who.key
    if ev.forwarded_from:
        rec["forwarded_from"] = ev.forwarded_from
    if ev.reply_to is not None:
        rec["reply_to_message_id"] = ev.reply_to
    if ev.kind == "photo":
        rec["photo"] = NOT_INCLUDED
        rec["width"], rec["height"] = (1280, 720) if ev.id % 3 else (960, 1280)
    elif ev.kind == "sticker":
        rec["file"] = NOT_INCLUDED
        rec["thumbnail"] = NOT_INCLUDED
        rec["media_type"] = "sticker"
        rec["sticker_emoji"] = ev.emoji
        rec["width"], rec["height"] = 512, 512
    rec["text"], rec["text_entities"] = _tg_text(ev.text)
    if ev.reactions:
        rec["reactions"] = [
            {
                "type": "emoji",
                "count": count,
                "emoji": emoji,
                "recent": [
                    {
                        "from": members[m].name,
                        "from_id": members[m].key,
                        "date": _local(ev.ts + 60 * (k + 1)).strftime("%Y-%m-%dT%H:%M:%S"),
                    }
                    for k, m in enumerate(recent)
                ],
            }
            for emoji, count, recent in ev.reactions
        ]
    return rec


def write_telegram_export(world: World, path: Path) -> None:
    """Write the Telegram Desktop single-chat ``result.json`` of the world's public supergroup."""
    doc = {
        "name": TELEGRAM_NAME,
        "type": "public_supergroup",
        "id": world.telegram_chat_id,
        "messages": [_telegram_record(world, ev) for ev in world.telegram_events],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        json.dump(doc, fh, ensure_ascii=False, indent=1)


def _hex(*parts: object) -> str:
    """A stable 32-hex digest standing in for WeChat's md5/aeskey fields."""
    return hashlib.md5(":".join(map(str, parts)).encode(), usedforsecurity=False).hexdigest()


def _memotrace_row(world: World, ev: ChatEvent) -> list[object]:
    members = world.wechat_members
    who = members[ev.actor]
    head = [ev.id, world.wechat_talker_id]
    when = [ev.ts, ""]
    strtime = _local(ev.ts).strftime("%Y-%m-%d %H:%M:%S")
    if ev.kind in ("join", "recall"):
        if ev.kind == "recall":
            text = f'"{who.name}" 撤回了一条消息'
        elif ev.join_method == "qr":
            text = f'"{members[ev.members[0]].name}"通过扫描"{who.name}"分享的二维码加入群聊'
        else:
            text = f'"{who.name}"邀请"{"、".join(str(members[m].name) for m in ev.members)}"加入了群聊'
        return [*head, 10000, 0, 0, *when, text, strtime, "", "", ""]
    sender = [who.remark, who.name, who.key]
    is_sender = int(who.is_owner)
    if ev.kind == "sticker":
        md5 = _hex(world.seed, ev.id, "emoji")
        text = (
            f'<msg><emoji fromusername="{who.key}" tousername="{world.wechat_chatroom}" type="2" '
            f'idbuffer="media:0_0" md5="{md5}" len="{1000 + int(md5[:4], 16)}" productid="" /></msg>'
        )
        return [*head, 47, 0, is_sender, *when, text, strtime, *sender]
    if ev.kind == "photo":
        md5 = _hex(world.seed, ev.id, "img")
        text = (
            f'<?xml version="1.0"?>\n<msg>\n\t<img aeskey="{_hex(world.seed, ev.id, "key")}" encryver="1" '
            f'length="{20_000 + int(md5[:5], 16)}" md5="{md5}" '
            f'hevc_mid_size="{int(md5[5:9], 16)}" />\n</msg>\n'
        )
        return [*head, 3, 0, is_sender, *when, text, strtime, *sender]
    return [*head, 1, 0, is_sender, *when, ev.text, strtime, *sender]


def write_memotrace_csv(world: World, path: Path) -> None:
    """Write the WeChatMsg/MemoTrace ``<remark>_utf8.csv`` of the world's WeChat group (UTF-8 BOM, CRLF)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8-sig", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(MEMOTRACE_HEADER)
        for ev in world.wechat_events:
            writer.writerow(_memotrace_row(world, ev))


def _num(x: float) -> str:
    return np.format_float_positional(float(x), trim="-")


def write_gate_candles(candles: pd.DataFrame, path: Path) -> None:
    """Write daily candles as Gate's wire rows, ascending, all closed; one row per line for readable diffs."""
    frame = candles.sort_values("ts")
    quote = (
        frame["quote_volume"]
        if "quote_volume" in frame
        else frame["volume"] * (frame["open"] + frame["high"] + frame["low"] + frame["close"]) / 4
    )
    rows = [
        [str(int(ts.timestamp())), _num(q), _num(c), _num(h), _num(lo), _num(o), _num(v), "true"]
        for ts, q, c, h, lo, o, v in zip(
            frame["ts"],
            quote,
            frame["close"],
            frame["high"],
            frame["low"],
            frame["open"],
            frame["volume"],
            strict=True,
        )
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    body = ",\n".join(json.dumps(r, separators=(",", ":")) for r in rows)
    path.write_text(f"[\n{body}\n]\n", encoding="utf-8")


_MESSAGE_KINDS = {"message": ("message", None), "sticker": ("media", "sticker"), "photo": ("media", "image")}


def world_messages(world: World) -> pd.DataFrame:
    """The world's records as the readers would parse them from its exports (messages-table columns).

    One row per joined or removed member, as the readers emit; WeChat leaves are not recorded (as in the
    real export). author_id is the raw member key prefixed by the platform (no pseudonymisation: this frame
    feeds simulations, never the lake). Skips the file round trip, which costs seconds per world.
    """
    rows: list[dict[str, object]] = []
    chats = (
        ("telegram", str(world.telegram_chat_id), world.telegram_members, world.telegram_events),
        ("wechat", world.wechat_chatroom, world.wechat_members, world.wechat_events),
    )
    for platform, chat_id, members, events in chats:
        for ev in events:
            base: dict[str, object] = {"platform": platform, "chat_id": chat_id, "message_id": str(ev.id), "ts": ev.ts}
            actor = f"{platform}:{members[ev.actor].key}"
            if ev.kind in _MESSAGE_KINDS:
                kind, media_type = _MESSAGE_KINDS[ev.kind]
                rows.append(
                    base
                    | {
                        "author_id": actor,
                        "kind": kind,
                        "media_type": media_type,
                        "text": ev.text or None,
                        "reply_to": None if ev.reply_to is None else str(ev.reply_to),
                        "is_forward": ev.forwarded_from is not None,
                        "reactions": sum(c for _, c, _ in ev.reactions) if ev.reactions else None,
                    }
                )
            elif ev.kind == "recall":
                rows.append(base | {"author_id": actor, "kind": "recall"})
            else:  # join / leave / remove: one row per member
                for n, m in enumerate(ev.members, start=1):
                    row = base | {"author_id": f"{platform}:{members[m].key}", "kind": ev.kind}
                    if len(ev.members) > 1:
                        row["message_id"] = f"{ev.id}#{n}"
                    if ev.kind == "join":
                        row["join_method"] = "self" if ev.join_method == "invite" and m == ev.actor else ev.join_method
                    rows.append(row)
    frame = pd.DataFrame(rows)
    frame["ts"] = pd.to_datetime(frame["ts"], unit="s", utc=True).astype("datetime64[us, UTC]")
    for col in ("media_type", "text", "reply_to", "join_method"):
        if col not in frame:
            frame[col] = None
    frame["is_forward"] = frame["is_forward"].astype("boolean").fillna(False).astype(bool)
    frame["reactions"] = pd.to_numeric(frame["reactions"], errors="coerce").astype("Int32")
    return frame


def world_prices(world: World, symbol: str = "VIRTUAL/USDT", market_symbol: str = "BTC/USDT") -> pd.DataFrame:
    """The world's daily candles as prices-table rows (exchange "sim"), token and market factor."""
    parts = []
    for sym, candles in ((symbol, world.token_candles), (market_symbol, world.btc_candles)):
        part = candles[["ts", "open", "high", "low", "close", "volume"]].copy()
        part["ts"] = pd.to_datetime(part["ts"], utc=True)
        parts.append(part.assign(exchange="sim", symbol=sym, timeframe="1d"))
    return pd.concat(parts, ignore_index=True)


def write_sample(out: Path, weeks: int, seed: int, effect: float) -> World:
    """Simulate and write the bundled sample tree under ``out``; returns the world it wrote."""
    world = simulate_world(weeks, seed, effect)
    write_telegram_export(world, out / "chats" / "telegram" / "result.json")
    write_memotrace_csv(world, out / "chats" / "wechat" / WECHAT_REMARK / f"{WECHAT_REMARK}_utf8.csv")
    candles = out / "exchange" / "gate" / "spot_candlesticks"
    write_gate_candles(world.token_candles, candles / "VIRTUAL_USDT_1d.json")
    write_gate_candles(world.btc_candles, candles / "BTC_USDT_1d.json")
    return world


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m sentiment.sandbox.simulate --out data/sample --seed 7 --weeks 52 --effect 0.5``."""
    parser = argparse.ArgumentParser(prog="python -m sentiment.sandbox.simulate", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("data/sample"))
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--effect", type=float, default=0.5)
    args = parser.parse_args(argv)
    write_sample(args.out, args.weeks, args.seed, args.effect)


if __name__ == "__main__":
    main()
