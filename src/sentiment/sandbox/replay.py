"""Serve recorded Gate and Binance spot responses on loopback in their wire formats, for real ccxt to replay.

Layout under ``root``::

    gate/spot_currency_pairs.json                 GET /api/v4/spot/currency_pairs[/{pair}]
    gate/margin_currency_pairs.json  (optional)   GET /api/v4/margin/currency_pairs   (else [])
    gate/spot_candlesticks/<PAIR>_<interval>.json GET /api/v4/spot/candlesticks?currency_pair=..&interval=..
    binance/exchange_info.json                    GET /api/v3/exchangeInfo[?symbol=..|symbols=[..]]
    binance/klines/<SYMBOL>_<interval>.json       GET /api/v3/klines?symbol=..&interval=..

Binance's klines endpoint mirrors Binance's rules: ``startTime``/``endTime`` in ms, inclusive on candle open
time; with ``startTime`` the first ``limit`` candles from it, else the latest ``limit`` up to ``endTime``
(default now); ``limit`` defaults to 500, at most 1000; candles opening after now do not exist yet. Errors
come as ``{"code", "msg"}`` with Binance's codes (-1121 invalid symbol, -1120 invalid interval, ...).

The candlestick endpoint mirrors Gate's rules: ``from``/``to`` inclusive on candle open time (seconds),
``to`` defaults to now and ``from`` to ``to - 100 * interval``; ``limit`` (default 100) returns the latest
points and is rejected together with ``from``/``to``; more than 1000 points per request, or a ``from`` more
than 10000 points back from now, is rejected with ``INVALID_PARAM_VALUE`` like Gate does.

:class:`ReplayPlan` is a test and demo facility: it records every request and can inject faults
(429, 500, connection reset) into the next requests, to exercise a client's retry path.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar, Literal
from urllib.parse import parse_qs, urlsplit

__all__ = ["BINANCE_INTERVALS", "GATE_INTERVALS", "ReplayPlan", "serve_recorded"]

Fault = Literal["ok", "429", "500", "reset"]

# Gate v4 spot candlestick intervals and their length in seconds.
GATE_INTERVALS: dict[str, int] = {
    "1s": 1,
    "10s": 10,
    "1m": 60,
    "5m": 300,
    "15m": 900,
    "30m": 1800,
    "1h": 3600,
    "4h": 14400,
    "8h": 28800,
    "1d": 86400,
    "7d": 604800,
    "30d": 2592000,
}
# Binance spot kline intervals with a fixed length, in seconds ("1M" is left out: months vary).
BINANCE_INTERVALS: dict[str, int] = {
    "1s": 1,
    "1m": 60,
    "3m": 180,
    "5m": 300,
    "15m": 900,
    "30m": 1800,
    "1h": 3600,
    "2h": 7200,
    "4h": 14400,
    "6h": 21600,
    "8h": 28800,
    "12h": 43200,
    "1d": 86400,
    "3d": 259200,
    "1w": 604800,
}
BINANCE_DEFAULT_LIMIT = 500
BINANCE_MAX_LIMIT = 1000
MAX_POINTS_PER_REQUEST = 1000
MAX_POINTS_AGO = 10_000
DEFAULT_LIMIT = 100
DEFAULT_INTERVAL = "30m"


@dataclass
class ReplayPlan:
    """What a replay server should do beyond replaying: faults to inject, and the log of what it was asked.

    ``faults`` is consumed one entry per matching request ("ok" passes the request through); only requests
    whose path starts with ``fault_path`` are matched. ``requests`` receives every request's path+query.
    ``now_s`` fixes the server's clock (unix seconds) for ``to`` defaults and the 10000-points-ago rule.
    """

    faults: list[Fault] = field(default_factory=list)
    fault_path: str = "/"
    requests: list[str] = field(default_factory=list)
    now_s: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def record(self, path: str) -> Fault:
        """Log a request and return the fault it should meet."""
        with self._lock:
            self.requests.append(path)
            if self.faults and urlsplit(path).path.startswith(self.fault_path):
                return self.faults.pop(0)
            return "ok"

    def count(self, path_prefix: str) -> int:
        """How many logged requests went to a path starting with ``path_prefix``."""
        with self._lock:
            return sum(1 for p in self.requests if urlsplit(p).path.startswith(path_prefix))

    def now(self) -> float:
        return time.time() if self.now_s is None else self.now_s


class _ApiError(Exception):
    """An exchange API error: the HTTP status and the JSON body that exchange sends with it."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(str(body))
        self.status = status
        self._body = body

    def body(self) -> dict[str, Any]:
        return self._body


def _gate_error(status: int, label: str, message: str) -> _ApiError:
    """Gate's error body: ``{"label", "message"}``."""
    return _ApiError(status, {"label": label, "message": message})


def _binance_error(status: int, code: int, msg: str) -> _ApiError:
    """Binance's error body: ``{"code", "msg"}``."""
    return _ApiError(status, {"code": code, "msg": msg})


