"""Report step: lead-lag, Granger and walk-forward analyses of one symbol's weekly table, written as a report."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from sentiment.analysis.suite import add_model_features, analyse_weekly
from sentiment.errors import AnalysisError
from sentiment.lake import AsOf, Lake
from sentiment.report.artifacts import ReportArtifacts, report_artifacts
from sentiment.report.index import write_index
from sentiment.report.render import write_report
from sentiment.scoring.coverage import language_coverage
from sentiment.settings import Settings
from sentiment.steps.common import recorded, sql_quote

__all__ = [
    "REPORT_TABLES",
    "analyse_and_report",
    "coverage_of",
    "record_table_versions",
    "report_artifacts_of",
    "report_dir",
    "sentiment_coverage",
    "write_index",
]

# The tables a report reads (``messages`` is the view of messages joined to scores).
REPORT_TABLES = ("weekly", "messages", "scores")


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
    """Lead-lag and walk-forward analyses of one symbol's weekly table; returns the report folder.

    The tables are read at one pinned version each (the latest, or as of ``as_of``: a version, a moment, or the
    ``{table: version}`` a past report recorded), and metrics.json records them under ``table_versions``, so
    the same report can be rebuilt later whatever was written since.
    """
    lake = Lake(settings.lake)
    versions = lake.versions(REPORT_TABLES, as_of)
    weekly = lake.read(
        f"SELECT * FROM weekly WHERE symbol = '{sql_quote(symbol)}' AND scope = 'all' ORDER BY week_start",
        as_of=versions,
    )
    if weekly.empty:
        raise AnalysisError(f"no weekly rows for {symbol}: build the weekly table first")
    weekly = add_model_features(weekly)
    # Community features are tested against the token's return net of the market (BTC) where known: the
    # market's share of the move is real in every token and only adds noise to the question asked here.
    target = "excess_log_return" if weekly["excess_log_return"].notna().sum() >= settings.min_weeks else "log_return"
    results = analyse_weekly(
        weekly,
        target=target,
        lags=range(-settings.max_lag, settings.max_lag + 1),
        n_boot=settings.n_boot,
        seed=settings.seed,
        min_weeks=settings.min_weeks,
        alpha=settings.alpha,
    )
    relations, prediction = results["relations"], results["prediction"]
    coverage = {**coverage_of(lake, weekly, as_of=versions), "synthetic": synthetic, "relations_target": target}
    for key, value in sentiment_coverage(lake, as_of=versions).items():
        coverage.setdefault(key, value)
    coverage["in_words"] = (
        f"{coverage['weeks']} weeks ({coverage['first_week']} to {coverage['last_week']}) from {coverage['chats']} "
        f"chats with {coverage['messages']:,} messages; {len(coverage['missing_weeks'])} weeks missing inside "
        f"that range; relations tested against {target}."
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
    )
    record_table_versions(out / "metrics.json", versions)
    write_index(settings.reports)
    return out


def record_table_versions(metrics_path: Path, versions: dict[str, int | None]) -> None:
    """Add ``table_versions`` (the Delta version of every table the report read; null = table absent) to
    metrics.json, keeping every other key as written."""
    metrics = json.loads(metrics_path.read_text(encoding="utf-8"))
    metrics["table_versions"] = versions
    metrics_path.write_text(json.dumps(metrics, indent=2, allow_nan=False) + "\n", encoding="utf-8")


def coverage_of(lake: Lake, weekly: pd.DataFrame, *, as_of: AsOf = None) -> dict[str, object]:
    """What data the report rests on: weeks, chats, messages and the weeks missing inside the range."""
    stats = lake.read(
        "SELECT count(DISTINCT platform || ':' || chat_id) AS chats, "
        "count(*) FILTER (WHERE kind IN ('message', 'media')) AS messages, count(*) AS records FROM messages",
        as_of=as_of,
    ).iloc[0]
    posts = lake.read("SELECT lang, label FROM messages WHERE kind IN ('message', 'media')", as_of=as_of)
    weeks = pd.to_datetime(weekly["week_start"], utc=True)
    expected = pd.date_range(weeks.min(), weeks.max(), freq="7D") if len(weeks) else pd.DatetimeIndex([])
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


def sentiment_coverage(lake: Lake, *, as_of: AsOf = None) -> dict[str, object]:
    """How much of the chat the mood rests on: scored share overall and per chat (the split by language is
    ``coverage_of``'s ``languages``).

    Scored means a label other than "unscored". Chat names are as stored (already pseudonymised where they name a
    person).
    """
    scored = "count(label) FILTER (WHERE label <> 'unscored')"
    posts = "FROM messages WHERE kind IN ('message', 'media')"
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


def report_artifacts_of(folder: Path) -> ReportArtifacts:
    """The Prefect artifacts' contents for the report in ``folder`` (read from its metrics.json)."""
    metrics = json.loads((Path(folder) / "metrics.json").read_text(encoding="utf-8"))
    return report_artifacts(metrics, Path(folder) / "report.html")


def report_dir(reports: Path, symbol: str, today: pd.Timestamp) -> Path:
    """``<reports>/<YYYY-MM-DD>_<symbol with / as ->``."""
    return Path(reports) / f"{today.strftime('%Y-%m-%d')}_{symbol.replace('/', '-')}"
