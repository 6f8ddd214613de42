"""Power and false-positive checks of the analyses on seeded synthetic worlds (simulate -> features -> tests)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from sentiment.analysis.leadlag import agrees
from sentiment.analysis.suite import (
    ACTIVITY_FEATURES,
    COMMUNITY_FEATURES,
    TEXT_FEATURES,
    add_model_features,
    analyse_weekly,
)
from sentiment.features import weekly_community_features
from sentiment.prices.weekly import weekly_bars
from sentiment.sandbox.simulate import simulate_panel, simulate_world, world_messages, world_prices
from sentiment.scoring import VaderScorer, score_messages

__all__ = [
    "PanelOutcome",
    "SeedOutcome",
    "false_positive",
    "planted_effect_found",
    "run_daily_seed",
    "run_panel_seed",
    "run_seed",
    "weekly_from_messages",
]

SYMBOL = "VIRTUAL/USDT"
MARKET = "BTC/USDT"
# Features that count the community's size and traffic: the planted lead runs through these.
LEAD_FEATURES = ("log_messages", "log_active_authors", "log_new_authors", "log_joins", "log_token_mentions")


@dataclass(frozen=True)
class SeedOutcome:
    seed: int
    effect: float
    found: bool  # the planted lead was detected
    false_positive: bool  # some relation the world does not contain was called significant
    n: int  # weeks with a known return
    agrees: bool = True  # every row's flag agrees with its interval (issue 15's one significance rule)


def weekly_from_messages(
    messages: pd.DataFrame, prices: pd.DataFrame, scorer: VaderScorer, now: pd.Timestamp, symbol: str = SYMBOL
) -> pd.DataFrame:
    """Scope-all weekly rows for SYMBOL: the pipeline's features and bars, with model features added."""
    scores = score_messages(messages, scorer, now)
    merged = messages.merge(
        scores[["platform", "chat_id", "message_id", "compound", "label"]],
        on=["platform", "chat_id", "message_id"],
        how="left",
    )
    merged["label"] = merged["label"].fillna("unscored")
    features = weekly_community_features(merged, aliases=("VIRTUAL",), per_chat=False)
    bars = weekly_bars(prices, market_symbol=MARKET)
    weekly = features[features["scope"] == "all"].merge(bars[bars["symbol"] == symbol], on="week_start")
    return add_model_features(weekly.sort_values("week_start").reset_index(drop=True))


def _lags(relations: pd.DataFrame) -> pd.Series:
    return relations["lag_weeks"] if "lag_weeks" in relations.columns else relations["lag_days"]


def planted_effect_found(relations: pd.DataFrame) -> bool:
    """A traffic feature of bar t significantly and positively related to the return of bar t+1."""
    hit = relations[
        relations["feature"].isin(LEAD_FEATURES)
        & (_lags(relations) == 1)
        & relations["significant"]
        & (relations["estimate"] > 0)
    ]
    return not hit.empty


def false_positive(relations: pd.DataFrame) -> bool:
    """Any significant relation a null world (effect 0) does not contain.

    The simulated world builds each week's mood from that week's return, so text-derived features (scores,
    wording, links) truly move with the same week's price: lag 0 of TEXT_FEATURES is real, like the token's
    co-movement with BTC, and is not counted. Everything else is: any feature at any other lag, and the
    traffic features (ACTIVITY_FEATURES) at lag 0 too.
    """
    sig = relations[relations["significant"]]
    real = sig["feature"].isin(TEXT_FEATURES) & (_lags(sig) == 0)
    assert set(ACTIVITY_FEATURES).isdisjoint(TEXT_FEATURES)
    return bool((~real).any())


def run_seed(
    seed: int,
    effect: float,
    *,
    weeks: int = 104,
    chat_scale: float = 1.0,
    scorer: VaderScorer | None = None,
    target: str = "log_return",
) -> SeedOutcome:
    """Simulate one world and run the lead-lag family on it (no forecast: the relations are what is scored)."""
    world = simulate_world(weeks, seed, effect, chat_scale=chat_scale)
    now = pd.Timestamp("2030-01-01", tz="UTC")
    prices = world_prices(world, SYMBOL, MARKET)
    weekly = weekly_from_messages(world_messages(world), prices, scorer or VaderScorer(), now)
    result = analyse_weekly(weekly, target=target, seed=seed, predict=False, granger_tests=False)
    relations = result["relations"]
    return SeedOutcome(
        seed,
        effect,
        planted_effect_found(relations),
        false_positive(relations),
        result["n_weeks"],
        bool(agrees(relations).all() and relations["q_value"].notna().any()),
    )