class _RecordedGate:
    """Answers Gate v4 public spot endpoints from files under ``root/gate``."""

    prefix = "/api/v4/"
    faults: ClassVar[dict[str, tuple[int, dict[str, Any]]]] = {
        "429": (429, {"label": "TOO_MANY_REQUESTS", "message": "Request Rate limit Exceeded"}),
        "500": (500, {"label": "SERVER_ERROR", "message": "Internal server error"}),
        "405": (405, {"label": "METHOD_NOT_ALLOWED", "message": "Method not allowed"}),
    }

    def __init__(self, root: Path, plan: ReplayPlan) -> None:
        self.dir = root / "gate"
        self.plan = plan

    def answer(self, path: str, query: dict[str, str]) -> Any:
        if path == "/api/v4/spot/currency_pairs":
            return self._pairs()
        if path.startswith("/api/v4/spot/currency_pairs/"):
            return self._pair(path.rsplit("/", 1)[1])
        if path == "/api/v4/margin/currency_pairs":
            margin = self.dir / "margin_currency_pairs.json"
            return _read_json(margin) if margin.is_file() else []
        if path == "/api/v4/spot/candlesticks":
            return self._candles(query)
        raise _gate_error(404, "NOT_FOUND", f"Not found: {path}")

    def _pairs(self) -> list[dict[str, Any]]:
        path = self.dir / "spot_currency_pairs.json"
        if not path.is_file():
            raise _gate_error(404, "NOT_FOUND", "no recorded currency pairs")
        return _read_json(path)

    def _pair(self, pair: str) -> dict[str, Any]:
        for item in self._pairs():
            if item.get("id") == pair:
                return item
        raise _gate_error(400, "INVALID_CURRENCY_PAIR", f"Invalid currency pair {pair}")

    def _candles(self, query: dict[str, str]) -> list[list[str]]:
        pair = query.get("currency_pair")
        if not pair:
            raise _gate_error(400, "MISSING_REQUIRED_PARAM", "Missing required parameter: currency_pair")
        self._pair(pair)
        interval = query.get("interval", DEFAULT_INTERVAL)
        if interval not in GATE_INTERVALS:
            raise _bad_param("interval", interval)
        step = GATE_INTERVALS[interval]
        now = int(self.plan.now())
        start, end, limit = (_int_param(query, key) for key in ("from", "to", "limit"))
        if limit is not None and (start is not None or end is not None):
            raise _bad_param("limit", limit)
        end = now if end is None else end
        rows = self._rows(pair, interval)
        if start is None:
            count = DEFAULT_LIMIT if limit is None else limit
            if not 1 <= count <= MAX_POINTS_PER_REQUEST:
                raise _bad_param("limit", count)
            return [r for r in rows if int(r[0]) <= end][-count:]
        if (end - start) // step + 1 > MAX_POINTS_PER_REQUEST:
            raise _gate_error(
                400,
                "INVALID_PARAM_VALUE",
                "Candlestick range too broad. Maximum 1000 data points are allowed per request",
            )
        if (now - start) // step > MAX_POINTS_AGO:
            raise _gate_error(
                400, "INVALID_PARAM_VALUE", "Candlestick too long ago. Maximum 10000 points ago are allowed"
            )
        return [r for r in rows if start <= int(r[0]) <= end]

    def _rows(self, pair: str, interval: str) -> list[list[str]]:
        path = self.dir / "spot_candlesticks" / f"{pair}_{interval}.json"
        return _read_json(path) if path.is_file() else []


