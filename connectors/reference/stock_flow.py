"""The stock flows: purchase orders from the ERP to the WMS and their receipts back to the
ERP, and the WMS's stock changes to the OMS.

  purchase (keyed by the PO's bill number): the poll finds an audited PUR_PurchaseOrder:
      wms_entry (entryorder.create, CGRK); on the WMS's entryorder.confirm: erp_instock
      (STK_InStock of the units received, linked to the PO), then erp_payable (AP_Payable of
      the sound units at the PO's price, linked to the stock-in)
  stock: every stockchange.report marks its (warehouse, item) in `stock_dirty`; a loop asks
      the WMS what is available (inventory.query) and sets it in the OMS (stockSyncByPd),
      batched per warehouse, until nothing is marked.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson
from lxml import etree
from starlette.responses import Response

from connectors.reference.clients.qimen import child_text, parse_xml
from connectors.reference.money import cents_to_text, to_cents
from connectors.reference.retry import RetryableError, StepError, repeat_until_stopped
from connectors.reference.store import Step

if TYPE_CHECKING:
    from connectors.reference.workflow import Workflow

log = logging.getLogger("connectors.reference")

ENTRY_CONFIRM_METHOD = "taobao.qimen.entryorder.confirm"
STOCK_CHANGE_METHOD = "taobao.qimen.stockchange.report"
ENTRY_CREATE_METHOD = "taobao.qimen.entryorder.create"
INVENTORY_METHOD = "taobao.qimen.inventory.query"
STOCK_SYNC_METHOD = "wms.StockPd.stockSyncByPd"
METHODS = frozenset({ENTRY_CONFIRM_METHOD, STOCK_CHANGE_METHOD})
PURCHASE_ORDER, INSTOCK, PAYABLE = "PUR_PurchaseOrder", "STK_InStock", "AP_Payable"
PURCHASE_STEPS = (Step.WMS_ENTRY, Step.ERP_INSTOCK, Step.ERP_PAYABLE)
PO_FIELDS = (
    "FBillNo,FApproveDate,FSupplierId.FNumber,FOwnerId.FNumber,FStockId.FNumber,"
    "FMaterialId.FNumber,FQty,FTaxPrice"
)
QUERY_PAGE = 2000
MAX_QUERY_PAGES = 100  # a bound on one poll: 200,000 entries
INVENTORY_BATCH = 100  # inventory.query's criteria limit
# After a stock change wakes the sync, what else changes within a simulated second (a wall
# second at most) joins the same round. At 1,000 orders a minute in real time a round per
# wake was nearly a round per shipment (2,299 for 2,905 pushes in three minutes,
# docs/PERFORMANCE.md); at 720x the wait is 1.4 ms, so the OMS hears as soon as before.
GATHER_SIM_SECONDS = 1.0
ORG = "100"

SCHEMA = """
CREATE TABLE IF NOT EXISTS purchase_orders (
    bill_no        TEXT PRIMARY KEY,
    owner_code     TEXT NOT NULL,
    supplier_code  TEXT NOT NULL,
    warehouse_code TEXT NOT NULL,
    lines          TEXT NOT NULL,     -- [{item, qty, price_cents}] as ordered
    approved       TEXT NOT NULL,
    confirm        TEXT,              -- the entryorder.confirm lines, once it came
    received_wall  REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS stock_dirty (
    warehouse_code TEXT NOT NULL,
    item_code      TEXT NOT NULL,
    version        INTEGER NOT NULL,  -- bumped by each push, so a sync clears only what it read
    PRIMARY KEY (warehouse_code, item_code)
);
"""


def qimen_ok(message: str = "ok") -> Response:
    body = (
        '<?xml version="1.0" encoding="utf-8"?><response><flag>success</flag>'
        f"<code>0</code><message>{message}</message></response>"
    )
    return Response(body.encode(), media_type="text/xml; charset=utf-8")


def qimen_refused(code: str, message: str) -> Response:
    body = (
        '<?xml version="1.0" encoding="utf-8"?><response><flag>failure</flag>'
        f"<code>{code}</code><message>{message}</message></response>"
    )
    return Response(body.encode(), media_type="text/xml; charset=utf-8")


def _xml(tag: str, parent: etree._Element | None = None, **fields: object) -> etree._Element:
    node = etree.Element(tag) if parent is None else etree.SubElement(parent, tag)
    for key, value in fields.items():
        etree.SubElement(node, key).text = str(value)
    return node


class StockFlow:
    """Purchase and stock flows over the workflow's store, peers, retries and mapper."""

    def __init__(self, workflow: Workflow) -> None:
        self.workflow = workflow
        self.conn = workflow.store.conn
        self.conn.executescript(SCHEMA)
        self.peers = workflow.peers
        self.rules = workflow.mapper.stock
        self.stats: Counter[str] = Counter()
        self._dirty = asyncio.Event()

    def actions(self) -> dict[Step, Callable[[str, int], Awaitable[None]]]:
        return {
            Step.WMS_ENTRY: self._wms_entry,
            Step.ERP_INSTOCK: self._erp_instock,
            Step.ERP_PAYABLE: self._erp_payable,
        }

    def resume(self, bill_no: str, pending: set[Step]) -> None:
        if Step.WMS_ENTRY in pending:
            self.workflow._spawn(self.workflow.run_step(bill_no, Step.WMS_ENTRY))
        if pending & {Step.ERP_INSTOCK, Step.ERP_PAYABLE}:
            self.workflow._spawn(self._booking(bill_no))

    # ---------------------------------------------------------------- purchase orders

    async def poll(self, stop: asyncio.Event, every_seconds: float) -> None:
        """Look for newly audited purchase orders until `stop`."""

        async def one_round() -> None:
            self.stats["po_found"] += await self.poll_once()

        await repeat_until_stopped(
            stop, every_seconds, one_round, "purchase order poll", self.workflow.policy
        )

    async def poll_once(self) -> int:
        """One poll from the last approval time seen (inclusive: dedupe by bill number)."""
        row = self.conn.execute(
            "SELECT value FROM cursor WHERE name = 'purchase_orders'"
        ).fetchone()
        since = "" if row is None else str(row[0])
        entries: list[list[Any]] = []
        for page in range(MAX_QUERY_PAGES):
            rows = await self.peers.erp.execute_bill_query(
                PURCHASE_ORDER,
                PO_FIELDS,
                f"FDocumentStatus='C' and FApproveDate>='{since}'",
                page * QUERY_PAGE,
                QUERY_PAGE,
            )
            entries.extend(rows)
            if len(rows) < QUERY_PAGE:
                break
        orders: dict[str, dict[str, Any]] = {}
        for bill_no, approved, supplier, owner, stock, item, qty, price in entries:
            order = orders.setdefault(
                str(bill_no),
                {
                    "approved": str(approved),
                    "supplier": supplier,
                    "owner": owner,
                    "warehouse": stock,
                    "lines": [],
                },
            )
            order["lines"].append(
                {"item": str(item), "qty": int(qty), "price_cents": to_cents(Decimal(str(price)))}
            )
        new = []
        with self.workflow.store._transaction():
            for bill_no, order in orders.items():
                added = self.conn.execute(
                    "INSERT OR IGNORE INTO purchase_orders VALUES (?, ?, ?, ?, ?, ?, NULL, ?)",
                    (
                        bill_no,
                        order["owner"],
                        order["supplier"],
                        order["warehouse"],
                        orjson.dumps(order["lines"]).decode(),
                        order["approved"],
                        time.time(),
                    ),
                ).rowcount
                if added:
                    new.append(bill_no)
                    self.workflow.store._add_steps(bill_no, [Step.WMS_ENTRY])
            if orders:
                self.conn.execute(
                    "INSERT INTO cursor (name, value) VALUES ('purchase_orders', ?)"
                    " ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                    (max(order["approved"] for order in orders.values()),),
                )
        for bill_no in new:
            self.workflow._spawn(self.workflow.run_step(bill_no, Step.WMS_ENTRY))
        return len(new)

    def order(self, bill_no: str) -> dict[str, Any]:
        row = self.conn.execute(
            "SELECT * FROM purchase_orders WHERE bill_no = ?", (bill_no,)
        ).fetchone()
        if row is None:
            raise KeyError(bill_no)
        order = dict(row)
        order["lines"] = orjson.loads(order["lines"])
        order["confirm"] = orjson.loads(order["confirm"]) if order["confirm"] else None
        return order

    async def _wms_entry(self, bill_no: str, attempt: int) -> None:
        order = self.order(bill_no)
        request = etree.Element("request")
        _xml(
            "entryOrder",
            request,
            entryOrderCode=bill_no,
            ownerCode=order["owner_code"],
            warehouseCode=order["warehouse_code"],
            orderType="CGRK",
            purchaseOrderCode=bill_no,
            supplierCode=order["supplier_code"],
        )
        lines = etree.SubElement(request, "orderLines")
        for seq, line in enumerate(order["lines"], start=1):
            _xml(
                "orderLine",
                lines,
                orderLineNo=seq,
                ownerCode=order["owner_code"],
                itemCode=line["item"],
                planQty=line["qty"],
                inventoryType="ZP",
            )
        root = await self.peers.wms.call(
            ENTRY_CREATE_METHOD, etree.tostring(request, encoding="unicode")
        )
        if child_text(root, "entryOrderId") is None:
            raise RetryableError("wms", "entryorder.create: success without entryOrderId")

    async def _booking(self, bill_no: str) -> None:
        # The payable names the stock-in as its source: it waits for it to be audited.
        if await self.workflow.run_step(bill_no, Step.ERP_INSTOCK):
            await self.workflow.run_step(bill_no, Step.ERP_PAYABLE)

    def _prices(self, order: dict[str, Any]) -> dict[str, int]:
        return {line["item"]: int(line["price_cents"]) for line in order["lines"]}

    async def _erp_instock(self, bill_no: str, attempt: int) -> None:
        order = self.order(bill_no)
        prices = self._prices(order)
        received = self.rules.received(order, order["confirm"])
        warehouse = self.rules.receipt_warehouse(order)
        model = {
            "FBillNo": f"{bill_no}-RK",
            "FDate": order["approved"],
            "FNote": bill_no,
            "FSupplierId": {"FNumber": order["supplier_code"]},
            "FStockOrgId": {"FNumber": ORG},
            "FPurchaseOrgId": {"FNumber": ORG},
            "FInStockEntry": [
                {
                    "FMaterialId": {"FNumber": item},
                    "FRealQty": qty,
                    "FTaxPrice": cents_to_text(prices[item]),
                    "FAllAmount": cents_to_text(prices[item] * qty),
                    "FStockId": {"FNumber": warehouse},
                    "FSrcBillTypeId": PURCHASE_ORDER,
                    "FSrcBillNo": bill_no,
                }
                for item, qty in sorted(received.items())
            ],
        }
        await self.peers.erp.post_audited(INSTOCK, model)

    async def _erp_payable(self, bill_no: str, attempt: int) -> None:
        order = self.order(bill_no)
        prices = self._prices(order)
        accepted = self.rules.accepted(order, order["confirm"])
        if not accepted:
            return  # nothing sound came: nothing to pay
        model = {
            "FBillNo": f"{bill_no}-AP",
            "FDate": order["approved"],
            "FNote": bill_no,
            "FSUPPLIERID": {"FNumber": order["supplier_code"]},
            "FSETTLEORGID": {"FNumber": ORG},
            "FPURCHASEORGID": {"FNumber": ORG},
            "FEntityDetail": [
                {
                    "FMATERIALID": {"FNumber": item},
                    "FPriceQty": qty,
                    "FTaxPrice": cents_to_text(prices[item]),
                    "FALLAMOUNTFOR": cents_to_text(prices[item] * qty),
                    "FSOURCETYPE": INSTOCK,
                    "FSourceBillNo": f"{bill_no}-RK",
                }
                for item, qty in sorted(accepted.items())
            ],
        }
        await self.peers.erp.post_audited(PAYABLE, model)

    # ---------------------------------------------------------------- the WMS's pushes

    def receive(self, method: str, raw: bytes) -> Response:
        """An entryorder.confirm or a stockchange.report, already verified: stored, then
        acknowledged; the work follows."""
        try:
            root = parse_xml(raw)
        except ValueError as error:
            return qimen_refused("isv.invalid-parameter", str(error))
        if method == ENTRY_CONFIRM_METHOD:
            return self._entry_confirm(root)
        moves = [
            (child_text(item, "warehouseCode"), child_text(item, "itemCode"))
            for item in root.findall("items/item")
        ]
        if not self.rules.pushes_stock():
            return qimen_ok("ignored")
        with self.workflow.store._transaction():
            self.conn.executemany(
                "INSERT INTO stock_dirty VALUES (?, ?, 1) ON CONFLICT (warehouse_code, item_code)"
                " DO UPDATE SET version = version + 1",
                [(wh, item) for wh, item in moves if wh and item],
            )
        self.stats["stock_changes"] += 1
        self._dirty.set()
        return qimen_ok()

    def _entry_confirm(self, root: etree._Element) -> Response:
        order = root.find("entryOrder")
        code = None if order is None else child_text(order, "entryOrderCode")
        if order is None or code is None:
            return qimen_refused("isv.invalid-parameter", "no entryOrder/entryOrderCode")
        lines = [
            {
                "itemCode": child_text(line, "itemCode"),
                "inventoryType": child_text(line, "inventoryType") or "ZP",
                "actualQty": int(child_text(line, "actualQty") or 0),
            }
            for line in root.findall("orderLines/orderLine")
        ]
        with self.workflow.store._transaction():
            # The first confirm of an order we sent counts; a repeat (same order) changes nothing.
            stored = self.conn.execute(
                "UPDATE purchase_orders SET confirm = ? WHERE bill_no = ? AND confirm IS NULL"
                " AND owner_code = ?",
                (orjson.dumps(lines).decode(), code, child_text(order, "ownerCode")),
            ).rowcount
            if stored:
                self.workflow.store._add_steps(code, [Step.ERP_INSTOCK, Step.ERP_PAYABLE])
        if stored:
            self.stats["entry_confirms"] += 1
            self.workflow._spawn(self._booking(code))
        return qimen_ok()

    # ---------------------------------------------------------------- stock to the OMS

    async def sync(self, stop: asyncio.Event) -> None:
        """Until `stop`: whenever something is marked, set it in the OMS; on a failure, wait
        the graded delay and try again (the marks are durable)."""
        failures = 0
        gather = min(1.0, GATHER_SIM_SECONDS / self.workflow.policy.time_scale)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._dirty.wait(), timeout=1.0)
                # Woken by a change: let the ones right behind it join the round.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=gather)
            self._dirty.clear()
            try:
                while await self.sync_once():
                    pass
                failures = 0
            except StepError as error:
                failures += 1
                policy = self.workflow.policy
                delay = policy.delay_after(min(failures, policy.max_retries), error.retry_after)
                log.warning("stock sync failed (%d): %s", failures, error)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=delay or 1.0)

    async def sync_once(self) -> int:
        """One batch of one warehouse's marked items: the WMS's available stock set in the
        OMS. Returns how many items it cleared (0: nothing was marked)."""
        first = self.conn.execute("SELECT warehouse_code FROM stock_dirty LIMIT 1").fetchone()
        if first is None:
            return 0
        warehouse = str(first[0])
        marked = {
            str(row[0]): int(row[1])
            for row in self.conn.execute(
                "SELECT item_code, version FROM stock_dirty WHERE warehouse_code = ?"
                " ORDER BY item_code LIMIT ?",
                (warehouse, INVENTORY_BATCH),
            )
        }
        request = etree.Element("request")
        criteria = etree.SubElement(request, "criteriaList")
        for item in marked:
            _xml("criteria", criteria, warehouseCode=warehouse, itemCode=item)
        root = await self.peers.wms.call(
            INVENTORY_METHOD, etree.tostring(request, encoding="unicode")
        )
        available = {
            child_text(node, "itemCode"): self.rules.oms_stock(
                int(child_text(node, "quantity") or 0), int(child_text(node, "lockQuantity") or 0)
            )
            for node in root.findall("items/item")
            if child_text(node, "warehouseCode") == warehouse
        }
        specs = [
            {"spec_no": item, "remark": "", "new_num": str(qty), "defect": False}
            for item, qty in sorted(available.items())
            if item in marked
        ]
        if specs:
            await self.peers.oms.call(
                STOCK_SYNC_METHOD,
                {"warehouse_no": warehouse, "defect_mode": 1, "remark": "WMS stock"},
                specs,
            )
        # Only what the answer told is cleared: an item it left out (a WMS answers every item
        # asked, zero if it has none) stays marked for the next round, after the graded delay.
        with self.workflow.store._transaction():
            self.conn.executemany(
                "DELETE FROM stock_dirty WHERE warehouse_code = ? AND item_code = ?"
                " AND version = ?",
                [
                    (warehouse, item, version)
                    for item, version in marked.items()
                    if item in available
                ],
            )
        self.stats["stock_synced"] += len(specs)
        untold = sorted(set(marked) - set(available))
        if untold:
            raise RetryableError(
                "wms", f"{INVENTORY_METHOD}: no answer for {len(untold)} item(s), {untold[0]} first"
            )
        return len(marked)
