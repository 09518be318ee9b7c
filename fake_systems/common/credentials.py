"""Credentials the fakes issue, named as the real protocols name them, each scoped to owners.

The connector under test is an integrator entitled to every cargo owner of the world (its
`owners` scope is empty, meaning all). Each owner also gets credentials of its own, scoped to
it alone (`Credentials.tenants`): the fakes must never let those read or change another
owner's data. See docs/DECISIONS.md, "Tenants".
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


def _token(nbytes: int = 16) -> str:
    return secrets.token_hex(nbytes)


def _totp_seed() -> str:
    """A 160-bit TOTP seed in base32 (RFC 4226 recommends 160 bits), as authenticators take it."""
    return base64.b32encode(secrets.token_bytes(20)).decode()


@dataclass(frozen=True)
class OmsCredentials:
    sid: str = field(default_factory=lambda: "ecomock")
    app_key: str = field(default_factory=lambda: "oms_" + _token(6))
    # As 旺店通旗舰版 issues it: `secret:salt`; clients split it at the first colon, sign with
    # the secret and send the salt as a parameter (docs/protocols/oms.md).
    app_secret: str = field(default_factory=lambda: f"{_token()}:{_token(4)}")
    owners: tuple[str, ...] = ()  # owner codes these may touch; () = every owner
    # The Qimen custom scenario (奇门自定义场景), the way to Taobao/Tmall trades: the
    # integrator's own Qimen (TOP) app, and 旺店通's app on Qimen as `target_app_key`.
    qimen_app_key: str = field(default_factory=lambda: str(30_000_000 + secrets.randbelow(10**7)))
    qimen_secret: str = field(default_factory=_token)
    qimen_target_app_key: str = "23000000"


@dataclass(frozen=True)
class QimenCredentials:
    app_key: str = field(default_factory=lambda: "qm_" + _token(6))
    secret: str = field(default_factory=_token)
    customer_id: str = field(default_factory=lambda: "ECOMOCK_CUST")
    owners: tuple[str, ...] = ()  # owner codes these may touch; () = every owner


@dataclass(frozen=True)
class KdniaoCredentials:
    ebusiness_id: str = field(default_factory=lambda: str(1_000_000 + secrets.randbelow(8_999_999)))
    api_key: str = field(default_factory=lambda: _token(18))
    owners: tuple[str, ...] = ()  # owner codes these may touch; () = every owner


def _k3_app_id() -> str:
    """A K3 AppId in the real shape `<6 digits>_<32 base64 chars>` (24 random bytes), which
    the official SDKs split and decode to sign their `X-Api-*` headers."""
    client_id = secrets.randbelow(900_000) + 100_000
    return f"{client_id}_{base64.b64encode(secrets.token_bytes(24)).decode()}"


@dataclass(frozen=True)
class K3Credentials:
    acct_id: str = field(default_factory=lambda: "ecomock-acct")
    username: str = field(default_factory=lambda: "connector")
    password: str = field(default_factory=lambda: _token(10))
    lcid: int = 2052
    owners: tuple[str, ...] = ()  # owner codes these may touch; () = every owner
    # The third-party app (第三方系统登录授权) bound to this user: LoginByAppSecret / LoginBySign
    app_id: str = field(default_factory=_k3_app_id)
    app_secret: str = field(default_factory=_token)


@dataclass(frozen=True)
class BankCredentials:
    account: str = field(default_factory=lambda: "6222" + str(secrets.randbelow(10**12)).zfill(12))
    username: str = field(default_factory=lambda: "treasury")
    password: str = field(default_factory=lambda: _token(10))
    owners: tuple[str, ...] = ()  # owner codes these may touch; () = every owner
    totp_seed: str = field(default_factory=_totp_seed)  # the login's dynamic token (RFC 6238)
    webhook_secret: str = field(default_factory=lambda: "whsec_" + _token())  # signs camt.054


SYSTEMS = ("oms", "wms", "erp", "bank", "carrier")


@dataclass(frozen=True)
class Credentials:
    """The connector's set (every owner) plus one set per owner, scoped to that owner alone.

    Secrets are random per run, never derived from the scenario seed.
    """

    oms: OmsCredentials = field(default_factory=OmsCredentials)
    wms: QimenCredentials = field(default_factory=QimenCredentials)
    carrier: KdniaoCredentials = field(default_factory=KdniaoCredentials)
    erp: K3Credentials = field(default_factory=K3Credentials)
    bank: BankCredentials = field(default_factory=BankCredentials)
    tenants: dict[str, Credentials] = field(default_factory=dict)

    @classmethod
    def issue(cls, owner_codes: Sequence[str]) -> Credentials:
        """The connector's credentials and, for each owner, credentials scoped to it."""
        tenants = {}
        for code in owner_codes:
            scope = (code,)
            slug = code.lower()
            tenants[code] = cls(
                oms=OmsCredentials(sid=f"ecomock-{slug}", owners=scope),
                wms=QimenCredentials(customer_id=f"CUST-{code}", owners=scope),
                carrier=KdniaoCredentials(owners=scope),
                erp=K3Credentials(username=f"user-{slug}", owners=scope),
                bank=BankCredentials(username=f"treasury-{slug}", owners=scope),
            )
        return cls(tenants=tenants)

    def grants(self, system: str) -> list[Any]:
        """Every credential issued for `system`: the connector's first, then the owners'."""
        return [getattr(self, system)] + [getattr(t, system) for t in self.tenants.values()]

    def endpoints(
        self, urls: dict[str, str], control_token: str | None = None
    ) -> dict[str, dict[str, Any]]:
        """The `endpoints.json` object: per system its base `url` (and K3's `server_url`),
        the connector's credentials, under `tenants` each owner's own, and the
        `control_token` that /_fake/ requires when one is set."""
        result: dict[str, dict[str, Any]] = {}
        for name in SYSTEMS:
            entry: dict[str, Any] = {"url": urls[name], **asdict(getattr(self, name))}
            if name == "erp":
                # what K3's official SDKs take as `server_url` (InitConfig): the site's address
                entry["server_url"] = urls[name].rstrip("/") + "/k3cloud/"
            if control_token:
                entry["control_token"] = control_token
            if self.tenants:
                entry["tenants"] = {
                    code: asdict(getattr(tenant, name)) for code, tenant in self.tenants.items()
                }
            result[name] = entry
        return result

    def environment(self, urls: dict[str, str]) -> dict[str, str]:
        """The connector's own credentials as `ECOMOCK_<SYSTEM>_<FIELD>` variables."""
        env: dict[str, str] = {}
        for system in SYSTEMS:
            env[f"ECOMOCK_{system.upper()}_URL"] = urls[system]
            for key, value in asdict(getattr(self, system)).items():
                if key != "owners":
                    env[f"ECOMOCK_{system.upper()}_{key.upper()}"] = str(value)
        return env