class _RecordedBinance:
    """Answers Binance spot public endpoints (``/api/v3``) from files under ``root/binance``."""

    prefix = "/api/v3/"
    faults: ClassVar[dict[str, tuple[int, dict[str, Any]]]] = {
        "429": (
            429,
            {
                "code": -1003,
                "msg": "Too many requests; current limit of IP is 6000 requests per "
                "minute. Please use WebSocket Streams for live updates to avoid polling the API.",
            },
        ),
        "500": (500, {"code": -1001, "msg": "Internal error; unable to process your request. Please try again."}),
        "405": (405, {"code": -1014, "msg": "Unsupported order combination."}),
    }

    def __init__(self, root: Path, plan: ReplayPlan) -> None:
        self.dir = root / "binance"
        self.plan = plan

    def answer(self, path: str, query: dict[str, str]) -> Any:
        if path == "/api/v3/exchangeInfo":
            return self._exchange_info(query)
        if path == "/api/v3/klines":
            return self._klines(query)
        if path == "/api/v3/ping":
            return {}
        if path == "/api/v3/time":
            return {"serverTime": int(self.plan.now() * 1000)}
        raise _binance_error(404, -1000, f"Not found: {path}")

    def _info(self) -> dict[str, Any]:
        path = self.dir / "exchange_info.json"
        if not path.is_file():
            raise _binance_error(404, -1000, "no recorded exchange info")
        info = _read_json(path)
        info["serverTime"] = int(self.plan.now() * 1000)
        return info

    def _exchange_info(self, query: dict[str, str]) -> dict[str, Any]:
        info = self._info()
        wanted: list[str] | None = None
        if "symbol" in query:
            wanted = [query["symbol"]]
        elif "symbols" in query:
            try:
                wanted = [str(s) for s in json.loads(query["symbols"])]
            except (ValueError, TypeError):
                raise _binance_error(400, -1100, "Illegal characters found in parameter 'symbols'.") from None
        if wanted is not None:
            listed = {m["symbol"]: m for m in info["symbols"]}
            if any(s not in listed for s in wanted):
                raise _binance_error(400, -1121, "Invalid symbol.")
            info["symbols"] = [listed[s] for s in wanted]
        return info

    def _klines(self, query: dict[str, str]) -> list[list[Any]]:
        for key in ("symbol", "interval"):
            if not query.get(key):
                raise _binance_error(
                    400, -1102, f"Mandatory parameter '{key}' was not sent, was empty/null, or malformed."
                )
        symbol, interval = query["symbol"], query["interval"]
        if symbol not in {m["symbol"] for m in self._info()["symbols"]}:
            raise _binance_error(400, -1121, "Invalid symbol.")
        if interval not in BINANCE_INTERVALS:
            raise _binance_error(400, -1120, "Invalid interval.")
        start, end, limit = (_int_param(query, key, _binance_bad_int) for key in ("startTime", "endTime", "limit"))
        limit = BINANCE_DEFAULT_LIMIT if limit is None else limit
        if not 1 <= limit <= BINANCE_MAX_LIMIT:
            raise _binance_error(400, -1130, "Data sent for parameter 'limit' is not valid.")
        if start is not None and end is not None and start > end:
            raise _binance_error(400, -1023, "Start time is greater than end time.")
        now_ms = int(self.plan.now() * 1000)
        end = now_ms if end is None else min(end, now_ms)
        rows = [r for r in self._rows(symbol, interval) if int(r[0]) <= end]
        if start is None:
            return rows[-limit:]
        return [r for r in rows if int(r[0]) >= start][:limit]

    def _rows(self, symbol: str, interval: str) -> list[list[Any]]:
        path = self.dir / "klines" / f"{symbol}_{interval}.json"
        return _read_json(path) if path.is_file() else []


def _int_param(query: dict[str, str], key: str, bad: Callable[[str, str], _ApiError] | None = None) -> int | None:
    """An integer query parameter (None when absent); ``bad(key, raw)`` builds the error (default Gate's)."""
    raw = query.get(key)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise (bad or _bad_param)(key, raw) from None


def _binance_bad_int(key: str, raw: str) -> _ApiError:
    return _binance_error(
        400, -1100, f"Illegal characters found in parameter '{key}'; legal range is '^[0-9]{{1,20}}$'."
    )


def _bad_param(key: str, value: object) -> _ApiError:
    return _gate_error(400, "INVALID_PARAM_VALUE", f"Invalid request parameter `{key}` value: {value}")


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _handler(gate: _RecordedGate, binance: _RecordedBinance, plan: ReplayPlan) -> type[BaseHTTPRequestHandler]:
    def backend(path: str) -> _RecordedGate | _RecordedBinance:
        return binance if urlsplit(path).path.startswith(binance.prefix) else gate

    class Handler(BaseHTTPRequestHandler):
        server_version = "replay-exchange"

        def do_GET(self) -> None:
            fault = plan.record(self.path)
            if fault == "reset":
                # SO_LINGER 0 makes close() send RST: the client sees a connection reset, not an empty reply.
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.close_connection = True
                self.connection.close()
                return
            api = backend(self.path)
            if fault in ("429", "500"):
                self._send(*api.faults[fault])
                return
            url = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
            try:
                self._send(200, api.answer(url.path, query))
            except _ApiError as err:
                self._send(err.status, err.body())

        def _refuse(self) -> None:
            plan.record(self.path)
            self._send(*backend(self.path).faults["405"])

        do_POST = do_PUT = do_DELETE = do_PATCH = _refuse

        def _send(self, status: int, payload: Any) -> None:
            body = json.dumps(payload, separators=(",", ":")).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            """Stay quiet: the plan keeps the request log."""

    return Handler


@contextmanager
def serve_recorded(root: Path, plan: ReplayPlan | None = None) -> Iterator[str]:
    """Run a loopback Gate + Binance replay server over ``root`` for the ``with`` block.

    Yields ``http://127.0.0.1:<port>``.
    """
    plan = ReplayPlan() if plan is None else plan
    root = Path(root)
    handler = _handler(_RecordedGate(root, plan), _RecordedBinance(root, plan), plan)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    # A short poll interval keeps shutdown (which waits for the next poll) from costing half a second.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="exchange-replay", daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
