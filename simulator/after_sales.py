"""After-sales traffic the simulated buyers make: cancellations before shipment, played in
simulated time against the OMS (and, to know when the WMS has an order, the WMS) in process.

A buyer cancels a paid, unshipped trade the way 旺店通 sees it: a refund of type 1 (退款,
未发货) for every line, agreed at once, which cancels the trade (trade_status 5). Stage
`before_pickup` cancels `delay_seconds` after payment; `before_picking` waits until the WMS
has the delivery order (deliveryOrderCode = trade_no, as docs/CONTRACT.md asks) and cancels
`delay_seconds` later, while the order waits for a picker in scenarios that give the
connector time to intercept it (scenarios/after_sales.yaml).
"""

from __future__ import annotations

from collections.abc import Generator

import simpy

from fake_systems.oms.models import OmsError, RefundStatus, RefundType
from fake_systems.oms.service import OmsService
from fake_systems.wms.models import WmsError
from fake_systems.wms.service import WmsService
from simulator.demand import CancelPlan

# How often (simulated seconds) a `before_picking` buyer looks whether the WMS has the order,
# and for how long at most: an order that never reaches the WMS is cancelled all the same
# (the buyer does not wait for the warehouse).
WMS_LOOK_EVERY_SECONDS = 10.0
WMS_LOOK_FOR_SECONDS = 3600.0
# The steps of a 旺店通 refund from applied (20) to agreed and settled (80): the last
# cancels a trade none of whose lines is left unrefunded.
_AGREED = (RefundStatus.REVIEWED, RefundStatus.PUSHED, RefundStatus.SETTLED)
CANCEL_REASON = "买家取消订单"


class Cancellations:
    """Plays each planned cancellation as its own SimPy process; counts what it did."""

    def __init__(self, env: simpy.Environment, oms: OmsService, wms: WmsService) -> None:
        self.env = env
        self.oms = oms
        self.wms = wms
        self.planned = 0
        self.cancelled = 0
        self.by_stage: dict[str, int] = {}

    def plan(self, trade_no: str, plan: CancelPlan) -> simpy.events.Process:
        """Start the buyer's cancellation of `trade_no` (the demand's `cancel` callback)."""
        self.planned += 1
        self.by_stage[plan.stage] = self.by_stage.get(plan.stage, 0) + 1
        return self.env.process(self._play(trade_no, plan))

    def _play(self, trade_no: str, plan: CancelPlan) -> Generator[simpy.events.Event, object, None]:
        if plan.stage == "before_picking":
            waited = 0.0
            while not self._at_wms(trade_no) and waited < WMS_LOOK_FOR_SECONDS:
                yield self.env.timeout(WMS_LOOK_EVERY_SECONDS)
                waited += WMS_LOOK_EVERY_SECONDS
        yield self.env.timeout(plan.delay_seconds)
        if self.cancel(trade_no):
            self.cancelled += 1

    def _at_wms(self, trade_no: str) -> bool:
        trade = self.oms.get_trade(trade_no)
        if trade is None:
            return False
        try:
            self.wms.query_delivery_order(trade_no, trade.owner_code)
        except WmsError:
            return False
        return True

    def cancel(self, trade_no: str) -> bool:
        """The buyer's refund before shipment, agreed at once: the trade is cancelled. False
        if the OMS refuses it (the trade shipped meanwhile: a refund before shipment no
        longer applies)."""
        try:
            refund_no = self.oms.create_refund(
                trade_no, RefundType.REFUND_BEFORE_SHIPMENT, reason=CANCEL_REASON
            )
            for status in _AGREED:
                self.oms.advance_refund(refund_no, status)
        except OmsError:
            return False
        return True

    def report(self) -> dict[str, object]:
        """For report.json: the cancellations planned (by stage) and those the OMS made."""
        return {
            "planned": self.planned,
            "planned_by_stage": dict(sorted(self.by_stage.items())),
            "cancelled": self.cancelled,
        }
