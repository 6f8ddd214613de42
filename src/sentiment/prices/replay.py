"""Serve recorded Gate spot responses on loopback in Gate's wire format, for the real ccxt client to replay.

Layout under ``root``::

    gate/spot_currency_pairs.json                 GET /api/v4/spot/currency_pairs[/{pair}]
    gate/margin_currency_pairs.json  (optional)   GET /api/v4/margin/currency_pairs   (else [])
    gate/spot_candlesticks/<PAIR>_<interval>.json GET /api/v4/spot/candlesticks?currency_pair=..&interval=..

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
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

__all__ = ["GATE_INTERVALS", "ReplayPlan", "serve_recorded"]

Fault = Literal["ok", "429", "500", "reset"]

# Gate v4 spot candlestick intervals and their length in seconds.
GATE_INTERVALS: dict[str, int] = {
    "1s": 1, "10s": 10, "1m": 60, "5m": 300, "15m": 900, "30m": 1800, "1h": 3600, "4h": 14400,
    "8h": 28800, "1d": 86400, "7d": 604800, "30d": 2592000,
}
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


class _GateError(Exception):
    """A Gate-style API error: HTTP status plus ``{"label", "message"}`` body."""

    def __init__(self, status: int, label: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.label = label
        self.message = message


class _RecordedGate:
    """Answers Gate v4 public spot endpoints from files under ``root/gate``."""

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
        raise _GateError(404, "NOT_FOUND", f"Not found: {path}")

    def _pairs(self) -> list[dict[str, Any]]:
        path = self.dir / "spot_currency_pairs.json"
        if not path.is_file():
            raise _GateError(404, "NOT_FOUND", "no recorded currency pairs")
        return _read_json(path)

    def _pair(self, pair: str) -> dict[str, Any]:
        for item in self._pairs():
            if item.get("id") == pair:
                return item
        raise _GateError(400, "INVALID_CURRENCY_PAIR", f"Invalid currency pair {pair}")

    def _candles(self, query: dict[str, str]) -> list[list[str]]:
        pair = query.get("currency_pair")
        if not pair:
            raise _GateError(400, "MISSING_REQUIRED_PARAM", "Missing required parameter: currency_pair")
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
            raise _GateError(400, "INVALID_PARAM_VALUE",
                             "Candlestick range too broad. Maximum 1000 data points are allowed per request")
        if (now - start) // step > MAX_POINTS_AGO:
            raise _GateError(400, "INVALID_PARAM_VALUE",
                             "Candlestick too long ago. Maximum 10000 points ago are allowed")
        return [r for r in rows if start <= int(r[0]) <= end]

    def _rows(self, pair: str, interval: str) -> list[list[str]]:
        path = self.dir / "spot_candlesticks" / f"{pair}_{interval}.json"
        return _read_json(path) if path.is_file() else []


def _int_param(query: dict[str, str], key: str) -> int | None:
    raw = query.get(key)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise _bad_param(key, raw) from None


def _bad_param(key: str, value: object) -> _GateError:
    return _GateError(400, "INVALID_PARAM_VALUE", f"Invalid request parameter `{key}` value: {value}")


def _read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _handler(gate: _RecordedGate, plan: ReplayPlan) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "replay-gate"

        def do_GET(self) -> None:
            fault = plan.record(self.path)
            if fault == "reset":
                # SO_LINGER 0 makes close() send RST: the client sees a connection reset, not an empty reply.
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.close_connection = True
                self.connection.close()
                return
            if fault == "429":
                self._send(429, {"label": "TOO_MANY_REQUESTS", "message": "Request Rate limit Exceeded"})
                return
            if fault == "500":
                self._send(500, {"label": "SERVER_ERROR", "message": "Internal server error"})
                return
            url = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
            try:
                self._send(200, gate.answer(url.path, query))
            except _GateError as err:
                self._send(err.status, {"label": err.label, "message": err.message})

        def _refuse(self) -> None:
            plan.record(self.path)
            self._send(405, {"label": "METHOD_NOT_ALLOWED", "message": "Method not allowed"})

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
    """Run a loopback Gate replay server over ``root`` for the ``with`` block; yields ``http://127.0.0.1:<port>``."""
    plan = ReplayPlan() if plan is None else plan
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(_RecordedGate(Path(root), plan), plan))
    server.daemon_threads = True
    # A short poll interval keeps shutdown (which waits for the next poll) from costing half a second.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, name="gate-replay", daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
