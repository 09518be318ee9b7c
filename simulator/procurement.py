"""Replenishment the simulated business plays: purchase orders raised in the ERP when a
warehouse's stock runs low, and the suppliers' deliveries reaching the WMS, in simulated time.

Every `review_minutes` the buyer looks at each warehouse's items: available stock (the WMS's
on hand less reserved) plus what is on order but not yet received; below `reorder_point` the
item goes on a purchase order (PUR_PurchaseOrder, audited) of its supplier for that warehouse,
topped up to `order_up_to`. Some `lead_hours` later the supplier delivers; a line may come
over or short by up to `deviation` of its units, or with some of them damaged. The connector
carries the rest: the entry order, the stock-in and the payable (docs/CONTRACT.md).

Purchase returns (`return_rate`): at each review the buyer looks at the purchases whose
stock-in is audited since the last review; a `return_rate` share of them sends goods back to
the supplier: the surplus of every over-delivered line, else (nothing came over) up to
`return_share` of one line's units, overstock. The buyer saves a draft purchase return (PUR_MRB,
status A) of what it asks back, linked to the stock-in, at the line's stock-in price; the
connector carries it to the warehouse and books what really left (docs/CONTRACT.md).
Damaged units are not sent back this way: the payable never paid for them (DECISIONS.md).

Draws come from streams of their own (`procurement-<seed>`, `purchase-returns-<seed>`), so
adding procurement, or returns, changes no other traffic.
"""

from __future__ import annotations

import math
import random
import sqlite3
from collections.abc import Generator
from dataclasses import dataclass

import simpy

from fake_systems.erp.models import K3Error
from fake_systems.erp.service import ErpService
from fake_systems.wms.deliveries import DeliveryLine
from fake_systems.wms.service import WmsService
from simulator.clock import format_qimen_time
from simulator.scenario import ProcurementSettings
from simulator.world import Supplier, World

PURCHASE_ORDER = "PUR_PurchaseOrder"
INSTOCK = "STK_InStock"
PURCHASE_RETURN = "PUR_MRB"
# K3's preset bill type of a standard purchase return (标准退料单) and its business type.
RETURN_BILL_TYPE = "TLD01_SYS"
SURPLUS_NOTE, OVERSTOCK_NOTE = "超收退回", "库存积压退回"
# What the business pays its supplier, as a share of the shelf price (ecomock's figure).
COST_SHARE = 0.55


@dataclass
class OpenOrder:
    """A purchase order raised and not yet received: its lines and where the goods go."""

    bill_no: str
    warehouse: str
    supplier: Supplier
    lines: dict[str, int]  # item code -> units ordered


