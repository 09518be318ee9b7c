"""Fulfilment as SimPy processes: NEW → ACCEPT → PICK → PACKAGE → (PARTDELIVERED →) DELIVERED,
queueing for each warehouse's pickers and packers, which is how a backlog builds at peak.

The business faults of a plan (docs/CHAOS.md) hit an order when a picker comes to it: a
`stock_out` finds nothing on the shelf (EXCEPTION until restocked), a `short_pick` finds fewer
units than planned (the order ships in two packages).
"""

from __future__ import annotations

import random
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import simpy

from fake_systems.common.context import SystemContext
from fake_systems.common.faults import Stage
from fake_systems.common.storage import transaction
from fake_systems.wms.catalog import Catalog
from fake_systems.wms.events import OrderRef, PackageShipped, ReportLine
from fake_systems.wms.models import CarrierDesk, DeliveryStatus, WmsConfig, kdniao_shipper_code
from fake_systems.wms.reports import Reports
from fake_systems.wms.stock import StockLedger
from simulator.clock import format_qimen_time

# How long, by default, an order waits for the stock a business fault found missing
# (simulated seconds; a rule's `restock_after` overrides): a replenishment from the reserve
# store takes hours, the few units a picker missed come sooner.
RESTOCK_AFTER = {"stock_out": 7200.0, "short_pick": 3600.0}
# The operation the business faults name (besides `*`): they hit the orders it created.
FAULTED_OPERATION = "deliveryorder.create"
STOCK_OUT_REMARK = "缺货"
PICK = DeliveryStatus.PICK


@dataclass(frozen=True)
class _Shortage:
    """What a business fault left on the shelf for one order."""

    restock_after: float
    # Units the picker found (a short pick: the first package); None: nothing, the whole
    # order waits in EXCEPTION.
    found: int | None


@dataclass
class _Crew:
    """A warehouse's people: orders queue for them."""

    pickers: simpy.Resource
    packers: simpy.Resource


