"""Strict reading of values from the wire: numbers and text, shared by every adapter.

A number is a plain ASCII numeral: `-?[0-9]+` for integers, `-?[0-9]+(.[0-9]+)?` for
decimals, with surrounding ASCII blanks allowed. Python is far more lenient, and each
leniency was a way into the fakes: `int()` takes "1_0" and "٣", `str.isdigit()` is true for
"²", `Decimal()` takes "1e400" and "NaN". Numerals longer than MAX_NUMERAL_CHARS are refused
before any conversion, and every value is checked against its range: integers against the
field's own, by default SQLite's signed 64 bits; decimals below 10^15 in magnitude, so that
amounts in cents always fit SQLite's integers.

Text is refused when it carries control characters (C0 and C1, DEL), lone surrogates or the
non-characters U+FFFE/U+FFFF, or when it is longer than its kind allows: MAX_CODE_CHARS for
codes and identifiers, MAX_TEXT_CHARS for free text (names, addresses, remarks); a protocol
with published limits of its own (ISO 20022) keeps those.

JSON bodies are read by `load_json`: at most MAX_JSON_DEPTH levels of nesting and
MAX_JSON_VALUES values, so that no later step (recursive redaction of the history, …) meets
a 900-level body and the work one request can cause stays bounded.

Every refusal is a WireValueError whose message completes a sentence after the field's name
("… must be an integer"), so each adapter answers it in its protocol's own error format.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1  # SQLite INTEGER is signed 64-bit
MAX_NUMERAL_CHARS = 40  # an int64 has 19 digits; ISO 20022's CtrlSum 15 + 1 + 17
DECIMAL_LIMIT = Decimal(10) ** 15  # exclusive; its cents (10^17) fit SQLite's integers
MAX_CODE_CHARS = 64  # codes and identifiers: order, item, bill, waybill numbers, …
MAX_TEXT_CHARS = 255  # free text: names, addresses, remarks
MAX_JSON_DEPTH = 32  # the deepest legitimate body (a K3 model) nests 6 levels
MAX_JSON_VALUES = 100_000  # a 1 MiB OMS pushSelf2 of lines holds about 57,000

_BLANKS = " \t\r\n"
_INTEGER = re.compile(r"-?[0-9]+", re.ASCII)
_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?", re.ASCII)
# Never in any text: C0 controls but tab and line breaks, DEL, C1, surrogates, non-characters.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
# Never in a code or a one-line text: the above plus tab and line breaks.
_CONTROL_OR_BREAK = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
# What XML 1.0 cannot carry at all, not even as a character reference.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


class WireValueError(ValueError):
    """A value the field does not allow; the message follows the field's name."""


def _numeral(text: str) -> str:
    if len(text) > MAX_NUMERAL_CHARS:
        raise WireValueError(f"is longer than {MAX_NUMERAL_CHARS} characters")
    return text.strip(_BLANKS)


def parse_int(value: object, minimum: int = INT64_MIN, maximum: int = INT64_MAX) -> int:
    """An integer from a JSON integer or an ASCII numeral ("40", "-3"), within [minimum,
    maximum]; booleans, floats and anything else are refused."""
    if isinstance(value, bool):
        raise WireValueError("must be an integer")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str):
        text = _numeral(value)
        if not _INTEGER.fullmatch(text):
            raise WireValueError("must be an integer")
        number = int(text)
    else:
        raise WireValueError("must be an integer")
    if not minimum <= number <= maximum:
        raise WireValueError(f"is out of range ({minimum} to {maximum})")
    return number


def parse_decimal(value: object, limit: Decimal = DECIMAL_LIMIT) -> Decimal:
    """A Decimal from a JSON number, a Decimal or an ASCII numeral ("12.30"), its magnitude
    below `limit`. Floats go through their shortest repr: 25.1 is Decimal("25.1")."""
    if isinstance(value, bool):
        raise WireValueError("must be a decimal number")
    if isinstance(value, str):
        text = _numeral(value)
        if not _DECIMAL.fullmatch(text):
            raise WireValueError("must be a decimal number")
        number = Decimal(text)
    elif isinstance(value, int):
        if abs(value) >= limit:  # before converting: the int may have thousands of digits
            raise WireValueError(f"is out of range (magnitude below {limit})")
        number = Decimal(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise WireValueError("must be a decimal number")
        number = Decimal(repr(value))
    elif isinstance(value, Decimal):
        number = value
    else:
        raise WireValueError("must be a decimal number")
    try:
        within = number.is_finite() and abs(number) < limit
    except InvalidOperation:  # a signalling NaN passed in as a Decimal
        within = False
    if not within:
        raise WireValueError(f"is out of range (magnitude below {limit})")
    return number


def load_json(raw: bytes | str) -> Any:
    """The JSON value of `raw`: orjson.JSONDecodeError when malformed, WireValueError when
    nested deeper than MAX_JSON_DEPTH or holding more than MAX_JSON_VALUES values. Pure:
    safe off the loop."""
    value = orjson.loads(raw)
    # Walked with a stack, not recursion: the point is to refuse what recursion cannot take.
    pending: list[tuple[Any, int]] = [(value, 1)] if isinstance(value, dict | list) else []
    count = 1
    while pending:
        container, depth = pending.pop()
        children = container.values() if isinstance(container, dict) else container
        count += len(children)
        if count > MAX_JSON_VALUES:
            raise WireValueError(f"holds more than {MAX_JSON_VALUES} JSON values")
        for child in children:
            if isinstance(child, dict | list) and child:
                if depth >= MAX_JSON_DEPTH:
                    raise WireValueError(f"is nested deeper than {MAX_JSON_DEPTH} levels")
                pending.append((child, depth + 1))
    return value


def check_text(value: str, max_chars: int = MAX_CODE_CHARS, *, multiline: bool = False) -> str:
    """`value` unchanged if it is at most `max_chars` characters without control characters
    (tab and line breaks are allowed in `multiline` text)."""
    if len(value) > max_chars:
        raise WireValueError(f"is longer than {max_chars} characters")
    forbidden = _CONTROL if multiline else _CONTROL_OR_BREAK
    if forbidden.search(value):
        raise WireValueError("contains a control character")
    return value


def xml_safe(text: str) -> str:
    """`text` without the characters XML 1.0 cannot carry, so that echoing what a caller sent
    can never make an answer ill-formed (escaping `<` and `&` is the writer's job)."""
    return _NOT_XML.sub("", text)
