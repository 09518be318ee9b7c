"""Three ledgers (issue 13): per item and warehouse, what the WMS holds, the ERP's book stock
and the OMS's available plus reserved agree, at every inventory snapshot and at the end,
within what is in flight; a difference over 0.5 % of the larger ledger (and at least a unit)
is a violation.

- WMS: every unit in the warehouse, sound (`on_hand`) and not saleable (`unsaleable_stock`),
  as the snapshot (`wms.inventory_snapshots`) recorded it, and as the tables hold it at the end.
- ERP: the book stock (`erp.inventory_opening` plus the audited stock documents' postings,
  `erp.inventory_moves`, up to the moment).
- In flight at a moment, per order, item and warehouse: the part of the WMS's movement for
  the order (its `stock_ledger` rows, the order found from their reference) that the ERP
  documents naming the order (bill number, else note, else the note's last word: the
  contract's naming) had not booked yet, in the same direction and no further. A document
  booked before the warehouse moved, or beyond it, or at another warehouse, is not in flight.
  Nothing is in flight at the end: the drain waited for every flow to be booked.
- OMS (only when the WMS reported stock changes, `stockchange.report`, so that a connector
  could keep the OMS in step): its available (`oms.stock`, sound) plus reserved (the units of
  paid trades not shipped, status 30) against the WMS's sound `on_hand`.

  At each snapshot (`oms.stock_snapshots`, recorded at the WMS snapshot's instant, with when
  a stock count last set the number, `set_wall`), less what the OMS could not know yet. The
  OMS's stock is the number last set at T, less the sales since; a connector sets what the
  WMS had free to sell when it read it, at R <= T (`wms.inventory_reads`, the last answer
  for the key no later than T). So, with everything the OMS could not know counted:

      OMS available + reserved - WMS on hand
        = - (WMS on hand moved since R, shipments aside)           [1]
        + (OMS reserved now + units the WMS shipped since R
           - WMS reserved at R - OMS sold since T)                  [2]
        + (max(available at R, 0) - available at R)                [3]
        + (OMS available now + sold since T - max(available at R, 0))   the connector's error

  [1] is every other movement since the read: receipts, counts, transfers, returns, parcels
  back with the sender (the WMS reports none for those). [2] is, trade by trade, exactly the
  order flow's part: + a trade paid before the read that the WMS did not hold then (not there
  yet, or never: a lost order), or paid between the read and the set (the read-then-set
  race): the WMS's available counted it free, the OMS holds it; + a trade the WMS shipped
  that the OMS has not marked shipped; - a trade cancelled while the WMS held it at the read,
  or sold since the set and cancelled (the OMS gives a cancelled trade's units back only at
  the next set). [3]: stockSyncByPd takes no negative number. All three are excused as they
  are; what is left, and judged, is the OMS's stock at its last set against the WMS's
  available at the read behind it. No bound was needed: each term is read from the run
  (`oms_in_flight` is [1] + [2] + [3]). What that assumes: the read behind a set is the last
  inventory.query answer for the key before it (a connector that reads again before setting
  is held to the later answer); a set with no answer before it is held to the WMS's state at
  the set (from its ledger: no read-then-set allowance); a stock never set is the opening
  stock. The first snapshot that differs is the example's.

  At the end, the OMS's available plus reserved against the WMS's on hand, less the units of
  lost orders (paid trades the WMS never had: no_lost_orders') and of trades cancelled and
  parcels back with the sender since the spec's stock was last set (the last stock count,
  `stock.pd_id`; `modified_sim` moves with every sale): the drain waited for every flow, so
  the WMS's movements are not excused there. A run from before the OMS's stock snapshots is
  judged at the end only.
"""

from __future__ import annotations

import bisect
import sqlite3
from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from contract_tests.evidence import InvariantResult, judge_rows, result, table_in_run
from contract_tests.metrics import DO_TRADE_CTE

