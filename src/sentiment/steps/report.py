"""Report step: lead-lag, Granger and walk-forward analyses of one symbol's weekly table, written as a report."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from sentiment.analysis.suite import add_model_features, analyse_weekly
from sentiment.errors import AnalysisError
from sentiment.lake import AsOf, Lake
from sentiment.report.artifacts import report_artifacts_of
from sentiment.report.index import write_index
from sentiment.report.render import write_report
from sentiment.scoring.coverage import language_coverage
from sentiment.settings import Settings
from sentiment.steps.common import panel_dir, recorded, report_dir, sql_quote

__all__ = [
    "REPORT_TABLES",
    "REPORT_TABLES_DAILY",
    "analyse_and_report",
    "analyse_panel_and_report",
    "bar_table",
    "coverage_of",
    "panel_dir",
    "record_frequency",
    "record_table_versions",
    "report_artifacts_of",
    "report_dir",
    "sentiment_coverage",
    "write_index",
]

# The tables a report reads (``messages`` is the view of messages joined to scores); a daily run (frequency 1d)
# reads ``daily`` in place of ``weekly``.
REPORT_TABLES = ("weekly", "messages", "scores")
REPORT_TABLES_DAILY = ("daily", "messages", "scores")


@recorded("analyse-and-report")
def analyse_and_report(
    settings: Settings,
    symbol: str,
    *,
    today: pd.Timestamp,
    synthetic: bool = False,
    as_of: AsOf = None,
    out: Path | None = None,
) -> Path:
    """Lead-lag and walk-forward analyses of one symbol's weekly (or, with frequency 1d, daily) table; returns
    the report folder.

    The tables are read at one pinned version each (the latest, or as of ``as_of``: a version, a moment, or the
    ``{table: version}`` a past report recorded), and metrics.json records them under ``table_versions``, so
    the same report can be rebuilt later whatever was written since.
    """
    lake = Lake(settings.lake)
    versions = lake.versions(REPORT_TABLES if settings.frequency == "1w" else REPORT_TABLES_DAILY, as_of)
    weekly = bar_table(settings, symbol, as_of=versions)
    # Community features are tested against the token's return net of the market (BTC) where known: the
    # market's share of the move is real in every token and only adds noise to the question asked here.
    target = "excess_log_return" if weekly["excess_log_return"].notna().sum() >= settings.min_weeks else "log_return"
    results = analyse_weekly(
        weekly,
        target=target,
        lags=range(-settings.max_lag, settings.max_lag + 1),
        seed=settings.seed,
        min_weeks=settings.min_weeks,
        alpha=settings.alpha,
        freq=settings.frequency,
    )
    relations, prediction = results["relations"], results["prediction"]
    from sentiment.steps.communities import chats_of

    chats = chats_of(settings, symbol)
    coverage = {
        **coverage_of(lake, weekly, chats, freq=settings.frequency, as_of=versions),
        "synthetic": synthetic,
        "relations_target": target,
    }
    for key, value in sentiment_coverage(lake, chats, as_of=versions).items():
        coverage.setdefault(key, value)
    unit = "week" if settings.frequency == "1w" else "day"
    coverage["in_words"] = (
        f"{coverage['weeks']} {unit}s ({coverage['first_week']} to {coverage['last_week']}) from "
        f"{coverage['chats']} chats with {coverage['messages']:,} messages; {len(coverage['missing_weeks'])} "
        f"{unit}s missing inside that range; relations tested against {target}."
    )
    notes: list[str] = list(results["guards"])
    out = out or report_dir(settings.reports, symbol, today)
    write_report(
        out,
        symbol=symbol,
        weekly=weekly,
        relations=relations,
        prediction=prediction,
        coverage=coverage,
        caveats=notes,
        granger=results["granger"],
        flagged=results["flagged"],
        min_weeks=settings.min_weeks,
        alpha=settings.alpha,
        skipped_features=results["skipped_features"],
        frequency=settings.frequency,
    )
    record_frequency(out / "metrics.json", settings.frequency)
    record_table_versions(out / "metrics.json", versions)
    write_index(settings.reports)
    return out


@recorded("analyse-panel")
def analyse_panel_and_report(settings: Settings, *, today: pd.Timestamp, synthetic: bool = False) -> Path | None:
    """The pooled lead-lag of every community (needs two or more); returns the panel report folder, or None."""
    from sentiment.analysis.panel import panel_lead_lag
    from sentiment.analysis.suite import COMMUNITY_FEATURES
    from sentiment.report.panel import write_panel_report

    if len(settings.communities) < 2:
        return None
    weeklies = {symbol: bar_table(settings, symbol) for symbol in settings.communities}
    # The same target rule as the single reports, decided once for the whole panel.
    known = min(int(w["excess_log_return"].notna().sum()) for w in weeklies.values())
    target = "excess_log_return" if known >= settings.min_weeks else "log_return"
    result = panel_lead_lag(
        weeklies,
        COMMUNITY_FEATURES,
        target=target,
        lags=range(-settings.max_lag, settings.max_lag + 1),
        min_periods=settings.min_weeks,
        alpha=settings.alpha,
        freq=settings.frequency,
        time_col="week_start" if settings.frequency == "1w" else "day",
    )
    out = panel_dir(settings.reports, today)
    write_panel_report(out, result, target=target, synthetic=synthetic)
    write_index(settings.reports)
    return out


def bar_table(settings: Settings, symbol: str, *, as_of: AsOf = None) -> pd.DataFrame:
    """The scope-all table the analyses run on, with the model features: the lake's ``weekly`` rows of
    ``symbol``, or with frequency 1d its ``daily`` rows (written by the build step). ``as_of`` pins the
    versions read (see :meth:`Lake.read`)."""
    lake = Lake(settings.lake)
    table, time_col = ("weekly", "week_start") if settings.frequency == "1w" else ("daily", "day")
    scope = " AND scope = 'all'" if table == "weekly" else ""
    rows = lake.read(
        f"SELECT * FROM {table} WHERE symbol = '{sql_quote(symbol)}'{scope} ORDER BY {time_col}", as_of=as_of
    )
    if rows.empty:
        raise AnalysisError(f"no {table} rows for {symbol}: build the {table} table first")
    return add_model_features(rows, time_col=time_col)


def record_frequency(metrics_path: Path, frequency: str) -> None:
    """Add ``frequency`` and ``significance_rule`` to metrics.json (the renderer already named a daily run's
    lags ``lag_days`` and worded its lag convention in days)."""
    from sentiment.analysis.leadlag import SIGNIFICANCE_RULE

    metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
    metrics["frequency"] = frequency
    metrics["significance_rule"] = SIGNIFICANCE_RULE
    metrics_path.write_text(json.dumps(metrics, indent=2, allow_nan=False) + "\n", encoding="utf-8")


def record_table_versions(metrics_path: Path, versions: dict[str, int | None]) -> None:
    """Add ``table_versions`` (the Delta version of every table the report read; null = table absent) to
    metrics.json, keeping every other key as written."""
    metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
    metrics["table_versions"] = versions
    metrics_path.write_text(json.dumps(metrics, indent=2, allow_nan=False) + "\n", encoding="utf-8")


def coverage_of(
    lake: Lake,
    weekly: pd.DataFrame,
    chats: list[tuple[str, str]] | None = None,
    freq: str = "1w",
    *,
    as_of: AsOf = None,
) -> dict[str, object]:
    """What data the report rests on: weeks, chats, messages, languages and the weeks missing inside the range
    (only the community's ``chats`` when given). In a daily run (``freq`` "1d", bar column ``day``) the keys
    named after weeks count days."""
    from sentiment.steps.communities import chat_filter

    stats = lake.read(
        "SELECT count(DISTINCT platform || ':' || chat_id) AS chats, "
        "count(*) FILTER (WHERE kind IN ('message', 'media')) AS messages, count(*) AS records FROM messages "
        f"WHERE {chat_filter(chats)}",
        as_of=as_of,
    ).iloc[0]
    posts = lake.read(  # one row per (lang, label) and its count: a million posts are a few rows here
        f"SELECT lang, label, count(*) AS n FROM messages WHERE kind IN ('message', 'media') AND {chat_filter(chats)} "
        "GROUP BY ALL",
        as_of=as_of,
    )
    weeks = pd.to_datetime(weekly["week_start" if freq == "1w" else "day"], utc=True)
    step = "7D" if freq == "1w" else "1D"  # weeks, or days of a daily run ("weeks"/"missing_weeks" count bars)
    expected = pd.date_range(weeks.min(), weeks.max(), freq=step) if len(weeks) else pd.DatetimeIndex([])
    missing = sorted(set(expected) - set(weeks))
    return {
        "weeks": len(weekly),
        "first_week": weeks.min().date().isoformat() if len(weeks) else None,
        "last_week": weeks.max().date().isoformat() if len(weeks) else None,
        "missing_weeks": [w.date().isoformat() for w in missing],
        "chats": int(stats["chats"]),
        "messages": int(stats["messages"]),
        "records": int(stats["records"]),
        "languages": language_coverage(posts),  # issue 12: which languages the mood covers (in_words: a sentence)
    }


def sentiment_coverage(
    lake: Lake, chats: list[tuple[str, str]] | None = None, *, as_of: AsOf = None
) -> dict[str, object]:
    """How much of the chat the mood rests on: scored share overall and per chat, of the community's ``chats``
    when given (the split by language is ``coverage_of``'s ``languages``).

    Scored means a label other than "unscored". Chat names are as stored (already pseudonymised where they name a
    person).
    """
    scored = "count(label) FILTER (WHERE label <> 'unscored')"
    from sentiment.steps.communities import chat_filter

    posts = f"FROM messages WHERE kind IN ('message', 'media') AND {chat_filter(chats)}"
    total = lake.read(f"SELECT count(*) AS messages, {scored} AS scored {posts}", as_of=as_of).iloc[0]
    n_posts = int(total["messages"])
    out: dict[str, object] = {
        "scored_messages": int(total["scored"]),
        "scored_share": int(total["scored"]) / n_posts if n_posts else None,
    }
    chats = lake.read(
        f"SELECT platform, chat_id, any_value(chat_name) AS chat_name, count(*) AS messages, {scored} AS scored, "
        f"min(ts) AS first, max(ts) AS last {posts} GROUP BY 1, 2 ORDER BY 4 DESC, 1, 2",
        as_of=as_of,
    )
    out["per_chat"] = [
        {
            "chat": f"{r.platform}: {r.chat_name if isinstance(r.chat_name, str) and r.chat_name else r.chat_id}",
            "messages": int(r.messages),
            "scored": int(r.scored),
            "first": pd.Timestamp(r.first).date().isoformat(),
            "last": pd.Timestamp(r.last).date().isoformat(),
        }
        for r in chats.itertuples()
    ]
    return out
