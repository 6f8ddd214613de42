"""Writes the pooled (panel) report of several communities: report.html, report.md and metrics.json."""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from sentiment.report.render import json_safe

__all__ = ["PANEL_METRICS_KEYS", "write_panel_report"]

PANEL_METRICS_KEYS = (
    "generated_at",
    "frequency",
    "lag_convention",
    "symbols",
    "target",
    "method",
    "relations",
    "per_symbol",
    "caveats",
)


def write_panel_report(
    out_dir: Path,
    result: Mapping[str, Any],
    *,
    target: str,
    synthetic: bool = False,
    generated_at: pd.Timestamp | None = None,
) -> dict[str, Path]:
    """Write the panel report of :func:`sentiment.analysis.panel.panel_lead_lag`'s ``result`` into ``out_dir``.

    metrics.json: generated_at, frequency, lag_convention, symbols, target, method, relations (one row per
    feature and lag: estimate, ci_low, ci_high, p_value, q_value, significant, n, n_symbols, family, primary,
    ci_level, heterogeneity), per_symbol (each community's own slope and error per feature and lag), caveats.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    stamp = (generated_at or pd.Timestamp.now(tz="UTC")).tz_convert("UTC").isoformat()
    relations: pd.DataFrame = result["relations"]
    lag_name = "lag_days" if result["frequency"] == "1d" else "lag_weeks"
    ranked = relations.sort_values(["primary", "q_value", "p_value"], ascending=[False, True, True], na_position="last")
    caveats = _caveats(result, synthetic)
    metrics = {
        "generated_at": stamp,
        "frequency": result["frequency"],
        "lag_convention": result["lag_convention"],
        "symbols": list(result["symbols"]),
        "target": target,
        "method": result["method"],
        "relations": ranked.to_dict(orient="records"),
        "per_symbol": result["per_symbol"].to_dict(orient="records"),
        "caveats": caveats,
    }
    paths = {"html": out_dir / "report.html", "md": out_dir / "report.md", "metrics": out_dir / "metrics.json"}
    paths["metrics"].write_text(json.dumps(json_safe(metrics), indent=2, allow_nan=False) + "\n", encoding="utf-8")
    head, rows = _rows(ranked, lag_name)
    title = f"Pooled lead-lag over {len(result['symbols'])} communities"
    intro = (
        f"Communities: {', '.join(result['symbols'])}. Target: {target}. {result['lag_convention']}. "
        f"Primary question: the community-leads rows; same-period and price-leads rows are exploratory."
    )
    paths["md"].write_text(_markdown(title, stamp, intro, result["method"], head, rows, caveats), encoding="utf-8")
    paths["html"].write_text(_html(title, stamp, intro, result["method"], head, rows, caveats), encoding="utf-8")
    return paths


def _caveats(result: Mapping[str, Any], synthetic: bool) -> list[str]:
    out = [
        "Pooling asks whether the community effect is there on average across communities; a pooled finding "
        "can hide communities where it is absent (see the per-community slopes and I^2).",
        "Time fixed effects remove whatever moves all communities and tokens in the same bar (the market), so "
        "these estimates are about a community beyond the market, not about the market.",
        "Correlation is not causation: a community that moves before its price may share a cause with it.",
    ]
    if synthetic:
        out.insert(0, "These data are synthetic: the numbers show how the pipeline works, nothing about real tokens.")
    return out


def _fmt(value: Any, digits: int = 3) -> str:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return "—" if pd.isna(number) else f"{number:.{digits}f}"


def _rows(ranked: pd.DataFrame, lag_name: str) -> tuple[list[str], list[list[str]]]:
    head = [
        "feature",
        lag_name,
        "family",
        "estimate",
        "CI (level)",
        "p",
        "q",
        "significant",
        "n",
        "communities",
        "I²",
    ]
    rows = [
        [
            str(r["feature"]),
            str(int(r[lag_name])),
            str(r["family"]) + (" (primary)" if bool(r["primary"]) else ""),
            _fmt(r["estimate"]),
            f"[{_fmt(r['ci_low'])}, {_fmt(r['ci_high'])}] ({_fmt(r['ci_level'], 4)})",
            _fmt(r["p_value"], 4),
            _fmt(r["q_value"], 4),
            "yes" if bool(r["significant"]) else "no",
            str(int(r["n"])),
            str(int(r["n_symbols"])),
            _fmt(r["i_squared"], 2),
        ]
        for _, r in ranked.iterrows()
    ]
    return head, rows


def _markdown(
    title: str, stamp: str, intro: str, method: str, head: list[str], rows: list[list[str]], caveats: list[str]
) -> str:
    table = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    table += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    parts = [
        f"# {title}",
        f"Generated {stamp}.",
        intro,
        "## Method",
        method,
        "## Relations",
        "\n".join(table),
        "## Caveats",
        "\n".join(f"- {c}" for c in caveats),
    ]
    return "\n\n".join(parts) + "\n"


def _html(
    title: str, stamp: str, intro: str, method: str, head: list[str], rows: list[list[str]], caveats: list[str]
) -> str:
    esc = html.escape
    th = "".join(f"<th>{esc(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in row) + "</tr>" for row in rows)
    items = "".join(f"<li>{esc(c)}</li>" for c in caveats)
    return (
        f'<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<title>{esc(title)}</title>\n'
        "<style>body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse}th,td{border:1px solid #ccc;padding:.25em .6em;text-align:right}"
        "th:first-child,td:first-child{text-align:left}</style>\n</head>\n<body>\n"
        f"<h1>{esc(title)}</h1>\n<p>Generated {esc(stamp)}.</p>\n<p>{esc(intro)}</p>\n"
        f"<h2>Method</h2>\n<p>{esc(method)}</p>\n<h2>Relations</h2>\n"
        f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>\n"
        f"<h2>Caveats</h2>\n<ul>{items}</ul>\n</body>\n</html>\n"
    )
