"""Two communities through the real Prefect flow behind `sentiment run`, prices by real ccxt from the loopback replay
server: one report per symbol from its own community only, the panel report, the communities and daily tables."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from sentiment.cli import run_cli
from sentiment.lake import Lake
from sentiment.report.panel import PANEL_METRICS_KEYS
from sentiment.sandbox.replay import serve_recorded
from sentiment.sandbox.simulate import simulate_world, write_gate_candles, write_telegram_export

SAMPLE_PAIRS = (
    Path(__file__).resolve().parents[2] / "data" / "sample" / "exchange" / "gate" / "spot_currency_pairs.json"
)
SYMBOLS = {"AAA/USDT": 11, "BBB/USDT": 12}  # symbol -> seed of its simulated community and token

pytestmark = pytest.mark.flow


def _exchange(root: Path, worlds: dict[str, object]) -> Path:
    """A recorded Gate tree listing both tokens and BTC, with each token's daily candles (BTC from the first world)."""
    gate = root / "gate"
    pairs = json.loads(SAMPLE_PAIRS.read_text(encoding="utf-8"))
    template = next(p for p in pairs if p["id"] != "BTC_USDT")
    listed = [p for p in pairs if p["id"] == "BTC_USDT"]
    for symbol in worlds:
        base = symbol.split("/")[0]
        listed.append(copy.deepcopy(template) | {"id": f"{base}_USDT", "base": base, "base_name": base})
    gate.mkdir(parents=True)
    (gate / "spot_currency_pairs.json").write_text(json.dumps(listed), encoding="utf-8")
    for symbol, world in worlds.items():
        write_gate_candles(world.token_candles, gate / "spot_candlesticks" / f"{symbol.replace('/', '_')}_1d.json")  # type: ignore[attr-defined]
    first = next(iter(worlds.values()))
    write_gate_candles(first.btc_candles, gate / "spot_candlesticks" / "BTC_USDT_1d.json")  # type: ignore[attr-defined]
    return root


def test_two_communities_through_the_flow(
    tmp_path: Path, prefect_harness: None, capfd: pytest.CaptureFixture[str]
) -> None:
    """`sentiment run --community A=... --community B=... --freq 1d` records both mappings, builds each symbol's
    daily table and report from its own chat only, and writes the pooled panel report with the contract keys."""
    worlds = {symbol: simulate_world(40, seed, 0.5, chat_scale=0.3) for symbol, seed in SYMBOLS.items()}
    argv = ["--lake", str(tmp_path / "lake"), "--reports", str(tmp_path / "reports"), "run"]
    for symbol, world in worlds.items():
        export = tmp_path / "exports" / symbol.split("/")[0].lower() / "result.json"
        write_telegram_export(world, export)
        argv += ["--community", f"{symbol}={export.parent}"]
    argv += ["--exchange", "gate", "--since", "2024-01-01", "--tz", "Asia/Shanghai", "--freq", "1d"]
    with serve_recorded(_exchange(tmp_path / "exchange", worlds)) as url:
        assert run_cli([*argv, "--api-url", url]) == 0, capfd.readouterr().err
    printed = [Path(line) for line in capfd.readouterr().out.strip().splitlines()]
    assert [p.name.split("_", 1)[1] for p in printed] == ["AAA-USDT", "BBB-USDT", "panel"]

    lake = Lake(tmp_path / "lake")
    chat_of = {s: f"{w.telegram_chat_id}" for s, w in worlds.items()}  # type: ignore[attr-defined]
    mapped = lake.read("SELECT symbol, platform, chat_id FROM communities ORDER BY symbol")
    assert mapped.values.tolist() == [
        ["AAA/USDT", "telegram", chat_of["AAA/USDT"]],
        ["BBB/USDT", "telegram", chat_of["BBB/USDT"]],
    ]

    for folder, (symbol, chat) in zip(printed, chat_of.items(), strict=False):
        metrics = json.loads((folder / "metrics.json").read_text(encoding="utf-8"))
        assert metrics["symbol"] == symbol and metrics["frequency"] == "1d"
        own = lake.read(
            f"SELECT count(*) AS n, count(DISTINCT date_trunc('day', ts)) AS days FROM messages "
            f"WHERE chat_id = '{chat}' AND kind IN ('message', 'media')"
        ).iloc[0]
        coverage = metrics["coverage"]
        assert coverage["chats"] == 1 and coverage["messages"] == int(own["n"])
        assert [c["messages"] for c in coverage["per_chat"]] == [int(own["n"])]  # the other chat is not listed
        # The daily table the flow built is the symbol's own community, day by day, and the report read it.
        daily = lake.read(f"SELECT day, messages FROM daily WHERE symbol = '{symbol}' ORDER BY day")
        assert int((daily["messages"] > 0).sum()) == int(own["days"]) and coverage["weeks"] == len(daily)
        assert metrics["table_versions"]["daily"] == lake.version("daily")
        assert all("lag_days" in r for r in metrics["relations"])

    panel = printed[-1]
    assert {p.name for p in panel.iterdir()} >= {"report.html", "report.md", "metrics.json"}
    pm = json.loads((panel / "metrics.json").read_text(encoding="utf-8"))
    assert tuple(pm) == PANEL_METRICS_KEYS
    assert pm["frequency"] == "1d" and pm["lag_convention"].startswith("lag_days")
    assert pm["symbols"] == list(SYMBOLS) and pm["method"]
    keys = {"feature", "lag_days", "estimate", "ci_low", "ci_high", "p_value", "q_value", "significant", "n"}
    assert pm["relations"] and all(keys | {"n_symbols"} <= set(r) for r in pm["relations"])
    assert all(r["n_symbols"] == 2 for r in pm["relations"] if r["estimate"] is not None)
    assert {r["symbol"] for r in pm["per_symbol"]} == set(SYMBOLS)
