"""Power and false-positive checks of the analyses on seeded synthetic worlds (simulate -> features -> tests)."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from sentiment.analysis.suite import ACTIVITY_FEATURES, TEXT_FEATURES, add_model_features, analyse_weekly
from sentiment.features import weekly_community_features
from sentiment.prices.weekly import weekly_bars
from sentiment.sandbox.simulate import simulate_world, world_messages, world_prices
from sentiment.scoring import VaderScorer, score_messages

__all__ = ["SeedOutcome", "false_positive", "planted_effect_found", "run_seed", "weekly_from_messages"]

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


def weekly_from_messages(
    messages: pd.DataFrame, prices: pd.DataFrame, scorer: VaderScorer, now: pd.Timestamp
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
    weekly = features[features["scope"] == "all"].merge(bars[bars["symbol"] == SYMBOL], on="week_start")
    return add_model_features(weekly.sort_values("week_start").reset_index(drop=True))


def planted_effect_found(relations: pd.DataFrame) -> bool:
    """A traffic feature of week t significantly and positively related to the return of week t+1."""
    hit = relations[
        relations["feature"].isin(LEAD_FEATURES)
        & (relations["lag_weeks"] == 1)
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
    real = sig["feature"].isin(TEXT_FEATURES) & (sig["lag_weeks"] == 0)
    assert set(ACTIVITY_FEATURES).isdisjoint(TEXT_FEATURES)
    return bool((~real).any())


def run_seed(
    seed: int,
    effect: float,
    *,
    weeks: int = 104,
    chat_scale: float = 1.0,
    n_boot: int = 0,
    scorer: VaderScorer | None = None,
    target: str = "log_return",
) -> SeedOutcome:
    """Simulate one world and run the lead-lag family on it (no forecast: the relations are what is scored)."""
    world = simulate_world(weeks, seed, effect, chat_scale=chat_scale)
    now = pd.Timestamp("2030-01-01", tz="UTC")
    prices = world_prices(world, SYMBOL, MARKET)
    weekly = weekly_from_messages(world_messages(world), prices, scorer or VaderScorer(), now)
    result = analyse_weekly(weekly, target=target, n_boot=n_boot, seed=seed, predict=False, granger_tests=False)
    relations = result["relations"]
    return SeedOutcome(seed, effect, planted_effect_found(relations), false_positive(relations), result["n_weeks"])
