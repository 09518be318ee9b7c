"""Where the WMS's domain events go: one listener, the protocol side that tells the connector."""

from __future__ import annotations

from collections.abc import Sequence

from fake_systems.common.context import SystemContext
from fake_systems.wms.events import (
    Listener,
    OrderProgressed,
    OrderRef,
    StockChanged,
    StockMove,
    WmsEvent,
)
from fake_systems.wms.models import DeliveryStatus, WmsConfig
from simulator.clock import format_qimen_time


class Reports:
    """Emits the WMS's events; the optional ones (process and stock change reports) only
    when the config asks for them."""

    def __init__(self, ctx: SystemContext, config: WmsConfig) -> None:
        self.ctx = ctx
        self.config = config
        self._listener: Listener | None = None

    def listen(self, listener: Listener | None) -> None:
        """Send every event to `listener` from now on (None: to nobody); replaces the last."""
        self._listener = listener

    def emit(self, event: WmsEvent) -> None:
        if self._listener is not None:
            self._listener(event)

    def now(self, operation: str) -> str:
        """The time a report states: the WMS's own clock (skewed by a `clock_skew` fault)."""
        return format_qimen_time(self.ctx.now(operation))

    def order_progressed(
        self, order_id: str, status: DeliveryStatus, remark: str | None = None
    ) -> None:
        """orderprocess.report of a delivery order's new state, when enabled."""
        if not self.config.process_reports:
            return
        row = self.ctx.conn.execute(
            "SELECT delivery_order_code, owner_code, warehouse_code, order_type"
            " FROM delivery_orders WHERE delivery_order_id = ?",
            (order_id,),
        ).fetchone()
        order = OrderRef(row[0], order_id, row[1], row[2], row[3])
        out_biz_code = f"{order_id}-PROCESS-{status.value}"
        self.emit(
            OrderProgressed(
                order, status.value, self.now("orderprocess.report"), remark, out_biz_code
            )
        )

    def stock_changed(
        self,
        owner: str,
        order_code: str,
        order_type: str,
        out_biz_code: str,
        moves: Sequence[tuple[str, str, int]],
    ) -> None:
        """stockchange.report for (warehouse, item, signed quantity) moves of the owner's order,
        when enabled. The owner comes with the order: a code alone may name several owners'."""
        if not self.config.stock_change_reports:
            return
        self.emit(
            StockChanged(
                owner,
                order_code,
                order_type,
                out_biz_code,
                self.now("stockchange.report"),
                tuple(StockMove(*move) for move in moves),
            )
        )
