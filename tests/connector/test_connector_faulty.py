"""The faulty connectors: each differs from the reference in exactly one rule; and the profiles."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from connectors.faulty.accepts_forged_pushes import (
    AcceptsForgedPushes,
    AcceptsForgedPushesHandlers,
)
from connectors.faulty.books_twice_on_duplicate_confirm import (
    BooksTwiceHandlers,
    BooksTwiceOnDuplicateConfirm,
)
from connectors.faulty.crashes_mid_run import CrashesMidRunMapper
from connectors.faulty.duplicate_on_retry import DuplicateOnRetryMapper
from connectors.faulty.gives_up_after_first_error import GivesUpAfterFirstErrorConnector
from connectors.faulty.ignores_retry_after import IgnoresRetryAfterConnector
from connectors.faulty.keeps_state_in_memory import KeepsStateInMemoryConnector
from connectors.faulty.retries_save_without_idempotency import (
    NewNumberOnRetryK3Client,
    RetriesSaveWithoutIdempotencyConnector,
)
from connectors.faulty.skips_shop import SkipsShopMapper
from connectors.faulty.wrong_amount import WrongAmountMapper
from connectors.reference.callbacks import CallbackHandlers
from connectors.reference.clients.http import HttpClient
from connectors.reference.clients.k3 import K3Client
from connectors.reference.connector import Connector
from connectors.reference.mapper import TradeMapper
from connectors.reference.retry import RetryableError
from connectors.reference.store import Shipment, StateStore, Step, StepStatus
from tests.support.connector import (
    K3_APP_ID,
    K3_APP_SECRET,
    TRADE_NO,
    Peers4,
    connector_settings,
    make_trade,
    make_workflow,
)
from tests.support.paths import ROOT


def overridden(cls: type) -> set[str]:
    return {name for name in vars(cls) if not name.startswith("__")}


@pytest.mark.parametrize(
    ("cls", "method"),
    [
        (SkipsShopMapper, "accepts"),
        (DuplicateOnRetryMapper, "delivery_order_code"),
        (WrongAmountMapper, "receivable_amounts_cents"),
        (CrashesMidRunMapper, "accepts"),
    ],
)
def test_each_variant_overrides_one_rule(cls: type, method: str) -> None:
    assert issubclass(cls, TradeMapper)
    assert overridden(cls) == {method}


@pytest.mark.parametrize(
    ("connector", "handlers", "methods"),
    [
        (
            AcceptsForgedPushes,
            AcceptsForgedPushesHandlers,
            {"wms_signature_ok", "carrier_signature_ok"},
        ),
        (BooksTwiceOnDuplicateConfirm, BooksTwiceHandlers, {"duplicate_confirm"}),
    ],
)
def test_each_push_variant_changes_one_rule_of_the_callbacks(
    connector: type[Connector], handlers: type[CallbackHandlers], methods: set[str]
) -> None:
    assert issubclass(connector, Connector) and connector.handlers is handlers
    assert overridden(connector) == {"handlers"}
    assert issubclass(handlers, CallbackHandlers)
    assert overridden(handlers) == methods


def test_skips_shop_drops_douyin_only() -> None:
    faulty, reference = SkipsShopMapper(), TradeMapper()
    # 旺店通 platform ids: 1 淘宝 (sub 1 天猫), 3 京东, 69 抖店.
    for platform in (1, 3):
        assert faulty.accepts(make_trade(platform_id=platform))
    assert reference.accepts(make_trade(platform_id=69))
    assert not faulty.accepts(make_trade(platform_id=69))


def test_wrong_amount_posts_list_price_on_the_receivable_only() -> None:
    trade = make_trade()
    faulty, reference = WrongAmountMapper(), TradeMapper()
    assert faulty.receivable_amounts_cents(trade) == [3000, 20000]
    assert reference.receivable_amounts_cents(trade) == [2510, 18280]
    assert faulty.outstock_model(trade, "d") == reference.outstock_model(trade, "d")
    entries = faulty.receivable_model(trade, "d")["FEntityDetail"]
    assert [e["FALLAMOUNTFOR"] for e in entries] == ["30.00", "200.00"]


def test_duplicate_on_retry_changes_the_code_after_the_first_attempt() -> None:
    trade = make_trade()
    mapper = DuplicateOnRetryMapper()
    codes = [mapper.delivery_order_code(trade, attempt) for attempt in (1, 2, 3)]
    assert codes == [TRADE_NO, f"{TRADE_NO}-R1", f"{TRADE_NO}-R2"]


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("mapper", "codes"),
    [
        (TradeMapper(), [TRADE_NO, TRADE_NO]),
        (DuplicateOnRetryMapper(), [TRADE_NO, f"{TRADE_NO}-R1"]),
    ],
)
async def test_a_lost_wms_answer_duplicates_only_with_the_faulty_mapper(
    peers: Peers4,
    http: HttpClient,
    tmp_path: Path,
    mapper: TradeMapper,
    codes: list[str],
) -> None:
    peers.lost["taobao.qimen.deliveryorder.create"] = 1
    store = StateStore(tmp_path / "connector.db")
    workflow = make_workflow(store, http, mapper)
    store.add_trades([make_trade(TRADE_NO)])
    workflow.start_order(TRADE_NO)
    assert await workflow.drain(5) == 0
    assert peers.delivery_codes == codes
    # Either code's confirm still finds the trade.
    shipment = Shipment("ZTO", "ZT000001", "2026-11-10 23:00:00")
    for n, code in enumerate(dict.fromkeys(codes)):
        new, trade_no = store.receive_confirm(f"DO{n}-DELIVERED", code, f"DO{n}", shipment, {})
        assert new and trade_no == TRADE_NO
    current = store.step(TRADE_NO, Step.WMS_CREATE)
    assert current is not None and current.status is StepStatus.DONE


@pytest.mark.parametrize(
    ("cls", "method"),
    [
        (KeepsStateInMemoryConnector, "open_store"),
        (GivesUpAfterFirstErrorConnector, "retry_policy"),
        (IgnoresRetryAfterConnector, "retry_policy"),
        (RetriesSaveWithoutIdempotencyConnector, "build_peers"),
    ],
)
def test_each_connector_variant_overrides_one_part(cls: type, method: str) -> None:
    assert issubclass(cls, Connector)
    assert overridden(cls) == {method}


@pytest.mark.parametrize(
    ("connector", "delay"), [(Connector, 1.0), (IgnoresRetryAfterConnector, 60 / 360)]
)
def test_only_the_reference_waits_out_a_retry_after(
    tmp_path: Path, connector: type[Connector], delay: float
) -> None:
    # At 360x the graded first retry (one simulated minute) is a sixth of a wall second,
    # shorter than a Retry-After of 1 s.
    policy = connector(connector_settings(tmp_path, time_scale=360)).retry_policy()
    assert policy.delay_after(1, retry_after=1.0) == pytest.approx(delay)
    assert policy.delay_after(1) == pytest.approx(60 / 360)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("client", "bills"),
    [
        (K3Client, {TRADE_NO: "C"}),
        # The lost Save's document stays saved (A); the retry books the trade again.
        (NewNumberOnRetryK3Client, {TRADE_NO: "A", f"{TRADE_NO}-R1": "C"}),
    ],
)
async def test_a_lost_save_answer_books_twice_only_without_idempotency(
    peers: Peers4, http: HttpClient, client: type[K3Client], bills: dict[str, str]
) -> None:
    erp = client(http, "http://erp", "acct", "user", K3_APP_ID, K3_APP_SECRET, 2052)
    model = TradeMapper().outstock_model(make_trade(TRADE_NO), "2026-11-10 23:00:00")
    peers.lost["Save"] = 1
    with pytest.raises(RetryableError):
        await erp.post_audited("SAL_OUTSTOCK", model)
    await erp.post_audited("SAL_OUTSTOCK", model)  # the workflow's retry
    assert {bill: status for (_, bill), status in peers.bills.items()} == bills
    # Every document says which trade it books, whatever its number: the judge's link.
    assert {m["FNote"] for m in peers.models.values()} == {TRADE_NO}


@pytest.mark.anyio
async def test_the_non_idempotent_connector_swaps_only_the_erp_client(
    http: HttpClient, tmp_path: Path
) -> None:
    settings = connector_settings(tmp_path)
    clients = dict.fromkeys(("oms", "wms", "carrier", "erp"), http)
    faulty = RetriesSaveWithoutIdempotencyConnector(settings).build_peers(clients)
    reference = Connector(settings).build_peers(clients)
    assert type(faulty.erp) is NewNumberOnRetryK3Client
    assert type(reference.erp) is K3Client
    same = ("client", "url", "acct_id", "username", "app_id", "app_secret", "lcid")
    assert [getattr(faulty.erp, f) for f in same] == [getattr(reference.erp, f) for f in same]
    assert faulty.wms is not None and type(faulty.wms) is type(reference.wms)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("connector", "waybill", "codes"),
    [
        (Connector, (StepStatus.DONE, 2), [TRADE_NO]),
        # Parked at the first lost answer: the order never reaches the WMS.
        (GivesUpAfterFirstErrorConnector, (StepStatus.FAILED, 1), []),
    ],
)
async def test_a_lost_waybill_answer_loses_the_order_only_when_giving_up(
    peers: Peers4,
    http: HttpClient,
    store: StateStore,
    tmp_path: Path,
    connector: type[Connector],
    waybill: tuple[StepStatus, int],
    codes: list[str],
) -> None:
    policy = connector(connector_settings(tmp_path)).retry_policy()
    workflow = make_workflow(store, http, policy=policy)
    peers.lost["1007"] = 1
    store.add_trades([make_trade(TRADE_NO)])
    workflow.start_order(TRADE_NO)
    assert await workflow.drain(5) == 0
    current = store.step(TRADE_NO, Step.WAYBILL)
    assert current is not None and (current.status, current.attempts) == waybill
    assert peers.delivery_codes == codes


@pytest.mark.parametrize(
    ("connector", "kept"), [(Connector, [TRADE_NO]), (KeepsStateInMemoryConnector, [])]
)
def test_only_the_reference_store_outlives_its_process(
    tmp_path: Path, connector: type[Connector], kept: list[str]
) -> None:
    settings = connector_settings(tmp_path / "state")
    before = connector(settings).open_store()
    before.add_trades([make_trade(TRADE_NO)])
    before.close()  # the process ends
    after = connector(settings).open_store()
    assert after.unfinished_trades() == kept
    after.close()


# ---------------------------------------------------------------- profiles


PROFILES = {
    "connectors/reference/connector.yaml": "connectors.reference",
    "connectors/faulty/skips_shop/connector.yaml": "connectors.faulty.skips_shop",
    "connectors/faulty/openapi_only/connector.yaml": "connectors.faulty.openapi_only",
    "connectors/faulty/duplicate_on_retry/connector.yaml": "connectors.faulty.duplicate_on_retry",
    "connectors/faulty/wrong_amount/connector.yaml": "connectors.faulty.wrong_amount",
    "connectors/faulty/crashes_mid_run/connector.yaml": "connectors.faulty.crashes_mid_run",
    "connectors/faulty/keeps_state_in_memory/connector.yaml": (
        "connectors.faulty.keeps_state_in_memory"
    ),
    "connectors/faulty/gives_up_after_first_error/connector.yaml": (
        "connectors.faulty.gives_up_after_first_error"
    ),
    "connectors/faulty/ignores_retry_after/connector.yaml": (
        "connectors.faulty.ignores_retry_after"
    ),
    "connectors/faulty/retries_save_without_idempotency/connector.yaml": (
        "connectors.faulty.retries_save_without_idempotency"
    ),
    "connectors/faulty/accepts_forged_pushes/connector.yaml": (
        "connectors.faulty.accepts_forged_pushes"
    ),
    "connectors/faulty/books_twice_on_duplicate_confirm/connector.yaml": (
        "connectors.faulty.books_twice_on_duplicate_confirm"
    ),
    "connectors/faulty/books_count_gain_as_loss/connector.yaml": (
        "connectors.faulty.books_count_gain_as_loss"
    ),
    "connectors/faulty/books_receipts_at_one_warehouse/connector.yaml": (
        "connectors.faulty.books_receipts_at_one_warehouse"
    ),
    "connectors/faulty/books_transfer_twice/connector.yaml": (
        "connectors.faulty.books_transfer_twice"
    ),
    "connectors/faulty/completes_on_problem_parcel/connector.yaml": (
        "connectors.faulty.completes_on_problem_parcel"
    ),
    "connectors/faulty/writes_off_twice/connector.yaml": "connectors.faulty.writes_off_twice",
    "connectors/faulty/ignores_partial_confirms/connector.yaml": (
        "connectors.faulty.ignores_partial_confirms"
    ),
    "connectors/faulty/throttles_below_peak/connector.yaml": (
        "connectors.faulty.throttles_below_peak"
    ),
    "connectors/faulty/books_commission_as_revenue/connector.yaml": (
        "connectors.faulty.books_commission_as_revenue"
    ),
    "connectors/faulty/ignores_master_data_updates/connector.yaml": (
        "connectors.faulty.ignores_master_data_updates"
    ),
    "connectors/faulty/pays_twice_on_retry/connector.yaml": "connectors.faulty.pays_twice_on_retry",
    "connectors/faulty/books_fees_without_weight/connector.yaml": (
        "connectors.faulty.books_fees_without_weight"
    ),
    "connectors/faulty/rounds_with_floats/connector.yaml": "connectors.faulty.rounds_with_floats",
    "connectors/faulty/books_rejected_payments/connector.yaml": (
        "connectors.faulty.books_rejected_payments"
    ),
    "connectors/faulty/flags_by_amount_only/connector.yaml": (
        "connectors.faulty.flags_by_amount_only"
    ),
    "connectors/faulty/ignores_bank_fees/connector.yaml": "connectors.faulty.ignores_bank_fees",
}
# Profiles that book settlements declare where the bank's camt.054 notices go.
BANK_NOTICE = {"bank_notice": "http://127.0.0.1:{port}/bank/notice"}


@pytest.mark.parametrize(("path", "module"), sorted(PROFILES.items()))
def test_profiles_name_a_runnable_module_and_the_callbacks(path: str, module: str) -> None:
    profile = yaml.safe_load((ROOT / path).read_text(encoding="utf-8"))
    assert profile["command"] == ["{python}", "-m", module]
    assert importlib.util.find_spec(f"{module}.__main__") is not None
    pushes = {
        "wms_confirm": "http://127.0.0.1:{port}/qimen/callback",
        "carrier_push": "http://127.0.0.1:{port}/kdniao/push",
    }
    assert profile["callbacks"] in (pushes, {**pushes, **BANK_NOTICE})
    assert profile["ready"] == "http://127.0.0.1:{port}/health"
    assert profile["env"] == {"REFERENCE_POLL_SECONDS": "0.25"}
    assert profile["name"] and profile["description"]


def test_missing_environment_is_a_clear_exit() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ECOMOCK_")}
    result = subprocess.run(
        [sys.executable, "-m", "connectors.reference"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "ECOMOCK_OMS_URL is required" in result.stderr
