"""K3's per-request signed headers, as the official SDKs send them instead of logging in.

`X-Kd-Appkey` (the AppId), `X-Kd-Appdata` (base64 of `acctID,username,lcid,orgNum`) and
`X-Kd-Signature` (kdsig of AppId + that text with the app secret) prove the user; the
`X-Api-*` set (kdsig, keyed by a key decoded from the AppId, of the path and the
`x-api-nonce` / `x-api-timestamp` headers) dates the request. Sources and the known
differences between clients: docs/protocols/erp.md, "Signed requests".

LIMITATIONS: only the Python / Java / YiKdWebClient text of `X-Api-Signature` (the path
alone) is accepted, not PHP-KD's or GO-KD's (the whole URL); no replay guard (the SDKs'
nonce is the timestamp in seconds); no session is opened, and lcid / orgNum are ignored.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from fake_systems.common.credentials import K3Credentials
from fake_systems.common.signing import (
    constant_time_equal,
    k3_api_sign_text,
    k3_client_secret,
    k3_kdsig,
)
from fake_systems.erp.models import (
    MSG_APP_FAILED,
    MSG_SIGN_FAILED,
    MSG_SIGN_STALE,
    K3Error,
    MsgCode,
)

APP_KEY = "x-kd-appkey"
APP_DATA = "x-kd-appdata"
KD_SIGNATURE = "x-kd-signature"
API_SIGNATURE = "x-api-signature"
API_TIMESTAMP = "x-api-timestamp"
API_NONCE = "x-api-nonce"
# The Python SDK stamps seconds, the Java SDK milliseconds: a stamp past this is milliseconds.
MILLISECONDS_FROM = 10**11
MAX_APP_DATA_CHARS = 1024


@dataclass(frozen=True)
class SignedUser:
    """Who a request's signed headers prove: the app's user and the lcid / org it asked for."""

    user: K3Credentials
    lcid: str
    org_num: str


def signed(headers: Mapping[str, str]) -> bool:
    """Whether a request authenticates by signed headers rather than by a session."""
    return APP_KEY in headers


def _refused(message: str) -> K3Error:
    # Unverified: which MsgCode K3 gives a bad signed header; 1 (context lost) is what it
    # answers a call it cannot tie to a user, and what clients already handle.
    return K3Error.one(MsgCode.CONTEXT_LOST, message)


def _app_data(raw: str) -> tuple[str, list[str]]:
    """The text of `X-Kd-Appdata` and its fields acctID, username, lcid, orgNum (the user
    name may hold commas)."""
    if len(raw) > MAX_APP_DATA_CHARS:
        raise _refused(MSG_SIGN_FAILED)
    try:
        text = base64.b64decode(raw, validate=True).decode("utf-8")
    except ValueError:  # not base64 (binascii.Error), not ASCII, or not UTF-8 inside
        raise _refused(MSG_SIGN_FAILED) from None
    parts = text.split(",")
    if len(parts) < 4:
        raise _refused(MSG_SIGN_FAILED)
    return text, [parts[0], ",".join(parts[1:-2]), parts[-2], parts[-1]]


def verify(
    headers: Mapping[str, str],
    path: str,
    app_user: Callable[[str], K3Credentials | None],
    stale: Callable[[float], bool],
) -> SignedUser:
    """The user the headers prove, or K3Error (MsgCode 1) naming why not.

    The app must be issued and bound to the user `X-Kd-Appdata` names, `X-Kd-Signature` must
    be made with its secret, `X-Api-Signature` must sign this path and the stamp, and the
    stamp (seconds or milliseconds) must not be `stale` (outside the ERP's tolerance of its
    own clock).
    """
    app_id = headers.get(APP_KEY, "")
    user = app_user(app_id)
    if user is None:
        raise _refused(MSG_APP_FAILED)
    plain, (acct_id, username, lcid, org_num) = _app_data(headers.get(APP_DATA, ""))
    expected = k3_kdsig(app_id + plain, user.app_secret)
    if not constant_time_equal(headers.get(KD_SIGNATURE, ""), expected):
        raise _refused(MSG_SIGN_FAILED)
    if (acct_id, username) != (user.acct_id, user.username):
        raise _refused(MSG_APP_FAILED)  # a genuine app signing for a user it is not bound to
    stamp = headers.get(API_TIMESTAMP, "")
    api_sign = k3_api_sign_text(path, headers.get(API_NONCE, ""), stamp)
    if not constant_time_equal(
        headers.get(API_SIGNATURE, ""), k3_kdsig(api_sign, k3_client_secret(app_id))
    ):
        raise _refused(MSG_SIGN_FAILED)
    if not stamp.isascii() or not stamp.isdigit() or len(stamp) > 15:
        raise _refused(MSG_SIGN_STALE)
    seconds = int(stamp) / 1000 if int(stamp) >= MILLISECONDS_FROM else int(stamp)
    if stale(seconds):
        raise _refused(MSG_SIGN_STALE)
    return SignedUser(user, lcid, org_num)