class Fulfilment:
    """Runs one process per delivery order; a cancel stops it (`stop`)."""

    def __init__(
        self,
        ctx: SystemContext,
        config: WmsConfig,
        catalog: Catalog,
        stock: StockLedger,
        reports: Reports,
        carrier: CarrierDesk | None,
    ) -> None:
        self.ctx = ctx
        self.conn = ctx.conn
        self.env: simpy.Environment = ctx.clock.env
        self.config = config
        self.catalog = catalog
        self.stock = stock
        self.reports = reports
        self.carrier = carrier
        self._crews: dict[str, _Crew] = {}
        self._processes: dict[str, simpy.Process] = {}

    def staff(self) -> None:
        """A crew for every warehouse of the catalog that has none yet."""
        for code, site in self.catalog.warehouses.items():
            if code not in self._crews:
                self._crews[code] = _Crew(
                    simpy.Resource(self.env, capacity=max(1, site.pickers)),
                    simpy.Resource(self.env, capacity=max(1, site.packers)),
                )

    def start(self, order_id: str, code: str, warehouse: str) -> None:
        self._processes[order_id] = self.env.process(self._fulfil(order_id, code, warehouse))

    def stop(self, order_id: str) -> None:
        """A cancelled order's process ends where it is (the cancel released its stock)."""
        process = self._processes.pop(order_id, None)
        if process is not None and process.is_alive:
            process.interrupt("canceled")

    def between(self, bounds: tuple[float, float], dice: random.Random) -> float:
        """A work time drawn from the config's (low, high) with the order's own dice."""
        return dice.uniform(*bounds)

    def _fulfil(
        self, order_id: str, code: str, warehouse: str
    ) -> Generator[simpy.Event, Any, None]:
        crew = self._crews[warehouse]
        # The order's own dice (by code, not the arrival-ordered id): its times and packages
        # are the same whichever orders the connector sent before it.
        dice = self.ctx.dice("delivery", warehouse, code)
        try:
            yield self.env.timeout(self.between(self.config.accept_seconds, dice))
            if not self._advance(order_id, code, DeliveryStatus.NEW, DeliveryStatus.ACCEPT):
                return
            with crew.pickers.request() as turn:
                yield turn
                shortage = self._shortage(order_id, code)
                # Nothing on the shelf: the order waits for stock, its picker goes on to the
                # next order.
                waits = shortage is not None and shortage.found is None
                after, remark = (
                    (DeliveryStatus.EXCEPTION, STOCK_OUT_REMARK) if waits else (PICK, None)
                )
                if not self._advance(order_id, code, DeliveryStatus.ACCEPT, after, remark):
                    return
                if not waits:
                    yield self.env.timeout(self.between(self.config.pick_seconds, dice))
            if shortage is not None and waits:
                yield self.env.timeout(shortage.restock_after)
                with crew.pickers.request() as turn:
                    yield turn
                    if not self._advance(order_id, code, DeliveryStatus.EXCEPTION, PICK):
                        return  # cancelled while it waited
                    yield self.env.timeout(self.between(self.config.pick_seconds, dice))
            with crew.packers.request() as turn:
                yield turn
                self._advance(order_id, code, DeliveryStatus.PICK, DeliveryStatus.PACKAGE)
                yield self.env.timeout(self.between(self.config.pack_seconds, dice))
            found = shortage.found if shortage is not None else None
            packages = self._packages(order_id, dice, found)
            for number, package in enumerate(packages, start=1):
                if number > 1:  # the rest is packed once more before it leaves
                    if shortage is not None and found is not None:
                        yield self.env.timeout(shortage.restock_after)  # …once it is in stock
                    yield self.env.timeout(self.between(self.config.pack_seconds, dice))
                self._ship(order_id, package, number, final=number == len(packages))
        except simpy.Interrupt:
            return  # cancelled: the cancel already released the stock
        except Exception as exc:
            # An error here must not stop the whole simulation; leave the order where it is.
            self.ctx.history.record(
                "fault",
                "deliveryorder.fulfil",
                f"error:{type(exc).__name__}",
                code,
                {"error": str(exc)},
            )
        finally:
            self._processes.pop(order_id, None)

    def _advance(
        self,
        order_id: str,
        code: str,
        before: DeliveryStatus,
        after: DeliveryStatus,
        remark: str | None = None,
    ) -> bool:
        """Move one step if the order is still where the process thinks it is."""
        with transaction(self.conn):
            moved = self.conn.execute(
                "UPDATE delivery_orders SET status = ? WHERE delivery_order_id = ? AND status = ?",
                (after.value, order_id, before.value),
            ).rowcount
            if moved:
                self.ctx.history.record(
                    "state", "deliveryorder", after.value, code, {"deliveryOrderId": order_id}
                )
                self.reports.order_progressed(order_id, after, remark)
        return bool(moved)

    def _shortage(self, order_id: str, code: str) -> _Shortage | None:
        """Whether a business fault of the plan hits the order its picker just came to; a
        hit is a `fault` row (entity: the delivery order code).

        A short pick finds 1 to n−1 of the order's n units (the rule's own dice); an order of
        one unit cannot be short of part of itself, so it waits whole, as a stock-out does.
        """
        rule = self.ctx.faults.pick(
            self.ctx.name, FAULTED_OPERATION, Stage.WORLD, self.ctx.clock.now(), RESTOCK_AFTER
        )
        if rule is None:
            return None
        restock_after = float(rule.params.get("restock_after", RESTOCK_AFTER[rule.kind]))
        found: int | None = None
        units = self._units(order_id)
        if rule.kind == "short_pick" and units > 1:
            found = self.ctx.faults.dice(rule).randint(1, units - 1)
        detail = {
            "stage": "world",
            "deliveryOrderId": order_id,
            "units": units,
            "found": 0 if found is None else found,
            "restockAfter": restock_after,
        }
        with transaction(self.conn):
            self.ctx.history.record(
                "fault", FAULTED_OPERATION, rule.kind, code, {**self.ctx.faults.tag(rule), **detail}
            )
        return _Shortage(restock_after, found)

    def _units(self, order_id: str) -> int:
        row = self.conn.execute(
            "SELECT COALESCE(SUM(plan_qty), 0) FROM delivery_order_lines"
            " WHERE delivery_order_id = ?",
            (order_id,),
        ).fetchone()
        return int(row[0])

    def _packages(
        self, order_id: str, dice: random.Random, found: int | None = None
    ) -> list[dict[int, int]]:
        """The order's packages as {line rowid: units}: one, or two for the configured share,
        or two for a short pick that `found` only so many units.

        A split takes half the units (rounded down; a short pick: the units found) in line
        order for the first package, so it may hold whole lines, part of a line, or both;
        orders of one unit never split.
        """
        lines = self.conn.execute(
            "SELECT rowid, plan_qty FROM delivery_order_lines WHERE delivery_order_id = ?"
            " ORDER BY rowid",
            (order_id,),
        ).fetchall()
        whole = {int(row[0]): int(row[1]) for row in lines}
        total = sum(whole.values())
        share = self.config.partial_delivery_share
        if found is not None:
            left = found
        elif share <= 0 or total < 2 or dice.random() >= share:
            return [whole]
        else:
            left = total // 2
        first: dict[int, int] = {}
        for rowid, qty in whole.items():
            take = min(qty, left)
            if take > 0:
                first[rowid] = take
                left -= take
        rest = {rowid: qty - first.get(rowid, 0) for rowid, qty in whole.items()}
        return [first, {rowid: qty for rowid, qty in rest.items() if qty > 0}]

    def _ship(self, order_id: str, package: dict[int, int], number: int, final: bool) -> None:
        """One package leaves: its stock goes, the connector is told, the carrier takes over.

        `package` maps line rowids to units. The final package makes the order DELIVERED
        (delivered_sim/wall set now), an earlier one PARTDELIVERED; `actual_qty` of each line
        adds up what has been shipped so far.
        """
        order = self.conn.execute(
            "SELECT * FROM delivery_orders WHERE delivery_order_id = ?", (order_id,)
        ).fetchone()
        warehouse, code = order["warehouse_code"], order["delivery_order_code"]
        owner = order["owner_code"]
        # The order names a Qimen logisticsCode; the carrier speaks Kdniao's codes.
        shipper = (
            kdniao_shipper_code(order["logistics_code"])
            if order["logistics_code"]
            else self.catalog.warehouses[warehouse].carrier_code
        )
        order_express = order["express_code"]
        if number == 1:  # the order's own waybill: as the create gave it, else issued now
            express = order_express or self._waybill(code, shipper, owner)
            order_express = express
        else:  # every further parcel needs a number of its own
            express = self._waybill(f"{code}-{number}", shipper, owner)
        lines = [
            ReportLine(
                line["order_line_no"],
                line["owner_code"],
                line["item_code"],
                line["inventory_type"],
                line["plan_qty"],
                package[line["rowid"]],
            )
            for line in self.conn.execute(
                "SELECT rowid, * FROM delivery_order_lines WHERE delivery_order_id = ?"
                " ORDER BY rowid",
                (order_id,),
            )
            if line["rowid"] in package
        ]
        weights = self.catalog.weights
        weight = round(sum(weights[ln.item_code] * ln.actual_qty for ln in lines), 3)
        status = DeliveryStatus.DELIVERED if final else DeliveryStatus.PARTDELIVERED
        now_sim, now_wall = format_qimen_time(self.ctx.clock.now()), self.ctx.clock.wall()
        single = final and number == 1
        tag = "" if single else f"-P{number}"
        with transaction(self.conn):
            self.conn.execute(
                "UPDATE delivery_orders SET status = ?, express_code = ?,"
                " weight_kg = COALESCE(weight_kg, 0) + ?, delivered_sim = ?, delivered_wall = ?"
                " WHERE delivery_order_id = ?",
                (
                    status.value,
                    order_express,
                    weight,
                    now_sim if final else None,
                    now_wall if final else None,
                    order_id,
                ),
            )
            for rowid, qty in package.items():
                self.conn.execute(
                    "UPDATE delivery_order_lines SET actual_qty = actual_qty + ? WHERE rowid = ?",
                    (qty, rowid),
                )
            for line in lines:
                self.stock.ship(warehouse, line.item_code, line.actual_qty, order_id)
            detail: dict[str, Any] = {
                "deliveryOrderId": order_id,
                "expressCode": express,
                "weight": weight,
            }
            if not single:
                detail["package"] = number
            self.ctx.history.record("state", "deliveryorder", status.value, code, detail)
            self.reports.stock_changed(
                owner,
                code,
                order["order_type"],
                f"{order_id}{tag}-STOCK",
                [(warehouse, line.item_code, -line.actual_qty) for line in lines],
            )
            self.reports.order_progressed(order_id, status, None if single else f"包裹 {number}")
        self.reports.emit(
            PackageShipped(
                order=OrderRef(code, order_id, owner, warehouse, order["order_type"]),
                logistics_code=order["logistics_code"],
                order_express_code=order_express,
                express_code=express,
                weight_kg=weight,
                lines=tuple(lines),
                # this package's orderConfirmTime, by the WMS's own (maybe skewed) clock
                confirm_time=format_qimen_time(self.ctx.now("deliveryorder.confirm")),
                final=final,
                out_biz_code=f"{order_id}-{status.value}" + ("" if final else f"-{number}"),
            )
        )
        if self.carrier is not None:
            route = (self.catalog.warehouses[warehouse].province, order["receiver_province"])
            self.carrier.hand_over(express, shipper, weight, route)

    def unmade_shipment(self) -> PackageShipped | None:
        """The final confirm the newest open order with a waybill would get if it shipped
        whole now, changing nothing (the content of a `push_forged` confirm: only its
        signature tells it from a real one, and acting on it ships what never left)."""
        order = self.conn.execute(
            "SELECT * FROM delivery_orders WHERE status IN (?, ?, ?, ?, ?)"
            " AND COALESCE(express_code, '') <> '' ORDER BY created_wall DESC, rowid DESC LIMIT 1",
            (
                DeliveryStatus.NEW.value,
                DeliveryStatus.ACCEPT.value,
                DeliveryStatus.EXCEPTION.value,
                DeliveryStatus.PICK.value,
                DeliveryStatus.PACKAGE.value,
            ),
        ).fetchone()
        if order is None:
            return None
        order_id = order["delivery_order_id"]
        lines = tuple(
            ReportLine(
                line["order_line_no"],
                line["owner_code"],
                line["item_code"],
                line["inventory_type"],
                line["plan_qty"],
                line["plan_qty"],
            )
            for line in self.conn.execute(
                "SELECT * FROM delivery_order_lines WHERE delivery_order_id = ? ORDER BY rowid",
                (order_id,),
            )
        )
        weights = self.catalog.weights
        return PackageShipped(
            order=OrderRef(
                order["delivery_order_code"],
                order_id,
                order["owner_code"],
                order["warehouse_code"],
                order["order_type"],
            ),
            logistics_code=order["logistics_code"],
            order_express_code=order["express_code"],
            express_code=order["express_code"],
            weight_kg=round(sum(weights.get(ln.item_code, 0.0) * ln.actual_qty for ln in lines), 3),
            lines=lines,
            confirm_time=format_qimen_time(self.ctx.clock.now()),
            final=True,
            out_biz_code=f"{order_id}-{DeliveryStatus.DELIVERED.value}",
        )

    def _waybill(self, order_code: str, shipper: str, owner: str) -> str:
        if self.carrier is not None:
            return self.carrier.issue_waybill(order_code, shipper, owner)
        # No carrier wired (unit tests, WMS alone): a made-up but well-formed number.
        return f"{shipper}{self.ctx.dice('waybill', order_code).randrange(10**11, 10**12)}"
