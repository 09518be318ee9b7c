"""Money on the wire is decimal yuan text ("123.40"); inside, integer cents. Exact, no floats."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")


def cents_to_text(cents: int) -> str:
    """12340 -> "123.40"."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{whole}.{part:02d}"


def to_cents(value: str | int | float | Decimal) -> int:
    """ "123.4", 123.4 or Decimal("123.40") -> 12340; raises ValueError on anything else.

    Floats go through their shortest repr, so 25.1 is 2510 and not 2509.
    """
    if isinstance(value, bool):
        raise ValueError(f"not an amount: {value!r}")
    try:
        amount = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {value!r}") from exc
    if not amount.is_finite():
        raise ValueError(f"not an amount: {value!r}")
    return int(amount.quantize(CENT, rounding=ROUND_HALF_UP) * 100)
