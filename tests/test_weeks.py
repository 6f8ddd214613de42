"""week_start: the shared definition of a week."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sentiment.errors import ConfigError
from sentiment.weeks import WEEKDAYS, week_start


def utc(*stamps: str | None) -> pd.Series:
    return pd.Series(pd.to_datetime(list(stamps), utc=True, format="ISO8601")).astype("datetime64[us, UTC]")


def test_monday_midnight_utc_by_default() -> None:
    """It maps Sunday 23:59 to the previous Monday and Monday 00:00 to itself."""
    got = week_start(utc("2024-03-10 23:59:59", "2024-03-11 00:00", "2024-03-13 12:00"))
    assert got.tolist() == [pd.Timestamp("2024-03-04", tz="UTC")] + [pd.Timestamp("2024-03-11", tz="UTC")] * 2
    assert str(got.dtype) == "datetime64[us, UTC]"


def test_other_time_zones_are_converted_to_utc_first() -> None:
    """It decides the week from the UTC instant, not the local wall clock."""
    local = utc("2024-03-10 20:00").dt.tz_convert("Asia/Shanghai")  # Monday 04:00 in Shanghai
    assert week_start(local).iloc[0] == pd.Timestamp("2024-03-04", tz="UTC")


@pytest.mark.parametrize("name", ["sunday", "Sun", "W-SUN"])
def test_sunday_weeks(name: str) -> None:
    """It accepts a weekday name, its abbreviation or a W-XXX alias for the first day of the week."""
    got = week_start(utc("2024-03-09 12:00", "2024-03-10 00:00"), name)
    assert got.tolist() == [pd.Timestamp("2024-03-03", tz="UTC"), pd.Timestamp("2024-03-10", tz="UTC")]


def test_missing_timestamps_stay_missing() -> None:
    """It keeps NaT as NaT and preserves the index."""
    series = utc("2024-03-13", None)
    series.index = [10, 20]
    got = week_start(series)
    assert got.index.tolist() == [10, 20]
    assert pd.isna(got.loc[20])


def test_refuses_bad_input() -> None:
    """It rejects an unknown weekday name and naive timestamps."""
    with pytest.raises(ConfigError, match="unknown week start"):
        week_start(utc("2024-03-13"), "funday")
    with pytest.raises(ConfigError, match="tz-aware"):
        week_start(pd.Series(pd.to_datetime(["2024-03-13"])))


@given(
    st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)),
    st.sampled_from(WEEKDAYS),
)
def test_week_contains_its_timestamp(moment: datetime, first_day: str) -> None:
    """It returns a midnight on the chosen weekday, at most seven days before the timestamp."""
    ts = pd.Timestamp(moment)
    start = week_start(pd.Series([ts]), first_day).iloc[0]
    assert start <= ts < start + pd.Timedelta(days=7)
    assert start == start.normalize()
    assert start.day_name().lower() == first_day
