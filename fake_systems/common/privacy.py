"""Masking of personal data (names, phones, addresses) before it reaches the history.

`scrub` is the one entry point; `storage.redact` calls it for every history row.
- By structure: in a payload (dicts, lists) and in text that parses as a JSON, XML or form
  document, a field named like a phone, an address or a person's name is masked whatever its
  value: text, number or nested; in XML as text, CDATA or attribute, with any namespace prefix.
- By pattern, for text that does not parse (a refused, truncated or malformed body): the
  `name: value` pairs of JSON, XML and form encoding (URL-encoded too) are found by their
  field names and masked the same way.
- Everywhere, in any text and any number: Chinese mobile numbers (11 digits 1[3-9]…, not part
  of a longer digit run, with or without +86 and separators) and landlines (0AA(A)-NNNNNNN(N)).
Entity ids and codes stay intact: no business key the fakes issue looks like a phone (YTO's
waybills, YT and 13 digits, may hold 86 and a mobile: a bare 86 after a letter is no prefix).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from enum import Enum
from functools import lru_cache
from typing import Any
from urllib.parse import parse_qsl, quote, unquote_plus, urlencode

import orjson
from lxml import etree


class Kind(Enum):
    """What a field holds, as far as privacy goes."""

    PHONE = "phone"
    ADDRESS = "address"
    NAME = "name"


# Endings of field names once lower-cased and stripped of namespace prefix, "_", "-" and ".":
# 旺店通 receiver_mobile / receiver_address / receiver_name / buyer_nick, Qimen mobile / tel /
# detailAddress / name, Kdniao Mobile / Tel / Address / Name, K3 FLinkPhone /
# FReceiveAddress / FLinkMan. A bare `name` is always a person's: goods, shops and items
# carry theirs as goods_name, shop_name, itemName.
_ENDINGS: tuple[tuple[Kind, tuple[str, ...]], ...] = (
    (Kind.PHONE, ("mobile", "phone", "tel", "telno", "mobileno", "phoneno")),
    (Kind.ADDRESS, ("address", "addr")),
    (
        Kind.NAME,
        ("receivername", "sendername", "buyername", "buyernick", "consignee", "linkman", "contact"),
    ),
)
_PERSON_NAME = "name"
_NAME_NOISE = str.maketrans("", "", "_-.")

# Deeper than any protocol nests: the rest is kept as text, masked by pattern, so an
# attacker's 1,000-deep JSON cannot reach Python's recursion limit.
MAX_DEPTH = 32
SHORTEST_MASKED_TEXT = 5  # `tel=1`; anything shorter holds no pair and no number

# An escape (\x90, \u00e9, \U0001f600, as repr() and JSON write them) ends in hex digits that
# are not part of the number after it. Lookbehinds, one per width, for "right after one".
_ESCAPES = (r"\\x[0-9a-fA-F]{2}", r"\\u[0-9a-fA-F]{4}", r"\\U[0-9a-fA-F]{8}")


def _after_escape(then: str = "") -> str:
    return "|".join(f"(?<={escape}{then})" for escape in _ESCAPES)


# A mobile: 11 digits 1[3-9]…, optionally +86 / 0086 / 86 before and spaces or dashes inside
# (138-1234-5678), never inside a longer run of digits; a bare 86 not right after a letter:
# YTO waybills are YT and 13 digits, and YT86 13883307284 is a waybill, not a phone. A
# landline: area code 0AA or 0AAA, optionally in brackets, then 7 or 8 digits starting 2-8 and
# an optional extension. Letters before a landline rule it out: refund and bill numbers are
# letters then zero-padded digits.
_PHONE_NUMBER = re.compile(
    rf"(?:(?<!\d)|{_after_escape()})(?:(?:\+|00|(?<![A-Za-z])|{_after_escape()})86[-\s]?)?"
    r"1[3-9]\d(?:[-\s]?\d{4}){2}(?!\d)"
    rf"|(?:(?<![0-9A-Za-z_-])|{_after_escape()})"
    r"(?:\(0[1-9]\d{1,2}\)|0[1-9]\d{1,2})[-\s]?[2-8]\d{6,7}(?:-\d{1,6})?(?!\d)"
)
# Every JSON, XML or form pair or document has one of these (a URL-encoded one a `%`); text
# without any (most values: codes, dates, names of goods) is only scanned for phone numbers.
# History.record runs on every request: most strings take one regex search, _WORTH_A_LOOK.
_MARKUP = re.compile(r'[<"=%{\[]')


def _core(after_escapes: bool) -> re.Pattern[str]:
    r"""Where a phone's digits start (its core): a mobile's 1[3-9]x, a landline's area code
    0[1-9]x, not inside a longer run of digits (except after a country code 86, or an escape
    if `after_escapes`). _PHONE_NUMBER then runs only there, anchored. Written to start with a
    character, not a lookbehind, so that the regex engine skips to candidates quickly:
    (?<!\d1) after a 1 is "no digit before it"."""
    one, zero = (f"|{_after_escape('1')}", f"|{_after_escape('0')}") if after_escapes else ("", "")
    return re.compile(rf"1(?:(?<!\d1)|(?<=861){one})[3-9]\d|0(?:(?<!\d0)|(?<=860){zero})[1-9]\d")


# Escapes are rare: text without a backslash is searched with the shorter pattern.
_CORE = _core(after_escapes=False)
_CORE_AFTER_ESCAPES = _core(after_escapes=True)
_WORTH_A_LOOK = re.compile(rf"{_MARKUP.pattern}|\\|{_CORE.pattern}")
_PREFIX_REACH = 5  # a number may begin this far before its core: "0086-", "+86 ", "("
# A word of every personal field name of _ENDINGS, also as people write them: tel_no,
# link_man, buyer_nick. Text without any of them names no personal field.
_FIELD_HINT = re.compile("mobile|phone|tel|addr|name|nick|consignee|man|contact", re.IGNORECASE)
_DOCUMENT_START = re.compile(r"\s*([<{\[])")
_FORM = re.compile(r"[\w.%*\[\]-]+=[^&\s]*(?:&[\w.%*\[\]-]+=[^&\s]*)*")

# Field-name patterns for text that does not parse. Each finds a name and, in a lookahead (so
# that pairs nested in a value are still found), the value's span: `value` or `number`.
_JSON_PAIR = re.compile(  # "name": "value" | number; also \"name\": \"value\" inside a string
    r'(?P<q>\\*")(?P<name>[^"\\\s]{1,64})(?P=q)\s*:\s*'
    r"(?=(?P=q)(?P<value>[^\n]*?)(?:(?<!\\)(?P=q)|(?=\n)|\Z)|(?P<number>-?\d[\d.eE+-]*))"
)
_XML_ELEMENT = re.compile(  # <name ...>value</…, <p:name>, CDATA, unterminated
    r"<(?:[\w.-]+:)?(?P<name>[\w.-]{1,64})(?:\s[^<>]*)?>"
    r"(?=(?P<value>(?:<!\[CDATA\[(?s:.*?)(?:\]\]>|\Z)|[^<])*))"
)
_XML_ATTRIBUTE = re.compile(  # name="value" / p:name='value' (escaped quotes too)
    r"(?<=[\s\"'])(?:[\w.-]+:)?(?P<name>[\w.-]{1,64})\s*=\s*"
    r"(?P<q>\\?[\"'])(?=(?P<value>(?s:.*?))(?:(?P=q)|\Z))"
)
# Up to the next `&`: text that is not a real form may carry spaces in a value.
_FORM_PAIR = re.compile(r"(?:(?<=[&?;])|^)(?P<name>[\w.%*\[\]-]{1,64})=(?=(?P<value>[^&\n]*))")
_CDATA = re.compile(r"<!\[CDATA\[|\]\]>")
_PERCENT = re.compile(r"%[0-9A-Fa-f]{2}")

_XML_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)


# ---------------------------------------------------------------- fields and values


@lru_cache(maxsize=4096)
def local_name(name: str) -> str:
    """A field's name without its XML namespace (`{urn}tag`) or prefix (`p:tag`)."""
    return name.rpartition("}")[2].rpartition(":")[2]


