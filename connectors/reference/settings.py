"""The connector's configuration, read once from the environment ecomock provides."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path


class SettingsError(ValueError):
    """A required variable is missing or malformed; the message names it."""


@dataclass(frozen=True)
class Settings:
    """Everything the connector needs to know about its peers and itself."""

    oms_url: str
    oms_sid: str
    oms_app_key: str
    oms_app_secret: str
    oms_qimen_app_key: str
    oms_qimen_secret: str
    oms_qimen_target_app_key: str
    wms_url: str
    wms_app_key: str
    wms_secret: str
    wms_customer_id: str
    carrier_url: str
    carrier_ebusiness_id: str
    carrier_api_key: str
    erp_url: str
    erp_acct_id: str
    erp_username: str
    erp_app_id: str
    erp_app_secret: str
    erp_lcid: int
    port: int
    state_dir: Path
    # Signs the bank's camt.054 notices; empty: no notice is ever believed.
    bank_webhook_secret: str = ""
    # The bank login (ISO 20022): payables due are paid from this account; no URL: no payments.
    bank_url: str = ""
    bank_account: str = ""
    bank_password: str = ""
    bank_totp_seed: str = ""
    time_scale: float = 1.0
    poll_seconds: float = 0.25
    # Simulated seconds each window reaches back over the previous one's end.
    overlap_seconds: float = 2.0
    max_in_flight: int = 16  # calls in flight per peer
    shutdown_grace_seconds: float = 5.0
    summary_every_seconds: float = 5.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """Read `ECOMOCK_*` (the contract) and `REFERENCE_*` (this connector's tuning) variables."""
        source = os.environ if env is None else env

        def need(name: str) -> str:
            value = source.get(name, "").strip()
            if not value:
                raise SettingsError(f"environment variable {name} is required")
            return value

        def number(name: str, default: float) -> float:
            text = source.get(name, "").strip()
            if not text:
                return default
            try:
                value = float(text)
            except ValueError as exc:
                raise SettingsError(f"{name} must be a number, got {text!r}") from exc
            if value <= 0:
                raise SettingsError(f"{name} must be positive, got {text!r}")
            return value

        def port() -> int:
            text = need("ECOMOCK_CONNECTOR_PORT")
            if not text.isdigit() or not 0 < int(text) < 65536:
                raise SettingsError(f"ECOMOCK_CONNECTOR_PORT must be a TCP port, got {text!r}")
            return int(text)

        return cls(
            oms_url=need("ECOMOCK_OMS_URL").rstrip("/"),
            oms_sid=need("ECOMOCK_OMS_SID"),
            oms_app_key=need("ECOMOCK_OMS_APP_KEY"),
            oms_app_secret=need("ECOMOCK_OMS_APP_SECRET"),
            oms_qimen_app_key=need("ECOMOCK_OMS_QIMEN_APP_KEY"),
            oms_qimen_secret=need("ECOMOCK_OMS_QIMEN_SECRET"),
            oms_qimen_target_app_key=need("ECOMOCK_OMS_QIMEN_TARGET_APP_KEY"),
            wms_url=need("ECOMOCK_WMS_URL").rstrip("/"),
            wms_app_key=need("ECOMOCK_WMS_APP_KEY"),
            wms_secret=need("ECOMOCK_WMS_SECRET"),
            wms_customer_id=need("ECOMOCK_WMS_CUSTOMER_ID"),
            carrier_url=need("ECOMOCK_CARRIER_URL").rstrip("/"),
            carrier_ebusiness_id=need("ECOMOCK_CARRIER_EBUSINESS_ID"),
            carrier_api_key=need("ECOMOCK_CARRIER_API_KEY"),
            erp_url=need("ECOMOCK_ERP_URL").rstrip("/"),
            erp_acct_id=need("ECOMOCK_ERP_ACCT_ID"),
            erp_username=need("ECOMOCK_ERP_USERNAME"),
            erp_app_id=need("ECOMOCK_ERP_APP_ID"),
            erp_app_secret=need("ECOMOCK_ERP_APP_SECRET"),
            erp_lcid=int(number("ECOMOCK_ERP_LCID", 2052)),
            port=port(),
            state_dir=Path(need("ECOMOCK_STATE_DIR")),
            bank_webhook_secret=source.get("ECOMOCK_BANK_WEBHOOK_SECRET", "").strip(),
            bank_url=source.get("ECOMOCK_BANK_URL", "").strip().rstrip("/"),
            bank_account=source.get("ECOMOCK_BANK_ACCOUNT", "").strip(),
            bank_password=source.get("ECOMOCK_BANK_PASSWORD", "").strip(),
            bank_totp_seed=source.get("ECOMOCK_BANK_TOTP_SEED", "").strip(),
            time_scale=number("ECOMOCK_TIME_SCALE", 1.0),
            poll_seconds=number("REFERENCE_POLL_SECONDS", 0.25),
            overlap_seconds=number("REFERENCE_OVERLAP_SECONDS", 2.0),
            max_in_flight=int(number("REFERENCE_MAX_IN_FLIGHT", 16)),
            shutdown_grace_seconds=number("REFERENCE_SHUTDOWN_GRACE_SECONDS", 5.0),
            summary_every_seconds=number("REFERENCE_SUMMARY_SECONDS", 5.0),
        )

    def wall_seconds(self, sim_seconds: float) -> float:
        """How long a simulated duration lasts on the wall clock at this run's time scale."""
        return sim_seconds / self.time_scale
