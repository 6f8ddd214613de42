"""Fetch closed OHLCV candles through ccxt (the only module that imports ccxt) into the "prices" table."""

from __future__ import annotations

import difflib
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import ccxt
import pandas as pd

from sentiment.errors import ConfigError, ExchangeUnavailableError, PriceError, UnknownSymbolError
from sentiment.schemas import TABLES

__all__ = ["fetch_candles", "make_exchange"]

log = logging.getLogger(__name__)

PRICE_COLUMNS = [c.name for c in TABLES["prices"]]
DEFAULT_TIMEOUT_MS = 15_000
# Cap on one backoff sleep, so a long outage fails in minutes rather than hours.
MAX_BACKOFF_S = 30.0
# Used only when ccxt does not declare the exchange's per-request candle maximum.
FALLBACK_PAGE_LIMIT = 500

Progress = Callable[[int, pd.Timestamp], None]
# Called with each page's new candles (the "prices" table) as soon as it arrives, so callers can store it.
PageSink = Callable[[pd.DataFrame], None]


@dataclass(frozen=True)
class _SpotOnly:
    """How to make one exchange load only spot markets and skip currencies (ccxt spells it per exchange)."""

    options: dict[str, Any]
    has: dict[str, bool]


# Market-loading requests with these settings, measured against the replay server:
# gate 2 (margin + spot pairs; 7 by default), binance 1 (/api/v3/exchangeInfo; 3 by default).
SPOT_ONLY: dict[str, _SpotOnly] = {
    "gate": _SpotOnly({"fetchMarkets": {"types": ["spot"]}}, {"fetchCurrencies": False}),
    "binance": _SpotOnly(
        {"fetchMarkets": {"types": ["spot"]}, "fetchCurrencies": False, "fetchMargins": False},
        {"fetchCurrencies": False},
    ),
}


