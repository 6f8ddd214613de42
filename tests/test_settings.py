"""Settings: defaults < TOML < env < explicit overrides, with clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from sentiment.errors import ConfigError
from sentiment.settings import load_settings


def test_defaults_are_the_documented_ones() -> None:
    """It defaults to the local lake, Gate and VIRTUAL/USDT with BTC/USDT as market factor."""
    s = load_settings()
    assert s.lake == Path("data/lake")
    assert s.reports == Path("reports")
    assert s.exchange == "gate"
    assert s.all_symbols == ("VIRTUAL/USDT", "BTC/USDT")


def test_precedence_toml_env_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A flag beats an env var, which beats the TOML file, which beats the default."""
    cfg = tmp_path / "sentiment.toml"
    cfg.write_text('lake = "/from/toml"\nexchange = "binance"\nsymbols = ["ABC/USDT"]\nmin_weeks = 30\n')
    s = load_settings(cfg)
    assert (s.lake, s.exchange, s.symbols, s.min_weeks) == (Path("/from/toml"), "binance", ("ABC/USDT",), 30)
    monkeypatch.setenv("SENTIMENT_LAKE", "/from/env")
    monkeypatch.setenv("SENTIMENT_SYMBOLS", "X/USDT,Y/USDT")
    s = load_settings(cfg)
    assert s.lake == Path("/from/env") and s.symbols == ("X/USDT", "Y/USDT") and s.exchange == "binance"
    s = load_settings(cfg, lake=Path("/from/flag"), exchange=None)
    assert s.lake == Path("/from/flag") and s.exchange == "binance"


def test_invalid_value_names_the_setting(tmp_path: Path) -> None:
    """It raises ConfigError naming the bad setting, not a pydantic traceback."""
    cfg = tmp_path / "bad.toml"
    cfg.write_text("min_weeks = 1\n")
    with pytest.raises(ConfigError, match="min_weeks"):
        load_settings(cfg)


def test_unknown_key_and_missing_file_are_errors(tmp_path: Path) -> None:
    """A typo in the TOML and a missing config file are both ConfigErrors."""
    cfg = tmp_path / "typo.toml"
    cfg.write_text('exchnage = "gate"\n')
    with pytest.raises(ConfigError, match="exchnage"):
        load_settings(cfg)
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")


def test_broken_toml_is_a_config_error(tmp_path: Path) -> None:
    """Unparseable TOML is reported as a ConfigError."""
    cfg = tmp_path / "broken.toml"
    cfg.write_text("lake = \n")
    with pytest.raises(ConfigError):
        load_settings(cfg)
