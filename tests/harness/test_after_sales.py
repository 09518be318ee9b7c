"""End to end, scenarios/after_sales.yaml: buyers cancel paid trades before shipment and send
delivered ones back; the reference connector stops the first (at the WMS, or at the carrier
once picked) and carries the returns (WMS return order, ERP return and red receivable, refund
settled). Each faulty connector fails on its own check, naming the orders."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from contract_tests.database import attach_run
from simulator.demand import DemandModel
from simulator.scenario import load_scenario
from tests.support import paths
from tests.support.runs import failed, invariant, play
from tests.support.scenarios import LATENCY_MARGIN, after_sales_returns_only

AFTER_SALES = paths.AFTER_SALES

pytestmark = pytest.mark.e2e


def planned_cancellations() -> dict[str, int]:
    """Which trades the scenario's buyers cancel, per stage: its demand model replayed."""
    scenario = load_scenario(AFTER_SALES)
    model = DemandModel(scenario.world.build(scenario.seed), scenario.demand, scenario.seed)
    stages = Counter(a.cancel.stage for a in model.arrivals(scenario.duration) if a.cancel)
    return dict(sorted(stages.items()))


def planned_returns() -> int:
    """How many trades the scenario's buyers plan to return: its demand model replayed."""
    scenario = load_scenario(AFTER_SALES)
    model = DemandModel(scenario.world.build(scenario.seed), scenario.demand, scenario.seed)
    return sum(1 for a in model.arrivals(scenario.duration) if a.give_back)


def test_reference_connector_stops_cancelled_trades(tmp_path: Path) -> None:
    exit_code, report = play(AFTER_SALES, "reference", tmp_path / "run")
    assert report["verdict"] == "pass", failed(report)
    assert exit_code == 0
    orders = report["orders"]
    by_stage = planned_cancellations()
    planned = sum(by_stage.values())
    after_picking = by_stage["after_picking"]
    # Every cancellation the scenario plans happened in the OMS, none more; all stages. Those
    # after picking were cancelled once their parcel was back: intercepted, then refunded.
    cancellations = report["cancellations"]
    assert {key: cancellations[key] for key in ("planned", "planned_by_stage", "cancelled")} == {
        "planned": planned,
        "planned_by_stage": by_stage,
        "cancelled": planned,
    }
    assert set(by_stage) == {"before_pickup", "before_picking", "after_picking"}
    assert after_picking > 0
    assert cancellations["after_picking"]["requested"] == after_picking
    assert cancellations["after_picking"]["refunded"] == after_picking
    assert cancellations["after_picking"]["delivered"] == 0
    assert orders["cancelled"] == planned >= 5
    # All the others shipped and were booked; the cancelled ones nowhere.
    assert orders["shipped"] == orders["invoiced"] == orders["created"] - planned
    assert invariant(report, "cancelled_not_shipped")["checked"] == planned - after_picking
    assert invariant(report, "cancelled_after_picking_returned")["checked"] == after_picking
    # Some had reached the WMS and were cancelled there (within the objective, which is the
    # judge's grace too: latency_cancel_to_wms passed).
    at_wms = report["latency_seconds"]["cancel_to_wms"]
    assert at_wms["count"] > 0
    # Every one cancelled after picking was intercepted at the carrier, soon after.
    intercepted = report["latency_seconds"]["cancel_to_intercept"]
    assert intercepted["count"] == after_picking and intercepted["p99"] <= 3.0 * LATENCY_MARGIN
    conn = attach_run(tmp_path / "run")
    canceled = conn.execute(
        "SELECT COUNT(*) FROM wms.delivery_orders AS d JOIN oms.orders AS o"
        " ON o.trade_no = d.delivery_order_code WHERE d.status = 'CANCELED' AND o.trade_status = 5"
    ).fetchone()[0]
    # Their parcels are back with the sender, never signed, the goods shelved again.
    returned = conn.execute(
        "SELECT w.order_code, p.state_ex, i.status, o.trade_status,"
        " (SELECT COUNT(*) FROM wms.stock_ledger AS l WHERE l.reason = 'returned_to_sender'"
        "   AND l.reference = d.delivery_order_id) AS shelved"
        " FROM carrier.intercepts AS i JOIN carrier.waybills AS w USING (logistic_code)"
        " JOIN carrier.parcels AS p USING (logistic_code)"
        " JOIN oms.orders AS o ON o.trade_no = w.order_code"
        " JOIN wms.delivery_orders AS d ON d.delivery_order_code = o.trade_no"
    ).fetchall()
    assert len(returned) == after_picking
    for _, state_ex, status, trade_status, shelved in returned:
        assert (state_ex, status, trade_status) == ("406", "returned", 5)
        assert shelved > 0
    conn.close()
    assert canceled == at_wms["count"]
    returns_carried(report, tmp_path / "run")
    splits_carried(report, tmp_path / "run")
    flows_counted(report, tmp_path / "run")