def make_exchange(
    exchange_id: str,
    api_url: str | None = None,
    *,
    rate_limit_ms: int | None = None,
    timeout_ms: int = DEFAULT_TIMEOUT_MS,
) -> ccxt.Exchange:
    """A real synchronous ccxt client for ``exchange_id`` (public data), optionally pointed at ``api_url``.

    For the exchanges in ``SPOT_ONLY`` only spot markets are loaded and currencies are not fetched
    (Gate: 2 requests instead of 7; Binance: 1 instead of 3).
    ``api_url`` (``scheme://host[:port]``) replaces the scheme and host of every API URL, keeping paths, so
    the client can talk to a replay server. ``rate_limit_ms`` overrides ccxt's per-exchange request spacing.
    """
    exchange_class = getattr(ccxt, exchange_id, None) if exchange_id in ccxt.exchanges else None
    if exchange_class is None:
        close = difflib.get_close_matches(exchange_id.lower(), ccxt.exchanges, n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise ConfigError(f"unknown exchange {exchange_id!r}{hint}")
    config: dict[str, Any] = {"enableRateLimit": True, "timeout": timeout_ms}
    if rate_limit_ms is not None:
        config["rateLimit"] = rate_limit_ms
    spot_only = SPOT_ONLY.get(exchange_id)
    if spot_only is not None:
        config["options"] = {key: dict(v) if isinstance(v, dict) else v for key, v in spot_only.options.items()}
    exchange = exchange_class(config)
    if spot_only is not None:
        exchange.has.update(spot_only.has)
    if api_url is not None:
        exchange.urls["api"] = _rebase_urls(exchange.urls["api"], api_url)
    return exchange


def _rebase_urls(urls: Any, api_url: str) -> Any:
    """Replace scheme and host of every URL string in a nested dict/list/str, keeping each path."""
    target = urlsplit(api_url)
    if not target.scheme or not target.netloc or target.path not in ("", "/") or target.query:
        raise ConfigError(f"api_url must look like scheme://host[:port] without a path, got {api_url!r}")

    def rebase(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: rebase(item) for key, item in value.items()}
        if isinstance(value, list):
            return [rebase(item) for item in value]
        if isinstance(value, str) and "://" in value:
            parts = urlsplit(value)
            return urlunsplit((target.scheme, target.netloc, parts.path, parts.query, parts.fragment))
        return value

    return rebase(urls)


def fetch_candles(
    exchange: ccxt.Exchange,
    symbol: str,
    timeframe: str,
    since: pd.Timestamp,
    until: pd.Timestamp | None = None,
    *,
    now: pd.Timestamp | None = None,
    max_retries: int = 4,
    base_delay: float = 0.5,
    progress: Progress | None = None,
    on_page: PageSink | None = None,
) -> pd.DataFrame:
    """Closed candles opening in ``[since, until)`` (``until`` defaults to ``now``), as the "prices" table.

    Paginates itself (never ccxt's ``paginate``): each request starts one timeframe after the last candle
    received, so a fetch that has nothing new to ask for makes no candle request at all. Candles still open
    at ``now`` are dropped; gaps are kept as gaps (see ``candle_gaps``). ``progress(n_candles, cursor)`` is
    called after every page, and ``on_page(frame)`` with that page's new candles, so a caller that stores
    them keeps every finished page even if a later page fails. Network-family errors are retried
    ``max_retries`` times, sleeping about ``base_delay * 2**attempt`` seconds (±50 % jitter, at most 30 s
    before jitter) between attempts; the error then names the since of the request that failed.
    """
    now = _utc(pd.Timestamp.now(tz="UTC") if now is None else now)
    since_ms = _ms(_utc(since))
    call = _Caller(exchange, symbol, since_ms, max_retries, base_delay)

    call(exchange.load_markets)
    market = _market(exchange, symbol)
    unified = market["symbol"]
    call.symbol = unified
    if timeframe not in (exchange.timeframes or {}):
        offered = ", ".join(exchange.timeframes or {})
        raise PriceError(exchange.id, unified, since_ms, f"timeframe {timeframe!r} not offered ({offered})")
    step_ms = exchange.parse_timeframe(timeframe) * 1000
    # A candle is closed once its whole window lies before now; only those can be stored.
    end_ms = _ms(now) - step_ms + 1
    if until is not None:
        end_ms = min(end_ms, _ms(_utc(until)))
    page_limit = _page_limit(exchange, market)

    rows: dict[int, list[float]] = {}
    cursor = since_ms
    while cursor < end_ms:
        call.since_ms = cursor
        # ccxt turns `until` into Gate's inclusive `to` (seconds), Binance's `endTime` (ms); end_ms is excluded.
        page = call(exchange.fetch_ohlcv, unified, timeframe, cursor, page_limit, {"until": end_ms - 1})
        wanted = [r for r in page if r[0] is not None and cursor <= r[0] < end_ms]
        fresh = {int(r[0]): r for r in wanted if int(r[0]) not in rows}
        rows.update(fresh)
        if on_page is not None and fresh:
            on_page(_to_frame(exchange.id, unified, timeframe, fresh, fetched_at=now))
        if wanted:
            cursor = max(int(r[0]) for r in wanted) + step_ms
        else:
            # An empty window is a stretch without trading (or before listing): skip the whole window.
            cursor += page_limit * step_ms
        if progress is not None:
            progress(len(rows), pd.Timestamp(min(cursor, end_ms), unit="ms", tz="UTC"))
    return _to_frame(exchange.id, unified, timeframe, rows, fetched_at=now)


class _Caller:
    """Runs ccxt calls, retrying ccxt.OperationFailed (NetworkError and kin) with bounded, jittered backoff."""

    def __init__(self, exchange: ccxt.Exchange, symbol: str, since_ms: int, retries: int, base: float) -> None:
        self.exchange = exchange
        self.symbol = symbol
        self.since_ms = since_ms
        self.retries = max(0, retries)
        self.base = base

    def __call__(self, fn: Callable[..., Any], *args: Any) -> Any:
        ex_id = self.exchange.id
        for attempt in range(self.retries + 1):
            try:
                return fn(*args)
            except ccxt.BadSymbol as exc:
                close = _close_matches(self.exchange, self.symbol)
                raise UnknownSymbolError(ex_id, self.symbol, close) from exc
            except ccxt.OperationFailed as exc:
                # NetworkError and its kin (timeouts, 429, DDoS protection, maintenance), plus ccxt's other
                # "try again" errors, e.g. Binance's -1001 "Internal error; ... Please try again." on a 5xx.
                if attempt == self.retries:
                    reason = f"{type(exc).__name__} after {attempt + 1} attempts: {exc}"
                    raise ExchangeUnavailableError(ex_id, self.symbol, self.since_ms, reason) from exc
                delay = min(self.base * 2**attempt, MAX_BACKOFF_S) * random.uniform(0.5, 1.5)
                log.warning(
                    "%s %s: %s, retry %d/%d in %.2fs",
                    ex_id,
                    self.symbol,
                    type(exc).__name__,
                    attempt + 1,
                    self.retries,
                    delay,
                )
                time.sleep(delay)
            except ccxt.BaseError as exc:
                raise PriceError(ex_id, self.symbol, self.since_ms, f"{type(exc).__name__}: {exc}") from exc
        raise AssertionError("unreachable: the loop returns or raises")


def _market(exchange: ccxt.Exchange, symbol: str) -> dict[str, Any]:
    """The loaded market for ``symbol`` (any case), or UnknownSymbolError before any candle request."""
    if symbol in exchange.markets:
        return exchange.markets[symbol]
    by_upper = {s.upper(): s for s in exchange.symbols}
    if symbol.upper() in by_upper:
        return exchange.markets[by_upper[symbol.upper()]]
    raise UnknownSymbolError(exchange.id, symbol, _close_matches(exchange, symbol))


def _close_matches(exchange: ccxt.Exchange, symbol: str) -> list[str]:
    by_upper = {s.upper(): s for s in exchange.symbols or []}
    hits = difflib.get_close_matches(symbol.upper(), list(by_upper), n=5, cutoff=0.6)
    return [by_upper[h] for h in hits]


def _page_limit(exchange: ccxt.Exchange, market: dict[str, Any]) -> int:
    """Most candles one request may return, as ccxt declares it for the market type (Gate spot: 1000)."""
    features = exchange.features or {}
    section = features.get(market.get("type") or "spot") or {}
    if market.get("type") in ("swap", "future"):
        section = section.get("linear") or section.get("inverse") or {}
    limit = (section.get("fetchOHLCV") or {}).get("limit")
    return int(limit) if limit else FALLBACK_PAGE_LIMIT


def _to_frame(
    exchange_id: str, symbol: str, timeframe: str, rows: dict[int, list[float]], fetched_at: pd.Timestamp
) -> pd.DataFrame:
    ordered = [rows[k] for k in sorted(rows)]
    frame = pd.DataFrame(
        [r[:6] for r in ordered], columns=["ts", "open", "high", "low", "close", "volume"], dtype="float64"
    )
    opened = pd.to_datetime(frame["ts"].astype("int64"), unit="ms", utc=True)
    frame["ts"] = opened.astype("datetime64[us, UTC]")
    frame.insert(0, "timeframe", timeframe)
    frame.insert(0, "symbol", symbol)
    frame.insert(0, "exchange", exchange_id)
    frame["fetched_at"] = pd.Series([fetched_at] * len(frame), dtype="datetime64[us, UTC]")
    return frame[PRICE_COLUMNS]


def _utc(ts: pd.Timestamp) -> pd.Timestamp:
    ts = pd.Timestamp(ts)
    if ts.tzinfo is None:
        raise ConfigError(f"timestamp {ts} has no time zone; give it in UTC")
    return ts.tz_convert("UTC")


def _ms(ts: pd.Timestamp) -> int:
    return int(ts.value // 1_000_000)
