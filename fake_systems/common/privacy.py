"""Masking of personal data (receiver phones and addresses) before it reaches a log or a report."""

from __future__ import annotations

import re
from typing import Any

# Field names, lower-cased, across the protocols: 旺店通 receiver_*, Qimen mobile/detailAddress,
# Kdniao Mobile/Tel/Address.
PHONE_FIELDS = frozenset({"mobile", "phone", "tel", "receiver_mobile", "receiver_phone"})
ADDRESS_FIELDS = frozenset({"address", "detailaddress", "receiver_address"})
_XML_PII = re.compile(r"<(mobile|phone|tel|detailAddress)>([^<]*)</\1>", re.IGNORECASE)


def mask_phone(value: str) -> str:
    """13812345678 -> 138****5678: enough to tell numbers apart, not to call one."""
    digits = value.strip()
    if len(digits) <= 7:
        return "*" * len(digits)
    return f"{digits[:3]}****{digits[-4:]}"


def mask_address(value: str) -> str:
    """Keep the first few characters (the district), hide the street and number."""
    text = value.strip()
    return text[:4] + "****" if len(text) > 4 else "****"


def mask_field(name: str, value: Any) -> Any:
    """The value with personal data masked if `name` is a phone or address field."""
    if not isinstance(value, str):
        return value
    key = name.lower()
    if key in PHONE_FIELDS:
        return mask_phone(value)
    if key in ADDRESS_FIELDS:
        return mask_address(value)
    return mask_text(value)


def mask_text(text: str) -> str:
    """Phones and addresses inside an XML document (Qimen bodies stored as text)."""
    if "<" not in text:
        return text

    def replace(match: re.Match[str]) -> str:
        tag, value = match.group(1), match.group(2)
        masked = mask_address(value) if tag.lower() == "detailaddress" else mask_phone(value)
        return f"<{tag}>{masked}</{tag}>"

    return _XML_PII.sub(replace, text)