def returns_carried(report: dict[str, Any], run: Path) -> None:
    """Every return the buyers sent back was received, booked and refunded, its defective
    units on defective stock."""
    returns = report["returns"]
    assert returns["planned"] == planned_returns()
    # Every planned trade was delivered (the run waits), so each buyer applied and sent it.
    assert returns["applied"] == returns["at_warehouse"] == returns["planned"] >= 10
    assert returns["partial"] > 0 and returns["defective_units"] > 0
    assert report["orders"]["returned"] == returns["at_warehouse"]
    assert invariant(report, "return_refund_booked")["checked"] == returns["at_warehouse"]
    assert invariant(report, "receivable_net_of_refunds")["checked"] == returns["at_warehouse"]
    assert invariant(report, "returned_stock_by_quality")["checked"] >= returns["at_warehouse"]
    assert report["latency_seconds"]["return_to_refund"]["count"] == returns["at_warehouse"]
    conn = attach_run(run)
    defective = conn.execute("SELECT COALESCE(SUM(qty), 0) FROM wms.unsaleable_stock").fetchone()
    reds = conn.execute(
        "SELECT COUNT(*), SUM(d.amount_cents), (SELECT SUM(refund_cents) FROM oms.refunds"
        " WHERE type = 2 AND status = 80) FROM erp.documents AS d"
        " WHERE d.form_id = 'AR_receivable' AND d.amount_cents < 0 AND d.document_status = 'C'"
    ).fetchone()
    conn.close()
    assert defective[0] == returns["defective_units"]
    # One red receivable per return, of the refunded amounts in all.
    assert (reds[0], -reds[1]) == (returns["at_warehouse"], reds[2])


def splits_carried(report: dict[str, Any], run: Path) -> None:
    """Each split trade's sub-orders went to the WMS as their own delivery orders, each to its
    warehouse under its own carrier, each shipped with its own waybill and booked at its own
    amount."""
    conn = attach_run(run)
    subs = conn.execute(
        "SELECT o.trade_no, o.src_tid, o.warehouse_no, o.paid_cents, o.logistics_no,"
        " d.warehouse_code, d.express_code, d.status,"
        " (SELECT COUNT(*) FROM wms.delivery_orders AS x WHERE x.delivery_order_code"
        "  = o.trade_no) AS orders,"
        " (SELECT GROUP_CONCAT(e.amount_cents) FROM erp.documents AS e"
        "  WHERE e.bill_no = o.trade_no AND e.document_status = 'C') AS booked"
        " FROM oms.orders AS o JOIN wms.delivery_orders AS d ON d.delivery_order_code = o.trade_no"
        " WHERE (o.trade_mask & 2048) <> 0"
    ).fetchall()
    conn.close()
    platform_orders = {row["src_tid"] for row in subs}
    assert len(platform_orders) >= 3 and len(subs) >= 2 * len(platform_orders)
    assert invariant(report, "split_trade_covered_once")["checked"] == len(platform_orders)
    for tid in platform_orders:
        assert len({row["warehouse_no"] for row in subs if row["src_tid"] == tid}) == 2
    for row in subs:
        assert (row["orders"], row["status"]) == (1, "DELIVERED"), row["trade_no"]
        assert row["warehouse_code"] == row["warehouse_no"]
        assert row["logistics_no"] == row["express_code"]
        assert row["booked"] == f"{row['paid_cents']},{row['paid_cents']}"
    assert len({row["express_code"] for row in subs}) == len(subs)


