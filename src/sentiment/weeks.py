"""The project's one definition of a week: the UTC midnight that starts the week a timestamp falls in."""

from __future__ import annotations

import pandas as pd

from sentiment.errors import ConfigError

__all__ = ["WEEKDAYS", "week_start", "weekday_index"]

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_ALIASES = {
    **{day: i for i, day in enumerate(WEEKDAYS)},
    **{day[:3]: i for i, day in enumerate(WEEKDAYS)},
    # pandas-style anchor: "W-MON" names the day weeks start on, as the contract's settings use it.
    **{f"w-{day[:3]}": i for i, day in enumerate(WEEKDAYS)},
}


def weekday_index(week_starts_on: str) -> int:
    """0 for Monday ... 6 for Sunday; accepts "monday", "mon" or "W-MON" in any case."""
    try:
        return _ALIASES[week_starts_on.strip().lower()]
    except KeyError:
        raise ConfigError(
            f"unknown week start {week_starts_on!r}; use a weekday name ('monday') or an alias ('W-MON')"
        ) from None


def week_start(ts: pd.Series, week_starts_on: str = "monday") -> pd.Series:
    """For each tz-aware timestamp, 00:00 UTC of the first day of its week (default Monday); NaT stays NaT."""
    first = weekday_index(week_starts_on)
    if not isinstance(ts.dtype, pd.DatetimeTZDtype):
        raise ConfigError("week_start needs tz-aware timestamps (UTC); got naive or non-datetime values")
    day = ts.dt.tz_convert("UTC").dt.floor("D")
    back = pd.to_timedelta((day.dt.day_of_week - first) % 7, unit="D")
    return (day - back).rename("week_start")
