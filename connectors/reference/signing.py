"""The signatures the connector makes and checks, written from the systems' public documents.

The connector carries its own copy on purpose: it is the example a vendor copies into another
codebase, and a run only proves a signature scheme when the two sides did not share the code
(docs/DECISIONS.md). Sources: docs/protocols/.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Mapping


def qimen_sign(secret: str, params: Mapping[str, str], body: str) -> str:
    """Qimen md5: UPPER(hex(md5(secret + k1v1k2v2… (sorted, without sign) + body + secret)))."""
    joined = "".join(f"{key}{params[key]}" for key in sorted(params) if key != "sign")
    return hashlib.md5(f"{secret}{joined}{body}{secret}".encode()).hexdigest().upper()


def kdniao_data_sign(request_data: str, api_key: str) -> str:
    """Kdniao DataSign: base64(lower hex(md5(RequestData + ApiKey))), URL-encoded by the form."""
    digest = hashlib.md5(f"{request_data}{api_key}".encode()).hexdigest()
    return base64.b64encode(digest.encode()).decode()


def wdt_sign(secret: str, params: Mapping[str, str]) -> str:
    """旺店通旗舰版: lower hex md5(secret + k1v1k2v2… + secret), the parameters but `sign`
    (with `body`, the body text) sorted by name (docs/protocols/oms.md)."""
    joined = "".join(f"{key}{params[key]}" for key in sorted(params) if key != "sign")
    return hashlib.md5(f"{secret}{joined}{secret}".encode()).hexdigest()


def wdt_qimen_sign(secret: str, fields: Mapping[str, object]) -> str:
    """旺店通's `wdt_sign` of a Qimen custom request: md5(secret + serialized + secret), lower
    hex. Serialized: keys sorted, each key then its value; JSON text (`params`, `pager`) read
    and serialized the same way, lists by their objects (the wdtqm SDK's rule)."""
    return hashlib.md5(f"{secret}{_serialize(fields)}{secret}".encode()).hexdigest()


def _serialize(value: object) -> str:
    if isinstance(value, Mapping):
        parts = []
        for key in sorted(value):
            item = value[key]
            if key in ("wdt3_customer_id", "wdt_sign", "target_app_key") or item is None:
                continue
            parts.append(f"{key}{_serialize_value(item)}")
        return "".join(parts)
    if isinstance(value, list):
        return "".join(_serialize(item) for item in value if isinstance(item, Mapping))
    return str(value)


def _serialize_value(item: object) -> str:
    if isinstance(item, bool):
        return str(item).lower()
    if isinstance(item, str):
        text = item.strip()
        if text[:1] + text[-1:] in ("{}", "[]"):
            try:
                return _serialize(json.loads(text))
            except ValueError:
                return item
        return item
    if isinstance(item, Mapping | list):
        return _serialize(item)
    return str(item)


def k3_login_sign(acct_id: str, username: str, app_id: str, app_secret: str, timestamp: str) -> str:
    """K3 LoginBySign: lower hex SHA-256 of the five values acctID, username, appId, appSecret
    and timestamp, sorted as strings and concatenated (docs/protocols/erp.md)."""
    joined = "".join(sorted((acct_id, username, app_id, app_secret, timestamp)))
    return hashlib.sha256(joined.encode()).hexdigest()


def same_signature(received: str, expected: str) -> bool:
    """Compare signatures in constant time, so a forger learns nothing from timing."""
    return hmac.compare_digest(received.encode(), expected.encode())


def totp_at(seed: str, counter: int) -> str:
    """RFC 6238 TOTP (HMAC-SHA1, 6 digits) of a base32 `seed` for time step `counter`
    (floor(unix time / 30)): the bank login's dynamic token."""
    text = seed.replace(" ", "").upper()
    key = base64.b32decode(text + "=" * (-len(text) % 8))
    mac = hmac.new(key, counter.to_bytes(8, "big"), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    code = int.from_bytes(mac[offset : offset + 4], "big") & 0x7FFFFFFF
    return f"{code % 10**6:06d}"