class Procurement:
    """The buyer's review loop and each order's delivery, as SimPy processes; counts them."""

    def __init__(
        self,
        env: simpy.Environment,
        world: World,
        settings: ProcurementSettings,
        erp: ErpService,
        wms: WmsService,
        seed: int,
    ) -> None:
        self.env = env
        self.world = world
        self.settings = settings
        self.erp = erp
        self.wms = wms
        self.random = random.Random(f"procurement-{seed}")
        self.returns_random = random.Random(f"purchase-returns-{seed}")
        self.open: list[OpenOrder] = []
        # Stock-ins the buyer has looked at for a return (each once).
        self.looked_at: set[str] = set()
        self.stats = {
            "purchase_orders": 0,
            "lines": 0,
            "delivered": 0,
            "over": 0,
            "short": 0,
            "damaged": 0,
            "refused": 0,
            "returns": 0,
            "returns_surplus": 0,
            "returns_overstock": 0,
            "return_units": 0,
            "returns_refused": 0,
        }

    def start(self, until_seconds: float) -> simpy.events.Process:
        return self.env.process(self._review(until_seconds))

    def supplier_of(self, item_code: str) -> Supplier:
        return self.world.supplier_of(item_code)

    def _review(self, until_seconds: float) -> Generator[simpy.events.Event, object, None]:
        every = self.settings.review_minutes * 60.0
        start = self.env.now
        while self.env.now - start < until_seconds:
            self.review()
            if self.settings.return_rate:
                self.send_back()
            yield self.env.timeout(every)

    def review(self) -> list[str]:
        """Raise the purchase orders the stock asks for now; their bill numbers."""
        self._forget_received()
        on_order: dict[tuple[str, str], int] = {}
        for order in self.open:
            for item, qty in order.lines.items():
                on_order[(order.warehouse, item)] = on_order.get((order.warehouse, item), 0) + qty
        wanted: dict[tuple[str, str], dict[str, int]] = {}
        for warehouse, item, available in self.wms.conn.execute(
            "SELECT warehouse_code, item_code, on_hand - reserved FROM stock"
            " ORDER BY warehouse_code, item_code"
        ):
            position = int(available) + on_order.get((warehouse, item), 0)
            if position < self.settings.reorder_point:
                supplier = self.supplier_of(item)
                lines = wanted.setdefault((supplier.code, warehouse), {})
                lines[item] = self.settings.order_up_to - position
        raised = []
        for (supplier_code, warehouse), lines in sorted(wanted.items()):
            supplier = next(s for s in self.world.suppliers if s.code == supplier_code)
            bill_no = self._raise(supplier, warehouse, lines)
            if bill_no is not None:
                raised.append(bill_no)
        return raised

    def _raise(self, supplier: Supplier, warehouse: str, lines: dict[str, int]) -> str | None:
        model = {
            "FDate": format_qimen_time(self.erp.ctx.clock.now()),
            "FSupplierId": {"FNumber": supplier.code},
            "FPurchaseOrgId": {"FNumber": "100"},
            "FPOOrderEntry": [
                {
                    "FMaterialId": {"FNumber": item},
                    "FQty": qty,
                    "FTaxPrice": f"{self.cost_cents(item) / 100:.2f}",
                    "FStockID": {"FNumber": warehouse},
                }
                for item, qty in sorted(lines.items())
            ],
        }
        try:
            result = self.erp.save(PURCHASE_ORDER, model, auto_submit_audit=True)
        except K3Error:
            self.stats["refused"] += 1
            return None
        bill_no = result.successes[0].number
        order = OpenOrder(bill_no, warehouse, supplier, dict(lines))
        self.open.append(order)
        self.stats["purchase_orders"] += 1
        self.stats["lines"] += len(lines)
        low, high = self.settings.lead_hours.as_tuple()
        self.env.process(self._deliver(order, self.random.uniform(low, high) * 3600.0))
        return bill_no

    def cost_cents(self, item_code: str) -> int:
        return max(1, round(self.world.sku(item_code).price_cents * COST_SHARE))

    def _deliver(
        self, order: OpenOrder, after: float
    ) -> Generator[simpy.events.Event, object, None]:
        yield self.env.timeout(after)
        self.wms.inbound.deliveries.arrive(
            order.supplier.owner_code,
            order.bill_no,
            order.warehouse,
            order.supplier.code,
            [self.delivered(item, qty) for item, qty in sorted(order.lines.items())],
        )
        self.stats["delivered"] += 1

    def delivered(self, item: str, ordered: int) -> DeliveryLine:
        """What the supplier brings of a line: over, short or as ordered, some maybe damaged;
        never nothing, never all damaged (a receipt with nothing sound pays nothing: rare in
        life, and a line of its own in the judge's tests)."""
        s = self.settings
        part = max(1, math.ceil(ordered * s.deviation))
        draw = self.random.random()
        qty = ordered
        if draw < s.over_rate:
            qty = ordered + self.random.randint(1, part)
            self.stats["over"] += 1
        elif draw < s.over_rate + s.short_rate and ordered > 1:
            qty = ordered - self.random.randint(1, min(part, ordered - 1))
            self.stats["short"] += 1
        damaged = 0
        if self.random.random() < s.damaged_rate and qty > 1:
            damaged = self.random.randint(1, min(part, qty - 1))
            self.stats["damaged"] += 1
        return DeliveryLine(item, qty, damaged)

    def send_back(self) -> list[str]:
        """Draft the purchase returns of the stock-ins booked since the last look; their bill
        numbers."""
        stock_ins: dict[str, list[sqlite3.Row]] = {}
        for row in self.erp.conn.execute(
            "SELECT d.bill_no, d.supplier_number, l.source_bill_no AS po, e.material_number,"
            " e.qty, e.price_cents, e.stock_number FROM documents AS d"
            " JOIN document_entries AS e ON e.fid = d.fid"
            " JOIN document_links AS l ON l.fid = e.fid AND l.seq = e.seq"
            " WHERE d.form_id = ? AND d.document_status = 'C' AND l.source_form_id = ?"
            " ORDER BY d.fid, e.seq",
            (INSTOCK, PURCHASE_ORDER),
        ):
            if row["bill_no"] not in self.looked_at:
                stock_ins.setdefault(str(row["bill_no"]), []).append(row)
        drafted = []
        for bill_no, lines in stock_ins.items():
            self.looked_at.add(bill_no)
            if self.returns_random.random() >= self.settings.return_rate:
                continue
            number = self._draft_return(bill_no, lines)
            if number is not None:
                drafted.append(number)
        return drafted

    def _draft_return(self, stock_in: str, lines: list[sqlite3.Row]) -> str | None:
        ordered = {
            str(item): int(qty)
            for item, qty in self.erp.conn.execute(
                "SELECT e.material_number, SUM(e.qty) FROM documents AS d"
                " JOIN document_entries AS e ON e.fid = d.fid WHERE d.form_id = ?"
                " AND d.bill_no = ? GROUP BY e.material_number",
                (PURCHASE_ORDER, lines[0]["po"]),
            )
        }
        back = {
            row["material_number"]: row["qty"] - ordered.get(row["material_number"], 0)
            for row in lines
            if row["qty"] > ordered.get(row["material_number"], 0)
        }
        note = SURPLUS_NOTE
        if not back:
            line = self.returns_random.choice(lines)
            most = max(1, math.ceil(line["qty"] * self.settings.return_share))
            back = {line["material_number"]: self.returns_random.randint(1, most)}
            note = OVERSTOCK_NOTE
        by_item = {row["material_number"]: row for row in lines}
        model = {
            "FBillTypeID": {"FNumber": RETURN_BILL_TYPE},
            "FBusinessType": "CG",
            "FDate": format_qimen_time(self.erp.ctx.clock.now()),
            "FSupplierID": {"FNumber": lines[0]["supplier_number"]},
            "FStockOrgId": {"FNumber": "100"},
            "FPurchaseOrgId": {"FNumber": "100"},
            "FRequireOrgId": {"FNumber": "100"},
            "FNote": note,
            "FPURMRBENTRY": [
                {
                    "FMaterialId": {"FNumber": item},
                    "FRMREALQTY": qty,
                    "FTaxPrice": f"{(by_item[item]['price_cents'] or 0) / 100:.2f}",
                    "FStockId": {"FNumber": by_item[item]["stock_number"]},
                    "FSrcBillTypeId": INSTOCK,
                    "FSrcBillNo": stock_in,
                }
                for item, qty in sorted(back.items())
            ],
        }
        try:
            # A draft (A): the connector sends it to the warehouse and books what left.
            result = self.erp.save(PURCHASE_RETURN, model)
        except K3Error:
            self.stats["returns_refused"] += 1  # e.g. returned already, by another stock-in
            return None
        self.stats["returns"] += 1
        self.stats["returns_surplus" if note == SURPLUS_NOTE else "returns_overstock"] += 1
        self.stats["return_units"] += sum(back.values())
        return result.successes[0].number

    def _forget_received(self) -> None:
        """Orders whose entry order the WMS has received are no longer on order."""
        received = {
            str(row[0])
            for row in self.wms.conn.execute(
                "SELECT purchase_order_code FROM inbound_orders WHERE kind = 'entryorder'"
                " AND status IN ('FULFILLED', 'CANCELED') AND purchase_order_code IS NOT NULL"
            )
        }
        self.open = [order for order in self.open if order.bill_no not in received]

    @property
    def pending(self) -> int:
        """Purchase orders raised and not yet received at the WMS (the drain waits for them,
        bounded by its timeout: a connector that never sends an entry order keeps them)."""
        self._forget_received()
        return len(self.open)

    def report(self) -> dict[str, int]:
        return {**self.stats, "open": len(self.open)}
