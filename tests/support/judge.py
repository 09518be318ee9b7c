"""Synthetic run folders for the judge's tests: the DATABASES.md tables and consistent orders."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from contract_tests.judge import RunMeta, Verdict, judge_run
from fake_systems.common.storage import open_database

# The minimal DDL of docs/DATABASES.md, nothing more: the judge must not rely on other columns.
DDL: dict[str, str] = {
    "oms": """
        CREATE TABLE orders (trade_no TEXT PRIMARY KEY, src_tid TEXT, shop_no TEXT,
            platform TEXT, owner_code TEXT, warehouse_no TEXT, logistics_code TEXT,
            trade_status INTEGER, goods_cents INTEGER, discount_cents INTEGER,
            post_cents INTEGER, paid_cents INTEGER, paid_sim TEXT, paid_wall REAL,
            modified_sim TEXT, logistics_no TEXT, shipped_sim TEXT, shipped_wall REAL,
            completed_sim TEXT, completed_wall REAL, cancelled_sim TEXT, cancelled_wall REAL,
            trade_mask INTEGER NOT NULL DEFAULT 0);
        CREATE TABLE order_lines (trade_no TEXT, rec_id INTEGER, src_oid TEXT, spec_no TEXT,
            goods_name TEXT, num INTEGER, price_cents INTEGER, share_cents INTEGER,
            refund_status INTEGER NOT NULL DEFAULT 0);
        CREATE TABLE refunds (refund_no TEXT PRIMARY KEY, trade_no TEXT, src_tid TEXT,
            shop_no TEXT, owner_code TEXT, type INTEGER, status INTEGER,
            refund_cents INTEGER, logistics_no TEXT, created_sim TEXT, settled_sim TEXT,
            settled_wall REAL);
        CREATE TABLE logistics_syncs (sync_id INTEGER PRIMARY KEY, trade_no TEXT,
            logistics_no TEXT, logistics_code TEXT, is_part_sync INTEGER NOT NULL DEFAULT 0,
            oids TEXT NOT NULL DEFAULT '', goods_count INTEGER);
        CREATE TABLE oversells (seq INTEGER PRIMARY KEY, trade_no TEXT, warehouse_no TEXT,
            spec_no TEXT, num INTEGER, available INTEGER, sim_time TEXT, wall_time REAL);
        CREATE TABLE settlements (settlement_no TEXT PRIMARY KEY, shop_no TEXT,
            owner_code TEXT, status TEXT, net_cents INTEGER, entry_ref TEXT);
        CREATE TABLE settlement_lines (settlement_no TEXT, trade_no TEXT, paid_cents INTEGER,
            refund_cents INTEGER, commission_cents INTEGER, settled_cents INTEGER);
    """,
    "wms": """
        CREATE TABLE delivery_orders (delivery_order_id TEXT PRIMARY KEY,
            delivery_order_code TEXT, source_order_code TEXT, owner_code TEXT,
            warehouse_code TEXT, order_type TEXT, status TEXT, logistics_code TEXT,
            express_code TEXT, created_sim TEXT, created_wall REAL, delivered_sim TEXT,
            delivered_wall REAL, canceled_sim TEXT, canceled_wall REAL);
        CREATE TABLE delivery_order_lines (delivery_order_id TEXT, order_line_no TEXT,
            item_code TEXT, plan_qty INTEGER, actual_qty INTEGER);
        CREATE TABLE stock (warehouse_code TEXT, item_code TEXT, initial_qty INTEGER,
            on_hand INTEGER, reserved INTEGER);
        CREATE TABLE stock_ledger (seq INTEGER PRIMARY KEY, warehouse_code TEXT,
            item_code TEXT, field TEXT, change INTEGER, balance_after INTEGER, reason TEXT,
            reference TEXT, sim_time TEXT, wall_time REAL);
        CREATE TABLE inbound_orders (inbound_order_id TEXT PRIMARY KEY, kind TEXT,
            order_code TEXT, owner_code TEXT, warehouse_code TEXT, order_type TEXT, status TEXT,
            pre_delivery_order_code TEXT, express_code TEXT, confirmed_wall REAL);
        CREATE TABLE inbound_order_lines (inbound_order_id TEXT, item_code TEXT,
            actual_qty INTEGER);
        CREATE TABLE stockout_orders (stockout_order_id TEXT PRIMARY KEY, order_code TEXT,
            owner_code TEXT, warehouse_code TEXT, order_type TEXT, confirmed_wall REAL);
        CREATE TABLE stockout_order_lines (stockout_order_id TEXT, item_code TEXT,
            actual_qty INTEGER);
        CREATE TABLE count_orders (check_order_id TEXT PRIMARY KEY, check_order_code TEXT,
            owner_code TEXT, warehouse_code TEXT, abc_class TEXT, checked_wall REAL);
        CREATE TABLE count_order_lines (check_order_id TEXT, item_code TEXT,
            book_qty INTEGER, difference INTEGER);
        CREATE TABLE inbound_quality (inbound_order_id TEXT, order_line_no TEXT,
            item_code TEXT, inventory_type TEXT, qty INTEGER);
        CREATE TABLE return_parcels (owner_code TEXT, logistics_no TEXT, warehouse_code TEXT,
            pre_delivery_order_code TEXT, arrived_sim TEXT, arrived_wall REAL);
        CREATE TABLE unsaleable_stock (warehouse_code TEXT, item_code TEXT,
            inventory_type TEXT, qty INTEGER);
        CREATE TABLE supplier_deliveries (owner_code TEXT, purchase_order_code TEXT,
            warehouse_code TEXT, inbound_order_id TEXT);
    """,
    "erp": """
        CREATE TABLE documents (fid INTEGER PRIMARY KEY, form_id TEXT, bill_no TEXT,
            document_status TEXT, customer_number TEXT, supplier_number TEXT, owner_code TEXT,
            amount_cents INTEGER, note TEXT,
            saved_wall REAL, submitted_wall REAL, audited_wall REAL, audited_sim TEXT,
            model TEXT);
        CREATE TABLE document_entries (fid INTEGER, seq INTEGER, material_number TEXT,
            qty INTEGER, amount_cents INTEGER, stock_number TEXT);
        CREATE TABLE document_links (fid INTEGER, seq INTEGER, source_form_id TEXT,
            source_bill_no TEXT, stock_status TEXT);
        CREATE TABLE transfer_losses (fid INTEGER, seq INTEGER, loss_qty INTEGER);
        CREATE TABLE receipt_entries (fid INTEGER, seq INTEGER, handling_cents INTEGER,
            real_cents INTEGER, comment TEXT);
        CREATE TABLE write_offs (fid INTEGER, seq INTEGER, source_bill_no TEXT,
            amount_cents INTEGER);
        CREATE TABLE bd_supplier (number TEXT PRIMARY KEY, bank_account TEXT);
    """,
    "carrier": """
        CREATE TABLE waybills (logistic_code TEXT PRIMARY KEY, order_code TEXT,
            shipper_code TEXT, created_sim TEXT, created_wall REAL);
        CREATE TABLE parcels (logistic_code TEXT PRIMARY KEY, shipper_code TEXT,
            state INTEGER, state_ex TEXT, handed_over_sim TEXT, handed_over_wall REAL,
            signed_sim TEXT, signed_wall REAL);
        CREATE TABLE subscriptions (logistic_code TEXT, shipper_code TEXT, order_code TEXT,
            created_wall REAL);
        CREATE TABLE intercepts (logistic_code TEXT PRIMARY KEY, status TEXT,
            requested_wall REAL);
    """,
    "bank": """
        CREATE TABLE accounts (account TEXT PRIMARY KEY, currency TEXT, opening_cents INTEGER);
        CREATE TABLE entries (entry_ref TEXT PRIMARY KEY, account TEXT, booking_date TEXT,
            amount_cents INTEGER, direction TEXT, end_to_end_id TEXT, remittance TEXT);
        CREATE TABLE payments (account TEXT, end_to_end_id TEXT, msg_id TEXT,
            amount_cents INTEGER, creditor_account TEXT, remittance TEXT, status TEXT,
            reason TEXT, entry_ref TEXT);
    """,
}

WAREHOUSE = "GZ01"
INITIAL_QTY = 100
BASE_WALL = 1_790_000_000.0
# After every shipment the builder writes: a document a test adds by hand is booked late,
# as the contract wants, unless the test says otherwise.
LATE_WALL = BASE_WALL + 86_400.0
SIM = "2026-11-11 00:00:00"
STAGES = ("paid", "at_wms", "shipped", "completed")


@dataclass
class Line:
    """One order line: the item, its quantity and its share of the paid amount."""

    item: str
    qty: int
    share_cents: int


@dataclass
class Built:
    """What a builder call created, for tests that then break one thing."""

    trade_no: str
    src_tid: str
    delivery_order_id: str | None
    waybill: str | None
    paid_cents: int


class RunBuilder:
    """Writes a run folder order by order, every system consistent with the others.

    Stages: "paid" (OMS only), "at_wms" (delivery order NEW, stock reserved), "shipped"
    (DELIVERED, OMS 95 with the waybill, both ERP documents audited, parcel in transit),
    "completed" (parcel signed, OMS 110). Tests then break exactly one thing with `sql()`.
    """

    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        run_dir.mkdir(parents=True, exist_ok=True)
        self.conns: dict[str, sqlite3.Connection] = {}
        for name, ddl in DDL.items():
            conn = open_database(run_dir / f"{name}.db")  # WAL + events, as the fakes have
            conn.executescript(ddl)
            self.conns[name] = conn
        self.count = 0
        self.stock: dict[str, tuple[int, int]] = {}  # item -> (on_hand, reserved)
        self.lines: dict[str, list[Line]] = {}  # trade_no -> its lines, for its ERP entries
        self.conns["bank"].execute("INSERT INTO accounts VALUES ('6222000011112222', 'CNY', 0)")

    def sql(self, system: str, statement: str, params: tuple[object, ...] = ()) -> None:
        self.conns[system].execute(statement, params)

    def event(self, system: str, operation: str, entity: str, outcome: str = "ok") -> None:
        self.sql(
            system,
            "INSERT INTO events (sim_time, wall_time, kind, operation, entity, outcome, payload)"
            " VALUES (?, ?, 'api_in', ?, ?, ?, NULL)",
            (SIM, BASE_WALL + self.count, operation, entity, outcome),
        )

    def _ledger(
        self, item: str, field: str, change: int, after: int, reason: str, ref: str
    ) -> None:
        self.sql(
            "wms",
            "INSERT INTO stock_ledger (warehouse_code, item_code, field, change, balance_after,"
            " reason, reference, sim_time, wall_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (WAREHOUSE, item, field, change, after, reason, ref, SIM, BASE_WALL),
        )

    def _ensure_stock(self, item: str) -> None:
        if item not in self.stock:
            self.stock[item] = (INITIAL_QTY, 0)
            self.sql(
                "wms",
                "INSERT INTO stock VALUES (?, ?, ?, ?, 0)",
                (WAREHOUSE, item, INITIAL_QTY, INITIAL_QTY),
            )

    def _set_stock(self, item: str, on_hand: int, reserved: int) -> None:
        self.stock[item] = (on_hand, reserved)
        self.sql(
            "wms",
            "UPDATE stock SET on_hand = ?, reserved = ? WHERE warehouse_code = ? AND item_code = ?",
            (on_hand, reserved, WAREHOUSE, item),
        )

    def order(
        self,
        stage: str = "completed",
        lines: list[Line] | None = None,
        post_cents: int = 1000,
        paid_to_wms_seconds: float = 0.5,
    ) -> Built:
        """One order carried up to `stage`, all systems agreeing."""
        assert stage in STAGES
        self.count += 1
        n = self.count
        lines = lines or [Line("SKU-A", 2, 5000), Line("SKU-B", 1, 2990)]
        trade_no, src_tid = f"T{n:05d}", f"TB{n:08d}"
        self.lines[trade_no] = lines
        goods = sum(line.share_cents for line in lines)
        paid = goods + post_cents
        paid_wall = BASE_WALL + n
        status = {"paid": 30, "at_wms": 30, "shipped": 95, "completed": 110}[stage]
        waybill = f"SF{n:010d}" if stage in ("shipped", "completed") else None
        created_wall = paid_wall + paid_to_wms_seconds
        delivered_wall = created_wall + 60.0
        self.sql(
            "oms",
            "INSERT INTO orders (trade_no, src_tid, shop_no, platform, owner_code, warehouse_no,"
            " logistics_code, trade_status, goods_cents, discount_cents, post_cents, paid_cents,"
            " paid_sim, paid_wall, modified_sim, logistics_no, shipped_sim, shipped_wall,"
            " completed_sim, completed_wall)"
            " VALUES (?, ?, 'SHOP1', 'tmall', 'OWNER1', ?, 'SF', ?, ?, 0, ?, ?,"
            " ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                trade_no,
                src_tid,
                WAREHOUSE,
                status,
                goods,
                post_cents,
                paid,
                SIM,
                paid_wall,
                SIM,
                waybill,
                SIM if waybill else None,
                delivered_wall + 1.0 if waybill else None,
                SIM if stage == "completed" else None,
                delivered_wall + 3600.0 if stage == "completed" else None,
            ),
        )
        for i, line in enumerate(lines):
            self.sql(
                "oms",
                "INSERT INTO order_lines VALUES (?, ?, ?, ?, 'goods', ?, ?, ?, 0)",
                (
                    trade_no,
                    n * 100 + i,
                    f"{src_tid}-{i}",
                    line.item,
                    line.qty,
                    line.share_cents,
                    line.share_cents,
                ),
            )
        self.event("oms", "trade.paid", trade_no, "30")
        if stage == "paid":
            return Built(trade_no, src_tid, None, None, paid)

        do_id = f"DO{n:06d}"
        delivered = stage in ("shipped", "completed")
        self.sql(
            "wms",
            "INSERT INTO delivery_orders (delivery_order_id, delivery_order_code,"
            " source_order_code, owner_code, warehouse_code, order_type, status, logistics_code,"
            " express_code, created_sim, created_wall, delivered_sim, delivered_wall)"
            " VALUES (?, ?, ?, 'OWNER1', ?, 'JYCK', ?, 'SF', ?, ?, ?, ?, ?)",
            (
                do_id,
                trade_no,
                src_tid,
                WAREHOUSE,
                "DELIVERED" if delivered else "NEW",
                waybill,
                SIM,
                created_wall,
                SIM if delivered else None,
                delivered_wall if delivered else None,
            ),
        )
        for i, line in enumerate(lines):
            self.sql(
                "wms",
                "INSERT INTO delivery_order_lines VALUES (?, ?, ?, ?, ?)",
                (do_id, str(n * 100 + i), line.item, line.qty, line.qty if delivered else None),
            )
            self._ensure_stock(line.item)
            on_hand, reserved = self.stock[line.item]
            self._ledger(line.item, "reserved", line.qty, reserved + line.qty, "create", do_id)
            reserved += line.qty
            if delivered:
                self._ledger(line.item, "reserved", -line.qty, reserved - line.qty, "ship", do_id)
                self._ledger(line.item, "on_hand", -line.qty, on_hand - line.qty, "ship", do_id)
                reserved -= line.qty
                on_hand -= line.qty
            self._set_stock(line.item, on_hand, reserved)
        self.event("wms", "deliveryorder.create", trade_no)
        if not delivered:
            return Built(trade_no, src_tid, do_id, None, paid)

        for form in ("SAL_OUTSTOCK", "AR_receivable"):
            self.erp_document(form, trade_no, paid, audited_wall=delivered_wall + 2.0)
        signed = stage == "completed"
        self.sql(
            "carrier",
            "INSERT INTO waybills VALUES (?, ?, 'SF', ?, ?)",
            (waybill, trade_no, SIM, paid_wall + 0.2),
        )
        self.sql(
            "carrier",
            "INSERT INTO parcels VALUES (?, 'SF', ?, ?, ?, ?, ?, ?)",
            (
                waybill,
                3 if signed else 2,
                "301" if signed else "201",
                SIM,
                delivered_wall,
                SIM if signed else None,
                delivered_wall + 3500.0 if signed else None,
            ),
        )
        self.event("carrier", "1007", trade_no)
        return Built(trade_no, src_tid, do_id, waybill, paid)

    def erp_document(
        self,
        form: str,
        bill_no: str,
        amount_cents: int,
        status: str = "C",
        audited_wall: float | None = LATE_WALL,
        note: str | None = None,
    ) -> None:
        cur = self.conns["erp"].execute(
            "INSERT INTO documents (form_id, bill_no, document_status, customer_number,"
            " owner_code, amount_cents, note, saved_wall, submitted_wall, audited_wall,"
            " audited_sim, model) VALUES (?, ?, ?, 'SHOP1', 'OWNER1', ?, ?, ?, ?, ?, ?, '{}')",
            (
                form,
                bill_no,
                status,
                amount_cents,
                note,
                audited_wall,
                audited_wall,
                audited_wall if status == "C" else None,
                SIM if status == "C" else None,
            ),
        )
        # The trade's lines (the one its note or number names), as the reference books them:
        # SAL_OUTSTOCK entries out of the builder's warehouse, receivable entries without one.
        lines = self.lines.get(note or "") or self.lines.get(bill_no) or [Line("SKU-A", 1, 0)]
        stock = WAREHOUSE if form == "SAL_OUTSTOCK" else None
        rest = amount_cents - sum(line.share_cents for line in lines)
        for seq, line in enumerate(lines, start=1):
            amount = line.share_cents + (rest if seq == len(lines) else 0)
            self.sql(
                "erp",
                "INSERT INTO document_entries VALUES (?, ?, ?, ?, ?, ?)",
                (cur.lastrowid, seq, line.item, line.qty, amount, stock),
            )
        self.event("erp", f"{form}.Save", bill_no)

    def returned(self, built: Built, qty: int, defective: int) -> str:
        """`qty` units of the built (completed) order's first line sent back and carried as the
        reference does: refund settled, return order received (`defective` of them CC), a
        SAL_RETURNSTOCK in the matching stock statuses and a red receivable of the refund."""
        line = self.lines[built.trade_no][0]
        refund_no, waybill, order_id = (
            f"TK{self.count:05d}",
            f"RT{self.count:05d}",
            f"RO{self.count}",
        )
        refund = line.share_cents * qty // line.qty
        good = qty - defective
        self.sql(
            "oms",
            "INSERT INTO refunds VALUES (?, ?, ?, 'SHOP1', 'OWNER1', 2, 80, ?, ?, ?, ?, ?)",
            (refund_no, built.trade_no, built.src_tid, refund, waybill, SIM, SIM, LATE_WALL),
        )
        self.sql(
            "wms",
            "INSERT INTO return_parcels VALUES ('OWNER1', ?, ?, ?, ?, ?)",
            (waybill, WAREHOUSE, built.trade_no, SIM, LATE_WALL - 20),
        )
        self.sql(
            "wms",
            "INSERT INTO inbound_orders VALUES (?, 'returnorder', ?, 'OWNER1', ?, 'THRK',"
            " 'FULFILLED', ?, ?, ?)",
            (order_id, refund_no, WAREHOUSE, built.trade_no, waybill, LATE_WALL - 10),
        )
        on_hand, reserved = self.stock[line.item]
        for inventory_type, units in (("ZP", good), ("CC", defective)):
            if units:
                self.sql(
                    "wms",
                    "INSERT INTO inbound_quality VALUES (?, '1', ?, ?, ?)",
                    (order_id, line.item, inventory_type, units),
                )
        if good:
            self._ledger(line.item, "on_hand", good, on_hand + good, "return", order_id)
            self._set_stock(line.item, on_hand + good, reserved)
        if defective:
            self._ledger(line.item, "CC", defective, defective, "return", order_id)
            self.sql(
                "wms",
                "INSERT INTO unsaleable_stock VALUES (?, ?, 'CC', ?)",
                (WAREHOUSE, line.item, defective),
            )
        erp = self.conns["erp"]
        stock = erp.execute(
            "INSERT INTO documents (form_id, bill_no, document_status, customer_number,"
            " owner_code, amount_cents, note, audited_wall, model)"
            " VALUES ('SAL_RETURNSTOCK', ?, 'C', 'SHOP1', 'OWNER1', ?, ?, ?, '{}')",
            (refund_no, refund, built.trade_no, LATE_WALL),
        ).lastrowid
        for seq, (status, units) in enumerate(
            (("KCZT01_SYS", good), ("KCZT08_SYS", defective)), start=1
        ):
            self.sql(
                "erp",
                "INSERT INTO document_entries VALUES (?, ?, ?, ?, 0, ?)",
                (stock, seq, line.item, units, WAREHOUSE),
            )
            self.sql(
                "erp",
                "INSERT INTO document_links VALUES (?, ?, 'SAL_OUTSTOCK', ?, ?)",
                (stock, seq, built.trade_no, status),
            )
        red = erp.execute(
            "INSERT INTO documents (form_id, bill_no, document_status, customer_number,"
            " owner_code, amount_cents, note, audited_wall, model)"
            " VALUES ('AR_receivable', ?, 'C', 'SHOP1', 'OWNER1', ?, ?, ?, '{}')",
            (refund_no, -refund, built.trade_no, LATE_WALL + 0.5),
        ).lastrowid
        self.sql(
            "erp",
            "INSERT INTO document_entries VALUES (?, 1, ?, ?, ?, NULL)",
            (red, line.item, -qty, -refund),
        )
        self.sql(
            "erp",
            "INSERT INTO document_links VALUES (?, 1, 'AR_receivable', ?, NULL)",
            (red, built.trade_no),
        )
        return refund_no

    def settled(
        self,
        built: list[Built],
        commission_percent: int = 5,
        adjustment_cents: int = 0,
        remark: str | None = None,
    ) -> str:
        """The platform settles and pays the built (completed) orders in one bill, and it is
        booked as the reference books it: one audited receipt bill whose legs settle each
        order net of its settled refunds, the commission as a handling charge, and write off
        each receivable by that amount; the adjustment a leg of its own; `remark` its
        reconciliation (`FREMARK`)."""
        n = self.conns["oms"].execute("SELECT COUNT(*) FROM settlements").fetchone()[0] + 1
        number, entry_ref = f"ST2026111{n}-SHOP1", f"BK2026111{n:08d}"
        legs = []
        for each in built:
            (refund,) = (
                self.conns["oms"]
                .execute(
                    "SELECT COALESCE(SUM(refund_cents), 0) FROM refunds"
                    " WHERE trade_no = ? AND status >= 80",
                    (each.trade_no,),
                )
                .fetchone()
            )
            gross = each.paid_cents - refund
            commission = gross * commission_percent // 100
            legs.append((each.trade_no, each.paid_cents, refund, gross, commission))
            self.sql(
                "oms",
                "INSERT INTO settlement_lines VALUES (?, ?, ?, ?, ?, ?)",
                (number, each.trade_no, each.paid_cents, refund, commission, gross - commission),
            )
        net = sum(gross - commission for *_, gross, commission in legs) + adjustment_cents
        self.sql(
            "oms",
            "INSERT INTO settlements VALUES (?, 'SHOP1', 'OWNER1', 'paid', ?, ?)",
            (number, net, entry_ref),
        )
        self.sql(
            "bank",
            "INSERT INTO entries VALUES (?, '6222000011112222', '2026-11-12', ?, 'CRDT', ?, ?)",
            (entry_ref, net, number, f"settlement {number}"),
        )
        fid = (
            self.conns["erp"]
            .execute(
                "INSERT INTO documents (form_id, bill_no, document_status, customer_number,"
                " owner_code, amount_cents, note, saved_wall, audited_wall, model)"
                " VALUES ('AR_RECEIVEBILL', ?, 'C', 'SHOP1', 'OWNER1', ?, ?, ?, ?, ?)",
                (
                    number,
                    sum(gross for *_, gross, _ in legs) + adjustment_cents,
                    entry_ref,
                    LATE_WALL,
                    LATE_WALL,
                    json.dumps({"FBillNo": number, **({"FREMARK": remark} if remark else {})}),
                ),
            )
            .lastrowid
        )
        for seq, (trade_no, _, _, gross, commission) in enumerate(legs, start=1):
            self.sql(
                "erp",
                "INSERT INTO receipt_entries VALUES (?, ?, ?, ?, ?)",
                (fid, seq, commission, gross - commission, trade_no),
            )
            self.sql(
                "erp", "INSERT INTO write_offs VALUES (?, ?, ?, ?)", (fid, seq, trade_no, gross)
            )
        if adjustment_cents:
            self.sql(
                "erp",
                "INSERT INTO receipt_entries VALUES (?, ?, 0, ?, 'platform adjustment')",
                (fid, len(legs) + 1, adjustment_cents),
            )
        self.event("oms", "settlement", number)
        self.event("bank", "entry", entry_ref)
        self.event("erp", "AR_RECEIVEBILL.Save", number)
        return number

    def payable(self, bill_no: str, amount_cents: int, supplier: str = "3100001001") -> str:
        """An audited AP_Payable of `supplier` (paid to 62284800<supplier>)."""
        self.sql(
            "erp",
            "INSERT OR IGNORE INTO bd_supplier VALUES (?, ?)",
            (supplier, f"62284800{supplier}"),
        )
        self.sql(
            "erp",
            "INSERT INTO documents (form_id, bill_no, document_status, supplier_number,"
            " owner_code, amount_cents, saved_wall, audited_wall, model)"
            " VALUES ('AP_Payable', ?, 'C', ?, 'OWNER1', ?, ?, ?, '{}')",
            (bill_no, supplier, amount_cents, LATE_WALL, LATE_WALL),
        )
        return bill_no

    def payment(
        self,
        payable: str,
        amount_cents: int,
        status: str = "ACSC",
        end_to_end_id: str | None = None,
        supplier: str = "3100001001",
        booked: bool = True,
    ) -> str:
        """The bank's payment of `payable` (EndToEndId and remittance = its number unless
        told), a debit entry when settled, and, when `booked`, the audited AP_PAYBILL the
        reference books for it (bill number = EndToEndId, note = the entry, one write-off of
        the payable by the amount); its EndToEndId."""
        e2e = end_to_end_id or payable
        n = self.conns["bank"].execute("SELECT COUNT(*) FROM payments").fetchone()[0] + 1
        entry_ref = f"BK20261120{n:08d}" if status == "ACSC" else None
        self.sql(
            "bank",
            "INSERT INTO payments VALUES ('6222000011112222', ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                e2e,
                f"PAY-{e2e}",
                amount_cents,
                f"62284800{supplier}",
                payable,
                status,
                "AC04" if status == "RJCT" else None,
                entry_ref,
            ),
        )
        if entry_ref is not None:
            self.sql(
                "bank",
                "INSERT INTO entries VALUES (?, '6222000011112222', '2026-11-20', ?, 'DBIT', ?, ?)",
                (entry_ref, amount_cents, e2e, payable),
            )
        self.event("bank", "payment", e2e)
        if booked:
            self.payment_bill(e2e, amount_cents, payable, entry_ref, supplier)
        return e2e

    def payment_bill(
        self,
        bill_no: str,
        amount_cents: int,
        payable: str,
        note: str | None,
        supplier: str = "3100001001",
    ) -> None:
        """An audited AP_PAYBILL writing `payable` off by `amount_cents`."""
        fid = (
            self.conns["erp"]
            .execute(
                "INSERT INTO documents (form_id, bill_no, document_status, supplier_number,"
                " owner_code, amount_cents, note, saved_wall, audited_wall, model)"
                " VALUES ('AP_PAYBILL', ?, 'C', ?, 'OWNER1', ?, ?, ?, ?, '{}')",
                (bill_no, supplier, amount_cents, note, LATE_WALL, LATE_WALL),
            )
            .lastrowid
        )
        self.sql("erp", "INSERT INTO write_offs VALUES (?, 1, ?, ?)", (fid, payable, amount_cents))
        self.event("erp", "AP_PAYBILL.Save", bill_no)

    def split(self, *subs: Built) -> str:
        """Make the built orders the sub-orders of one split platform order (trade_mask 2048,
        the first's src_tid; line oids `<tid>-<rec_id>`), as the OMS splits one; its tid."""
        tid = subs[0].src_tid
        for sub in subs:
            self.sql(
                "oms",
                "UPDATE orders SET src_tid = ?, trade_mask = 2048 WHERE trade_no = ?",
                (tid, sub.trade_no),
            )
            self.sql(
                "oms",
                "UPDATE order_lines SET src_oid = ? || '-' || rec_id WHERE trade_no = ?",
                (tid, sub.trade_no),
            )
            self.sql(
                "wms",
                "UPDATE delivery_orders SET source_order_code = ? WHERE delivery_order_code = ?",
                (tid, sub.trade_no),
            )
        return tid

    def in_packages(self, built: Built, first_units: int) -> str:
        """Make a shipped order one the WMS shipped in two packages: the first `first_units`
        units under the order's waybill (PARTDELIVERED), the rest under a second one
        (DELIVERED), both marked in the OMS as a split shipment does it; the second waybill."""
        assert built.delivery_order_id is not None and built.waybill is not None
        second = f"{built.waybill}-2"
        units = sum(line.qty for line in self.lines[built.trade_no])
        for number, (status, waybill, count) in enumerate(
            (
                ("PARTDELIVERED", built.waybill, first_units),
                ("DELIVERED", second, units - first_units),
            ),
            start=1,
        ):
            self.sql(
                "wms",
                "INSERT INTO events (sim_time, wall_time, kind, operation, entity, outcome,"
                " payload) VALUES (?, ?, 'state', 'deliveryorder', ?, ?, ?)",
                (
                    SIM,
                    BASE_WALL + self.count + number,
                    built.trade_no,
                    status,
                    f'{{"deliveryOrderId": "{built.delivery_order_id}",'
                    f' "expressCode": "{waybill}", "package": {number}}}',
                ),
            )
            self.sql(
                "oms",
                "INSERT INTO logistics_syncs (trade_no, logistics_no, logistics_code,"
                " is_part_sync, goods_count) VALUES (?, ?, 'SF', 1, ?)",
                (built.trade_no, waybill, count),
            )
        return second

    def good_mix(self) -> list[Built]:
        """Orders at every stage, the way a run looks when the drain ends mid-flight."""
        return [
            self.order("completed"),
            self.order("completed", lines=[Line("SKU-C", 3, 2700)], post_cents=0),
            self.order("shipped"),
            self.order("at_wms"),
        ]

    def close(self) -> None:
        for conn in self.conns.values():
            conn.close()


META = RunMeta(
    scenario="smoke",
    seed=42,
    connector="reference",
    wall_started=1000.0,
    wall_ended=1100.0,
    traffic_wall_seconds=60.0,
    paid_to_wms_p99_objective=2.5,
    connector_exit_code=0,
)


def failing_run(tmp_path: Path) -> Verdict:
    """A judged run that loses one order and one receivable; checks the judge names both."""
    builder = RunBuilder(tmp_path / "run")
    builder.good_mix()
    lost = builder.order("paid")
    shipped = builder.order("shipped")
    builder.sql(
        "erp",
        "DELETE FROM documents WHERE bill_no = ? AND form_id = 'AR_receivable'",
        (shipped.trade_no,),
    )
    builder.close()
    verdict = judge_run(builder.run_dir, META)
    assert [inv.name for inv in verdict.failed_invariants] == [
        "no_lost_orders",
        "erp_receivable_audited",
    ]
    assert verdict.invariant("no_lost_orders").examples[0]["entity"] == lost.trade_no
    return verdict


def judge(builder: RunBuilder, meta: RunMeta | None = None) -> Verdict:
    """Close the built run and judge it (default objectives unless `meta` says otherwise)."""
    builder.close()
    return judge_run(builder.run_dir, meta or RunMeta())


def failed(verdict: Verdict) -> list[str]:
    """The names of the invariants the verdict failed, in the judge's order."""
    return [inv.name for inv in verdict.failed_invariants]


# The three ledgers' tables (docs/DATABASES.md), for `LedgerBuilder`: the ERP's book stock, the
# WMS's snapshots and reads, the OMS's stock, stock counts and snapshots.
LEDGER_DDL: dict[str, str] = {
    "erp": """
        CREATE TABLE inventory_opening (material_number TEXT, stock_number TEXT, qty INTEGER);
        CREATE TABLE inventory_moves (seq INTEGER PRIMARY KEY, fid INTEGER, form_id TEXT,
            bill_no TEXT, note TEXT, material_number TEXT, stock_number TEXT, qty INTEGER,
            posted_sim TEXT, posted_wall REAL);
        CREATE VIEW inventory AS SELECT material_number, stock_number, SUM(qty) AS qty FROM (
            SELECT material_number, stock_number, qty FROM inventory_opening
            UNION ALL SELECT material_number, stock_number, qty FROM inventory_moves)
            GROUP BY material_number, stock_number;
    """,
    "wms": """
        CREATE TABLE inventory_snapshots (snapshot_id INTEGER, taken_sim TEXT, taken_wall REAL,
            warehouse_code TEXT, item_code TEXT, on_hand INTEGER, reserved INTEGER,
            unsaleable INTEGER);
        CREATE TABLE inventory_reads (seq INTEGER PRIMARY KEY, warehouse_code TEXT,
            item_code TEXT, on_hand INTEGER, reserved INTEGER, sim_time TEXT, wall_time REAL);
    """,
    "oms": """
        CREATE TABLE stock (warehouse_no TEXT, spec_no TEXT, defect INTEGER, stock_num INTEGER,
            modified_sim TEXT, pd_id INTEGER);
        CREATE TABLE stock_counts (pd_id INTEGER PRIMARY KEY, pd_no TEXT, warehouse_no TEXT,
            defect_mode INTEGER, created_sim TEXT, created_wall REAL);
    """,
}
OMS_SNAPSHOT_DDL = """
    CREATE TABLE stock_snapshots (snapshot_id INTEGER, taken_sim TEXT, taken_wall REAL,
        warehouse_no TEXT, spec_no TEXT, stock_num INTEGER, reserved INTEGER, set_sim TEXT,
        set_wall REAL);
"""


def ledger_sim(at: float) -> str:
    """The simulated time of `at` seconds into a ledger run (one simulated second a second)."""
    return f"2026-11-11 {int(at) // 3600:02d}:{int(at) // 60 % 60:02d}:{int(at) % 60:02d}"


class LedgerBuilder:
    """One warehouse's item (SKU-A at GZ01) in the three ledgers, for three_ledgers_agree,
    written in time order (`at`: seconds after BASE_WALL) on a RunBuilder's folder: the WMS's
    stock, ledger, reads and snapshots; the ERP's book stock, every movement booked as it
    happens (so the WMS and the ERP agree); the OMS's stock, trades, counts and snapshots. The
    WMS reported stock changes (a stockchange.report push), so the OMS is judged.
    `oms_snapshots=False` builds a run from before the OMS's stock snapshots."""

    ITEM = "SKU-A"

    def __init__(self, builder: RunBuilder, on_hand: int = 100, oms_snapshots: bool = True):
        self.b = builder
        for system, ddl in LEDGER_DDL.items():
            builder.conns[system].executescript(ddl)
        if oms_snapshots:
            builder.conns["oms"].executescript(OMS_SNAPSHOT_DDL)
        self.oms_snapshots = oms_snapshots
        self.on_hand, self.reserved, self.available = on_hand, 0, on_hand
        self.pd_id: int | None = None
        self.snapshots = 0
        self.trades = 0
        builder.sql(
            "wms",
            "INSERT INTO stock VALUES (?, ?, ?, ?, 0)",
            (WAREHOUSE, self.ITEM, on_hand, on_hand),
        )
        builder.sql(
            "erp", "INSERT INTO inventory_opening VALUES (?, ?, ?)", (self.ITEM, WAREHOUSE, on_hand)
        )
        builder.sql(
            "oms",
            "INSERT INTO stock VALUES (?, ?, 0, ?, ?, NULL)",
            (WAREHOUSE, self.ITEM, on_hand, ledger_sim(0)),
        )
        builder.sql(
            "wms",
            "INSERT INTO events (sim_time, wall_time, kind, operation, entity, outcome)"
            " VALUES (?, ?, 'push_out', 'taobao.qimen.stockchange.report', 'X', 'ok')",
            (SIM, BASE_WALL),
        )

    def _wms(self) -> None:
        self.b.sql(
            "wms",
            "UPDATE stock SET on_hand = ?, reserved = ? WHERE warehouse_code = ? AND item_code = ?",
            (self.on_hand, self.reserved, WAREHOUSE, self.ITEM),
        )

    def _ledger(
        self, at: float, field: str, change: int, after: int, reason: str, ref: str
    ) -> None:
        self.b.sql(
            "wms",
            "INSERT INTO stock_ledger (warehouse_code, item_code, field, change, balance_after,"
            " reason, reference, sim_time, wall_time) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                WAREHOUSE,
                self.ITEM,
                field,
                change,
                after,
                reason,
                ref,
                ledger_sim(at),
                BASE_WALL + at,
            ),
        )

    def move(
        self, at: float, units: int, reason: str = "receive", ref: str = "PO1", booked: bool = True
    ) -> None:
        """The WMS's on hand moves by `units` (a receipt, a count, a parcel back...), booked in
        the ERP at once unless not `booked` (a parcel back with the sender: no flow books it)."""
        self.on_hand += units
        self._ledger(at, "on_hand", units, self.on_hand, reason, ref)
        self._wms()
        if not booked:
            return
        self.b.sql(
            "erp",
            "INSERT INTO inventory_moves (form_id, bill_no, note, material_number, stock_number,"
            " qty, posted_sim, posted_wall) VALUES ('STK_InStock', ?, ?, ?, ?, ?, ?, ?)",
            (ref, ref, self.ITEM, WAREHOUSE, units, ledger_sim(at), BASE_WALL + at),
        )

    def sale(self, at: float, units: int) -> str:
        """A paid trade of `units` in the OMS (status 30), taken from its stock; returns its
        trade number (also its delivery order's code)."""
        self.trades += 1
        trade_no = f"L{self.trades:04d}"
        self.b.sql(
            "oms",
            "INSERT INTO orders (trade_no, src_tid, shop_no, owner_code, warehouse_no,"
            " trade_status, paid_sim, paid_wall, modified_sim) VALUES (?, ?, 'SHOP1', 'OWNER1',"
            " ?, 30, ?, ?, ?)",
            (trade_no, f"TB{trade_no}", WAREHOUSE, ledger_sim(at), BASE_WALL + at, ledger_sim(at)),
        )
        self.b.sql(
            "oms",
            "INSERT INTO order_lines (trade_no, rec_id, src_oid, spec_no, num)"
            " VALUES (?, ?, ?, ?, ?)",
            (trade_no, self.trades, f"TB{trade_no}-1", self.ITEM, units),
        )
        self.available -= units
        self.b.sql(
            "oms",
            "UPDATE stock SET stock_num = ?, modified_sim = ? WHERE spec_no = ?",
            (self.available, ledger_sim(at), self.ITEM),
        )
        return trade_no

    def _status(self, trade_no: str) -> str | None:
        """The trade's delivery order's status at the WMS (None: it never got there)."""
        row = (
            self.b.conns["wms"]
            .execute(
                "SELECT status FROM delivery_orders WHERE delivery_order_code = ?", (trade_no,)
            )
            .fetchone()
        )
        return None if row is None else str(row[0])

    def _units(self, trade_no: str) -> int:
        row = (
            self.b.conns["oms"]
            .execute("SELECT num FROM order_lines WHERE trade_no = ?", (trade_no,))
            .fetchone()
        )
        return int(row[0])

    def at_wms(self, at: float, trade_no: str) -> None:
        """The trade's delivery order reaches the WMS: its units reserved."""
        units = self._units(trade_no)
        self.reserved += units
        self.b.sql(
            "wms",
            "INSERT INTO delivery_orders (delivery_order_id, delivery_order_code,"
            " source_order_code, owner_code, warehouse_code, status, created_wall)"
            " VALUES (?, ?, ?, 'OWNER1', ?, 'NEW', ?)",
            (f"D{trade_no}", trade_no, f"TB{trade_no}", WAREHOUSE, BASE_WALL + at),
        )
        self._ledger(at, "reserved", units, self.reserved, "reserve", f"D{trade_no}")
        self._wms()

    def ship(self, at: float, trade_no: str, apart: float = 0.0) -> None:
        """The WMS ships the trade (booked in the ERP at once); the OMS is not told yet. As
        the WMS does, the `on_hand` row first, the `reserved` row `apart` seconds later."""
        units = self._units(trade_no)
        self.reserved -= units
        self.on_hand -= units
        self._ledger(at, "on_hand", -units, self.on_hand, "ship", f"D{trade_no}")
        self._ledger(at + apart, "reserved", -units, self.reserved, "ship", f"D{trade_no}")
        self._wms()
        self.b.sql(
            "wms",
            "UPDATE delivery_orders SET status = 'DELIVERED' WHERE delivery_order_code = ?",
            (trade_no,),
        )
        self.b.sql(
            "erp",
            "INSERT INTO inventory_moves (form_id, bill_no, note, material_number, stock_number,"
            " qty, posted_sim, posted_wall) VALUES ('SAL_OUTSTOCK', ?, ?, ?, ?, ?, ?, ?)",
            (trade_no, trade_no, self.ITEM, WAREHOUSE, -units, ledger_sim(at), BASE_WALL + at),
        )

    def shipped_in_oms(self, at: float, trade_no: str) -> None:
        self.b.sql(
            "oms",
            "UPDATE orders SET trade_status = 95, shipped_sim = ?, shipped_wall = ?"
            " WHERE trade_no = ?",
            (ledger_sim(at), BASE_WALL + at, trade_no),
        )

    def cancel(self, at: float, trade_no: str) -> None:
        """The OMS cancels the trade (status 5: nothing given back to its stock); the WMS
        releases what it held of it."""
        self.b.sql(
            "oms",
            "UPDATE orders SET trade_status = 5, cancelled_sim = ?, cancelled_wall = ?"
            " WHERE trade_no = ?",
            (ledger_sim(at), BASE_WALL + at, trade_no),
        )
        if self._status(trade_no) == "NEW":
            units = self._units(trade_no)
            self.reserved -= units
            self._ledger(at, "reserved", -units, self.reserved, "cancel", f"D{trade_no}")
            self._wms()
            self.b.sql(
                "wms",
                "UPDATE delivery_orders SET status = 'CANCELED' WHERE delivery_order_code = ?",
                (trade_no,),
            )

    def read(self, at: float) -> None:
        """The connector asks the WMS (inventory.query): on hand and reserved now."""
        self.b.sql(
            "wms",
            "INSERT INTO inventory_reads (warehouse_code, item_code, on_hand, reserved, sim_time,"
            " wall_time) VALUES (?, ?, ?, ?, ?, ?)",
            (WAREHOUSE, self.ITEM, self.on_hand, self.reserved, ledger_sim(at), BASE_WALL + at),
        )

    def set(self, at: float, stock_num: int) -> None:
        """The connector sets the OMS's stock (stockSyncByPd)."""
        self.pd_id = (self.pd_id or 0) + 1
        self.available = stock_num
        self.b.sql(
            "oms",
            "INSERT INTO stock_counts VALUES (?, ?, ?, 1, ?, ?)",
            (self.pd_id, f"WP{self.pd_id:04d}", WAREHOUSE, ledger_sim(at), BASE_WALL + at),
        )
        self.b.sql(
            "oms",
            "UPDATE stock SET stock_num = ?, modified_sim = ?, pd_id = ? WHERE spec_no = ?",
            (stock_num, ledger_sim(at), self.pd_id, self.ITEM),
        )

    def snapshot(self, at: float) -> None:
        """The WMS's inventory snapshot and the OMS's stock at the same instant."""
        self.snapshots += 1
        self.b.sql(
            "wms",
            "INSERT INTO inventory_snapshots VALUES (?, ?, ?, ?, ?, ?, ?, 0)",
            (
                self.snapshots,
                ledger_sim(at),
                BASE_WALL + at,
                WAREHOUSE,
                self.ITEM,
                self.on_hand,
                self.reserved,
            ),
        )
        if not self.oms_snapshots:
            return
        self.b.sql(
            "oms",
            "INSERT INTO stock_snapshots SELECT ?, ?, ?, s.warehouse_no, s.spec_no, s.stock_num,"
            " (SELECT COALESCE(SUM(l.num), 0) FROM orders o JOIN order_lines l"
            "  ON l.trade_no = o.trade_no WHERE o.trade_status = 30 AND l.spec_no = s.spec_no),"
            " c.created_sim, c.created_wall FROM stock s"
            " LEFT JOIN stock_counts c ON c.pd_id = s.pd_id WHERE s.defect = 0",
            (self.snapshots, ledger_sim(at), BASE_WALL + at),
        )

    def settle(self, at: float) -> None:
        """After the business: every open trade reaches the WMS, ships and is marked shipped,
        and the connector reads and sets the stock once more, so the end agrees."""
        open_trades = (
            self.b.conns["oms"]
            .execute("SELECT trade_no FROM orders WHERE trade_status = 30 ORDER BY trade_no")
            .fetchall()
        )
        for (trade_no,) in open_trades:
            held = self._status(trade_no)
            if held is None:
                self.at_wms(at, trade_no)
            if held != "DELIVERED":
                self.ship(at, trade_no)
            self.shipped_in_oms(at, trade_no)
        self.read(at)
        self.set(at + 1, max(self.on_hand - self.reserved, 0))