NAME = "three_ledgers_agree"
SHARE = Decimal("0.005")  # the seeds' "book vs physical difference > 0.5 % raises an alert"
DESCRIPTIONS = {
    NAME: (
        "per item and warehouse, the WMS's stock, the ERP's book stock (audited stock"
        " documents) and, when the WMS reports stock changes, the OMS's available plus"
        " reserved agree within 0.5 % (at least a unit), at every inventory snapshot (less what"
        " is in flight, or what the OMS could not know yet) and at the end"
    ),
}
AT_SNAPSHOT = "WMS and ERP differ at a snapshot"
AT_END = "WMS and ERP differ at the end"
OMS_AT_SNAPSHOT = "OMS differs from the WMS at a snapshot"
OMS_AT_END = "OMS differs from the WMS at the end"
MAX_LEDGER_LINES = 10

Key = tuple[str, str]  # (warehouse, item)

# The WMS's own order codes by the ids its stock ledger names (each table when the run has it).
_CODE_SOURCES = (
    ("delivery_orders", "delivery_order_id", "delivery_order_code"),
    ("inbound_orders", "inbound_order_id", "order_code"),
    ("stockout_orders", "stockout_order_id", "order_code"),
    ("count_orders", "check_order_id", "check_order_code"),
    ("transfer_orders", "transfer_order_id", "transfer_order_code"),
)


def differs(difference: int, larger: int) -> bool:
    """Whether `difference` units between two ledgers, the larger at `larger`, is too many."""
    return abs(difference) >= 1 and Decimal(abs(difference)) > SHARE * abs(larger)


def in_flight(wms: int, erp: int) -> int:
    """The part of a WMS movement (`wms`, signed) its documents (`erp`) have not booked yet:
    only what lies between nothing and the movement, in its direction."""
    if wms > 0 and 0 <= erp < wms:
        return wms - erp
    if wms < 0 and wms < erp <= 0:
        return wms - erp
    return 0


@dataclass
class Ledgers:
    """What the check reads: the moves of both sides, the snapshots and the end state."""

    opening: dict[Key, int] = field(default_factory=dict)
    # (wall, warehouse, item, code, units) of the WMS's stock and of the ERP's postings
    wms_moves: list[tuple[float, str, str, str, int]] = field(default_factory=list)
    erp_moves: list[tuple[float, str, str, str, int]] = field(default_factory=list)
    # (snapshot id, taken_sim, taken_wall) in the order taken; their rows are streamed
    snapshots: list[tuple[int, str, float]] = field(default_factory=list)
    # orders left out of both ledgers (parcels back with the sender, cancellations after
    # picking), and their moves on each side
    left_out: set[str] = field(default_factory=set)
    wms_left_out: list[tuple[float, str, str, str, int]] = field(default_factory=list)
    erp_left_out: list[tuple[float, str, str, str, int]] = field(default_factory=list)
    wms_end: dict[Key, int] = field(default_factory=dict)
    erp_end: dict[Key, int] = field(default_factory=dict)


def _codes(conn: sqlite3.Connection) -> dict[str, str]:
    codes: dict[str, str] = {}
    for table, id_col, code_col in _CODE_SOURCES:
        if table_in_run(conn, "wms", table):
            codes.update(
                (str(i), str(c))
                for i, c in conn.execute(f"SELECT {id_col}, {code_col} FROM wms.{table}")
            )
    return codes


def _left_out(conn: sqlite3.Connection) -> set[str]:
    """Orders whose goods left and came back (or are on their way back) outside any booking
    flow of the contract: a parcel back with the sender (ledger reason `returned_to_sender`:
    intercepted or refused), or a trade whose buyer asked to cancel (a type-1 refund not
    withdrawn: its parcel, if it left, is to be intercepted). The cancellation checks judge
    them; the ledgers leave them out on both sides."""
    left_out = {
        str(code)
        for (code,) in conn.execute(
            "SELECT d.delivery_order_code FROM wms.stock_ledger AS l"
            " JOIN wms.delivery_orders AS d ON d.delivery_order_id = l.reference"
            " WHERE l.reason = 'returned_to_sender'"
        )
    }
    if table_in_run(conn, "oms", "refunds"):
        left_out.update(
            str(trade_no)
            for (trade_no,) in conn.execute(
                "SELECT trade_no FROM oms.refunds WHERE type = 1 AND status != 10"
            )
        )
    return left_out


