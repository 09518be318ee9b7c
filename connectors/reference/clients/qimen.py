"""Qimen WMS client: signed XML calls: deliveryorder.create, and order.cancel for a trade the
buyer cancelled."""

from __future__ import annotations

import re
from datetime import datetime

from lxml import etree

from connectors.reference.clients.http import HttpClient, post
from connectors.reference.clients.oms import CHINA, TIME_FORMAT
from connectors.reference.retry import PermanentError, RetryableError
from connectors.reference.signing import qimen_sign

SYSTEM = "wms"
PATH = "/router/qimen/service"
CREATE_METHOD = "taobao.qimen.deliveryorder.create"
CANCEL_METHOD = "taobao.qimen.order.cancel"
RETURN_CREATE_METHOD = "taobao.qimen.returnorder.create"
# order.cancel's answers that end the step without a cancel: the order never reached the
# WMS, or picking has started (too late: the parcel must be intercepted at the carrier).
ORDER_NOT_EXIST = "ORDER_NOT_EXIST"
CANCELEDFAIL = "CANCELEDFAIL"

# Untrusted XML: no entities, no network, no huge documents.
XML_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False)

# Qimen's convention: `isp.*` is the platform's own trouble (try later), `isv.*` is ours.
RETRYABLE_CODE_PREFIXES = ("isp.",)
RETRYABLE_CODES = frozenset(
    {"SYSTEM_ERROR", "SYSTEM_BUSY", "TIMEOUT", "accesscontrol.limited-by-api-access-count"}
)
# TOP's flow-control refusal says how long the ban lasts: "This ban will last for 5 more seconds".
BAN_SECONDS = re.compile(r"ban will last for (\d+) more seconds")


def parse_xml(body: bytes) -> etree._Element:
    """Parse a Qimen document safely; raises ValueError on anything that is not XML."""
    try:
        return etree.fromstring(body, XML_PARSER)
    except etree.XMLSyntaxError as exc:
        raise ValueError(f"not XML: {exc}") from exc


def child_text(node: etree._Element, path: str) -> str | None:
    found = node.find(path)
    if found is None or found.text is None:
        return None
    text = str(found.text).strip()
    return text or None


class QimenClient:
    """`POST {url}/router/qimen/service?method&timestamp&…&customerId&sign` with an XML body."""

    def __init__(
        self, client: HttpClient, url: str, app_key: str, secret: str, customer_id: str
    ) -> None:
        self.client = client
        self.url = url
        self.app_key = app_key
        self.secret = secret
        self.customer_id = customer_id

    def signed_params(self, method: str, body: str, now: datetime | None = None) -> dict[str, str]:
        params = {
            "method": method,
            "timestamp": (now or datetime.now(CHINA)).astimezone(CHINA).strftime(TIME_FORMAT),
            "format": "xml",
            "app_key": self.app_key,
            "v": "2.0",
            "sign_method": "md5",
            "customerId": self.customer_id,
        }
        params["sign"] = qimen_sign(self.secret, params, body)
        return params

    async def call(self, method: str, body: str) -> etree._Element:
        """One call; returns the `<response>` element of a success, raises otherwise."""
        response = await post(
            self.client,
            SYSTEM,
            f"{self.url}{PATH}",
            params=self.signed_params(method, body),
            content=body.encode(),
            headers={"Content-Type": "text/xml; charset=utf-8"},
        )
        try:
            root = parse_xml(response.content)
        except ValueError as exc:
            raise RetryableError(SYSTEM, f"{method}: {exc}") from exc
        flag = child_text(root, "flag")
        if flag == "success":
            return root
        code = child_text(root, "code") or ""
        message = f"{method}: {code} {child_text(root, 'message') or ''}".strip()
        if code in RETRYABLE_CODES or code.startswith(RETRYABLE_CODE_PREFIXES):
            ban = BAN_SECONDS.search(message)
            raise RetryableError(SYSTEM, message, retry_after=float(ban[1]) if ban else None)
        raise PermanentError(SYSTEM, message)

    async def create_delivery_order(self, body: str) -> str:
        """Send a deliveryorder.create body; returns the WMS's deliveryOrderId."""
        root = await self.call(CREATE_METHOD, body)
        delivery_order_id = child_text(root, "deliveryOrderId")
        if delivery_order_id is None:
            raise RetryableError(SYSTEM, "deliveryorder.create: success without deliveryOrderId")
        return delivery_order_id

    async def create_return_order(self, body: str) -> str:
        """Send a returnorder.create body; returns the WMS's returnOrderId."""
        root = await self.call(RETURN_CREATE_METHOD, body)
        order_id = child_text(root, "returnOrderId")
        if order_id is None:
            raise RetryableError(SYSTEM, "returnorder.create: success without returnOrderId")
        return order_id

    async def cancel_order(self, body: str) -> str:
        """Send an order.cancel body; returns "" when cancelled, else the WMS's refusal code
        ORDER_NOT_EXIST or CANCELEDFAIL. Other refusals raise as any call's."""
        try:
            await self.call(CANCEL_METHOD, body)
        except PermanentError as error:
            for code in (ORDER_NOT_EXIST, CANCELEDFAIL):
                if f": {code} " in f"{error.message} ":
                    return code
            raise
        return ""