def flows_counted(report: dict[str, Any], run: Path) -> None:
    """report.json's flows are what the run's tables hold, recounted here row by row."""
    conn = attach_run(run)
    trades = conn.execute(
        "SELECT trade_no, src_tid, shop_no, trade_status, trade_mask FROM oms.orders"
    ).fetchall()
    orders = {
        row[0]: row[1]
        for row in conn.execute("SELECT delivery_order_code, status FROM wms.delivery_orders")
    }
    refunds = conn.execute(
        "SELECT trade_no, type, status, logistics_no FROM oms.refunds"
    ).fetchall()
    parcels_back = {row[0] for row in conn.execute("SELECT logistics_no FROM wms.return_parcels")}
    intercepted = conn.execute(
        "SELECT COUNT(*) FROM carrier.intercepts WHERE status IN ('intercepted', 'returned')"
    ).fetchone()[0]
    conn.close()
    cancelled = [t for t in trades if t["trade_status"] == 5]
    asked = {r["trade_no"] for r in refunds if r["type"] == 1 and r["status"] != 10}
    split = [t for t in trades if t["trade_mask"] & 2048]
    flows = report["flows"]
    assert flows["created"] == len(trades) == report["orders"]["created"]
    # Every cancelled trade at one stage, as its delivery order shows.
    assert flows["cancelled_before_pickup"] == sum(t[0] not in orders for t in cancelled)
    assert flows["cancelled_before_picking"] == sum(
        orders.get(t[0]) == "CANCELED" for t in cancelled
    )
    assert flows["cancelled_after_picking"] == sum(
        orders.get(t) not in (None, "CANCELED") for t in asked
    )
    assert (
        flows["cancelled_before_pickup"]
        + flows["cancelled_before_picking"]
        + flows["cancelled_after_picking"]
        == len(cancelled)
        == report["cancellations"]["cancelled"]
    )
    assert (
        flows["intercepted"] == intercepted == report["cancellations"]["after_picking"]["requested"]
    )
    assert flows["returned"] == sum(
        r["type"] == 2 and r["logistics_no"] in parcels_back for r in refunds
    )
    assert flows["returned"] == report["returns"]["at_warehouse"]
    assert flows["refunded"] == sum(r["status"] >= 80 for r in refunds)
    assert flows["split"] == len({(t["shop_no"], t["src_tid"]) for t in split})
    assert flows["split_sub_orders"] == len(split)
    # Every trade ended: shipped, cancelled or refunded; the drain said so.
    assert flows["unsettled"] == 0
    assert report["run"]["status"]["drain"] == "ended"


def test_a_connector_that_ignores_cancellations_fails_naming_the_trades(tmp_path: Path) -> None:
    exit_code, report = play(AFTER_SALES, "faulty/ships_cancelled_orders", tmp_path / "run")
    assert exit_code == 1
    # Every other check passes on it: only the cancellation checks see the defect.
    assert failed(report) == {"cancelled_not_shipped", "cancelled_after_picking_returned"}
    inv = invariant(report, "cancelled_not_shipped")
    assert inv["breakdown"]["shipped"] == inv["violations"] > 0
    named = [example["entity"] for example in inv["examples"]]
    conn = attach_run(tmp_path / "run")
    for trade_no in named:
        status, shipped = conn.execute(
            "SELECT o.trade_status, d.status FROM oms.orders AS o JOIN wms.delivery_orders AS d"
            " ON d.delivery_order_code = o.trade_no WHERE o.trade_no = ?",
            (trade_no,),
        ).fetchone()
        assert (status, shipped) == (5, "DELIVERED")
    conn.close()
    assert report["latency_seconds"]["cancel_to_wms"]["count"] == 0


