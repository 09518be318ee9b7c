"""Money on the wire is decimal yuan text ("123.40"); inside, integer cents. Exact, no floats."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from fake_systems.common.wire import parse_decimal

CENT = Decimal("0.01")


def cents_to_text(cents: int) -> str:
    """12340 -> "123.40"."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{whole}.{part:02d}"


def to_cents(value: str | int | float | Decimal) -> int:
    """Yuan as "123.4", 123.4 or Decimal("123.40") -> 12340; ValueError on anything else
    (strict: plain ASCII numerals below 10^15, see `wire.parse_decimal`)."""
    return int(parse_decimal(value).quantize(CENT, rounding=ROUND_HALF_UP) * 100)
