"""The report's figures as PNG bytes, drawn with matplotlib's Agg canvas (no pyplot, no global state).

One palette for the whole report: price is always dark blue, activity orange, mood teal, flags red, forecasts
purple; every axis names its unit. Figures are 10 inches wide at 100 dpi, i.e. 1000 px, which fits a laptop
screen without scaling the text below legibility.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from sentiment.analysis.leadlag import bar_grid  # the scatter pairs bars exactly as the test does

__all__ = [
    "COLOURS",
    "engagement_png",
    "flagged_png",
    "heatmap_png",
    "joins_png",
    "leadlag_png",
    "predictions_png",
    "scatter_png",
    "timeline_png",
]

COLOURS = {
    "price": "#1f4e79",
    "activity": "#d9822b",
    "mood": "#2a9d8f",
    "flag": "#c0392b",
    "model": "#7b3294",
    "baseline": "#7f7f7f",
    "grid": "#e6e6e6",
}
# Categorical colours for stacked parts (joins by method, engagement classes), kept apart from the above.
_PARTS = ("#4e79a7", "#f28e2b", "#59a14f", "#b07aa1")
WIDTH = 10.0


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


def _style(ax: Any) -> None:
    ax.grid(True, color=COLOURS["grid"], lw=0.8)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _flags(frame: pd.DataFrame) -> np.ndarray:
    if "spike_flag" not in frame.columns:
        return np.zeros(len(frame), dtype=bool)
    return frame["spike_flag"].astype("boolean").fillna(False).to_numpy(dtype=bool)


def timeline_png(weekly: pd.DataFrame, symbol: str, *, unit: str = "week") -> bytes:
    """Price, activity and mood as three aligned panels sharing one time axis (bars of one ``unit``: week or day,
    laid out under week_start); flagged bars shaded red."""
    fig = Figure(figsize=(WIDTH, 6.2))
    if weekly.empty or "week_start" not in weekly.columns:
        return _no_data(fig, "Timeline")
    frame = weekly.sort_values("week_start")
    weeks = _dates(frame["week_start"])
    quote = symbol.split("/")[-1] if "/" in symbol else "quote currency"
    axes = fig.subplots(3, 1, sharex=True, gridspec_kw={"height_ratios": [1.4, 1, 1], "hspace": 0.12})
    panels = (
        ("close", f"close ({quote})", COLOURS["price"], "line"),
        ("messages", f"messages / {unit}", COLOURS["activity"], "bar"),
        ("mean_compound", "mean mood\n(compound, −1…1)", COLOURS["mood"], "line"),
    )
    flags = _flags(frame)
    days = 7 if unit == "week" else 1
    for ax, (col, label, colour, kind) in zip(axes, panels, strict=True):
        _style(ax)
        ax.set_ylabel(label)
        if col not in frame.columns:
            ax.text(0.5, 0.5, "no data", transform=ax.transAxes, ha="center", va="center")
            continue
        values = pd.to_numeric(frame[col], errors="coerce").astype(float)
        if kind == "bar":
            ax.bar(weeks, values, width=days * 5 / 7, color=colour, alpha=0.85)
        else:
            ax.plot(weeks, values, color=colour, lw=1.6, marker="o", ms=2.5)
        for week in weeks[flags]:
            span = (week - pd.Timedelta(days=days / 14), week + pd.Timedelta(days=days * 15 / 14))
            ax.axvspan(*span, color=COLOURS["flag"], alpha=0.15)
    if "mean_compound" in frame.columns:
        axes[2].axhline(0, color=COLOURS["baseline"], lw=0.8)
    if flags.any() and "close" in frame.columns:
        closes = pd.to_numeric(frame["close"], errors="coerce").to_numpy(dtype=float)
        axes[0].scatter(weeks[flags], closes[flags], color=COLOURS["flag"], zorder=3, s=28, label=f"flagged {unit}")
        axes[0].legend(loc="best", fontsize="small", frameon=True, framealpha=0.85)
    axes[0].set_title(f"{symbol}: price, activity and mood by {unit} (red: flagged spike {unit}s)", loc="left")
    axes[2].set_xlabel(f"{unit} (UTC)")
    return _png(fig)


def heatmap_png(
    relations: pd.DataFrame, *, min_n: int = 0, labels: Mapping[str, str] | None = None, unit: str = "week"
) -> bytes:
    """Feature x lag grid of Spearman estimates; significant cells outlined and starred, untestable ones hatched.

    Cells with fewer than ``min_n`` paired weeks, or no estimate, are shown as "n/a" rather than as a colour.
    """
    features = list(dict.fromkeys(relations["feature"])) if not relations.empty else []
    fig = Figure(figsize=(WIDTH, max(2.6, 0.42 * len(features) + 1.6)))
    if not features:
        return _no_data(fig, "Lead-lag heatmap")
    lags = sorted({int(v) for v in relations["lag_weeks"]})
    grid = np.full((len(features), len(lags)), np.nan)
    sig = np.zeros_like(grid, dtype=bool)
    for r in relations.itertuples(index=False):
        i, j = features.index(r.feature), lags.index(int(r.lag_weeks))
        n = int(r.n) if hasattr(r, "n") and pd.notna(r.n) else 0
        if n >= min_n and pd.notna(r.estimate):
            grid[i, j] = float(r.estimate)
            sig[i, j] = bool(getattr(r, "significant", False))
    ax = fig.add_subplot()
    bound = max(0.2, float(np.nanmax(np.abs(grid)))) if np.isfinite(grid).any() else 1.0
    image = ax.imshow(np.ma.masked_invalid(grid), cmap="RdBu_r", norm=TwoSlopeNorm(0, -bound, bound), aspect="auto")
    for i in range(len(features)):
        for j in range(len(lags)):
            value = grid[i, j]
            if np.isnan(value):
                ax.add_patch(Rectangle((j - 0.5, i - 0.5), 1, 1, fill=False, hatch="///", ec="#bbbbbb", lw=0))
                ax.text(j, i, "n/a", ha="center", va="center", fontsize=8, color="#888888")
                continue
            dark = abs(value) > 0.6 * bound
            text = f"{value:+.2f}" + ("*" if sig[i, j] else "")
            ax.text(
                j,
                i,
                text,
                ha="center",
                va="center",
                fontsize=8.5,
                color="white" if dark else "#222222",
                fontweight="bold" if sig[i, j] else "normal",
            )
            if sig[i, j]:
                ax.add_patch(Rectangle((j - 0.47, i - 0.47), 0.94, 0.94, fill=False, ec="black", lw=2))
    names = [(labels or {}).get(f, f) for f in features]
    ax.set_yticks(range(len(features)), names)
    ax.set_xticks(range(len(lags)), [f"{k:+d}" if k else "0" for k in lags])
    if 0 in lags and max(lags) > 0:
        ax.axvline(lags.index(0) + 0.5, color="black", lw=1.2)
        ax.text(lags.index(0) + 0.55, -0.7, "community leads →", fontsize=9, va="bottom", ha="left")
    if min(lags) < 0 and 0 in lags:
        ax.text(lags.index(0) - 0.55, -0.7, "← price leads", fontsize=9, va="bottom", ha="right")
    ax.set_xlabel(f"lag k in {unit}s (feature of {unit} t vs return of {unit} t+k)")
    ax.set_title(
        "Lead-lag Spearman rho by feature and lag  (* and outline: significant after correction)", loc="left", pad=22
    )
    cbar = fig.colorbar(image, ax=ax, fraction=0.03, pad=0.02)
    cbar.set_label("Spearman rho")
    return _png(fig)


def leadlag_png(relations: pd.DataFrame, *, min_n: int = 0) -> bytes:
    """The lead-lag figure: the feature x lag heatmap (kept under its old name for callers of the old chart)."""
    return heatmap_png(relations, min_n=min_n)


def scatter_png(
    weekly: pd.DataFrame,
    feature: str,
    lag_weeks: int,
    target: str,
    *,
    title: str | None = None,
    xlabel: str | None = None,
    ylabel: str | None = None,
    unit: str = "week",
) -> bytes:
    """Feature of bar t against the target of bar t+lag (bars of one ``unit``, laid out under week_start), with a
    least-squares line drawn to guide the eye."""

    fig = Figure(figsize=(WIDTH * 0.62, 4.2))
    if weekly.empty or feature not in weekly.columns or target not in weekly.columns:
        return _no_data(fig, "Strongest relation")
    grid = bar_grid(weekly, "1d" if unit == "day" else "1w")
    pair = pd.DataFrame(
        {
            "x": pd.to_numeric(grid[feature], errors="coerce").astype(float),
            "y": pd.to_numeric(grid[target], errors="coerce").astype(float).shift(-int(lag_weeks)),
        }
    ).dropna()
    if len(pair) < 3:
        return _no_data(fig, "Strongest relation")
    ax = fig.add_subplot()
    _style(ax)
    ax.scatter(pair["x"], pair["y"], s=22, color=COLOURS["activity"], alpha=0.8, edgecolor="white", lw=0.5)
    if pair["x"].nunique() > 1:
        slope, intercept = np.polyfit(pair["x"], pair["y"], 1)
        xs = np.linspace(pair["x"].min(), pair["x"].max(), 50)
        ax.plot(xs, intercept + slope * xs, color=COLOURS["price"], lw=1.6, label="least-squares line")
        ax.legend(loc="upper left", fontsize="small", frameon=False)
    ax.axhline(0, color=COLOURS["baseline"], lw=0.8)
    ax.set_xlabel(xlabel or f"{feature} in {unit} t")
    ax.set_ylabel(ylabel or (f"{target} in {unit} t{lag_weeks:+d}" if lag_weeks else target))
    ax.set_title(title or f"{feature} vs {target}, lag {lag_weeks:+d} {unit}s (n = {len(pair)})", loc="left")
    return _png(fig)


def predictions_png(predictions: pd.DataFrame | None, *, unit: str = "week") -> bytes:
    """Out-of-sample predicted vs actual next-bar return (bars of one ``unit``), with the historical-mean
    baseline."""
    fig = Figure(figsize=(WIDTH, 3.6))
    if predictions is None or predictions.empty:
        return _no_data(fig, "Out-of-sample predictions")
    weeks = _dates(predictions["week_start"])
    ax = fig.add_subplot()
    _style(ax)
    ax.plot(weeks, predictions["actual"], color="black", lw=1, marker=".", label="actual")
    ax.plot(weeks, predictions["predicted"], color=COLOURS["model"], lw=1.6, label="ridge (walk-forward)")
    ax.plot(weeks, predictions["baseline_mean"], color=COLOURS["baseline"], lw=1.2, ls="--", label="historical mean")
    ax.axhline(0, color=COLOURS["baseline"], lw=0.8)
    ax.set_ylabel(f"next-{unit} log return")
    ax.set_xlabel(f"{unit} (UTC)")
    ax.legend(fontsize="small", ncols=3, loc="upper left", frameon=False)
    ax.set_title("Out-of-sample forecasts vs actual", loc="left")
    return _png(fig)


def _stacked(
    weekly: pd.DataFrame, columns: list[tuple[str, str]], title: str, ylabel: str, unit: str = "week"
) -> bytes:
    fig = Figure(figsize=(WIDTH, 3.2))
    present = [(c, label) for c, label in columns if c in weekly.columns]
    if weekly.empty or "week_start" not in weekly.columns or not present:
        return _no_data(fig, title)
    frame = weekly.sort_values("week_start")
    ax = fig.add_subplot()
    _style(ax)
    values = [pd.to_numeric(frame[c], errors="coerce").astype(float).fillna(0).to_numpy() for c, _ in present]
    ax.stackplot(
        _dates(frame["week_start"]),
        values,
        labels=[label for _, label in present],
        colors=_PARTS[: len(present)],
        alpha=0.9,
    )
    ax.set_ylabel(ylabel)
    ax.set_xlabel(f"{unit} (UTC)")
    ax.legend(fontsize="small", loc="upper left", ncols=len(present), frameon=False)
    ax.set_title(title, loc="left")
    return _png(fig)


def joins_png(weekly: pd.DataFrame, *, unit: str = "week") -> bytes:
    """Joins per bar (``unit``) stacked by method (invite, link, QR code, self)."""
    methods = [(f"joins_{m}", m) for m in ("invite", "link", "qr", "self")]
    return _stacked(weekly, methods, "Joins by method", f"joins / {unit}", unit)


def engagement_png(weekly: pd.DataFrame, *, unit: str = "week") -> bytes:
    """Posts per bar (``unit``) stacked by engagement class (interactive, content sharing, passive)."""
    classes = [("interactive_posts", "interactive"), ("content_posts", "content sharing"), ("passive_posts", "passive")]
    return _stacked(weekly, classes, "Engagement mix", f"posts / {unit}", unit)


def flagged_png(weekly: pd.DataFrame) -> bytes:
    """Messages and new authors z-scores, with coordinated-spike weeks marked and their returns annotated."""
    fig = Figure(figsize=(WIDTH, 3.2))
    if weekly.empty or "messages_z" not in weekly.columns:
        return _no_data(fig, "Anomalies")
    frame = weekly.sort_values("week_start")
    weeks = _dates(frame["week_start"])
    ax = fig.add_subplot()
    _style(ax)
    ax.plot(weeks, frame["messages_z"], lw=1.2, color=COLOURS["activity"], label="messages z")
    if "new_authors_z" in frame.columns:
        ax.plot(weeks, frame["new_authors_z"], lw=1.2, color=_PARTS[0], label="new authors z")
    ax.axhline(2, color=COLOURS["baseline"], lw=0.8, ls="--")
    flags = _flags(frame)
    for week in weeks[flags]:
        ax.axvline(week, color=COLOURS["flag"], alpha=0.5)
    ax.set_ylabel("z vs trailing 8 weeks (sd)")
    ax.set_xlabel("week (UTC)")
    ax.legend(fontsize="small", loc="upper left", frameon=False)
    ax.set_title("Anomalies: coordinated-spike weeks in red", loc="left")
    return _png(fig)
