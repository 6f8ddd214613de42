"""Python's round over arrays: the same float for every value, ties and near-ties included."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sentiment.scoring.rounding import round_like_python


def _same(got: np.ndarray, expected: list[float]) -> bool:
    want = np.array(expected, dtype="float64")
    return bool(np.array_equal(got, want, equal_nan=True) and np.array_equal(np.signbit(got), np.signbit(want)))


@pytest.mark.parametrize("digits", [3, 4])
def test_ties_and_their_neighbours_round_as_python_does(digits: int) -> None:
    """Every multiple of half a unit in the last place kept, and the floats right beside it: numpy.round gets
    some of these wrong (0.0005 -> 0.0 at 3 digits), round_like_python none."""
    step = 0.5 / 10**digits
    ties = np.arange(-2 * 10**digits, 2 * 10**digits + 1) * step
    values = np.concatenate([ties, np.nextafter(ties, np.inf), np.nextafter(ties, -np.inf)])
    expected = [round(v, digits) for v in values.tolist()]
    assert _same(round_like_python(values, digits), expected)
    assert not _same(np.round(values, digits), expected)  # the case this module exists for


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True), max_size=50), st.sampled_from([0, 3, 4]))
def test_any_floats_round_as_python_does(values: list[float], digits: int) -> None:
    """Random floats, zeros of both signs, NaN, infinities and huge values: the same as round, element by element."""
    values = [*values, 0.0, -0.0, -0.00004, 1e300]
    expected = [round(v, digits) if v == v and abs(v) != float("inf") else v for v in values]
    assert _same(round_like_python(np.array(values), digits), expected)