def read(conn: sqlite3.Connection) -> Ledgers:
    """The run's ledgers, from the WMS's and the ERP's tables."""
    ledgers = Ledgers()
    codes = _codes(conn)
    ledgers.left_out = _left_out(conn)
    for wall, wh, item, ref, change in conn.execute(
        "SELECT wall_time, warehouse_code, item_code, reference, change FROM wms.stock_ledger"
        " WHERE field != 'reserved' ORDER BY seq"
    ):
        code = codes.get(str(ref), str(ref))
        moves = ledgers.wms_left_out if code in ledgers.left_out else ledgers.wms_moves
        moves.append((float(wall), str(wh), str(item), code, int(change)))
    known = set(codes.values())
    for wall, wh, item, bill_no, note, qty in conn.execute(
        "SELECT posted_wall, stock_number, material_number, bill_no, note, qty"
        " FROM erp.inventory_moves WHERE stock_number IS NOT NULL ORDER BY seq"
    ):
        # the order a document names: its bill number, else its note (or the note's last
        # word, after a flag such as [超差]), as the contract names documents
        words = str(note or "").split()
        candidates = [str(bill_no), str(note or ""), words[-1] if words else ""]
        code = next((c for c in candidates if c in known), str(bill_no))
        moves = ledgers.erp_left_out if code in ledgers.left_out else ledgers.erp_moves
        moves.append((float(wall), str(wh), str(item), code, int(qty)))
    ledgers.opening = {
        (str(wh), str(item)): int(qty)
        for item, wh, qty in conn.execute(
            "SELECT material_number, stock_number, qty FROM erp.inventory_opening"
        )
    }
    if table_in_run(conn, "wms", "inventory_snapshots"):
        ledgers.snapshots = [
            (int(sid), str(sim), float(wall))
            for sid, sim, wall in conn.execute(
                "SELECT snapshot_id, MIN(taken_sim), MIN(taken_wall)"
                " FROM wms.inventory_snapshots GROUP BY snapshot_id ORDER BY snapshot_id"
            )
        ]
    for wh, item, units in conn.execute(
        "SELECT warehouse_code, item_code, SUM(units) FROM ("
        " SELECT warehouse_code, item_code, on_hand AS units FROM wms.stock"
        " UNION ALL SELECT warehouse_code, item_code, qty FROM wms.unsaleable_stock"
        ") GROUP BY warehouse_code, item_code"
    ):
        ledgers.wms_end[(str(wh), str(item))] = int(units)
    for item, wh, qty in conn.execute(
        "SELECT material_number, stock_number, qty FROM erp.inventory"
    ):
        ledgers.erp_end[(str(wh), str(item))] = int(qty)
    # the end without the orders left out
    for moves, end in (
        (ledgers.wms_left_out, ledgers.wms_end),
        (ledgers.erp_left_out, ledgers.erp_end),
    ):
        for _, wh, item, _, units in moves:
            end[(wh, item)] = end.get((wh, item), 0) - units
    return ledgers


def _in_flight_at(ledgers: Ledgers, walls: list[float]) -> list[dict[Key, int]]:
    """Per snapshot (in the order of `walls`, ascending): units in flight per key, and the
    WMS's moves of the orders left out so far (their ERP postings are not on the books)."""
    per_snapshot: list[dict[Key, int]] = [defaultdict(int) for _ in walls]
    for wall, wh, item, _code, units in ledgers.wms_left_out:
        for snapshot in range(bisect.bisect_left(walls, wall), len(walls)):
            per_snapshot[snapshot][(wh, item)] += units
    events: dict[tuple[str, str, str], list[tuple[float, int, int]]] = defaultdict(list)
    for wall, wh, item, code, units in ledgers.wms_moves:
        events[(wh, item, code)].append((wall, units, 0))
    for wall, wh, item, code, units in ledgers.erp_moves:
        events[(wh, item, code)].append((wall, 0, units))
    for (wh, item, _code), timeline in events.items():
        timeline.sort()
        wms = erp = 0
        for index, (wall, dw, de) in enumerate(timeline):
            wms, erp = wms + dw, erp + de
            flying = in_flight(wms, erp)
            if not flying:
                continue
            # constant from this event until the next one of the order
            until = timeline[index + 1][0] if index + 1 < len(timeline) else float("inf")
            first = bisect.bisect_left(walls, wall)
            last = bisect.bisect_left(walls, until)
            for snapshot in range(first, last):
                per_snapshot[snapshot][(wh, item)] += flying
    return per_snapshot


