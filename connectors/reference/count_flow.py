"""Cycle counts: the WMS's inventory.report booked in the ERP, once, flagged when out of
tolerance.

  count (keyed by its check order code, which the warehouse numbers): erp_count_gain
      (STK_StockCountGain of the items counted over the books, per warehouse) and
      erp_count_loss (STK_StockCountLoss of those counted under), each only when the count
      has such items, each saved under the count's code (FBillNo, FNote) and audited.

The flag: a count whose differences (the sum of |quantity| over its items) exceed its ABC
class's tolerance of the units on the books (`extendProps/bookQty`: A 0.3 %, B 0.5 %, C 1 %)
is out of tolerance; both of its bills' FNote then start with `OUT_OF_TOLERANCE` ([超差]),
for someone to approve. A report that comes again changes nothing: the first one is stored,
the steps are keyed by the count, and each bill is looked up before any save.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson
from starlette.responses import Response

from connectors.reference.clients.qimen import child_text, parse_xml
from connectors.reference.stock_flow import ORG, qimen_ok, qimen_refused
from connectors.reference.store import Step

if TYPE_CHECKING:
    from connectors.reference.workflow import Workflow

log = logging.getLogger("connectors.reference")

INVENTORY_REPORT_METHOD = "taobao.qimen.inventory.report"
METHODS = frozenset({INVENTORY_REPORT_METHOD})
GAIN_FORM, LOSS_FORM = "STK_StockCountGain", "STK_StockCountLoss"
COUNT_STEPS = (Step.ERP_COUNT_GAIN, Step.ERP_COUNT_LOSS)
# The seeds' tolerances, a share of the units on the books.
TOLERANCE = {"A": Decimal("0.003"), "B": Decimal("0.005"), "C": Decimal("0.01")}
OUT_OF_TOLERANCE = "[超差]"

SCHEMA = """
CREATE TABLE IF NOT EXISTS counts (
    code           TEXT PRIMARY KEY,  -- the warehouse's check order code
    owner_code     TEXT NOT NULL,
    warehouse      TEXT NOT NULL,
    abc_class      TEXT NOT NULL,
    book_qty       INTEGER NOT NULL,  -- units on the books of every item counted
    differences    TEXT NOT NULL,     -- {item: signed units}
    check_time     TEXT,
    received_wall  REAL NOT NULL
);
"""


def out_of_tolerance(abc_class: str, book_qty: int, differences: dict[str, int]) -> bool:
    """Whether a count's differences exceed its class's tolerance of the units on the books
    (an unknown class is held to the strictest)."""
    off = sum(abs(units) for units in differences.values())
    limit = TOLERANCE.get(abc_class, min(TOLERANCE.values()))
    return off > 0 and (book_qty <= 0 or Decimal(off) > limit * book_qty)


class CountFlow:
    """Each count's gain and loss bills, over the workflow's store, peers and retries."""

    def __init__(self, workflow: Workflow) -> None:
        self.workflow = workflow
        self.conn = workflow.store.conn
        self.conn.executescript(SCHEMA)
        self.peers = workflow.peers
        self.stats: Counter[str] = Counter()

    def actions(self) -> dict[Step, Callable[[str, int], Awaitable[None]]]:
        return {Step.ERP_COUNT_GAIN: self._erp_gain, Step.ERP_COUNT_LOSS: self._erp_loss}

    def resume(self, code: str, pending: set[Step]) -> None:
        for step in pending & set(COUNT_STEPS):
            self.workflow._spawn(self.workflow.run_step(code, step))

    def receive(self, raw: bytes) -> Response:
        """An inventory.report, already verified: stored, then acknowledged; the booking
        follows."""
        try:
            root = parse_xml(raw)
            code, owner = child_text(root, "checkOrderCode"), child_text(root, "ownerCode")
            warehouse = child_text(root, "warehouseCode")
            if code is None or owner is None or warehouse is None:
                raise ValueError("no checkOrderCode, ownerCode or warehouseCode")
            differences: dict[str, int] = {}
            for item in root.findall("items/item"):
                item_code = child_text(item, "itemCode")
                if item_code is None:
                    raise ValueError("item without itemCode")
                units = int(child_text(item, "quantity") or 0)
                differences[item_code] = differences.get(item_code, 0) + units
            abc_class = child_text(root, "extendProps/abcClass") or ""
            book_qty = int(child_text(root, "extendProps/bookQty") or 0)
        except ValueError as error:
            return qimen_refused("isv.invalid-parameter", str(error))
        steps = [
            step
            for step, wanted in ((Step.ERP_COUNT_GAIN, 1), (Step.ERP_COUNT_LOSS, -1))
            if any(units * wanted > 0 for units in differences.values())
        ]
        with self.workflow.store._transaction():
            stored = self.conn.execute(
                "INSERT OR IGNORE INTO counts VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    code,
                    owner,
                    warehouse,
                    abc_class,
                    book_qty,
                    orjson.dumps(differences).decode(),
                    child_text(root, "checkTime"),
                    time.time(),
                ),
            ).rowcount
            if stored:
                self.workflow.store._add_steps(code, steps)
        if stored:
            self.stats["count_reported"] += 1
            self.resume(code, set(steps))
        else:
            self.redelivered(code)
        return qimen_ok()

    def redelivered(self, code: str) -> None:
        """A report came again: it was acted on the first time, so nothing is done."""

    # ---------------------------------------------------------------- the ERP's documents

    def count(self, code: str) -> dict[str, Any]:
        row = self.conn.execute("SELECT * FROM counts WHERE code = ?", (code,)).fetchone()
        if row is None:
            raise KeyError(code)
        count = dict(row)
        count["differences"] = orjson.loads(count["differences"])
        return count

    def note(self, code: str, count: dict[str, Any]) -> str:
        """The bills' FNote: the count's code, flagged first when out of tolerance."""
        flagged = out_of_tolerance(count["abc_class"], count["book_qty"], count["differences"])
        return f"{OUT_OF_TOLERANCE} {code}" if flagged else code

    def model(self, code: str, count: dict[str, Any], gain: bool) -> dict[str, Any]:
        """The gain (or loss) bill of a count: one entry per item counted over (under)."""
        sign = 1 if gain else -1
        return {
            "FBillNo": code,
            "FBillTypeID": {"FNumber": "PY01_SYS" if gain else "PK01_SYS"},
            "FDate": count["check_time"],
            "FNote": self.note(code, count),
            "FStockOrgId": {"FNumber": ORG},
            "FBillEntry": [
                {
                    "FMaterialId": {"FNumber": item},
                    "FStockId": {"FNumber": count["warehouse"]},
                    "FGainQty" if gain else "FLossQty": units * sign,
                }
                for item, units in sorted(count["differences"].items())
                if units * sign > 0
            ],
        }

    async def _erp_gain(self, code: str, attempt: int) -> None:
        await self.peers.erp.post_audited(GAIN_FORM, self.model(code, self.count(code), True))

    async def _erp_loss(self, code: str, attempt: int) -> None:
        await self.peers.erp.post_audited(LOSS_FORM, self.model(code, self.count(code), False))
