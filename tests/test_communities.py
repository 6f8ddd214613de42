"""Communities: each symbol's report reads only its own community's chats; two or more give a panel report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sentiment.cli import run_cli
from sentiment.lake import Lake
from sentiment.report.panel import PANEL_METRICS_KEYS
from sentiment.sandbox.simulate import simulate_world, world_prices, write_telegram_export
from sentiment.settings import load_settings
from sentiment.steps import build as build_step
from sentiment.steps import ingest as ingest_step
from sentiment.steps import report as report_step
from sentiment.steps import score as score_step

NOW = pd.Timestamp("2025-01-01", tz="UTC")
TODAY = pd.Timestamp("2025-01-02", tz="UTC")


@pytest.fixture
def two_communities(tmp_path: Path) -> tuple[object, dict[str, str]]:
    """Two simulated tokens, each with its own Telegram group export, and their daily candles in the lake."""
    settings = load_settings(
        lake=tmp_path / "lake",
        reports=tmp_path / "reports",
        tz="Asia/Shanghai",
        n_boot=100,
        communities={"AAA/USDT": (tmp_path / "a",), "BBB/USDT": (tmp_path / "b" / "result.json",)},
    )
    chat_ids = {}
    prices = []
    for symbol, folder, seed in (("AAA/USDT", "a", 1), ("BBB/USDT", "b", 2)):
        world = simulate_world(40, seed, 0.5, chat_scale=0.3)
        write_telegram_export(world, tmp_path / folder / "result.json")
        chat_ids[symbol] = str(world.telegram_chat_id)
        frame = world_prices(world, symbol, "BTC/USDT").assign(exchange="gate", fetched_at=NOW)
        prices.append(frame if symbol == "AAA/USDT" else frame[frame["symbol"] == symbol])
    Lake(settings.lake).append("prices", pd.concat(prices, ignore_index=True))
    return settings, chat_ids


def test_each_report_uses_only_its_own_communitys_chats(two_communities) -> None:  # type: ignore[no-untyped-def]
    """The communities table maps each chat to its symbol (idempotently), and each weekly table and report
    rests on that community's chats only."""
    settings, chat_ids = two_communities
    assert settings.symbols == ("AAA/USDT", "BBB/USDT") and len(settings.chats) == 2
    ingest_step.ingest_chats(settings, settings.chats, now=NOW)
    ingest_step.ingest_chats(settings, settings.chats, now=NOW)  # a re-run records nothing twice
    lake = Lake(settings.lake)
    table = lake.read("SELECT symbol, chat_id FROM communities ORDER BY symbol")
    assert table.values.tolist() == [["AAA/USDT", chat_ids["AAA/USDT"]], ["BBB/USDT", chat_ids["BBB/USDT"]]]
    score_step.score_new_messages(settings, now=NOW)
    build_step.build_weekly(settings)
    for symbol, chat in chat_ids.items():
        scopes = set(lake.read(f"SELECT DISTINCT scope FROM weekly WHERE symbol = '{symbol}'")["scope"])
        assert scopes == {"all", f"telegram:{chat}"}
    folder = report_step.analyse_and_report(settings, "AAA/USDT", today=TODAY)
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["coverage"]["chats"] == 1 and metrics["frequency"] == "1w"
    own = lake.read(
        f"SELECT count(*) AS n FROM messages WHERE chat_id = '{chat_ids['AAA/USDT']}' AND kind IN ('message', 'media')"
    )
    assert metrics["coverage"]["messages"] == int(own["n"].iloc[0])

    panel = report_step.analyse_panel_and_report(settings, today=TODAY)
    assert panel is not None and panel.name == "2025-01-02_panel"
    pm = json.loads((panel / "metrics.json").read_text())
    assert tuple(pm) == PANEL_METRICS_KEYS and pm["frequency"] == "1w" and pm["symbols"] == ["AAA/USDT", "BBB/USDT"]
    row = pm["relations"][0]
    assert {
        "feature",
        "lag_weeks",
        "estimate",
        "ci_low",
        "ci_high",
        "p_value",
        "q_value",
        "significant",
        "n",
        "n_symbols",
    } <= set(row)
    assert all(r["n_symbols"] == 2 for r in pm["relations"] if r["estimate"] is not None)
    assert (panel / "report.html").read_text().count("<tr>") == len(pm["relations"]) + 1
    assert {r["symbol"] for r in pm["per_symbol"]} == {"AAA/USDT", "BBB/USDT"}


