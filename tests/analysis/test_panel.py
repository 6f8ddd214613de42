"""Tests for sentiment.analysis.panel: pooled lead-lag with two-way fixed effects and Driscoll-Kraay errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sentiment.analysis.leadlag import agrees, lead_lag
from sentiment.analysis.panel import PANEL_COLUMNS, _lagged, _Pairs, _pooled, panel_lead_lag
from sentiment.errors import AnalysisError

WEEKS = pd.date_range("2024-01-01", periods=104, freq="7D", tz="UTC")


def panel(seed: int, effect: float, *, communities: int = 8, shock_lead: float = 0.0) -> dict[str, pd.DataFrame]:
    """Communities whose buzz of week t moves their token's return of week t+1 by ``effect`` (correlation
    scale), plus a market shock that lifts every community's buzz in week t and every token in week t+1."""
    rng = np.random.default_rng(seed)
    shock = rng.normal(size=104)
    out = {}
    for i in range(communities):
        own = rng.normal(size=104)
        buzz = own + shock
        ret = rng.normal(size=104)
        ret[1:] += effect * own[:-1] + shock_lead * shock[:-1]
        out[f"T{i}/USDT"] = pd.DataFrame(
            {"week_start": WEEKS, "buzz": buzz, "noise": rng.normal(size=104), "excess_log_return": ret}
        )
    return out


def relation(result: dict, feature: str, lag: int) -> pd.Series:
    rel = result["relations"]
    return rel[(rel["feature"] == feature) & (rel["lag_weeks"] == lag)].iloc[0]


def test_pooling_finds_a_lead_too_weak_for_one_community() -> None:
    """A lead of 0.2 in each of 8 communities is significant pooled, with n and n_symbols, and carries each
    community's own slope."""
    data = panel(1, 0.2)
    result = panel_lead_lag(data, ["buzz", "noise"])
    assert list(result["relations"].columns) == PANEL_COLUMNS
    lead = relation(result, "buzz", 1)
    assert lead["significant"] and lead["ci_low"] > 0 and lead["primary"]
    assert lead["n_symbols"] == 8 and lead["n"] == 8 * 103 and lead["n_periods"] == 103
    alone = [lead_lag(frame, ["buzz", "noise"], target="excess_log_return") for frame in data.values()]
    found_alone = sum(bool(r[(r["lag_weeks"] == 1) & (r["feature"] == "buzz")]["significant"].iloc[0]) for r in alone)
    assert found_alone <= 4
    per = result["per_symbol"]
    assert set(per["symbol"]) == set(data) and len(per) == 8 * 2 * 9


def test_a_market_shock_shared_by_all_tokens_is_no_community_effect() -> None:
    """Buzz and next week's returns share a market shock: alone each community shows a 'lead', pooled with time
    fixed effects shows none."""
    data = panel(2, 0.0, shock_lead=0.6)
    alone = [lead_lag(frame, ["buzz"], target="excess_log_return") for frame in data.values()]
    assert sum(bool(r.loc[r["lag_weeks"] == 1, "significant"].iloc[0]) for r in alone) >= 4
    result = panel_lead_lag(data, ["buzz", "noise"])
    assert not result["relations"]["significant"].any()


def test_flag_and_interval_agree_on_every_panel_row() -> None:
    """The panel uses the single-community rule: flagged rows exclude 0, unflagged include it."""
    for seed in range(3):
        rel = panel_lead_lag(panel(10 + seed, 0.15 * seed), ["buzz", "noise"])["relations"]
        assert rel["q_value"].notna().all() and agrees(rel).all()


def test_heterogeneity_is_high_when_communities_disagree() -> None:
    """I^2 near 0 when every community has the same lead, high when half have the opposite sign."""
    same = relation(panel_lead_lag(panel(3, 0.4), ["buzz"]), "buzz", 1)
    data = panel(3, 0.4)
    for i, frame in enumerate(data.values()):
        if i % 2:
            frame["buzz"] = -frame["buzz"]
    mixed = relation(panel_lead_lag(data, ["buzz"]), "buzz", 1)
    assert same["i_squared"] < 0.3 < 0.7 < mixed["i_squared"]
    assert mixed["heterogeneity_p"] < 0.001


def test_driscoll_kraay_matches_linearmodels_panelols() -> None:
    """The fast path gives PanelOLS's two-way slope, Driscoll-Kraay and homoskedastic errors on an unbalanced
    panel, and uses the larger of the two errors."""
    from linearmodels.panel import PanelOLS

    rng = np.random.default_rng(4)
    rows = [(i, t) for i in range(6) for t in range(40) if rng.random() > 0.15]
    entity = np.array([r[0] for r in rows])
    period = np.array([r[1] for r in rows])
    x = rng.normal(size=len(rows)) + 0.5 * np.sin(period)
    y = 0.3 * x + np.cos(period) + 0.2 * entity + rng.normal(size=len(rows))
    mine = _pooled(_Pairs([f"S{i}" for i in range(6)], entity, period, x, y))
    frame = pd.DataFrame({"e": entity, "t": period, "x": x, "y": y}).set_index(["e", "t"])
    ref = PanelOLS(frame["y"], frame[["x"]], entity_effects=True, time_effects=True).fit(
        cov_type="kernel", kernel="bartlett"
    )
    assert mine["estimate"] == pytest.approx(float(ref.params["x"]), rel=1e-9)
    assert mine["se_driscoll_kraay"] == pytest.approx(float(ref.std_errors["x"]), rel=1e-7)
    plain = PanelOLS(frame["y"], frame[["x"]], entity_effects=True, time_effects=True).fit(cov_type="unadjusted")
    assert mine["se_homoskedastic"] == pytest.approx(float(plain.std_errors["x"]), rel=1e-7)
    assert mine["se"] == max(mine["se_driscoll_kraay"], mine["se_homoskedastic"])


def test_pairs_are_standardised_within_each_community() -> None:
    """x and y are z-scores within each community, so a big community does not dominate by scale."""
    data = panel(5, 0.3, communities=2)
    data["T1/USDT"]["buzz"] *= 1000
    from sentiment.analysis.panel import _blocks, panel_table

    pairs = _lagged(
        _blocks(panel_table(data, ["buzz", "excess_log_return"]), "week_start", WEEKS[1] - WEEKS[0]),
        "buzz",
        "excess_log_return",
        1,
    )
    for i in range(2):
        mine = pairs.entity == i
        assert pairs.x[mine].std(ddof=1) == pytest.approx(1.0) and abs(pairs.x[mine].mean()) < 1e-12


def test_needs_two_communities() -> None:
    """It refuses a panel of one community."""
    with pytest.raises(AnalysisError, match="at least two"):
        panel_lead_lag(panel(6, 0.0, communities=1), ["buzz"])
