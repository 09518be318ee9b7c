"""Purchase returns to suppliers: the buyer's draft in the ERP to the warehouse, and what
really left booked back in the ERP, once.

  purchase return (keyed by the PUR_MRB's bill number): the poll finds a draft (status A)
      PUR_MRB the buyer saved: wms_stockout (stockout.create, orderType CGTH, deliveryOrderCode
      = the bill number, planQty = what the buyer asks back); on the WMS's stockout.confirm of
      it: erp_purchase_return (the draft saved again with the units that left per item, lines
      that shipped nothing dropped, then submitted and audited), then erp_red_payable (a red
      AP_Payable `<bill>-AP` of -(shipped x the draft's price), linked to the audited return).
      A return the warehouse shipped nothing of books nothing: its draft stays a draft.

A confirm that comes again changes nothing: the first one is stored, the steps are keyed by
the bill number, the return is re-saved only while it is not submitted, and the payable is
looked up before it is saved.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson
from lxml import etree
from starlette.responses import Response

from connectors.reference.clients.k3 import AUDITED, IN_REVIEW
from connectors.reference.clients.qimen import child_text, parse_xml
from connectors.reference.money import cents_to_text, to_cents
from connectors.reference.retry import PermanentError, RetryableError, repeat_until_stopped
from connectors.reference.stock_flow import (
    INSTOCK,
    MAX_QUERY_PAGES,
    ORG,
    PAYABLE,
    QUERY_PAGE,
    _xml,
    qimen_ok,
    qimen_refused,
)
from connectors.reference.store import Step

if TYPE_CHECKING:
    from connectors.reference.workflow import Workflow

log = logging.getLogger("connectors.reference")

STOCKOUT_CONFIRM_METHOD = "taobao.qimen.stockout.confirm"
STOCKOUT_CREATE_METHOD = "taobao.qimen.stockout.create"
PURCHASE_RETURN = "PUR_MRB"
CGTH = "CGTH"  # Qimen's 采购退货出库
PURCHASE_RETURN_STEPS = (Step.WMS_STOCKOUT, Step.ERP_PURCHASE_RETURN, Step.ERP_RED_PAYABLE)
RETURN_FIELDS = (
    "FBillNo,FCreateDate,FSupplierID.FNumber,FOwnerId.FNumber,FStockId.FNumber,"
    "FMaterialId.FNumber,FRMREALQTY,FTaxPrice,FSrcBillNo,FID"
)

SCHEMA = """
CREATE TABLE IF NOT EXISTS purchase_returns (
    bill_no        TEXT PRIMARY KEY,  -- the PUR_MRB's FBillNo = the WMS order's code
    fid            INTEGER NOT NULL,  -- its FID, to save the draft again
    owner_code     TEXT NOT NULL,
    supplier_code  TEXT NOT NULL,
    warehouse_code TEXT NOT NULL,
    lines          TEXT NOT NULL,     -- [{item, qty, price_cents, source}] as the buyer asked
    created        TEXT NOT NULL,
    shipped        TEXT,              -- {item: units} from the stockout.confirm, once it came
    shipped_time   TEXT,
    received_wall  REAL NOT NULL
);
"""


class PurchaseReturnFlow:
    """The purchase returns, over the workflow's store, peers and retries."""

    def __init__(self, workflow: Workflow) -> None:
        self.workflow = workflow
        self.conn = workflow.store.conn
        self.conn.executescript(SCHEMA)
        self.peers = workflow.peers
        self.stats: Counter[str] = Counter()

    def actions(self) -> dict[Step, Callable[[str, int], Awaitable[None]]]:
        return {
            Step.WMS_STOCKOUT: self._wms_stockout,
            Step.ERP_PURCHASE_RETURN: self._erp_purchase_return,
            Step.ERP_RED_PAYABLE: self._erp_red_payable,
        }

    def resume(self, bill_no: str, pending: set[Step]) -> None:
        if Step.WMS_STOCKOUT in pending:
            self.workflow._spawn(self.workflow.run_step(bill_no, Step.WMS_STOCKOUT))
        if pending & {Step.ERP_PURCHASE_RETURN, Step.ERP_RED_PAYABLE}:
            self.workflow._spawn(self._booking(bill_no))

    # ---------------------------------------------------------------- the buyer's drafts

    async def poll(self, stop: asyncio.Event, every_seconds: float) -> None:
        """Look for new draft purchase returns until `stop`."""

        async def one_round() -> None:
            self.stats["purchase_returns_found"] += await self.poll_once()

        await repeat_until_stopped(
            stop, every_seconds, one_round, "purchase return poll", self.workflow.policy
        )

    async def poll_once(self) -> int:
        """One poll from the last creation time seen (inclusive: dedupe by bill number)."""
        row = self.conn.execute(
            "SELECT value FROM cursor WHERE name = 'purchase_returns'"
        ).fetchone()
        since = "" if row is None else str(row[0])
        entries: list[list[Any]] = []
        for page in range(MAX_QUERY_PAGES):
            rows = await self.peers.erp.execute_bill_query(
                PURCHASE_RETURN,
                RETURN_FIELDS,
                f"FDocumentStatus='A' and FCreateDate>='{since}'",
                page * QUERY_PAGE,
                QUERY_PAGE,
            )
            entries.extend(rows)
            if len(rows) < QUERY_PAGE:
                break
        returns: dict[str, dict[str, Any]] = {}
        for bill_no, created, supplier, owner, stock, item, qty, price, source, fid in entries:
            found = returns.setdefault(
                str(bill_no),
                {
                    "fid": int(fid),
                    "created": str(created),
                    "supplier": supplier,
                    "owner": owner,
                    "warehouses": set(),
                    "lines": [],
                },
            )
            found["warehouses"].add(str(stock))
            found["lines"].append(
                {
                    "item": str(item),
                    "qty": int(qty),
                    "price_cents": to_cents(Decimal(str(price))),
                    "source": source,
                }
            )
        new = []
        with self.workflow.store._transaction():
            for bill_no, found in returns.items():
                if len(found["warehouses"]) != 1:
                    # One warehouse ships one order: the buyer splits such a return.
                    log.error("purchase return %s spans warehouses: not sent", bill_no)
                    continue
                added = self.conn.execute(
                    "INSERT OR IGNORE INTO purchase_returns (bill_no, fid, owner_code,"
                    " supplier_code, warehouse_code, lines, created, received_wall)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        bill_no,
                        found["fid"],
                        found["owner"],
                        found["supplier"],
                        next(iter(found["warehouses"])),
                        orjson.dumps(found["lines"]).decode(),
                        found["created"],
                        time.time(),
                    ),
                ).rowcount
                if added:
                    new.append(bill_no)
                    self.workflow.store._add_steps(bill_no, [Step.WMS_STOCKOUT])
            if returns:
                self.conn.execute(
                    "INSERT INTO cursor (name, value) VALUES ('purchase_returns', ?)"
                    " ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                    (max(found["created"] for found in returns.values()),),
                )
        for bill_no in new:
            self.workflow._spawn(self.workflow.run_step(bill_no, Step.WMS_STOCKOUT))
        return len(new)

    def purchase_return(self, bill_no: str) -> dict[str, Any]:
        row = self.conn.execute(
            "SELECT * FROM purchase_returns WHERE bill_no = ?", (bill_no,)
        ).fetchone()
        if row is None:
            raise KeyError(bill_no)
        found = dict(row)
        found["lines"] = orjson.loads(found["lines"])
        found["shipped"] = orjson.loads(found["shipped"]) if found["shipped"] else None
        return found

    async def _wms_stockout(self, bill_no: str, attempt: int) -> None:
        found = self.purchase_return(bill_no)
        request = etree.Element("request")
        _xml(
            "deliveryOrder",
            request,
            deliveryOrderCode=bill_no,
            orderType=CGTH,
            warehouseCode=found["warehouse_code"],
            ownerCode=found["owner_code"],
            supplierCode=found["supplier_code"],
            createTime=found["created"],
        )
        lines = etree.SubElement(request, "orderLines")
        for seq, line in enumerate(found["lines"], start=1):
            _xml(
                "orderLine",
                lines,
                orderLineNo=seq,
                ownerCode=found["owner_code"],
                itemCode=line["item"],
                planQty=line["qty"],
                inventoryType="ZP",
            )
        root = await self.peers.wms.call(
            STOCKOUT_CREATE_METHOD, etree.tostring(request, encoding="unicode")
        )
        if child_text(root, "deliveryOrderId") is None:
            raise RetryableError("wms", "stockout.create: success without deliveryOrderId")

    # ---------------------------------------------------------------- the WMS's confirm

    def receive(self, raw: bytes) -> Response | None:
        """A stockout.confirm, already verified: a purchase return's (CGTH) is stored, then
        acknowledged, the booking follows; None for another outbound order's (a transfer)."""
        try:
            root = parse_xml(raw)
        except ValueError as error:
            return qimen_refused("isv.invalid-parameter", str(error))
        order = root.find("deliveryOrder")
        if order is None or child_text(order, "orderType") != CGTH:
            return None
        code, owner = child_text(order, "deliveryOrderCode"), child_text(order, "ownerCode")
        if code is None or owner is None:
            return qimen_refused("isv.invalid-parameter", "no deliveryOrderCode or ownerCode")
        shipped: dict[str, int] = {}
        for line in root.findall("orderLines/orderLine"):
            item = child_text(line, "itemCode")
            if item is None:
                return qimen_refused("isv.invalid-parameter", "orderLine without itemCode")
            shipped[item] = shipped.get(item, 0) + int(child_text(line, "actualQty") or 0)
        with self.workflow.store._transaction():
            # The first confirm of a return we sent counts; a repeat changes nothing.
            stored = self.conn.execute(
                "UPDATE purchase_returns SET shipped = ?, shipped_time = ? WHERE bill_no = ?"
                " AND owner_code = ? AND shipped IS NULL",
                (
                    orjson.dumps(shipped).decode(),
                    child_text(order, "orderConfirmTime"),
                    code,
                    owner,
                ),
            ).rowcount
            booking = bool(stored) and bool(self.booked_units(self.purchase_return(code)))
            if booking:
                self.workflow.store._add_steps(
                    code, [Step.ERP_PURCHASE_RETURN, Step.ERP_RED_PAYABLE]
                )
        if stored:
            self.stats["purchase_returns_shipped"] += 1
        if booking:
            self.workflow._spawn(self._booking(code))
        return qimen_ok()

    # ---------------------------------------------------------------- the ERP's documents

    def booked_units(self, found: dict[str, Any]) -> dict[str, int]:
        """What the ERP books of a return: the units that left, per item (none: nothing)."""
        return {item: qty for item, qty in sorted((found["shipped"] or {}).items()) if qty}

    async def _booking(self, bill_no: str) -> None:
        # The red payable names the audited return as its source: it waits for it.
        if await self.workflow.run_step(bill_no, Step.ERP_PURCHASE_RETURN):
            await self.workflow.run_step(bill_no, Step.ERP_RED_PAYABLE)

    def _prices(self, found: dict[str, Any]) -> dict[str, int]:
        return {line["item"]: int(line["price_cents"]) for line in found["lines"]}

    async def _erp_purchase_return(self, bill_no: str, attempt: int) -> None:
        found = self.purchase_return(bill_no)
        status = await self.peers.erp.bill_status(PURCHASE_RETURN, bill_no)
        if status is None:
            raise PermanentError("erp", f"{PURCHASE_RETURN} {bill_no}: the draft is gone")
        if status not in (IN_REVIEW, AUDITED):
            sources = {line["item"]: line["source"] for line in found["lines"]}
            prices = self._prices(found)
            await self.peers.erp.save(
                PURCHASE_RETURN,
                {
                    "FID": found["fid"],
                    "FBillNo": bill_no,
                    "FPURMRBENTRY": [
                        {
                            "FMaterialId": {"FNumber": item},
                            "FRMREALQTY": qty,
                            "FTaxPrice": cents_to_text(prices[item]),
                            "FAllAmount": cents_to_text(prices[item] * qty),
                            "FStockId": {"FNumber": found["warehouse_code"]},
                            "FSrcBillTypeId": INSTOCK,
                            "FSrcBillNo": sources[item],
                        }
                        for item, qty in self.booked_units(found).items()
                    ],
                },
            )
        await self.peers.erp.post_audited(PURCHASE_RETURN, {"FBillNo": bill_no})

    async def _erp_red_payable(self, bill_no: str, attempt: int) -> None:
        found = self.purchase_return(bill_no)
        prices = self._prices(found)
        model = {
            "FBillNo": f"{bill_no}-AP",
            "FDate": found["shipped_time"] or found["created"],
            "FNote": bill_no,
            "FSUPPLIERID": {"FNumber": found["supplier_code"]},
            "FSETTLEORGID": {"FNumber": ORG},
            "FPURCHASEORGID": {"FNumber": ORG},
            "FEntityDetail": [
                {
                    "FMATERIALID": {"FNumber": item},
                    "FPriceQty": -qty,
                    "FTaxPrice": cents_to_text(prices[item]),
                    "FALLAMOUNTFOR": cents_to_text(-prices[item] * qty),
                    "FSOURCETYPE": PURCHASE_RETURN,
                    "FSourceBillNo": bill_no,
                }
                for item, qty in self.booked_units(found).items()
            ],
        }
        await self.peers.erp.post_audited(PAYABLE, model)