@lru_cache(maxsize=4096)
def field_kind(name: str) -> Kind | None:
    """PHONE, ADDRESS or NAME if a field so named holds personal data, else None."""
    key = local_name(name).lower().translate(_NAME_NOISE)
    if key == _PERSON_NAME:
        return Kind.NAME
    for kind, endings in _ENDINGS:
        if key.endswith(endings):
            return kind
    return None


def mask_phone(value: str) -> str:
    """13812345678 -> 138****5678: enough to tell numbers apart, not to call one."""
    digits = value.strip()
    if len(digits) <= 7:
        return "*" * len(digits)
    return f"{digits[:3]}****{digits[-4:]}"


def mask_address(value: str) -> str:
    """All of it: province, city and district travel in fields of their own."""
    return "****" if value.strip() else value


def mask_name(value: str) -> str:
    """欧阳娜娜 -> 欧**: the first character, never the length."""
    text = value.strip()
    return f"{text[0]}**" if text else value


_MASKS: dict[Kind, Callable[[str], str]] = {
    Kind.PHONE: mask_phone,
    Kind.ADDRESS: mask_address,
    Kind.NAME: mask_name,
}


def mask_value(kind: Kind, value: Any, depth: int = 0) -> Any:
    """`value` of a `kind` field masked whatever its type; None and booleans say nothing."""
    if value is None or isinstance(value, bool):
        return value
    if depth >= MAX_DEPTH:
        return "****"
    if isinstance(value, dict):
        return {_mask_key(key): mask_value(kind, item, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [mask_value(kind, item, depth + 1) for item in value]
    return _MASKS[kind](value if isinstance(value, str) else str(value))


def mask_phone_numbers(text: str) -> str:
    """`text` with every mobile and landline number in it masked."""
    if len(text) < 10:  # 0AA + 7 digits, the shortest
        return text
    parts: list[str] = []
    position = 0
    cores = _CORE_AFTER_ESCAPES if "\\" in text else _CORE
    # Searched one character on from a core that was no phone, not from its end: cores overlap
    # ("\xa0138…": the landline core 013 hides the mobile's 138).
    found = cores.search(text)
    while found is not None:
        core = found.start()
        phone = _phone_at(text, core, position)
        if phone is None:
            found = cores.search(text, core + 1)
            continue
        parts += [text[position : phone.start()], mask_phone(phone.group())]
        position = phone.end()
        found = cores.search(text, position)
    if not parts:
        return text
    parts.append(text[position:])
    return "".join(parts)


def _phone_at(text: str, core: int, floor: int) -> re.Match[str] | None:
    """The phone number around a core, matched in place so the lookarounds see its context."""
    phone = _PHONE_NUMBER.match(text, core)  # most numbers come without a prefix
    if phone is not None:
        return phone
    for begin in range(max(floor, core - _PREFIX_REACH), core):  # the longest prefix first
        phone = _PHONE_NUMBER.match(text, begin)
        if phone is not None and phone.end() > core:
            return phone
    return None


def _mask_number(value: int | float) -> int | float | str:
    # Only numbers of 10 to 15 digits can be a phone (86 + 11 digits at most).
    if not 10**9 <= abs(value) < 10**15:
        return value
    text = str(value)
    masked = mask_phone_numbers(text)
    return value if masked == text else masked


# ---------------------------------------------------------------- structure


def scrub(payload: Any, secrets: frozenset[str] = frozenset(), depth: int = 0) -> Any:
    """Copy of `payload` with fields named in `secrets` replaced and personal data masked."""
    if isinstance(payload, str):
        return mask_text(payload, secrets, depth)
    if isinstance(payload, dict | list | tuple) and depth >= MAX_DEPTH:
        return _mask_by_pattern(_dumps(payload))
    if isinstance(payload, dict):
        return {
            _mask_key(key): _scrub_field(key, value, secrets, depth + 1)
            for key, value in payload.items()
        }
    if isinstance(payload, list | tuple):
        return [scrub(item, secrets, depth + 1) for item in payload]
    if isinstance(payload, int | float) and not isinstance(payload, bool):
        return _mask_number(payload)
    return payload


def _mask_key(key: Any) -> Any:
    """A field name is text a caller chose too: a phone number in it is masked."""
    return mask_phone_numbers(key) if isinstance(key, str) and len(key) >= 10 else key


def _scrub_field(key: Any, value: Any, secrets: frozenset[str], depth: int) -> Any:
    if key in secrets:
        return "***"
    kind = field_kind(key) if isinstance(key, str) else None
    if kind is not None:
        return mask_value(kind, value, depth)
    if value.__class__ is str:  # the commonest leaf, without scrub's dispatch
        return mask_text(value, secrets, depth)
    return scrub(value, secrets, depth)


def _dumps(payload: Any) -> str:
    try:
        return orjson.dumps(payload, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
    except orjson.JSONEncodeError:  # deeper than orjson goes: not worth keeping
        return "<nested too deep, not kept>"


def mask_text(text: str, secrets: frozenset[str] = frozenset(), depth: int = 0) -> str:
    """`text` with personal data masked: by structure if it is a document, else by pattern."""
    if len(text) < SHORTEST_MASKED_TEXT:
        return text
    if not _WORTH_A_LOOK.search(text):  # most values: one search says there is nothing
        return text
    if not _MARKUP.search(text) or not _may_name_a_field(text, secrets):
        return mask_phone_numbers(text)
    if depth < MAX_DEPTH:
        masked = _mask_document(text, secrets, depth)
        if masked is not None:
            return masked
    return _mask_by_pattern(text)


def _may_name_a_field(text: str, secrets: frozenset[str]) -> bool:
    """False if no personal or secret field can be named in `text`: then only phone numbers
    need a look, and the document need not be parsed (most Qimen queries, K3 answers)."""
    if _FIELD_HINT.search(text):
        return True
    if "%" in text or "\\u" in text:  # a name URL- or JSON-escaped hides from the hint
        return True
    return any(secret in text for secret in secrets)


def _mask_document(text: str, secrets: frozenset[str], depth: int) -> str | None:
    """`text` masked as the JSON, XML or form document it is; None if it is none of them."""
    start = _DOCUMENT_START.match(text)
    if start is not None:
        if start.group(1) == "<":
            return _mask_xml(text, secrets, depth)
        return _mask_json(text, secrets, depth)
    if "=" in text and _FORM.fullmatch(text):
        return _mask_form(text, secrets, depth)
    return None


def _mask_json(text: str, secrets: frozenset[str], depth: int) -> str | None:
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    masked = scrub(data, secrets, depth + 1)
    # Unchanged documents are kept as sent, byte for byte.
    return text if masked == data else _dumps(masked)


def _mask_form(text: str, secrets: frozenset[str], depth: int) -> str:
    pairs = parse_qsl(text, keep_blank_values=True)
    masked = [
        (mask_phone_numbers(name), _as_text(_scrub_field(name, value, secrets, depth + 1)))
        for name, value in pairs
    ]
    return text if masked == pairs else urlencode(masked, safe="*")


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _mask_xml(text: str, secrets: frozenset[str], depth: int) -> str | None:
    try:
        root = etree.fromstring(text.encode("utf-8"), _XML_PARSER)
    except (etree.XMLSyntaxError, ValueError):
        return None
    changed = False
    deeper = depth + 1
    # One flat pass, lxml properties read once each: this runs on every Qimen call. Phone
    # numbers are masked in the whole text at the end (digits are never escaped in XML), so
    # a node's text is looked at only for a document embedded in it.
    for node in root.iter():
        tag = node.tag
        is_element = isinstance(tag, str)  # else a comment or processing instruction
        kind = field_kind(tag) if is_element else None
        if kind is not None:
            changed |= _mask_inside(node, kind)
        elif is_element and secrets and local_name(tag) in secrets:
            if node.text:
                node.text, changed = "***", True
        else:
            value = node.text
            if value and _MARKUP.search(value):
                masked = mask_text(value, secrets, deeper)
                if masked != value:
                    node.text, changed = masked, True
        tail = node.tail
        if tail and _MARKUP.search(tail):
            masked = mask_text(tail, secrets, deeper)
            if masked != tail:
                node.tail, changed = masked, True
        attributes = node.items() if is_element else None
        if attributes:
            changed |= _mask_attributes(node, attributes, secrets, deeper)
    return mask_phone_numbers(etree.tostring(root, encoding="unicode") if changed else text)


def _mask_inside(node: etree._Element, kind: Kind) -> bool:
    """An element named like personal data: all the text inside it is masked."""
    changed = False
    for inner in node.iter():
        value = inner.text
        if value:
            inner.text, changed = _MASKS[kind](value), True
        tail = inner.tail
        if tail and inner is not node:  # the element's own tail belongs to its parent
            inner.tail, changed = _MASKS[kind](tail), True
    return changed


def _mask_attributes(
    node: etree._Element, attributes: list[tuple[str, str]], secrets: frozenset[str], depth: int
) -> bool:
    changed = False
    for name, value in attributes:
        kind = field_kind(name)
        if secrets and local_name(name) in secrets:
            masked = "***"
        elif kind is not None:
            masked = _MASKS[kind](value)
        elif _MARKUP.search(value):
            masked = mask_text(value, secrets, depth)
        else:
            continue
        if masked != value:
            node.set(name, masked)
            changed = True
    return changed


# ---------------------------------------------------------------- patterns


def _mask_by_pattern(text: str) -> str:
    """Text that does not parse: personal fields found by their names, then phone numbers."""
    masked = mask_phone_numbers(_mask_fields(text))
    if "%" in masked and _PERCENT.search(masked):
        # URL-encoded: look again with the escapes decoded; keep the decoded text only if it
        # held something to mask (digits are never encoded, names and addresses are).
        decoded = unquote_plus(masked)
        again = mask_phone_numbers(_mask_fields(decoded))
        if again != decoded:
            return again
    return masked


def _mask_fields(text: str) -> str:
    spans = sorted(_personal_spans(text))
    if not spans:
        return text
    parts: list[str] = []
    position = 0
    for start, end, replacement in spans:
        if start < position:  # inside a value already masked
            continue
        parts += [text[position:start], replacement]
        position = end
    parts.append(text[position:])
    return "".join(parts)


def _personal_spans(text: str) -> Iterator[tuple[int, int, str]]:
    """(start, end, masked) of every personal value that a field-name pattern finds."""
    if '"' in text:
        yield from _spans(_JSON_PAIR, text, lambda kind, value: _MASKS[kind](value))
    if "<" in text:
        yield from _spans(
            _XML_ELEMENT, text, lambda kind, value: _MASKS[kind](_CDATA.sub("", value))
        )
    if "=" in text:
        yield from _spans(_XML_ATTRIBUTE, text, lambda kind, value: _MASKS[kind](value))
        yield from _spans(_FORM_PAIR, text, _mask_form_value)


def _mask_form_value(kind: Kind, value: str) -> str:
    """A form value masked, and encoded again only if it came encoded."""
    if "%" not in value and "+" not in value:
        return _MASKS[kind](value)
    return quote(_MASKS[kind](unquote_plus(value)), safe="*")


def _spans(
    pattern: re.Pattern[str], text: str, mask: Callable[[Kind, str], str]
) -> Iterator[tuple[int, int, str]]:
    for match in pattern.finditer(text):
        name = match.group("name")
        kind = field_kind(unquote_plus(name) if "%" in name else name)
        if kind is None:
            continue
        group = "value" if match.group("value") is not None else "number"
        start, end = match.span(group)
        if end > start:
            yield start, end, mask(kind, match.group(group))
