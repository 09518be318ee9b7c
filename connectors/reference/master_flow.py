"""The master-data flow: ERP materials (BD_MATERIAL) to the WMS's items and the OMS's goods.

  poll: ExecuteBillQuery of the materials modified since the cursor (inclusive; a durable
      cursor, FModifyDate); each material whose state (name, barcode, retail price,
      FIsSale) differs from the one stored gets a new version, marked to sync.
  sync: a loop pushes each marked material's latest state: singleitem.synchronize update (add,
      ownerCode OTHER, when the WMS does not have it) and goods.Goods.push (deleted 1 when
      no longer for sale), then clears the mark of the version it pushed. Both calls set a
      state, so a retry after a lost answer does no harm.

At the first start the materials never modified since the catalogue was loaded
(FModifyDate = FCreateDate = the earliest FCreateDate, kept as the `materials_loaded` cursor)
are taken as in place: ecomock loads the same catalogue into the three systems; everything
else is pushed, and later polls ask only for what was modified after that load.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from lxml import etree

from connectors.reference.clients.qimen import child_text
from connectors.reference.money import cents_to_text, to_cents
from connectors.reference.retry import (
    PermanentError,
    RetryableError,
    repeat_until_stopped,
)

if TYPE_CHECKING:
    from connectors.reference.workflow import Workflow

log = logging.getLogger("connectors.reference")

MATERIAL = "BD_MATERIAL"
MATERIAL_FIELDS = (
    "FNumber,FName,FBARCODE,F_ECO_RetailPrice,FIsSale,FCreateDate,FModifyDate,"
    "FMaterialGroup.FNumber"
)
ITEM_SYNC_METHOD = "taobao.qimen.singleitem.synchronize"
GOODS_PUSH_METHOD = "goods.Goods.push"
ITEM_NOT_EXIST = "ITEM_NOT_EXIST"
SHARED_OWNER = "OTHER"  # the WMS's shared catalogue: ERP materials belong to no cargo owner
ANY_WAREHOUSE = "OTHER"
QUERY_PAGE = 2000
MAX_QUERY_PAGES = 100
SYNC_BATCH = 50

SCHEMA = """
CREATE TABLE IF NOT EXISTS materials (
    number        TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    barcode       TEXT NOT NULL,
    price_cents   INTEGER NOT NULL,
    on_sale       INTEGER NOT NULL,   -- FIsSale: 0 once discontinued
    category      TEXT NOT NULL,
    modified      TEXT NOT NULL,
    version       INTEGER NOT NULL,   -- bumped by each new state the poll finds
    synced        INTEGER NOT NULL    -- the version last pushed to both systems
);
"""


class MasterDataFlow:
    """Materials from the ERP to the WMS and the OMS, over the workflow's store and peers."""

    def __init__(self, workflow: Workflow) -> None:
        self.workflow = workflow
        self.conn = workflow.store.conn
        self.conn.executescript(SCHEMA)
        self.peers = workflow.peers
        self.rules = workflow.mapper.stock
        self.stats: Counter[str] = Counter()
        self._after = ""  # the last material a sync round tried: rounds walk the marked ones

    async def poll(self, stop: asyncio.Event, every_seconds: float) -> None:
        """Look for changed materials until `stop`; sync what changed."""

        async def one_round() -> None:
            self.stats["materials_changed"] += await self.poll_once()
            while await self.sync_once():
                pass

        await repeat_until_stopped(
            stop, every_seconds, one_round, "master data", self.workflow.policy
        )

    async def poll_once(self) -> int:
        """One poll from the cursor (inclusive); returns how many materials got a new state."""
        cursors = dict(
            self.conn.execute(
                "SELECT name, value FROM cursor WHERE name IN ('materials', 'materials_loaded')"
            ).fetchall()
        )
        first = "materials" not in cursors
        since = str(cursors.get("materials", ""))
        condition = f"FDocumentStatus='C' and FModifyDate>='{since}'"
        if not first:
            # Materials untouched since the catalogue was loaded are in place: leaving them
            # out keeps each poll to what changed, not the whole catalogue.
            condition += f" and FModifyDate>'{cursors['materials_loaded']}'"
        rows: list[list[Any]] = []
        for page in range(MAX_QUERY_PAGES):
            batch = await self.peers.erp.execute_bill_query(
                MATERIAL, MATERIAL_FIELDS, condition, page * QUERY_PAGE, QUERY_PAGE
            )
            rows.extend(batch)
            if len(batch) < QUERY_PAGE:
                break
        if not rows:
            return 0
        loaded = min(str(r[5]) for r in rows) if first else None
        changed = 0
        with self.workflow.store._transaction():
            for number, name, barcode, price, on_sale, created, modified, group in rows:
                state = (
                    str(name),
                    str(barcode or ""),
                    to_cents(Decimal(str(price or 0))),
                    1 if on_sale in (1, True, "1", "true", "True") else 0,
                    str(group or ""),
                )
                stored = self.conn.execute(
                    "SELECT name, barcode, price_cents, on_sale, category, version, synced"
                    " FROM materials WHERE number = ?",
                    (str(number),),
                ).fetchone()
                if stored is None:
                    # In place if untouched since the catalogue was loaded (first start only).
                    in_place = loaded is not None and str(created) == str(modified) == loaded
                    self.conn.execute(
                        "INSERT INTO materials VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?)",
                        (str(number), *state, str(modified), 1 if in_place else 0),
                    )
                    changed += not in_place
                elif tuple(stored[:5]) != state and self.rules.syncs_material_updates():
                    self.conn.execute(
                        "UPDATE materials SET name = ?, barcode = ?, price_cents = ?,"
                        " on_sale = ?, category = ?, modified = ?, version = version + 1"
                        " WHERE number = ?",
                        (*state, str(modified), str(number)),
                    )
                    changed += 1
            self.conn.executemany(
                "INSERT INTO cursor (name, value) VALUES (?, ?)"
                " ON CONFLICT(name) DO UPDATE SET value = excluded.value",
                [("materials", max(str(r[6]) for r in rows))]
                + ([("materials_loaded", loaded)] if loaded is not None else []),
            )
        return changed

    async def sync_once(self) -> int:
        """Push a batch of marked materials to the WMS and the OMS; how many it cleared. A
        material a peer refuses stays marked for the next poll and does not hold up the
        others; a failure worth retrying (a peer down) stops the batch."""
        marked = self.conn.execute(
            "SELECT * FROM materials WHERE synced < version AND number > ? ORDER BY number LIMIT ?",
            (self._after, SYNC_BATCH),
        ).fetchall()
        cleared = 0
        for material in marked:
            try:
                await self._wms_item(material)
                await self._oms_goods(material)
            except PermanentError as error:
                self._after = material["number"]
                self.stats["materials_refused"] += 1
                log.error("material %s refused: %s", material["number"], error)
                continue
            self._after = material["number"]
            with self.workflow.store._transaction():
                self.conn.execute(
                    "UPDATE materials SET synced = ? WHERE number = ? AND version = ?",
                    (material["version"], material["number"], material["version"]),
                )
            self.stats["materials_synced"] += 1
            cleared += 1
        if len(marked) < SYNC_BATCH:
            self._after = ""  # the next round starts from the first marked material again
        return cleared

    async def _wms_item(self, material: Any) -> None:
        for action in ("update", "add"):
            request = etree.Element("request")
            etree.SubElement(request, "actionType").text = action
            etree.SubElement(request, "warehouseCode").text = ANY_WAREHOUSE
            etree.SubElement(request, "ownerCode").text = SHARED_OWNER
            item = etree.SubElement(request, "item")
            for tag, value in (
                ("itemCode", material["number"]),
                ("itemName", material["name"]),
                ("barCode", material["barcode"]),
                ("categoryName", material["category"]),
                ("retailPrice", cents_to_text(material["price_cents"])),
            ):
                etree.SubElement(item, tag).text = str(value)
            try:
                root = await self.peers.wms.call(
                    ITEM_SYNC_METHOD, etree.tostring(request, encoding="unicode")
                )
            except PermanentError as error:
                if action == "update" and f": {ITEM_NOT_EXIST} " in f"{error.message} ":
                    continue  # a new material: add it
                raise
            if child_text(root, "itemId") is None:
                raise RetryableError("wms", "singleitem.synchronize: success without itemId")
            return

    async def _oms_goods(self, material: Any) -> None:
        await self.peers.oms.call(
            GOODS_PUSH_METHOD,
            {"goods_no": material["number"], "goods_name": material["name"], "goods_type": 1},
            [
                {
                    "spec_no": material["number"],
                    "barcode": material["barcode"],
                    "retail_price": cents_to_text(material["price_cents"]),
                    "deleted": 0 if material["on_sale"] else 1,
                }
            ],
        )
