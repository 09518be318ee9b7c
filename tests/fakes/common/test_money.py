"""Money conversions are exact to the cent."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fake_systems.common.money import cents_to_text, to_cents


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_text_round_trips(cents: int) -> None:
    assert to_cents(cents_to_text(cents)) == cents


@pytest.mark.parametrize(
    ("value", "cents"),
    [("123.40", 12340), (25.1, 2510), (0.29, 29), (Decimal("1.005"), 101), (7, 700), ("-0.05", -5)],
)
def test_known_values(value: object, cents: int) -> None:
    assert to_cents(value) == cents  # type: ignore[arg-type]


@pytest.mark.parametrize("junk", ["abc", "", "NaN", "Infinity", True])
def test_junk_is_refused(junk: object) -> None:
    with pytest.raises(ValueError):
        to_cents(junk)  # type: ignore[arg-type]
