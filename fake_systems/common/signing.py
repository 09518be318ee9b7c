"""The signing schemes of the imitated protocols, each in one place, for fakes and clients.

Tests that guard against the fake and its client agreeing on a mistake re-derive these
from the public descriptions instead of importing them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping
from urllib.parse import quote


def qimen_sign(secret: str, params: Mapping[str, str], body: str) -> str:
    """Qimen md5: UPPER(hex(md5(secret + k1v1k2v2… (sorted, without sign) + body + secret)))."""
    joined = "".join(f"{k}{params[k]}" for k in sorted(params) if k != "sign")
    digest = hashlib.md5(f"{secret}{joined}{body}{secret}".encode()).hexdigest()
    return digest.upper()


def kdniao_data_sign(request_data: str, api_key: str, url_encode: bool = False) -> str:
    """Kdniao DataSign: base64(lower_hex(md5(RequestData + ApiKey))), URL-encoded on the wire.

    Form posts are URL-encoded by the HTTP client, so callers normally leave `url_encode` off.
    """
    hex_digest = hashlib.md5(f"{request_data}{api_key}".encode()).hexdigest()
    signed = base64.b64encode(hex_digest.encode()).decode()
    return quote(signed, safe="") if url_encode else signed


# 旺店通旗舰版 counts its timestamp in seconds from 2012-01-01 00:00:00 (Unix 1325347200).
WDT_EPOCH = 1325347200


def wdt_split_appsecret(appsecret: str) -> tuple[str, str]:
    """旺店通 issues the appsecret as `secret:salt`; (secret, salt), split at the first colon."""
    secret, _, salt = appsecret.partition(":")
    return secret, salt


def wdt_sign(secret: str, params: Mapping[str, str]) -> str:
    """旺店通旗舰版 sign: lower hex md5(secret + k1v1k2v2… + secret).

    `params` are the query parameters except `sign` plus `body` (the exact body text), sorted
    by name and concatenated without separators (docs/protocols/oms.md, "Sign").
    """
    joined = "".join(f"{k}{params[k]}" for k in sorted(params) if k != "sign")
    return hashlib.md5(f"{secret}{joined}{secret}".encode()).hexdigest()


def k3_login_sign(
    acct_id: str, username: str, app_id: str, app_secret: str, timestamp: str, *, sha1: bool = False
) -> str:
    """K3 Cloud LoginBySign: lower hex SHA-256 (or SHA-1) of [acctID, username, appId,
    appSecret, timestamp] sorted as strings and concatenated (docs/protocols/erp.md)."""
    joined = "".join(sorted((acct_id, username, app_id, app_secret, timestamp))).encode()
    return (hashlib.sha1(joined) if sha1 else hashlib.sha256(joined)).hexdigest()


# The XOR key K3's SDKs decode an AppId's secret part with (docs/protocols/erp.md).
K3_APP_XOR_KEY = b"0054f397c6234378b09ca7d3e5debce7"


def k3_kdsig(content: str, key: str) -> str:
    """K3's header signature: base64 of the *hex text* of HMAC-SHA256(key, content)."""
    mac = hmac.new(key.encode(), content.encode(), hashlib.sha256).hexdigest()
    return base64.b64encode(mac.encode()).decode()


def k3_client_secret(app_id: str) -> str:
    """The gateway key of an AppId `<clientId>_<32 base64 chars>`: its 24 decoded bytes XOR
    K3_APP_XOR_KEY, base64 again; '' when the AppId has another shape (as the Python SDK)."""
    _, _, part = app_id.partition("_")
    if len(part) != 32:
        return ""
    try:
        raw = base64.b64decode(part, validate=True)
    except ValueError:
        return ""
    # 24 bytes against a 32-byte key: the key's tail is unused, as in every SDK
    mixed = bytes(b ^ k for b, k in zip(raw, K3_APP_XOR_KEY, strict=False))
    return base64.b64encode(mixed).decode()


def k3_api_sign_text(path: str, nonce: str, timestamp: str) -> str:
    """The text `X-Api-Signature` signs: the method, the URL-encoded path (`/` as %2F) and the
    two signed headers, as K3's Python and Java SDKs build it."""
    encoded = quote(path, safe="").replace("/", "%2F")
    return f"POST\n{encoded}\n\nx-api-nonce:{nonce}\nx-api-timestamp:{timestamp}\n"


def stripe_style_signature(secret: str, timestamp: int, body: bytes) -> str:
    """`t=<unix>,v1=<hex HMAC-SHA256(secret, "t.body")>`, the modern webhook signature."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def constant_time_equal(left: str, right: str) -> bool:
    """Compare signatures without leaking timing."""
    return hmac.compare_digest(left.encode(), right.encode())
