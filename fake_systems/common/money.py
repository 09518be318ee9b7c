"""Money on the wire is decimal yuan text ("123.40"); inside, integer cents. Exact, no floats."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")


def cents_to_text(cents: int) -> str:
    """12340 -> "123.40"."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{whole}.{part:02d}"


def to_decimal(value: object) -> Decimal:
    """A finite Decimal from text, int, float or Decimal; ValueError on anything else.

    Floats go through their shortest repr, so 25.1 is Decimal("25.1"), not 25.0999….
    """
    if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
        raise ValueError(f"not a number: {value!r}")
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise ValueError(f"not a number: {value!r}") from exc
    if not number.is_finite():
        raise ValueError(f"not a number: {value!r}")
    return number


def to_cents(value: str | int | float | Decimal) -> int:
    """Yuan as "123.4", 123.4 or Decimal("123.40") -> 12340; ValueError on anything else."""
    return int(to_decimal(value).quantize(CENT, rounding=ROUND_HALF_UP) * 100)
