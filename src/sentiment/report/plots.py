"""The report's figures as PNG bytes, drawn with matplotlib's Agg canvas (no pyplot, no global state)."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

__all__ = ["engagement_png", "flagged_png", "joins_png", "leadlag_png", "predictions_png", "timeline_png"]


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    return buf.getvalue()


def _dates(values: pd.Series) -> pd.Series:
    """Week starts as naive UTC datetimes, which matplotlib's date axis takes without tz surprises."""
    stamps = pd.to_datetime(values, utc=True)
    return stamps.dt.tz_convert(None)


def _no_data(fig: Figure, title: str) -> bytes:
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.text(0.5, 0.5, f"{title}: no data", ha="center", va="center")
    return _png(fig)


def timeline_png(weekly: pd.DataFrame, symbol: str) -> bytes:
    """Weekly close (left axis) against messages and mean compound (right axes) over time."""
    fig = Figure(figsize=(10, 4))
    if weekly.empty or "week_start" not in weekly.columns:
        return _no_data(fig, "Timeline")
    frame = weekly.sort_values("week_start")
    weeks = _dates(frame["week_start"])
    ax = fig.add_subplot()
    handles = []
    if "close" in frame.columns:
        handles += ax.plot(weeks, frame["close"], color="tab:blue", label=f"{symbol} close")
    ax.set_ylabel("close")
    if "messages" in frame.columns:
        ax2 = ax.twinx()
        handles += ax2.plot(weeks, frame["messages"], color="tab:orange", alpha=0.8, label="messages")
        ax2.set_ylabel("messages / week")
    if "mean_compound" in frame.columns:
        ax3 = ax.twinx()
        ax3.spines["right"].set_position(("axes", 1.1))
        handles += ax3.plot(weeks, frame["mean_compound"], color="tab:green", alpha=0.8, label="mean compound")
        ax3.set_ylabel("mean compound")
    ax.legend(handles=handles, loc="upper left", fontsize="small")
    ax.set_title(f"{symbol}: price, activity and mood by week")
    return _png(fig)


def leadlag_png(relations: pd.DataFrame) -> bytes:
    """Spearman estimate against lag with its intervals (the level that matches the flag), one line per feature."""
    fig = Figure(figsize=(10, 4.5))
    if relations.empty:
        return _no_data(fig, "Lead-lag")
    ax = fig.add_subplot()
    features = list(dict.fromkeys(relations["feature"]))
    # Small horizontal offsets keep the intervals of different features from hiding each other.
    offsets = np.linspace(-0.3, 0.3, len(features)) if len(features) > 1 else np.zeros(1)
    for feature, offset in zip(features, offsets, strict=True):
        rows = relations[relations["feature"] == feature].sort_values("lag_weeks")
        lags = rows["lag_weeks"].to_numpy(dtype=float) + offset
        est = rows["estimate"].to_numpy(dtype=float)
        err = np.vstack([est - rows["ci_low"].to_numpy(dtype=float), rows["ci_high"].to_numpy(dtype=float) - est])
        ax.errorbar(lags, est, yerr=np.nan_to_num(err), marker="o", ms=3, capsize=2, lw=1, label=feature)
    ax.axhline(0, color="grey", lw=0.8)
    ax.axvline(0, color="grey", lw=0.8, ls=":")
    ax.set_xlabel("lag_weeks k (feature of week t vs return of week t+k; k > 0: community leads)")
    ax.set_ylabel("Spearman rho")
    ax.legend(fontsize="x-small", loc="center left", bbox_to_anchor=(1.01, 0.5))
    ax.set_title("Lead-lag correlations with multiplicity-adjusted intervals")
    return _png(fig)


def predictions_png(predictions: pd.DataFrame | None) -> bytes:
    """Out-of-sample predicted vs actual next-week return, with the historical-mean baseline."""
    fig = Figure(figsize=(10, 4))
    if predictions is None or predictions.empty:
        return _no_data(fig, "Out-of-sample predictions")
    weeks = _dates(predictions["week_start"])
    ax = fig.add_subplot()
    ax.plot(weeks, predictions["actual"], color="black", lw=1, marker=".", label="actual")
    ax.plot(weeks, predictions["predicted"], color="tab:red", lw=1.2, label="ridge (walk-forward)")
    ax.plot(weeks, predictions["baseline_mean"], color="tab:blue", lw=1, ls="--", label="historical mean")
    ax.axhline(0, color="grey", lw=0.8)
    ax.set_ylabel("next-week log return")
    ax.legend(fontsize="small")
    ax.set_title("Out-of-sample forecasts vs actual")
    return _png(fig)


def _stacked(weekly: pd.DataFrame, columns: list[tuple[str, str]], title: str, ylabel: str) -> bytes:
    fig = Figure(figsize=(10, 3.5))
    present = [(c, label) for c, label in columns if c in weekly.columns]
    if weekly.empty or "week_start" not in weekly.columns or not present:
        return _no_data(fig, title)
    frame = weekly.sort_values("week_start")
    ax = fig.add_subplot()
    values = [frame[c].astype(float).fillna(0).to_numpy() for c, _ in present]
    ax.stackplot(_dates(frame["week_start"]), values, labels=[label for _, label in present], alpha=0.85)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize="small", loc="upper left")
    ax.set_title(title)
    return _png(fig)


def joins_png(weekly: pd.DataFrame) -> bytes:
    """Weekly joins stacked by method (invite, link, QR code, self)."""
    methods = [(f"joins_{m}", m) for m in ("invite", "link", "qr", "self")]
    return _stacked(weekly, methods, "Joins by method", "joins / week")


def engagement_png(weekly: pd.DataFrame) -> bytes:
    """Weekly posts stacked by engagement class (interactive, content sharing, passive)."""
    classes = [("interactive_posts", "interactive"), ("content_posts", "content sharing"), ("passive_posts", "passive")]
    return _stacked(weekly, classes, "Engagement mix", "posts / week")


def flagged_png(weekly: pd.DataFrame) -> bytes:
    """Messages and new authors z-scores, with coordinated-spike weeks marked and their returns annotated."""
    fig = Figure(figsize=(10, 3.5))
    if weekly.empty or "messages_z" not in weekly.columns:
        return _no_data(fig, "Anomalies")
    frame = weekly.sort_values("week_start")
    weeks = _dates(frame["week_start"])
    ax = fig.add_subplot()
    ax.plot(weeks, frame["messages_z"], lw=1, label="messages z")
    if "new_authors_z" in frame.columns:
        ax.plot(weeks, frame["new_authors_z"], lw=1, label="new authors z")
    ax.axhline(2, color="grey", lw=0.8, ls="--")
    flags = frame["spike_flag"].astype("boolean").fillna(False).to_numpy(dtype=bool)
    returns = frame.reindex(columns=["log_return", "next_log_return"]).astype(float)[flags]
    for week, ret, nxt in zip(weeks[flags], returns["log_return"], returns["next_log_return"], strict=True):
        ax.axvline(week, color="tab:red", alpha=0.4)
        ax.annotate(f"r={ret:+.2f}, next={nxt:+.2f}", (week, 2), fontsize="x-small", rotation=90, va="bottom")
    ax.set_ylabel("z vs trailing 8 weeks")
    ax.legend(fontsize="small", loc="upper left")
    ax.set_title("Anomalies: coordinated-spike weeks (red) with same and next week's log return")
    return _png(fig)
