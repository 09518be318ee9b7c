"""The WMS domain service: composes the catalog, stock ledger, delivery orders, fulfilment and
inbound of the fake warehouse behind one surface, speaking only the domain."""

from __future__ import annotations

from collections.abc import Sequence

import simpy

from fake_systems.common.context import SystemContext
from fake_systems.common.credentials import QimenCredentials
from fake_systems.common.scope import OwnerScope
from fake_systems.common.storage import transaction
from fake_systems.wms.catalog import Catalog
from fake_systems.wms.counts import Counts
from fake_systems.wms.events import Listener, PackageShipped
from fake_systems.wms.fulfilment import Fulfilment
from fake_systems.wms.inbound import Inbound, ParcelLine
from fake_systems.wms.models import (
    ENTRY_ORDER_TYPES,
    RETURN_ORDER_TYPES,
    CarrierDesk,
    CreateResult,
    DeliveryOrderRequest,
    DeliveryOrderView,
    DeliveryStatus,
    InboundKind,
    InboundOrderRequest,
    InboundOrderView,
    InboundResult,
    InboundStatus,
    ItemRequest,
    StockView,
    TransferRequest,
    WmsConfig,
    WmsError,
)
from fake_systems.wms.orders import DeliveryOrders
from fake_systems.wms.reports import Reports
from fake_systems.wms.schema import SCHEMA
from fake_systems.wms.snapshots import Snapshots
from fake_systems.wms.stock import StockLedger
from fake_systems.wms.transfers import Transfers
from simulator.world import World

# The stock ledger's reason for goods back on the shelf from a parcel returned to the sender.
RETURNED_TO_SENDER = "returned_to_sender"

__all__ = ["CarrierDesk", "WmsConfig", "WmsError", "WmsService"]

EVERYONE = OwnerScope.EVERYONE


