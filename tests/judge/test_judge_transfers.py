"""Judge tests on built runs: transfers between warehouses. A transfer booked as the
reference books it (a transfer-out of what left, a transfer-in of what arrived and the loss)
passes, in transit too; a transfer booked twice, a missing or unaudited document, wrong
quantities, a loss not recorded or a wrong warehouse each fail `transfers_balance` under its
own problem, naming the transfer with what was expected and observed."""

from __future__ import annotations

from pathlib import Path

from contract_tests.database import attach_run
from contract_tests.metrics import count_orders
from tests.support.judge import RunBuilder, failed, judge
from tests.support.transfers import RECEIVER, SENDER, erp_transfer, transfer

SENT = {"SKU-A": 6, "SKU-B": 4}
RECEIVED = {"SKU-A": 4, "SKU-B": 4}  # two of SKU-A lost on the way


def test_transfers_booked_as_they_happened_pass(tmp_path: Path) -> None:
    builder = RunBuilder(tmp_path / "run")
    builder.good_mix()
    transfer(builder, "DB1", SENT, RECEIVED)
    transfer(builder, "DB2", SENT, SENT)  # nothing lost
    transfer(builder, "DB3", {"SKU-C": 2}, {})  # everything lost
    transfer(builder, "DB4", SENT, None)  # still in transit: only the transfer-out
    verdict = judge(builder)
    assert failed(verdict) == []
    inv = verdict.invariant("transfers_balance")
    assert (inv.checked, inv.violations) == (4, 0)


def test_a_transfer_booked_twice_fails_naming_it(tmp_path: Path) -> None:
    builder = RunBuilder(tmp_path / "run")
    builder.good_mix()
    transfer(builder, "DB1", SENT, RECEIVED)
    transfer(builder, "DB2", SENT, RECEIVED)
    # DB1 again under new bill numbers (the note still names the transfer).
    erp_transfer(builder, "STK_TRANSFEROUT", "DB1-2", SENT, SENDER, note="DB1")
    erp_transfer(
        builder,
        "STK_TRANSFERIN",
        "DB1-2",
        RECEIVED,
        RECEIVER,
        note="DB1",
        source="DB1-2",
        losses={"SKU-A": 2, "SKU-B": 0},
    )
    verdict = judge(builder)
    assert failed(verdict) == ["transfers_balance"]
    inv = verdict.invariant("transfers_balance")
    assert (inv.checked, inv.violations) == (2, 1)
    assert inv.breakdown == {"more than one transfer-out": 1, "more than one transfer-in": 1}
    example = inv.examples[0]
    assert example["entity"] == "DB1"
    assert example["expected"] == {
        "sender": SENDER,
        "receiver": RECEIVER,
        "out": SENT,
        "in": RECEIVED,
        "loss": {"SKU-A": 2},
    }
    assert example["observed"]["transfer_outs"] == ["DB1 (C)", "DB1-2 (C)"]
    assert example["observed"]["transfer_ins"] == ["DB1 (C)", "DB1-2 (C)"]


def test_each_wrong_booking_is_its_own_problem(tmp_path: Path) -> None:
    builder = RunBuilder(tmp_path / "run")
    transfer(builder, "NONE", SENT, RECEIVED, booked=False)
    transfer(builder, "NOIN", SENT, RECEIVED, booked=False)
    erp_transfer(builder, "STK_TRANSFEROUT", "NOIN", SENT, SENDER)
    transfer(builder, "DRAFT", SENT, RECEIVED, booked=False)
    erp_transfer(builder, "STK_TRANSFEROUT", "DRAFT", SENT, SENDER, status="B")
    erp_transfer(
        builder,
        "STK_TRANSFERIN",
        "DRAFT",
        RECEIVED,
        RECEIVER,
        status="A",
        source="DRAFT",
        losses={"SKU-A": 2},
    )
    # The transfer-in books what was sent: no loss recorded, too much received.
    transfer(builder, "NOLOSS", SENT, RECEIVED, booked=False)
    erp_transfer(builder, "STK_TRANSFEROUT", "NOLOSS", SENT, SENDER)
    erp_transfer(builder, "STK_TRANSFERIN", "NOLOSS", SENT, RECEIVER, source="NOLOSS", losses={})
    # Both legs at the wrong warehouses, the out of what arrived.
    transfer(builder, "WRONGWH", SENT, RECEIVED, booked=False)
    erp_transfer(builder, "STK_TRANSFEROUT", "WRONGWH", RECEIVED, RECEIVER)
    erp_transfer(
        builder,
        "STK_TRANSFERIN",
        "WRONGWH",
        RECEIVED,
        SENDER,
        source="WRONGWH",
        losses={"SKU-A": 2},
    )
    # Received in the ERP while the goods are still on the road.
    transfer(builder, "EARLY", SENT, None)
    erp_transfer(builder, "STK_TRANSFERIN", "EARLY", SENT, RECEIVER, source="EARLY")
    inv = judge(builder).invariant("transfers_balance")
    assert (inv.checked, inv.violations) == (6, 6)
    assert inv.breakdown == {
        "no transfer-out": 1,
        "no transfer-in": 2,
        "transfer-out not audited": 1,
        "transfer-in not audited": 1,
        "transfer-in quantities differ from the units received": 1,
        "recorded loss differs from out - in": 1,
        "transfer-out quantities differ from the units sent": 1,
        "transfer-out not from the sending warehouse": 1,
        "transfer-in not into the receiving warehouse": 1,
        "transfer-in before the goods arrived": 1,
    }
    noloss = next(e for e in inv.examples if e["entity"] == "NOLOSS")
    assert noloss["expected"]["loss"] == {"SKU-A": 2}
    assert noloss["observed"]["loss"] == {}
    assert noloss["observed"]["in"] == SENT


def test_a_run_from_before_two_leg_transfers_has_nothing_to_check(tmp_path: Path) -> None:
    builder = RunBuilder(tmp_path / "run")
    builder.good_mix()
    builder.sql("wms", "DROP TABLE stockout_orders")
    verdict = judge(builder)
    assert failed(verdict) == []
    assert verdict.invariant("transfers_balance").checked == 0


def test_the_drain_counts_transfers_the_erp_has_not_booked(tmp_path: Path) -> None:
    """`transfers_unbooked` (the drain waits for 0): a shipped transfer without its audited
    transfer-out, or a received one without its audited transfer-in."""
    builder = RunBuilder(tmp_path / "run")
    transfer(builder, "BOOKED", SENT, RECEIVED)
    transfer(builder, "ONROAD", SENT, None)  # booked out; nothing to receive yet
    transfer(builder, "NONE", SENT, None, booked=False)
    transfer(builder, "NOIN", SENT, RECEIVED, booked=False)
    erp_transfer(builder, "STK_TRANSFEROUT", "NOIN", SENT, SENDER)
    transfer(builder, "DRAFT", SENT, RECEIVED, booked=False)
    erp_transfer(builder, "STK_TRANSFEROUT", "DRAFT", SENT, SENDER, status="B")
    builder.close()
    conn = attach_run(builder.run_dir)
    assert count_orders(conn)["transfers_unbooked"] == 3  # NONE, NOIN, DRAFT
    conn.close()
