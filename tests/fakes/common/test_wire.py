"""The one strict reader of wire values: plain ASCII numerals in range, text without controls."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fake_systems.common.money import to_cents
from fake_systems.common.wire import (
    INT64_MAX,
    MAX_CODE_CHARS,
    WireValueError,
    check_text,
    parse_decimal,
    parse_int,
    xml_safe,
)

# Each of these is a number to int(), str.isdigit() or Decimal(), and none is on the wire.
NOT_INTEGERS = (
    "²",  # superscript two: isdigit() is True, int() fails
    "٣",  # Arabic-indic three: int() reads 3
    "３",  # fullwidth three
    "--5",
    "+5",
    "1_0",  # int() reads 10
    "1e3",
    "0x10",
    "1.0",
    "",
    " ",
    "1 0",
    "1" * 5000,  # int() refuses more than 4,300 digits with a ValueError of its own
    1.0,
    True,
    None,
    [1],
)
NOT_DECIMALS = ("1e400", "1E2", "NaN", "-Infinity", "inf", ".5", "5.", "1,5", "١٢.٣", "0x1p3")


@pytest.mark.parametrize("value", NOT_INTEGERS)
def test_integers_are_plain_ascii_numerals(value: object) -> None:
    with pytest.raises(WireValueError, match=r"must be an integer|longer than"):
        parse_int(value)


@pytest.mark.parametrize(("value", "number"), [("40", 40), (" 7\n", 7), ("-3", -3), (12, 12)])
def test_plain_integers_are_read(value: object, number: int) -> None:
    assert parse_int(value) == number


@pytest.mark.parametrize("value", [2**63, str(2**63), -(2**63) - 1, 2**64 - 1])
def test_integers_default_to_sqlite_range(value: object) -> None:
    with pytest.raises(WireValueError, match="out of range"):
        parse_int(value)
    assert parse_int(str(INT64_MAX)) == INT64_MAX


def test_integer_range_is_the_callers() -> None:
    assert parse_int("100", 1, 100) == 100
    with pytest.raises(WireValueError, match=r"out of range \(1 to 100\)"):
        parse_int("0", 1, 100)


@pytest.mark.parametrize("value", NOT_DECIMALS)
def test_decimals_are_plain_ascii_numerals(value: str) -> None:
    with pytest.raises(WireValueError):
        parse_decimal(value)


@pytest.mark.parametrize(
    "value", [10**15, "1000000000000000", 1e300, float("nan"), Decimal("1E+400"), Decimal("sNaN")]
)
def test_decimals_stay_below_the_limit(value: object) -> None:
    with pytest.raises(WireValueError):
        parse_decimal(value)


def test_amounts_in_cents_always_fit_sqlite() -> None:
    assert to_cents("999999999999999.99") == 99999999999999999 < INT64_MAX
    with pytest.raises(ValueError):
        to_cents("100000000000000000")  # 10^17 yuan overflowed the ERP (issue 8)


@given(st.decimals(min_value=-(10**14), max_value=10**14, places=2))
def test_decimal_text_round_trips(number: Decimal) -> None:
    assert parse_decimal(str(number)) == number


@pytest.mark.parametrize(
    "text", ["a\x00b", "a\tb", "a\nb", "a\x7fb", "a\x85b", "a\ud800b", "\ufffe"]
)
def test_codes_refuse_control_characters(text: str) -> None:
    with pytest.raises(WireValueError, match="control character"):
        check_text(text)


def test_codes_are_bounded_and_free_text_may_break_lines() -> None:
    assert check_text("C" * MAX_CODE_CHARS) == "C" * MAX_CODE_CHARS
    with pytest.raises(WireValueError, match=f"longer than {MAX_CODE_CHARS}"):
        check_text("C" * 100_000)
    assert check_text("line 1\r\nline 2\tend", 255, multiline=True) == "line 1\r\nline 2\tend"
    with pytest.raises(WireValueError):
        check_text("bell\x07", 255, multiline=True)


def test_xml_safe_drops_what_xml_cannot_carry() -> None:
    assert xml_safe("a\x00b\x1fc\ufffed\te\nf<&]]>") == "abcd\te\nf<&]]>"