class WmsService:
    """A warehouse: takes delivery orders, reserves stock, picks, packs and ships.

    Each order runs NEW → ACCEPT → PICK → PACKAGE → DELIVERED as a SimPy process that queues
    for the warehouse's pickers and packers; cancellation is possible in NEW and ACCEPT only.
    On DELIVERED it reports the shipment (`PackageShipped`) and hands the parcel to the
    carrier. A configurable share of orders ships in two packages: PACKAGE → PARTDELIVERED
    (a partial shipment) → DELIVERED (the rest). With `process_reports` every state change is
    also reported (`OrderProgressed`), with `stock_change_reports` every stock move
    (`StockChanged`). Entry and return orders run NEW → ACCEPT → FULFILLED; on FULFILLED stock
    rises and the receipt is reported (`InboundReceived`). A transfer the ERP sends
    (transferorder.create) moves stock at once; one the warehouse raises (`transfers`,
    fake_systems/wms/transfers.py) ships as a DBCK outbound order (`StockoutConfirmed`) and is
    received later at the other warehouse as a DBRK entry order, less what was lost on the way.
    The events go to one listener (`listen`): the protocol side, which tells the connector
    (`api/qimen_push.py`, wired by `api/qimen.create_app`).

    Every command takes a `scope` (the caller's owners): orders and items of other owners are
    invisible (ORDER_NOT_EXIST / ITEM_NOT_EXIST), naming an owner outside the scope is refused
    (isv.permission-denied).

    LIMITATIONS (what the fake does not imitate):
    - No short picks, EXCEPTION/REJECT; every unit ordered is shipped in the end.
    - At most two packages per order (split by units in line order, the first holding half,
      rounded down); weight is the sum of catalog weights, no packaging material.
    - Process reports cover delivery orders only, not entry or return orders.
    - No batches, inventory types other than as recorded, locations, waves, PRINT/CHECK/WEIGH.
    - Stock is per (warehouse, item), not per owner: owners are kept apart by item ownership
      (items synchronised by an owner are that owner's; the world's catalog is shared).
    - Entry orders are received in full (actualQty = planQty), no PARTFULFILLED, no quality
      states. Return orders wait for the buyer's parcel (put there by the simulator, matched
      by expressCode, else preDeliveryOrderCode) and receive what it holds up to planQty, good
      units as ZP (saleable, `stock`), defective ones as CC (`unsaleable_stock`), whatever
      inventoryType the order asked for; no JS/XS/ZT grading, one parcel per return order,
      no check that more comes back than the delivery order shipped (the parcel holds no
      more). transferorder.create's transfers are instant (no DBCK/DBRK legs, no in-transit
      stock, no transferorder.report), and a defective (101) transfer moves the one stock pool
      too. The warehouse's own two-leg transfers ship at once (no picking, no waybill, no
      packages in stockout.confirm), move sound (ZP) stock only, and their DBRK entry order
      is the world's to receive (an order.cancel of it leaves the goods in transit for ever).
    - deliveryorder.create's required sender, receiver, times and prices are checked by
      the adapter and not kept.
    - Cycle counts (`counts`, fake_systems/wms/counts.py) are the warehouse's own: no
      inventorycheck.query, no count of defective stock, no paging of a long inventory.report
      (one page always), and an item counted below what orders reserve is counted at that.
    - The inventory snapshot (`snapshots`, fake_systems/wms/snapshots.py) is recorded in the
      WMS's database, not pushed: Qimen has no standard whole-inventory push.
    - Orders in flight are not resumed after a process restart (state lives in one run).
    - A repeated order code returns the first order even if the content differs.
    - A parcel back with the sender (intercepted or refused, `receive_returned_parcel`) is
      put back on the shelf whole, as good stock, without a return order (returnorder.*)
      or a quality check; its delivery order stays DELIVERED.
    """

    def __init__(
        self,
        ctx: SystemContext,
        credentials: QimenCredentials,
        config: WmsConfig | None = None,
        carrier: CarrierDesk | None = None,
    ) -> None:
        self.ctx = ctx
        # The connector's credentials: the protocol side signs the pushes with them.
        self.credentials = credentials
        self.carrier = carrier
        # Where the connector takes the WMS's reports; None: nothing is sent.
        self.confirm_callback_url: str | None = None
        self.conn = ctx.conn
        self.env: simpy.Environment = ctx.clock.env
        self.conn.executescript(SCHEMA)
        columns = {row[1] for row in self.conn.execute("PRAGMA table_info(delivery_orders)")}
        if "receiver_province" not in columns:  # an `ecomock up` folder from before it
            self.conn.execute(
                "ALTER TABLE delivery_orders ADD COLUMN receiver_province TEXT NOT NULL DEFAULT ''"
            )
        config = config or WmsConfig()
        self.catalog = Catalog(ctx)
        self.stock = StockLedger(ctx, self.catalog)
        self.reports = Reports(ctx, config)
        self.fulfilment = Fulfilment(ctx, config, self.catalog, self.stock, self.reports, carrier)
        self.orders = DeliveryOrders(
            ctx, self.catalog, self.stock, self.reports, self.fulfilment, carrier
        )
        self.inbound = Inbound(ctx, config, self.catalog, self.stock, self.reports)
        self.transfers = Transfers(ctx, self.catalog, self.stock, self.reports)
        self.counts = Counts(ctx, self.catalog, self.stock, self.reports)
        self.snapshots = Snapshots(ctx)
        self._config = config

    @property
    def config(self) -> WmsConfig:
        return self._config

    @config.setter
    def config(self, config: WmsConfig) -> None:
        """A new config applies to the work and reports still to come."""
        self._config = config
        self.reports.config = self.fulfilment.config = self.inbound.config = config

    def listen(self, listener: Listener | None) -> None:
        """Send the service's events to `listener` (one at a time; None: to nobody)."""
        self.reports.listen(listener)

    def setup(self, world: World) -> None:
        """Create the tables and seed warehouses, owners, items and initial stock from the world.

        Safe to call on an existing database: master data and stock already there are kept.
        """
        with transaction(self.conn):
            self.catalog.seed(world)
            self.stock.seed(world.initial_stock)
        self.catalog.load()
        self.fulfilment.staff()
        self.orders.load()

    # ---------------------------------------------------------------- delivery orders

    def create_delivery_order(
        self, request: DeliveryOrderRequest, scope: OwnerScope = EVERYONE
    ) -> CreateResult:
        """Create (or find again) a delivery order (`DeliveryOrders.create`)."""
        return self.orders.create(request, scope)

    def create_delivery_orders(
        self, requests: Sequence[DeliveryOrderRequest], scope: OwnerScope = EVERYONE
    ) -> list[CreateResult | WmsError]:
        """deliveryorder.batchcreate: each order on its own, all-or-nothing per order."""
        return self.orders.create_many(requests, scope)

    def cancel_order(
        self,
        order_code: str,
        owner_code: str | None = None,
        scope: OwnerScope = EVERYONE,
        order_type: str | None = None,
        warehouse_code: str | None = None,
    ) -> DeliveryStatus | InboundStatus:
        """Cancel an order in NEW or ACCEPT; returns its new status (CANCELED).

        A delivery order's reservation is released and its fulfilment stopped; an entry or
        return order (chosen by an inbound `order_type`) simply stops. Cancelling an already
        cancelled order succeeds again; later it raises WmsError(CANCELEDFAIL). With a
        `warehouse_code`, an order of another warehouse is not found (ORDER_NOT_EXIST).
        """
        if order_type in ENTRY_ORDER_TYPES or order_type in RETURN_ORDER_TYPES:
            kind = InboundKind.ENTRY if order_type in ENTRY_ORDER_TYPES else InboundKind.RETURN
            return self.inbound.cancel(kind, order_code, owner_code, scope, warehouse_code)
        return self.orders.cancel(order_code, owner_code, scope, warehouse_code)

    def query_delivery_order(
        self, order_code: str, owner_code: str | None = None, scope: OwnerScope = EVERYONE
    ) -> DeliveryOrderView:
        """The order with its lines; raises WmsError(ORDER_NOT_EXIST)."""
        return self.orders.query(order_code, owner_code, scope)

    def unmade_shipment(self) -> PackageShipped | None:
        """A shipment that did not happen, for `push_forged` (`Fulfilment.unmade_shipment`)."""
        return self.fulfilment.unmade_shipment()

    # ---------------------------------------------------------------- items and inventory

    def synchronize_item(
        self, action: str, request: ItemRequest, scope: OwnerScope = EVERYONE
    ) -> str:
        """singleitem.synchronize (`Catalog.synchronize_item`); returns the itemId."""
        return self.catalog.synchronize_item(action, request, scope)

    def query_inventory(
        self,
        criteria: Sequence[tuple[str | None, str, str | None]],
        scope: OwnerScope = EVERYONE,
    ) -> list[StockView]:
        """inventory.query: per (warehouseCode or None for all, itemCode, ownerCode) criterion,
        on hand and reserved per warehouse; items without a stock row count zero."""
        return self.stock.query(criteria, scope)

    # ---------------------------------------------------------------- inbound and transfers

    def create_inbound_order(
        self, request: InboundOrderRequest, scope: OwnerScope = EVERYONE
    ) -> InboundResult:
        """entryorder.create / returnorder.create (`Inbound.create`)."""
        return self.inbound.create(request, scope)

    def parcel_arrives(
        self,
        owner_code: str,
        warehouse_code: str,
        logistics_no: str,
        pre_delivery_order_code: str,
        lines: Sequence[ParcelLine],
    ) -> None:
        """A buyer's returned parcel is at the warehouse (`Inbound.parcel_arrives`)."""
        self.inbound.parcel_arrives(
            owner_code, warehouse_code, logistics_no, pre_delivery_order_code, lines
        )

    def query_inbound_order(
        self,
        kind: InboundKind,
        order_code: str,
        owner_code: str | None = None,
        scope: OwnerScope = EVERYONE,
    ) -> InboundOrderView:
        """entryorder.query / returnorder.query; raises WmsError(ORDER_NOT_EXIST)."""
        return self.inbound.query(kind, order_code, owner_code, scope)

    def receive_returned_parcel(self, order_code: str, owner_code: str) -> bool:
        """The world's: the shipped order's parcel came back to the sender (intercepted at the
        carrier, or refused by the buyer) and the warehouse shelves its goods again: on_hand
        grows by what shipped, ledger reason `returned_to_sender`. True if received now;
        False for a repeat or an order that did not ship."""
        conn = self.ctx.conn
        with transaction(conn):
            order = conn.execute(
                "SELECT delivery_order_id, warehouse_code FROM delivery_orders"
                " WHERE owner_code = ? AND delivery_order_code = ?"
                " AND status IN ('DELIVERED', 'PARTDELIVERED')",
                (owner_code, order_code),
            ).fetchone()
            if order is None:
                return False
            order_id = order["delivery_order_id"]
            done = conn.execute(
                "SELECT 1 FROM stock_ledger WHERE reason = ? AND reference = ? LIMIT 1",
                (RETURNED_TO_SENDER, order_id),
            ).fetchone()
            if done is not None:
                return False
            lines = conn.execute(
                "SELECT item_code, SUM(COALESCE(actual_qty, plan_qty)) AS qty"
                " FROM delivery_order_lines WHERE delivery_order_id = ?"
                " GROUP BY item_code ORDER BY item_code",
                (order_id,),
            ).fetchall()
            for line in lines:
                if line["qty"]:
                    self.stock.add(
                        order["warehouse_code"],
                        line["item_code"],
                        int(line["qty"]),
                        RETURNED_TO_SENDER,
                        order_id,
                    )
            self.ctx.history.record(
                "state", "returned_parcel", "received", order_code, {"deliveryOrderId": order_id}
            )
        return True

    def create_transfer(
        self, request: TransferRequest, scope: OwnerScope = EVERYONE
    ) -> tuple[str, bool]:
        """transferorder.create (`Inbound.transfer`): (transferOrderId, created)."""
        return self.inbound.transfer(request, scope)
