"""Faulty connector, defect "ignores CANCELEDFAIL": a cancel the WMS refuses is let go.

Its author carries a buyer's cancellation to the WMS with `order.cancel`, as the reference
does, but reads the WMS's CANCELEDFAIL (a picker has started) as "the cancel did not happen"
and lets the order go on as a sale: shipped in the OMS, booked in the ERP, completed when
the buyer signs. Nobody asks the carrier to stop the parcel, so it reaches the buyer who
cancelled it, and the refund waits forever: the buyer is charged for goods they cancelled.
`cancelled_after_picking_returned` must catch it, and nothing else.
"""

from __future__ import annotations

from typing import Any

from connectors.reference.callbacks import CallbackHandlers
from connectors.reference.connector import Connector
from connectors.reference.store import OUTBOUND_STEPS, SHIPMENT_STEPS, Step
from connectors.reference.workflow import Workflow


class IgnoresCanceledfailHandlers(CallbackHandlers):
    """The reference callbacks; built with the workflow, they replace what it does on a
    CANCELEDFAIL (the reference's hook that receives the running workflow)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        workflow = self.workflow
        if not isinstance(workflow, Workflow):
            return

        let_go: set[str] = set()
        cancel_order = workflow.cancel_order

        def cancel_unless_let_go(trade: dict[str, Any]) -> None:
            # The poll sees the refund still waiting on every later pass: the author's "it did
            # not happen" holds for those too.
            if str(trade["trade_no"]) not in let_go:
                cancel_order(trade)

        def carry_on(trade_no: str) -> None:
            # The cancellation is forgotten: every step it skipped is due again.
            let_go.add(trade_no)
            with workflow.store._transaction() as conn:
                conn.execute(
                    "UPDATE orders SET cancelled_wall = NULL WHERE trade_no = ?", (trade_no,)
                )
                conn.execute(
                    "UPDATE steps SET status = 'pending', next_attempt = 0"
                    " WHERE trade_no = ? AND status = 'skipped'",
                    (trade_no,),
                )
            pending = workflow.store.pending_steps(trade_no)
            if pending & set(OUTBOUND_STEPS):
                workflow.start_order(trade_no)
            if pending & set(SHIPMENT_STEPS):
                workflow.start_shipment(trade_no)
            elif Step.OMS_COMPLETED in pending:
                workflow.start_completion(trade_no)

        workflow.on_canceledfail = carry_on  # type: ignore[method-assign]
        workflow.cancel_order = cancel_unless_let_go  # type: ignore[method-assign]


class IgnoresCanceledfail(Connector):
    handlers = IgnoresCanceledfailHandlers
