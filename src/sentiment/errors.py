"""The project's exception hierarchy: every failure a user can cause or meet, with where it happened.

::

    SentimentError                      base; ``str(e)`` is the one-line message the CLI prints
    ├── ConfigError                     bad settings value or TOML file
    ├── InputError                      a user-supplied file cannot be used
    │   ├── ParseError                  malformed or truncated record (file, line/record, reason)
    │   ├── EncodingError               bytes that are not in the encoding the format uses
    │   └── UnknownFormatError          ``--platform auto`` could not recognise the file
    ├── PriceError                      anything on the exchange side (exchange, symbol, since)
    │   ├── UnknownSymbolError          the exchange does not list the symbol (carries close matches)
    │   └── ExchangeUnavailableError    network-family failures that outlived the retries
    ├── LakeError                       the Parquet lake cannot be read or written safely
    │   └── SchemaMismatchError         a table about to be written does not match its declared schema
    ├── AnalysisError                   not enough data to analyse
    └── OrchestrationError              the Prefect server or a deployment cannot be started or reached
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "AnalysisError",
    "ConfigError",
    "EncodingError",
    "ExchangeUnavailableError",
    "InputError",
    "LakeError",
    "OrchestrationError",
    "ParseError",
    "PriceError",
    "SchemaMismatchError",
    "SentimentError",
    "UnknownFormatError",
    "UnknownSymbolError",
]


class SentimentError(Exception):
    """Base of every error this project raises on purpose."""

    def __reduce__(self) -> tuple[object, ...]:
        # Rebuilt with its attributes (path, line, ...) rather than by calling __init__ with the message: a step run
        # in a child process (see sentiment.steps.isolated) re-raises the same error, of the same class, here.
        return (_rebuilt, (type(self), self.args, self.__dict__))


def _rebuilt(cls: type[SentimentError], args: tuple[object, ...], state: dict[str, object]) -> SentimentError:
    error = cls.__new__(cls, *args)
    error.args = args
    error.__dict__.update(state)
    return error


class ConfigError(SentimentError):
    """A setting (flag, env var or TOML value) is invalid."""


class InputError(SentimentError):
    """A user-supplied file cannot be used; ``path`` names it, ``line`` the line or record (1-based) if known."""

    def __init__(self, path: str | Path, reason: str, line: int | None = None) -> None:
        self.path = str(path)
        self.line = line
        self.reason = reason
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {reason}")


class ParseError(InputError):
    """A record is malformed or the file is truncated."""


class EncodingError(InputError):
    """The file's bytes do not decode in the encoding its format uses."""


class UnknownFormatError(InputError):
    """Automatic format detection recognised none of the supported formats."""


class PriceError(SentimentError):
    """A price request failed; carries the exchange, symbol and since (ms or None) of the request."""

    def __init__(self, exchange: str, symbol: str, since: int | None, reason: str) -> None:
        self.exchange = exchange
        self.symbol = symbol
        self.since = since
        self.reason = reason
        since_txt = "" if since is None else f" since {_iso(since)}"
        super().__init__(f"{exchange} {symbol}{since_txt}: {reason}")


class UnknownSymbolError(PriceError):
    """The exchange does not list the symbol; ``close_matches`` are listed symbols that look alike."""

    def __init__(self, exchange: str, symbol: str, close_matches: list[str]) -> None:
        self.close_matches = close_matches
        hint = f" (did you mean {', '.join(close_matches)}?)" if close_matches else ""
        super().__init__(exchange, symbol, None, f"unknown symbol{hint}")


class ExchangeUnavailableError(PriceError):
    """Network-family failures (timeouts, 429, DDoS protection, maintenance) outlived the retries."""


class LakeError(SentimentError):
    """The lake cannot be read or written safely; ``path`` names the table or file."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class SchemaMismatchError(LakeError):
    """A table about to be written does not match the schema declared for it."""


class AnalysisError(SentimentError):
    """The data is too thin (or malformed) to run an analysis."""


class OrchestrationError(SentimentError):
    """The local Prefect server could not start, or a deployment could not be served or run."""


def _iso(ms: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