@dataclass
class Finding:
    """One key's disagreements: the first snapshot that differs, the end, the OMS (the first
    snapshot where it differs, the end)."""

    problems: list[str] = field(default_factory=list)
    snapshot: dict[str, Any] | None = None
    end: dict[str, Any] | None = None
    oms_snapshot: dict[str, Any] | None = None
    oms: dict[str, Any] | None = None


def oms_pushed(conn: sqlite3.Connection) -> bool:
    """Whether the WMS reported stock changes to the connector during the run."""
    return (
        conn.execute(
            "SELECT 1 FROM wms.events WHERE kind = 'push_out'"
            " AND operation LIKE '%stockchange.report%' LIMIT 1"
        ).fetchone()
        is not None
    )


def _oms_end(conn: sqlite3.Connection) -> dict[Key, tuple[int, int, int, int]]:
    """Per key: the OMS's available, reserved (paid, not shipped) and what it could not know
    yet: the units of trades cancelled, and of parcels back with the sender (the WMS reports
    no stock change for those), since its stock was last set."""
    # Last set: by the last stock count (pd_id), else at the opening, so since ever; not
    # `modified_sim`, which every sale moves too.
    counts = table_in_run(conn, "oms", "stock_counts")
    since = "COALESCE(c.created_sim, '')" if counts else "s.modified_sim"
    join = " LEFT JOIN oms.stock_counts c ON c.pd_id = s.pd_id" if counts else ""
    out: dict[Key, tuple[int, int, int, int]] = {}
    for wh, spec, available, reserved, cancelled in conn.execute(
        f"""
        SELECT s.warehouse_no, s.spec_no, s.stock_num,
          COALESCE((SELECT SUM(l.num) FROM oms.orders o JOIN oms.order_lines l
                    ON l.trade_no = o.trade_no
                    WHERE o.warehouse_no = s.warehouse_no AND l.spec_no = s.spec_no
                      AND o.trade_status = 30), 0),
          COALESCE((SELECT SUM(l.num) FROM oms.orders o JOIN oms.order_lines l
                    ON l.trade_no = o.trade_no
                    WHERE o.warehouse_no = s.warehouse_no AND l.spec_no = s.spec_no
                      AND o.trade_status = 5 AND o.cancelled_sim >= {since}), 0)
          + COALESCE((SELECT SUM(l.change) FROM wms.stock_ledger l
                      WHERE l.warehouse_code = s.warehouse_no AND l.item_code = s.spec_no
                        AND l.reason = 'returned_to_sender' AND l.sim_time >= {since}), 0)
        FROM oms.stock s{join} WHERE s.defect = 0"""
    ):
        out[(str(wh), str(spec))] = (int(available), int(reserved), int(cancelled), 0)
    # Paid trades the WMS never had are lost orders (no_lost_orders judges them): their units
    # are reserved in the OMS and free in the WMS, so a push of the WMS's available counts them
    # twice, one before their sale not at all: either way they are no_lost_orders' difference,
    # excused here like the cancellations.
    for wh, spec, units in conn.execute(
        f"""WITH {DO_TRADE_CTE}
        SELECT o.warehouse_no, l.spec_no, SUM(l.num) FROM oms.orders o
        JOIN oms.order_lines l ON l.trade_no = o.trade_no
        WHERE o.trade_status = 30
          AND o.trade_no NOT IN (SELECT trade_no FROM do_trade WHERE trade_no IS NOT NULL)
        GROUP BY 1, 2"""
    ):
        key = (str(wh), str(spec))
        if key in out:
            out[key] = (*out[key][:3], int(units))
    return out


@dataclass(frozen=True)
class Read:
    """What the WMS had of a key when the connector read it, the OMS's stock then set from
    it: `how` an inventory.query answered (`inventory.query`), the WMS's opening stock, which
    the OMS starts from too (`opening`), or the WMS's ledger at the set when no query came
    before it (`ledger at the set`)."""

    wall: float
    sim: str
    on_hand: int
    reserved: int
    how: str

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


