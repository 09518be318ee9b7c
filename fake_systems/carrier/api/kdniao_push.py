"""Kdniao tracking pushes: the carrier's TrackingChanged events rendered, signed, sent.

The service only says what changed and for whom (`TrackingChanged`); this module, on the
protocol side, makes the form Kdniao posts to a subscriber and hands it to the dispatcher:
RequestType 101 (轨迹推送) for a standard 1008 subscription, 102 (在途监控推送, with StateEx,
Location and each trace's Location/Action) for a value-added 8008 one (misu99/kdniao
`enum/request_type.go`; docs/protocols/carrier.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import orjson

from fake_systems.carrier.models import (
    STATE_EX_SIGNED,
    STATE_SIGNED,
    Trace,
    Tracking,
    TrackingChanged,
)
from fake_systems.carrier.service import CarrierService
from fake_systems.common.context import SystemContext
from fake_systems.common.credentials import KdniaoCredentials
from fake_systems.common.signing import kdniao_data_sign
from fake_systems.common.webhooks import Push, PushReply
from simulator.clock import format_qimen_time

PUSH_REQUEST_TYPE = "101"
VALUE_ADDED_PUSH_REQUEST_TYPE = "102"
PUSHES = (PUSH_REQUEST_TYPE, VALUE_ADDED_PUSH_REQUEST_TYPE)
FORM_HEADERS = {"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"}
# What a forger signs with instead of the api key: anything but the key.
FORGED = "-forged"


def tracking_to_wire(tracking: Tracking, ebusiness_id: str, value_added: bool) -> dict[str, Any]:
    """A parcel as one item of a push's Data[] (and, nearly, a 1002/8001 answer); StateEx
    and Location only in the value-added product's."""
    item: dict[str, Any] = {
        "EBusinessID": ebusiness_id,
        "OrderCode": tracking.order_code,
        "ShipperCode": tracking.shipper_code,
        "LogisticCode": tracking.logistic_code,
        "Success": True,
        "State": str(tracking.state),
    }
    if value_added:
        item.update(StateEx=tracking.state_ex, Location=tracking.location)
    item["Traces"] = [trace.to_wire(value_added) for trace in tracking.traces]
    return item


def push_accepted(reply: PushReply) -> bool:
    """The subscriber accepted a push if it answered JSON with `"Success": true`."""
    if reply.status_code != 200:
        return False
    try:
        answer = orjson.loads(reply.content)
    except orjson.JSONDecodeError:
        return False
    return isinstance(answer, dict) and answer.get("Success") is True


def tracking_push(
    event: TrackingChanged, api_key: str, now: datetime, *, forgeable: bool = True
) -> Push:
    """One push (101, or 102 when value-added) of the event to its callback, signed with
    the subscriber's api key; `push_forged` may send `forged_signing(event)` beside it."""
    data = [tracking_to_wire(event.tracking, event.account, event.value_added)]
    request_type = VALUE_ADDED_PUSH_REQUEST_TYPE if event.value_added else PUSH_REQUEST_TYPE
    body = {
        "EBusinessID": event.account,
        "PushTime": format_qimen_time(now),
        "Count": str(len(data)),  # a string on the wire (bububa/kdniao model/push.go)
        "Data": data,
    }
    request_data = orjson.dumps(body).decode()
    form = {
        "RequestData": request_data,
        "RequestType": request_type,
        "DataSign": kdniao_data_sign(request_data, api_key),
        "DataType": "2",
    }
    return Push(
        operation=request_type,
        entity=event.tracking.logistic_code,
        url=event.callback_url,
        content=urlencode(form).encode(),
        headers=FORM_HEADERS,
        accepted=push_accepted,
        payload_for_history=body,
        forge=(lambda: forged_push(event, api_key, now)) if forgeable else None,
    )


def forged_push(event: TrackingChanged, api_key: str, now: datetime) -> Push:
    """`push_forged`: the parcel "signed for" now, under a DataSign that is not the key's."""
    return tracking_push(forged_signing(event, now), api_key + FORGED, now, forgeable=False)


def forged_signing(event: TrackingChanged, now: datetime) -> TrackingChanged:
    """The parcel as if it had been signed for now (State 3, 301): what a forged push says,
    so that a connector acting on it completes an order whose parcel is still travelling."""
    tracking = event.tracking
    station = "快件已签收，签收人：本人"
    signed = Trace(format_qimen_time(now), station, tracking.location, STATE_EX_SIGNED)
    return replace(
        event,
        tracking=replace(
            tracking,
            state=STATE_SIGNED,
            state_ex=STATE_EX_SIGNED,
            traces=(*tracking.traces, signed),
        ),
    )


class TrackingPushes:
    """The carrier's `on_tracking`: each event becomes a push through the dispatcher."""

    def __init__(self, ctx: SystemContext, accounts: Mapping[str, KdniaoCredentials]) -> None:
        self.ctx = ctx
        self.accounts = accounts  # the service's own, live: accounts opened later count too

    def __call__(self, event: TrackingChanged) -> None:
        credentials = self.accounts.get(event.account)
        if credentials is None:
            return  # no key to sign with: an account the carrier never opened
        request_type = VALUE_ADDED_PUSH_REQUEST_TYPE if event.value_added else PUSH_REQUEST_TYPE
        # PushTime is the carrier's own clock (skewed by a `clock_skew` fault).
        now = self.ctx.now(request_type)
        self.ctx.dispatcher.send(tracking_push(event, credentials.api_key, now))


def attach(service: CarrierService) -> None:
    """Let the service's tracking changes go out as Kdniao pushes (idempotent)."""
    service.on_tracking = TrackingPushes(service.ctx, service.accounts)
