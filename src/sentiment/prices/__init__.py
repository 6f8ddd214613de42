"""Prices: candles from exchanges via ccxt, users' candle files, and weekly bars."""

from __future__ import annotations

from typing import Any

from sentiment.prices.weekly import candle_gaps, weekly_bars

__all__ = ["candle_gaps", "fetch_candles", "make_exchange", "weekly_bars"]

_EXCHANGE_NAMES = frozenset({"fetch_candles", "make_exchange"})


def __getattr__(name: str) -> Any:
    # ccxt takes ~0.6 s to import; load it only when exchange access is actually used.
    if name in _EXCHANGE_NAMES:
        from sentiment.prices import exchange

        return getattr(exchange, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
