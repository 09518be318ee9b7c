"""TOTP (RFC 6238) over HOTP (RFC 4226), stdlib only: the bank login's dynamic token.

HMAC-SHA1, 30-second steps from the Unix epoch, 6 digits; the verifier accepts the step
before and after the current one (clock drift) and each step at most once per credential
(RFC 6238 §5.2). Time is wall time: the connector's authenticator reads its own clock, never
the simulated one.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import struct

STEP_SECONDS = 30
DIGITS = 6
DRIFT_STEPS = 1  # accept counter - 1 .. counter + 1


def decode_seed(seed: str) -> bytes:
    """The key of a base32 seed (case-insensitive, spaces and missing '=' padding allowed)."""
    text = seed.replace(" ", "").upper()
    text += "=" * (-len(text) % 8)
    try:
        return base64.b32decode(text)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("TOTP seed is not base32") from exc


def hotp(key: bytes, counter: int, digits: int = DIGITS) -> str:
    """RFC 4226: dynamic truncation of HMAC-SHA1(key, counter as 8 big-endian bytes)."""
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    offset = mac[-1] & 0x0F
    (code,) = struct.unpack(">I", mac[offset : offset + 4])
    return str((code & 0x7FFFFFFF) % 10**digits).zfill(digits)


def counter_at(unix_time: float) -> int:
    """The RFC 6238 time step T = floor(unix_time / 30)."""
    return int(unix_time // STEP_SECONDS)


def totp(seed: str, unix_time: float) -> str:
    """The 6-digit code of `seed` at `unix_time`."""
    return hotp(decode_seed(seed), counter_at(unix_time))


def matching_counter(seed: str, otp: str, unix_time: float) -> int | None:
    """The time step within ±1 of now whose code is `otp`, or None (compared in constant time)."""
    if len(otp) != DIGITS or not (otp.isascii() and otp.isdigit()):
        return None
    key = decode_seed(seed)
    now = counter_at(unix_time)
    found = None
    for counter in range(now - DRIFT_STEPS, now + DRIFT_STEPS + 1):
        if hmac.compare_digest(hotp(key, counter).encode(), otp.encode()):
            found = counter
    return found