@dataclass(frozen=True)
class PanelOutcome:
    seed: int
    effect: float
    found: bool  # the pooled analysis found the planted lead
    false_positive: bool  # the pooled analysis called a relation the world does not contain significant
    found_alone: tuple[bool, ...]  # per community: its own report found the planted lead
    false_positive_alone: tuple[bool, ...]  # per community: its own report made a false claim
    agrees: bool  # flag and interval agree on every tested row, pooled and per community


def run_panel_seed(
    seed: int,
    effect: float,
    *,
    communities: int = 8,
    weeks: int = 104,
    chat_scale: float = 0.3,
    scorer: VaderScorer | None = None,
    target: str = "excess_log_return",
    activity_loading: float = 1.0,
    return_loading: float = 0.25,
) -> PanelOutcome:
    """Simulate a panel world (shared BTC and market shock), run each community's lead-lag and the pooled one."""
    from sentiment.analysis.panel import panel_lead_lag

    worlds = simulate_panel(
        communities,
        weeks,
        seed,
        effect,
        chat_scale=chat_scale,
        activity_loading=activity_loading,
        return_loading=return_loading,
    )
    now = pd.Timestamp("2030-01-01", tz="UTC")
    scorer = scorer or VaderScorer()
    weeklies: dict[str, pd.DataFrame] = {}
    alone: list[pd.DataFrame] = []
    for i, world in enumerate(worlds):
        symbol = f"TOK{i}/USDT"
        weekly = weekly_from_messages(world_messages(world), world_prices(world, symbol, MARKET), scorer, now, symbol)
        weeklies[symbol] = weekly
        result = analyse_weekly(weekly, target=target, predict=False, granger_tests=False)
        alone.append(result["relations"])
    pooled = panel_lead_lag(weeklies, COMMUNITY_FEATURES, target=target, per_symbol=False)["relations"]
    every = [pooled, *alone]
    return PanelOutcome(
        seed,
        effect,
        planted_effect_found(pooled),
        false_positive(pooled),
        tuple(planted_effect_found(r) for r in alone),
        tuple(false_positive(r) for r in alone),
        all(bool(agrees(r).all() and r["q_value"].notna().any()) for r in every),
    )


def run_daily_seed(
    seed: int,
    effect: float,
    *,
    days: int = 365,
    chat_scale: float = 1.0,
    scorer: VaderScorer | None = None,
    target: str = "excess_log_return",
) -> SeedOutcome:
    """A daily world (one-day planted lead) analysed at ``freq="1d"``: daily features, daily bars, lead-lag."""
    from sentiment.prices.weekly import daily_bars

    world = simulate_world(days, seed, effect, chat_scale=chat_scale, bar_days=1)
    now = pd.Timestamp("2030-01-01", tz="UTC")
    messages = world_messages(world)
    scores = score_messages(messages, scorer or VaderScorer(), now)
    merged = messages.merge(
        scores[["platform", "chat_id", "message_id", "compound", "label"]],
        on=["platform", "chat_id", "message_id"],
        how="left",
    )
    merged["label"] = merged["label"].fillna("unscored")
    features = weekly_community_features(merged, aliases=("VIRTUAL",), per_chat=False, freq="1d")
    bars = daily_bars(world_prices(world, SYMBOL, MARKET), market_symbol=MARKET)
    daily = features.merge(bars[bars["symbol"] == SYMBOL], on="day")
    daily = add_model_features(daily.sort_values("day").reset_index(drop=True), time_col="day")
    result = analyse_weekly(daily, target=target, predict=False, granger_tests=False, freq="1d")
    relations = result["relations"]
    return SeedOutcome(
        seed,
        effect,
        planted_effect_found(relations),
        false_positive(relations),
        result["n_weeks"],
        bool(agrees(relations).all() and relations["q_value"].notna().any()),
    )
