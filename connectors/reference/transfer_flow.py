"""Transfers between warehouses: the WMS's two legs booked in the ERP, once each.

  transfer (keyed by its code, which the warehouse numbers): the WMS's stockout.confirm of a
      DBCK order: erp_transfer_out (STK_TRANSFEROUT of the units that left the sender); its
      entryorder.confirm of the DBRK order at the receiver: erp_transfer_in (STK_TRANSFERIN of
      the units that arrived, the rest as FPathLossQty, linked to the transfer-out), once the
      transfer-out is audited (K3 links a transfer-in to an audited transfer-out only).

A confirm that comes again (the WMS resends what it thinks we missed) changes nothing: the
first one of each leg is stored, the steps are keyed by the transfer, and each bill is saved
under the transfer's code, looked up before any save.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import orjson
from lxml import etree
from starlette.responses import Response

from connectors.reference.clients.qimen import child_text, parse_xml
from connectors.reference.stock_flow import ORG, qimen_ok, qimen_refused
from connectors.reference.store import Step

if TYPE_CHECKING:
    from connectors.reference.workflow import Workflow

log = logging.getLogger("connectors.reference")

STOCKOUT_CONFIRM_METHOD = "taobao.qimen.stockout.confirm"
ENTRY_CONFIRM_METHOD = "taobao.qimen.entryorder.confirm"
METHODS = frozenset({STOCKOUT_CONFIRM_METHOD, ENTRY_CONFIRM_METHOD})
TRANSFER_OUT, TRANSFER_IN = "DBCK", "DBRK"
TRANSFER_OUT_FORM, TRANSFER_IN_FORM = "STK_TRANSFEROUT", "STK_TRANSFERIN"
TRANSFER_STEPS = (Step.ERP_TRANSFER_OUT, Step.ERP_TRANSFER_IN)

SCHEMA = """
CREATE TABLE IF NOT EXISTS transfers (
    code           TEXT PRIMARY KEY,  -- the warehouse's transfer code (both legs carry it)
    owner_code     TEXT NOT NULL,
    sender         TEXT,              -- from the stockout.confirm, once it came
    sent           TEXT,              -- {item: units} that left the sender
    out_time       TEXT,
    receiver       TEXT,              -- from the entryorder.confirm, once it came
    received       TEXT,              -- {item: units} that arrived
    in_time        TEXT,
    received_wall  REAL NOT NULL
);
"""


def _units(root: etree._Element) -> dict[str, int]:
    units: dict[str, int] = {}
    for line in root.findall("orderLines/orderLine"):
        item = child_text(line, "itemCode")
        if item is None:
            raise ValueError("orderLine without itemCode")
        units[item] = units.get(item, 0) + int(child_text(line, "actualQty") or 0)
    return units


class TransferFlow:
    """Both legs of each transfer, over the workflow's store, peers and retries."""

    def __init__(self, workflow: Workflow) -> None:
        self.workflow = workflow
        self.conn = workflow.store.conn
        self.conn.executescript(SCHEMA)
        self.peers = workflow.peers
        self.stats: Counter[str] = Counter()

    def actions(self) -> dict[Step, Callable[[str, int], Awaitable[None]]]:
        return {
            Step.ERP_TRANSFER_OUT: self._erp_transfer_out,
            Step.ERP_TRANSFER_IN: self._erp_transfer_in,
        }

    def resume(self, code: str, pending: set[Step]) -> None:
        if pending & set(TRANSFER_STEPS):
            self.workflow._spawn(self._booking(code))

    # ---------------------------------------------------------------- the WMS's confirms

    def receive(self, method: str, raw: bytes) -> Response | None:
        """A stockout.confirm, or an entryorder.confirm of a transfer's receiving leg (DBRK),
        already verified: stored, then acknowledged; the booking follows. None for another
        entryorder.confirm (a purchase receipt: the stock flow's)."""
        try:
            root = parse_xml(raw)
        except ValueError as error:
            return qimen_refused("isv.invalid-parameter", str(error))
        if method == STOCKOUT_CONFIRM_METHOD:
            order = root.find("deliveryOrder")
            if order is None or child_text(order, "orderType") != TRANSFER_OUT:
                return qimen_ok("ignored")  # not a transfer: nothing of ours to book
            return self._leg(root, order, "deliveryOrderCode", "sender", "sent", "out_time")
        order = root.find("entryOrder")
        if order is None or child_text(order, "entryOrderType") != TRANSFER_IN:
            return None
        return self._leg(root, order, "entryOrderCode", "receiver", "received", "in_time")

    def _leg(
        self, root: etree._Element, order: etree._Element, code_key: str, *columns: str
    ) -> Response:
        code, owner = child_text(order, code_key), child_text(order, "ownerCode")
        warehouse = child_text(order, "warehouseCode")
        if code is None or owner is None or warehouse is None:
            return qimen_refused(
                "isv.invalid-parameter", f"no {code_key}, ownerCode or warehouseCode"
            )
        try:
            units = _units(root)
        except ValueError as error:
            return qimen_refused("isv.invalid-parameter", str(error))
        when = child_text(order, "orderConfirmTime") or child_text(order, "operateTime")
        place, lines, at = columns
        with self.workflow.store._transaction():
            self.conn.execute(
                "INSERT OR IGNORE INTO transfers (code, owner_code, received_wall)"
                " VALUES (?, ?, ?)",
                (code, owner, time.time()),
            )
            # The first confirm of each leg counts; a repeat (or another owner's code) not.
            stored = self.conn.execute(
                f"UPDATE transfers SET {place} = ?, {lines} = ?, {at} = ?"
                f" WHERE code = ? AND owner_code = ? AND {lines} IS NULL",
                (warehouse, orjson.dumps(units).decode(), when, code, owner),
            ).rowcount
            if stored:
                step = Step.ERP_TRANSFER_OUT if lines == "sent" else Step.ERP_TRANSFER_IN
                self.workflow.store._add_steps(code, [step])
        if stored:
            self.stats[f"transfer_{lines}"] += 1
            self.workflow._spawn(self._booking(code))
        else:
            self.redelivered(code, lines)
        return qimen_ok()

    def redelivered(self, code: str, leg: str) -> None:
        """A leg's confirm came again: it was acted on the first time, so nothing is done."""

    # ---------------------------------------------------------------- the ERP's documents

    def transfer(self, code: str) -> dict[str, Any]:
        row = self.conn.execute("SELECT * FROM transfers WHERE code = ?", (code,)).fetchone()
        if row is None:
            raise KeyError(code)
        transfer = dict(row)
        for key in ("sent", "received"):
            transfer[key] = orjson.loads(transfer[key]) if transfer[key] else None
        return transfer

    async def _booking(self, code: str) -> None:
        # The transfer-in links to the transfer-out: it waits for it to be audited. A
        # receiving leg whose sending leg has not come yet waits for that confirm.
        if self.transfer(code)["sent"] is None:
            return
        if not await self.workflow.run_step(code, Step.ERP_TRANSFER_OUT):
            return  # parked, or running in another flow (which books the rest)
        # Read again: the receiving leg may have come while the transfer-out was booked.
        if self.transfer(code)["received"] is not None:
            await self.workflow.run_step(code, Step.ERP_TRANSFER_IN)

    def out_model(self, code: str, transfer: dict[str, Any]) -> dict[str, Any]:
        """STK_TRANSFEROUT of the units that left the sender."""
        return {
            "FBillNo": code,
            "FDate": transfer["out_time"],
            "FNote": code,
            "FStockOutOrgID": {"FNumber": ORG},
            "FStockOrgID": {"FNumber": ORG},
            "FSTKTRSOUTENTRY": [
                {
                    "FMaterialID": {"FNumber": item},
                    "FQty": qty,
                    "FSrcStockID": {"FNumber": transfer["sender"]},
                }
                for item, qty in sorted(transfer["sent"].items())
                if qty
            ],
        }

    def in_model(self, code: str, transfer: dict[str, Any]) -> dict[str, Any]:
        """STK_TRANSFERIN of the units that arrived, what is missing as lost on the way."""
        sent, received = transfer["sent"], transfer["received"]
        return {
            "FBillNo": code,
            "FDate": transfer["in_time"],
            "FNote": code,
            "FStockOutOrgID": {"FNumber": ORG},
            "FStockOrgID": {"FNumber": ORG},
            "FSTKTRSINENTRY": [
                {
                    "FMaterialID": {"FNumber": item},
                    "FQty": received.get(item, 0),
                    "FPathLossQty": qty - received.get(item, 0),
                    "FSrcStockID": {"FNumber": transfer["sender"]},
                    "FDestStockID": {"FNumber": transfer["receiver"]},
                    "FSrcBillTypeId": TRANSFER_OUT_FORM,
                    "FSrcBillNo": code,
                }
                for item, qty in sorted(sent.items())
                if qty
            ],
        }

    async def _erp_transfer_out(self, code: str, attempt: int) -> None:
        await self.peers.erp.post_audited(
            TRANSFER_OUT_FORM, self.out_model(code, self.transfer(code))
        )

    async def _erp_transfer_in(self, code: str, attempt: int) -> None:
        await self.peers.erp.post_audited(
            TRANSFER_IN_FORM, self.in_model(code, self.transfer(code))
        )
