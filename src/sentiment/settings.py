"""The one typed home of configuration: defaults < sentiment.toml < SENTIMENT_* env vars < CLI flags."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from sentiment.errors import ConfigError

__all__ = ["Settings", "load_settings"]

DEFAULT_CONFIG = Path("sentiment.toml")


class Settings(BaseSettings):
    """Everything a run needs to know. Build it with :func:`load_settings`; pass it down, never store it globally."""

    model_config = SettingsConfigDict(env_prefix="SENTIMENT_", extra="forbid", frozen=True)

    lake: Path | str = Field(
        Path("data/lake"),
        description="Root of the Parquet lake: a folder, or an object-store URI (s3://bucket/prefix).",
    )
    reports: Path = Field(Path("reports"), description="Where reports are written.")
    chats: Annotated[tuple[Path, ...], NoDecode] = Field(
        (), description="Chat export files (or folders of them) to ingest."
    )
    platform: str = Field("auto", description="Chat export format, or auto to detect from the content.")
    tz: str | None = Field(
        None, description="IANA zone of exports that only carry local wall time (default UTC, never the machine's)."
    )
    keep_names: bool = Field(False, description="Store display names in the lake (off: pseudonyms only).")
    column_map: str | None = Field(
        None, description="Generic CSV/JSONL columns: ts=COL,author=COL,text=COL[,id=COL,chat=COL]."
    )
    skip_bad_records: bool = Field(
        False, description="Store unparsable records in the rejects table instead of failing the ingest."
    )
    redact: bool = Field(False, description="Mask phone numbers, e-mails and wallet addresses in message text.")
    exchange: str = Field("gate", description="ccxt exchange id.")
    symbols: Annotated[tuple[str, ...], NoDecode] = Field(("VIRTUAL/USDT",), description="Token symbols to report on.")
    market_symbol: str = Field("BTC/USDT", description="Market factor for excess returns.")
    timeframe: str = Field("1d", description="Candle timeframe fetched for weekly bars.")
    since: date = Field(date(2024, 1, 1), description="First day of price history to fetch.")
    until: date | None = Field(None, description="Last day of price history (default: now).")
    api_url: str | None = Field(None, description="Replace scheme+host of the exchange's API URLs (replay server).")
    fetch_retries: int = Field(4, ge=0, le=10, description="Retries of a price request after a network-family error.")
    retry_base_delay: float = Field(
        0.5, ge=0, le=30, description="First backoff sleep in seconds; doubles per retry, ±50 % jitter."
    )
    week_starts_on: Literal["monday", "sunday"] = Field("monday", description="Week anchor, 00:00 UTC.")
    min_weeks: int = Field(26, ge=4, description="Below this many weeks nothing is called significant.")
    max_lag: int = Field(4, ge=1, le=12, description="Lead-lag correlations at lags -max_lag..+max_lag weeks.")
    n_boot: int = Field(
        2000,
        ge=100,
        description="Deprecated, unused: the lead-lag intervals come from the HAC rule, not a bootstrap (still "
        "accepted so configs that set it load).",
    )
    alpha: float = Field(0.05, gt=0, lt=1, description="False discovery rate for Benjamini-Hochberg.")
    seed: int = Field(0, description="Seed of every random draw in the analysis.")
    scorer: Literal["hybrid", "lexicon", "vader", "trained"] = Field(
        "hybrid",
        description="Sentiment scorer: hybrid (lexicons of 10 languages + shipped learned models), lexicon "
        "(VADER + crypto + Chinese), vader, or trained (lake model).",
    )
    aliases: dict[str, tuple[str, ...]] = Field(
        default_factory=lambda: {"VIRTUAL/USDT": ("VIRTUAL", "$VIRTUAL", "virtuals")},
        description="Names that count as a mention of each symbol (symbol -> aliases).",
    )
    communities: dict[str, tuple[Path, ...]] = Field(
        default_factory=dict,
        description="Symbol -> its community's chat export files or folders (each report uses only its own chats; "
        "two or more also give a pooled panel report). Their symbols are the report symbols.",
    )
    frequency: Literal["1w", "1d"] = Field(
        "1w", description="Bar size of features, returns and every analysis: 1w (weeks) or 1d (days)."
    )
    runner: Literal["threads", "dask"] = Field(
        "threads", description="Task runner of the flows: a local thread pool, or a Dask cluster."
    )
    dask_address: str | None = Field(
        None, description="Scheduler of an existing Dask cluster (tcp://host:8786); default: a temporary local one."
    )

    @field_validator("symbols", "chats", mode="before")
    @classmethod
    def _split_symbols(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(s.strip() for s in value.split(",") if s.strip())
        return value

    @model_validator(mode="before")
    @classmethod
    def _communities_name_symbols_and_chats(cls, data: Any) -> Any:
        """With communities, the report symbols are the communities' and their paths are among the chats read."""
        if not isinstance(data, dict) or not data.get("communities"):
            return data
        communities = {
            str(sym): (paths,) if isinstance(paths, str | Path) else tuple(paths)
            for sym, paths in dict(data["communities"]).items()
        }
        chats = data.get("chats") or ()
        chats = tuple(c.strip() for c in chats.split(",") if c.strip()) if isinstance(chats, str) else tuple(chats)
        return {
            **data,
            "communities": communities,
            # Every community is a report symbol, and its exports are read.
            "symbols": tuple(communities),
            "chats": tuple(dict.fromkeys([*map(Path, chats), *(Path(p) for ps in communities.values() for p in ps)])),
        }

    @field_validator("lake", mode="after")
    @classmethod
    def _lake_path_or_uri(cls, value: Path | str) -> Path | str:
        """A URI with a scheme (s3://...) stays a string; anything else is a local Path."""
        text = str(value)
        scheme = text.split("://", 1)[0] if "://" in text else ""
        return text if len(scheme) > 1 and scheme != "file" and isinstance(value, str) else Path(value)

    @property
    def all_symbols(self) -> tuple[str, ...]:
        """The report symbols plus the market factor, each once, in order."""
        return tuple(dict.fromkeys((*self.symbols, self.market_symbol)))

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        toml_file = os.environ.get("SENTIMENT_CONFIG", str(DEFAULT_CONFIG))
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, toml_file=toml_file))


def load_settings(config: Path | None = None, **overrides: Any) -> Settings:
    """Build Settings from an optional TOML file, the environment and explicit overrides (None = not given).

    Raises ConfigError naming the offending setting.
    """
    given = {k: v for k, v in overrides.items() if v is not None and v != ()}
    previous = os.environ.get("SENTIMENT_CONFIG")
    try:
        if config is not None:
            if not config.is_file():
                raise ConfigError(f"config file {config} does not exist")
            os.environ["SENTIMENT_CONFIG"] = str(config)
        return Settings(**given)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        raise ConfigError(f"invalid setting {where}: {first['msg']}") from exc
    except (SettingsError, ValueError) as exc:  # tomllib.TOMLDecodeError is a ValueError
        raise ConfigError(f"cannot read config: {exc}") from exc
    finally:
        if config is not None:
            _restore_env("SENTIMENT_CONFIG", previous)


def _restore_env(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value