def oms_in_flight(read: Read, sold: int, reserved: int, on_hand: int) -> int:
    """By how much the OMS's available plus `reserved` may exceed the WMS's `on_hand` at a
    snapshot (negative: fall short) for what the OMS could not know yet, its stock last set
    from `read` and `sold` units sold since: the WMS's movements since the read, the orders
    the two held differently (trades the WMS did not hold at the read or never, sold between
    the read and the set, shipped and not marked shipped, cancelled), and a negative
    available set as 0; the module's docstring derives it."""
    return max(read.available, 0) - sold + reserved - on_hand


class WmsBalances:
    """The WMS's `on_hand` and `reserved` per key at any wall time, and when its goods last
    moved, from its stock ledger (read once, on first use)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self._series: dict[tuple[Key, str], tuple[list[float], list[int], int]] = {}
        self._moves: dict[Key, tuple[list[float], list[float], list[str]]] = {}
        self._read = False

    def at(self, key: Key, field: str, wall: float) -> int:
        """`field` (on_hand, reserved) of `key` at wall time `wall`, the rows at `wall` in."""
        self._load()
        walls, balances, before = self._series.get((key, field), ([], [], 0))
        index = bisect.bisect_right(walls, wall)
        return balances[index - 1] if index else before

    def free(self, key: Key, wall: float) -> int:
        """What the WMS had free to sell (on hand less reserved) of `key` at `wall`."""
        return self.at(key, "on_hand", wall) - self.at(key, "reserved", wall)

    def moves(
        self, key: Key, since: float, upto: float, skip: Collection[str] = ()
    ) -> list[float | None]:
        """When the goods of `key` moved (an `on_hand` row: a receipt, a shipment, a count,
        ...; not for a reason in `skip`): the last time no later than `since` (None if they
        had not moved by then), and every time after it up to `upto`. Each is the wall time of
        the move's last row: a shipment writes its `on_hand` row and then its `reserved` row,
        a moment apart, and in between the WMS's free stock is short by the shipment."""
        self._load()
        walls, settled, reasons = self._moves.get(key, ([], [], []))
        first = bisect.bisect_right(walls, since)
        last = first
        while last and reasons[last - 1] in skip:
            last -= 1
        found: list[float | None] = [settled[last - 1] if last else None]
        end = bisect.bisect_right(walls, upto)
        found += [settled[i] for i in range(first, end) if reasons[i] not in skip]
        return found

    def _load(self) -> None:
        """Per key and field: the walls and balances of its rows, and the balance before them;
        per key, each `on_hand` row's wall and its move's last row's (a `reserved` row of
        the same key, reason and reference right after it)."""
        if self._read:
            return
        # Each key's latest row: its field, reason and reference.
        previous: dict[Key, tuple[str, str, str]] = {}
        for wh, item, name, change, after, at, reason, reference in self.conn.execute(
            "SELECT warehouse_code, item_code, field, change, balance_after, wall_time,"
            " reason, reference FROM wms.stock_ledger WHERE field IN ('on_hand', 'reserved')"
            " ORDER BY seq"
        ):
            key, wall = (str(wh), str(item)), float(at)
            row = (str(name), str(reason), str(reference))
            walls, balances, _ = self._series.setdefault(
                (key, str(name)), ([], [], int(after) - int(change))
            )
            walls.append(wall)
            balances.append(int(after))
            moved, settled, reasons = self._moves.setdefault(key, ([], [], []))
            if name == "on_hand":
                moved.append(wall)
                settled.append(wall)
                reasons.append(row[1])
            elif previous.get(key) == ("on_hand", *row[1:]):  # the same move's second row
                settled[-1] = wall
            previous[key] = row
        for wh, item, on_hand, reserved in self.conn.execute(
            "SELECT warehouse_code, item_code, on_hand, reserved FROM wms.stock"
        ):
            for name, now in (("on_hand", on_hand), ("reserved", reserved)):
                self._series.setdefault(((str(wh), str(item)), name), ([], [], int(now)))
        self._read = True


