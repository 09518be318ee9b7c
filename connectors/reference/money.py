"""Money as the connector handles it: integer cents inside, decimal yuan text on the wire."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")


def cents_to_text(cents: int) -> str:
    """12340 -> "123.40"."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{whole}.{part:02d}"


def to_cents(value: str | int | float | Decimal) -> int:
    """Yuan as "123.4", 123.4 or Decimal("123.40") -> 12340, rounded half up; ValueError else."""
    if isinstance(value, bool):
        raise ValueError(f"not an amount: {value!r}")
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {value!r}") from exc
    if not number.is_finite():
        raise ValueError(f"not an amount: {value!r}")
    return int(number.quantize(CENT, rounding=ROUND_HALF_UP) * 100)