# ignores_returns is played through `ecomock certify`, as L2's faulty connector
# (tests/harness/test_certify_levels.py).


def test_a_connector_that_restocks_defective_returns_fails_on_returned_stock(
    tmp_path: Path,
) -> None:
    returns = after_sales_returns_only(tmp_path)
    exit_code, report = play(returns, "faulty/restocks_defective_returns", tmp_path / "run")
    assert exit_code == 1
    assert failed(report) == {"returned_stock_by_quality"}
    inv = invariant(report, "returned_stock_by_quality")
    assert inv["breakdown"] == {
        "ERP stock status differs from the quality check": inv["violations"]
    }
    conn = attach_run(tmp_path / "run")
    for example in inv["examples"]:
        # The WMS found some units defective; the ERP booked them all as available.
        assert example["expected"]["defective +"] > 0
        assert example["observed"]["ERP available / defective"].endswith(" / 0")
        statuses = conn.execute(
            "SELECT DISTINCT l.stock_status FROM erp.document_links AS l"
            " JOIN erp.documents AS d ON d.fid = l.fid"
            " WHERE d.form_id = 'SAL_RETURNSTOCK' AND d.note = ?",
            (example["entity"],),
        ).fetchall()
        assert [row[0] for row in statuses] == ["KCZT01_SYS"]
    conn.close()


def test_a_connector_that_refunds_at_the_original_price_fails_on_the_net_receivable(
    tmp_path: Path,
) -> None:
    returns = after_sales_returns_only(tmp_path)
    exit_code, report = play(returns, "faulty/refunds_at_original_price", tmp_path / "run")
    assert exit_code == 1
    inv = invariant(report, "receivable_net_of_refunds")
    assert inv["violations"] > 0
    # K3 refuses a red receivable above its original (price x quantity above what was paid):
    # such returns have none, which return_refund_booked counts, and nothing else.
    assert failed(report) <= {"receivable_net_of_refunds", "return_refund_booked"}
    if "return_refund_booked" in failed(report):
        booked = invariant(report, "return_refund_booked")
        assert booked["breakdown"] == {"red AR_receivable missing": booked["violations"]}
    conn = attach_run(tmp_path / "run")
    for example in inv["examples"]:
        # The red receivable took back more than the buyer was refunded.
        observed = float(example["observed"]["red"])
        refunded = float(example["expected"]["refunded"])
        assert -observed > refunded
        (paid,) = conn.execute(
            "SELECT paid_cents FROM oms.orders WHERE trade_no = ?", (example["entity"],)
        ).fetchone()
        assert float(example["expected"]["paid"]) * 100 == paid
    conn.close()


def test_a_connector_that_lets_canceledfail_go_fails_naming_the_trades(tmp_path: Path) -> None:
    exit_code, report = play(AFTER_SALES, "faulty/ignores_canceledfail", tmp_path / "run")
    assert exit_code == 1
    # It stops every cancellation the WMS accepts: only the after-picking check fails.
    assert failed(report) == {"cancelled_after_picking_returned"}
    inv = invariant(report, "cancelled_after_picking_returned")
    after_picking = planned_cancellations()["after_picking"]
    assert inv["checked"] == after_picking
    refusing = report["cancellations"]["after_picking"]["refused_planned"]
    # Each parcel a buyer did not refuse is on its way to them, or signed for, unrefunded.
    assert inv["violations"] == after_picking - refusing > 0
    assert set(inv["breakdown"]) <= {"not intercepted", "delivered, refund not agreed"}
    assert report["latency_seconds"]["cancel_to_intercept"]["count"] == 0
    conn = attach_run(tmp_path / "run")
    for example in inv["examples"]:
        refund_status, trade_status = conn.execute(
            "SELECT r.status, o.trade_status FROM oms.refunds AS r JOIN oms.orders AS o"
            " USING (trade_no) WHERE r.trade_no = ?",
            (example["entity"],),
        ).fetchone()
        # Sold as if nobody had cancelled: shipped in the OMS, the refund still waiting.
        assert (refund_status, trade_status) in ((20, 95), (20, 110))
    conn.close()
