"""Credentials each fake issues to the connector, named as the real protocols name them."""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass, field
from typing import Any


def _token(nbytes: int = 16) -> str:
    return secrets.token_hex(nbytes)


@dataclass(frozen=True)
class OmsCredentials:
    sid: str = field(default_factory=lambda: "ecomock")
    app_key: str = field(default_factory=lambda: "oms_" + _token(6))
    app_secret: str = field(default_factory=_token)


@dataclass(frozen=True)
class QimenCredentials:
    app_key: str = field(default_factory=lambda: "qm_" + _token(6))
    secret: str = field(default_factory=_token)
    customer_id: str = field(default_factory=lambda: "ECOMOCK_CUST")


@dataclass(frozen=True)
class KdniaoCredentials:
    ebusiness_id: str = field(default_factory=lambda: str(1_000_000 + secrets.randbelow(8_999_999)))
    api_key: str = field(default_factory=lambda: _token(18))


@dataclass(frozen=True)
class K3Credentials:
    acct_id: str = field(default_factory=lambda: "ecomock-acct")
    username: str = field(default_factory=lambda: "connector")
    password: str = field(default_factory=lambda: _token(10))
    lcid: int = 2052


@dataclass(frozen=True)
class BankCredentials:
    account: str = field(default_factory=lambda: "6222" + str(secrets.randbelow(10**12)).zfill(12))
    username: str = field(default_factory=lambda: "treasury")
    password: str = field(default_factory=lambda: _token(10))


@dataclass(frozen=True)
class Credentials:
    """One set per connector run; secrets are random, never derived from the scenario seed."""

    oms: OmsCredentials = field(default_factory=OmsCredentials)
    wms: QimenCredentials = field(default_factory=QimenCredentials)
    carrier: KdniaoCredentials = field(default_factory=KdniaoCredentials)
    erp: K3Credentials = field(default_factory=K3Credentials)
    bank: BankCredentials = field(default_factory=BankCredentials)

    def endpoints(self, urls: dict[str, str]) -> dict[str, dict[str, Any]]:
        """The `endpoints.json` object: per system its base `url` and the credentials."""
        return {
            name: {"url": urls[name], **asdict(getattr(self, name))}
            for name in ("oms", "wms", "erp", "bank", "carrier")
        }

    def environment(self, urls: dict[str, str]) -> dict[str, str]:
        """The same, as `ECOMOCK_<SYSTEM>_<FIELD>` variables for the connector's process."""
        env: dict[str, str] = {}
        for system, values in self.endpoints(urls).items():
            for key, value in values.items():
                env[f"ECOMOCK_{system.upper()}_{key.upper()}"] = str(value)
        return env