def test_communities_from_the_config_file(tmp_path: Path) -> None:
    """A [communities] table in sentiment.toml names the report symbols and the chats to read."""
    config = tmp_path / "sentiment.toml"
    config.write_text('[communities]\n"AAA/USDT" = ["exports/a/"]\n"BBB/USDT" = ["exports/b/", "more/b.json"]\n')
    settings = load_settings(config)
    assert settings.symbols == ("AAA/USDT", "BBB/USDT")
    assert settings.communities["BBB/USDT"] == (Path("exports/b"), Path("more/b.json"))
    assert set(settings.chats) == {Path("exports/a"), Path("exports/b"), Path("more/b.json")}
    assert settings.frequency == "1w"


def test_community_option_needs_symbol_equals_path(capsys: pytest.CaptureFixture[str]) -> None:
    """A --community value without SYMBOL=PATH is a usage error naming the option, without a traceback."""
    assert run_cli(["run", "--community", "VIRTUAL/USDT"]) == 2
    err = capsys.readouterr().err
    assert "--community" in err and "Traceback" not in err


def test_daily_frequency_reports_in_days(two_communities, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    """With frequency 1d the build step stores a ``daily`` table (symbol + day, each symbol's own community,
    idempotent, readable through `sentiment query`); the report and the panel read it, name their lags
    lag_days, and speak of days in their labels."""
    settings, chat_ids = two_communities
    settings = settings.model_copy(update={"frequency": "1d"})
    ingest_step.ingest_chats(settings, settings.chats, now=NOW)
    score_step.score_new_messages(settings, now=NOW)
    built = build_step.build_daily(settings, now=NOW)
    lake = Lake(settings.lake)
    assert lake.count("daily") == len(built) > 2 * 250
    build_step.build_daily(settings, now=NOW)
    assert lake.count("daily") == len(built)  # a re-run adds no rows
    assert lake.read("SELECT count(*) AS n FROM daily GROUP BY symbol, day HAVING n > 1").empty

    # Each symbol's messages per day are its own community's posts on that day, counted straight from messages.
    for symbol, chat in chat_ids.items():
        own = lake.read(
            f"SELECT date_trunc('day', ts) AS day, count(*) AS n FROM messages WHERE chat_id = '{chat}' "
            "AND kind IN ('message', 'media') GROUP BY 1"
        ).set_index("day")["n"]
        stored = lake.read(f"SELECT day, messages FROM daily WHERE symbol = '{symbol}' AND messages > 0")
        assert stored.set_index("day")["messages"].to_dict() == {
            d: n for d, n in own.items() if d in set(stored["day"])
        }
        assert len(stored) > 200

    # Queried back through DuckDB by the CLI: one row per day, days one apart, returns from the day's candles.
    sql = "SELECT symbol, day, close, log_return FROM daily WHERE symbol = 'AAA/USDT' ORDER BY day"
    assert run_cli(["--lake", str(settings.lake), "query", sql, "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    days = pd.to_datetime([r["day"] for r in rows], utc=True)
    assert (days.to_series().diff().dropna() == pd.Timedelta(days=1)).all()
    closes = pd.Series([r["close"] for r in rows])
    returns = pd.Series([r["log_return"] for r in rows], dtype=float)
    assert returns.iloc[1:].to_numpy() == pytest.approx(np.log(closes / closes.shift(1)).iloc[1:].to_numpy())

    folder = report_step.analyse_and_report(settings, "BBB/USDT", today=TODAY)
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["frequency"] == "1d" and metrics["lag_convention"].startswith("lag_days")
    assert all("lag_days" in r and "lag_weeks" not in r for r in metrics["relations"])
    assert all("lag_weeks" not in r for r in metrics["not_testable"])
    assert metrics["coverage"]["weeks"] == lake.count("daily") - len(built[built["symbol"] == "AAA/USDT"])
    assert metrics["prediction"]["n_forecasts"] > 200
    assert metrics["table_versions"] == {v: lake.version(v) for v in ("daily", "messages", "scores")}
    assert metrics["coverage"]["chats"] == 1 and len(metrics["coverage"]["per_chat"]) == 1
    page = (folder / "report.html").read_text()
    assert "days analysed" in page and "lag (days)" in page and "Flagged days" in page
    assert "weeks analysed" not in page and "lag (weeks)" not in page and "paired weeks" not in page
    assert "lag_days = k" in page and "days analysed" in (folder / "report.md").read_text()
    panel = report_step.analyse_panel_and_report(settings, today=TODAY)
    pm = json.loads((panel / "metrics.json").read_text())
    assert pm["frequency"] == "1d" and all("lag_days" in r for r in pm["relations"])