class _OmsKnowledge:
    """Per key: what the WMS answered each inventory.query (by wall time), the opening
    stock, and each sale's units in the OMS (by wall time); the WMS's ledger only when a set
    had no query before it."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.reads: dict[Key, tuple[list[float], list[Read]]] = {}
        if table_in_run(conn, "wms", "inventory_reads"):
            for wh, item, on_hand, reserved, sim, wall in conn.execute(
                "SELECT warehouse_code, item_code, on_hand, reserved, sim_time, wall_time"
                " FROM wms.inventory_reads ORDER BY seq"
            ):
                walls, reads = self.reads.setdefault((str(wh), str(item)), ([], []))
                walls.append(float(wall))
                reads.append(
                    Read(float(wall), str(sim), int(on_hand), int(reserved), "inventory.query")
                )
        self.opening = {
            (str(wh), str(item)): int(qty)
            for wh, item, qty in conn.execute(
                "SELECT warehouse_code, item_code, initial_qty FROM wms.stock"
            )
        }
        self.sales: dict[Key, tuple[list[float], list[int]]] = {}
        for wh, spec, wall, units in conn.execute(
            "SELECT o.warehouse_no, l.spec_no, o.paid_wall, l.num FROM oms.orders AS o"
            " JOIN oms.order_lines AS l ON l.trade_no = o.trade_no ORDER BY o.paid_wall"
        ):
            walls, totals = self.sales.setdefault((str(wh), str(spec)), ([], [0]))
            walls.append(float(wall))
            totals.append(totals[-1] + int(units))
        self.balances = WmsBalances(conn)

    def sold(self, key: Key, after: float, upto: float) -> int:
        """Units of `key` the OMS sold after wall time `after`, up to `upto`."""
        walls, totals = self.sales.get(key, ([], [0]))
        return totals[bisect.bisect_right(walls, upto)] - totals[bisect.bisect_right(walls, after)]

    def read_behind(self, key: Key, set_wall: float | None, set_sim: str | None) -> Read:
        """The read the OMS's stock of `key` was last set from: the last inventory.query
        answer for it no later than the set; the opening stock when only seeded; the WMS's
        ledger at the set when no query came before it (no read-then-set allowance)."""
        if set_wall is None:
            return Read(0.0, "", self.opening.get(key, 0), 0, "opening")
        walls, reads = self.reads.get(key, ([], []))
        index = bisect.bisect_right(walls, set_wall)
        if index:
            return reads[index - 1]
        on_hand, reserved = (
            self.balances.at(key, field, set_wall) for field in ("on_hand", "reserved")
        )
        return Read(set_wall, set_sim or "", on_hand, reserved, "ledger at the set")


def _judge_oms_snapshots(conn: sqlite3.Connection, findings: dict[Key, Finding]) -> set[Key]:
    """Compare the OMS's available plus reserved with the WMS's sound on hand at each
    snapshot, less what the OMS could not know yet (`oms_in_flight`); returns the keys
    compared. What is left is the OMS's stock at its last set against the available of the
    read behind it (never below 0), less the sales since."""
    knowledge = _OmsKnowledge(conn)
    behind: dict[tuple[Key, float | None], Read] = {}  # a set stays the last for many snapshots
    keys: set[Key] = set()
    rows = conn.cursor()
    rows.row_factory = None
    for sid, sim, taken, wh, spec, available, reserved, set_sim, set_wall, on_hand in rows.execute(
        "SELECT o.snapshot_id, o.taken_sim, o.taken_wall, o.warehouse_no, o.spec_no,"
        " o.stock_num, o.reserved, o.set_sim, o.set_wall, COALESCE(w.on_hand, 0)"
        " FROM oms.stock_snapshots AS o LEFT JOIN wms.inventory_snapshots AS w"
        " ON w.snapshot_id = o.snapshot_id AND w.warehouse_code = o.warehouse_no"
        " AND w.item_code = o.spec_no ORDER BY o.snapshot_id"
    ):
        key = (str(wh), str(spec))
        keys.add(key)
        finding = findings.get(key)
        if finding is not None and finding.oms_snapshot is not None:
            continue  # the first snapshot that differs is the example's
        read = behind.get((key, set_wall))
        if read is None:
            read = behind[(key, set_wall)] = knowledge.read_behind(key, set_wall, set_sim)
        after = float("-inf") if set_wall is None else float(set_wall)
        sold = knowledge.sold(key, after, float(taken))
        total = int(available) + int(reserved)
        flying = oms_in_flight(read, sold, int(reserved), int(on_hand))
        off = total - int(on_hand) - flying
        if off and differs(off, max(abs(int(on_hand)), abs(total))):
            finding = findings[key]
            finding.problems.append(OMS_AT_SNAPSHOT)
            finding.oms_snapshot = {
                "snapshot": int(sid),
                "at": str(sim),
                "wms_on_hand": int(on_hand),
                "oms_available": int(available),
                "oms_reserved": int(reserved),
                "in_flight": flying,
                "last_set": set_sim,
                "read": {
                    "how": read.how,
                    "at": read.sim,
                    "on_hand": read.on_hand,
                    "reserved": read.reserved,
                },
                "sold_since_set": sold,
                "expected_oms_available": max(read.available, 0) - sold,
            }
    return keys


def oms_at_end(conn: sqlite3.Connection) -> tuple[set[Key], dict[Key, dict[str, int]]]:
    """The OMS against the WMS now: every key either has, and the figures of those whose
    available plus reserved differs from the WMS's sound on hand by more than the OMS could
    not know and than 0.5 %."""
    sound = {
        (str(wh), str(item)): int(units)
        for wh, item, units in conn.execute(
            "SELECT warehouse_code, item_code, on_hand FROM wms.stock"
        )
    }
    oms = _oms_end(conn)
    behind: dict[Key, dict[str, int]] = {}
    for key in sound.keys() | oms.keys():
        available, reserved, cancelled, lost = oms.get(key, (0, 0, 0, 0))
        wms = sound.get(key, 0)
        total = available + reserved
        off = abs(wms - total) - cancelled - lost
        if off > 0 and differs(off, max(abs(wms), abs(total))):
            behind[key] = {
                "wms_on_hand": wms,
                "oms_available": available,
                "oms_reserved": reserved,
                "cancelled_or_back_since_last_push": cancelled,
                "of_lost_orders": lost,
            }
    return sound.keys() | oms.keys(), behind


def oms_keys_behind(conn: sqlite3.Connection) -> int:
    """How many (warehouse, item) the OMS's stock is not in step with the WMS's yet, as the
    end check would find them (0 when the WMS reports no stock changes: nothing to keep in
    step with). The drain waits for it: a connector still retrying its last stock push when
    the rest of the work is done is not done."""
    if not table_in_run(conn, "erp", "inventory_moves") or not oms_pushed(conn):
        return 0
    return len(oms_at_end(conn)[1])


def _judge_snapshots(
    conn: sqlite3.Connection, ledgers: Ledgers, findings: dict[Key, Finding]
) -> None:
    """Compare each snapshot with the ERP's books at its moment, less what was in flight.

    A month of snapshots is hundreds of thousands of rows: they are streamed in the table's
    order (by snapshot) as plain tuples, and the ERP's books walked forward alongside, each
    posting applied once."""
    if not ledgers.snapshots:
        return
    walls = [wall for _, _, wall in ledgers.snapshots]
    flying = _in_flight_at(ledgers, walls)
    position = {sid: index for index, (sid, _, _) in enumerate(ledgers.snapshots)}
    book = dict(ledgers.opening)
    postings = sorted(ledgers.erp_moves)
    posted = 0
    known: set[Key] = set()  # keys the WMS has had: stock rows are never deleted

    def compare(index: int, key: Key, wms: int) -> None:
        erp, moving = book.get(key, 0), flying[index].get(key, 0)
        difference = wms - moving - erp
        if difference and differs(difference, max(abs(wms), abs(erp))):
            finding = findings[key]
            if finding.snapshot is None:
                sid, sim, _ = ledgers.snapshots[index]
                finding.problems.append(AT_SNAPSHOT)
                finding.snapshot = {
                    "snapshot": sid,
                    "at": sim,
                    "wms": wms,
                    "in_flight": moving,
                    "erp": erp,
                }

    def erp_only(index: int) -> None:
        for key in book.keys() - known:
            compare(index, key, 0)

    rows = conn.cursor()
    rows.row_factory = None
    index = -1
    for sid, wh, item, units in rows.execute(
        "SELECT snapshot_id, warehouse_code, item_code, on_hand + unsaleable"
        " FROM wms.inventory_snapshots ORDER BY snapshot_id"
    ):
        if index < 0 or ledgers.snapshots[index][0] != sid:
            if index >= 0:
                erp_only(index)
            index = position[sid]
            while posted < len(postings) and postings[posted][0] <= walls[index]:
                _, p_wh, p_item, _, units_posted = postings[posted]
                book[(p_wh, p_item)] = book.get((p_wh, p_item), 0) + units_posted
                posted += 1
        key = (wh, item)
        known.add(key)
        compare(index, key, units)
    if index >= 0:
        erp_only(index)


def three_ledgers_agree(
    conn: sqlite3.Connection, objectives: Mapping[str, float]
) -> InvariantResult:
    if not table_in_run(conn, "erp", "inventory_moves"):
        return result(NAME, DESCRIPTIONS[NAME], 0, 0, [])  # a run from before book stock
    ledgers = read(conn)
    findings: dict[Key, Finding] = defaultdict(Finding)
    _judge_snapshots(conn, ledgers, findings)
    keys = set(ledgers.wms_end) | set(ledgers.erp_end)
    for key in keys:
        wms, erp = ledgers.wms_end.get(key, 0), ledgers.erp_end.get(key, 0)
        if differs(wms - erp, max(abs(wms), abs(erp))):
            findings[key].problems.append(AT_END)
            findings[key].end = {"wms": wms, "erp": erp}
    pushed = oms_pushed(conn)
    oms_snapshots = pushed and table_in_run(conn, "oms", "stock_snapshots")
    if oms_snapshots:
        keys |= _judge_oms_snapshots(conn, findings)
    if pushed:
        judged, behind = oms_at_end(conn)
        for key, figures in behind.items():
            findings[key].problems.append(OMS_AT_END)
            findings[key].oms = figures
        keys |= judged

    def example(key: Key, problems: list[str]) -> dict[str, Any]:
        finding = findings[key]
        wh, item = key
        return {
            "entity": f"{wh}/{item}",
            "problem": "; ".join(problems),
            "expected": "the ledgers agree within 0.5 % (at least a unit), less what is in flight",
            "observed": {
                name: value
                for name, value in (
                    ("first_snapshot", finding.snapshot),
                    ("end", finding.end),
                    ("oms_first_snapshot", finding.oms_snapshot),
                    ("oms_end", finding.oms),
                )
                if value is not None
            },
            "wms_moves": [
                {"wall": w, "order": c, "units": u}
                for w, h, i, c, u in ledgers.wms_moves
                if (h, i) == key
            ][-MAX_LEDGER_LINES:],
            "erp_moves": [
                {"wall": w, "order": c, "units": u}
                for w, h, i, c, u in ledgers.erp_moves
                if (h, i) == key
            ][-MAX_LEDGER_LINES:],
        }

    ordered = sorted(keys | findings.keys())
    violations, breakdown, examples = judge_rows(
        ordered, lambda key: findings[key].problems if key in findings else [], example
    )
    verdict = result(NAME, DESCRIPTIONS[NAME], len(ordered), violations, examples, breakdown)
    taken = len(ledgers.snapshots)
    snapshots = f"{taken} snapshot{'' if taken == 1 else 's'}"
    if oms_snapshots:
        scope = f"WMS, ERP and OMS; {snapshots}"
    elif pushed:  # a run from before the OMS's stock snapshots
        scope = f"WMS, ERP and OMS, the OMS at the end only; {snapshots}"
    else:
        scope = (
            "WMS and ERP only (the WMS reported no stock change, so the OMS could not keep"
            f" in step); {snapshots}"
        )
    verdict.summary = f"{verdict.summary} ({scope})"
    return verdict


CHECKS = (three_ledgers_agree,)
