"""Kdniao carrier client: form envelopes with DataSign; 1007 waybills, 1008 subscriptions,
ecomock's 1816 interception and ecomock's 1950 fee statements (Kdniao publishes neither;
docs/protocols/carrier.md)."""

from __future__ import annotations

from typing import Any

import orjson

from connectors.reference.clients.http import HttpClient, post
from connectors.reference.retry import PermanentError, RetryableError
from connectors.reference.signing import kdniao_data_sign

SYSTEM = "carrier"
# ResultCode 105 (other) and 405 (query limit) may pass later; 101-104 are our own mistakes.
RETRYABLE_RESULT_CODES = frozenset({"105", "405"})
# 1816's refusal once the buyer signed for the parcel: no retry will stop it.
INTERCEPT_TOO_LATE = "快件已签收，无法拦截"


class KdniaoClient:
    """Posts `RequestData`, `EBusinessID`, `RequestType`, `DataSign`, `DataType=2` as a form."""

    def __init__(self, client: HttpClient, url: str, ebusiness_id: str, api_key: str) -> None:
        self.client = client
        self.url = url
        self.ebusiness_id = ebusiness_id
        self.api_key = api_key

    def envelope(self, request_type: str, data: dict[str, Any]) -> dict[str, str]:
        request_data = orjson.dumps(data).decode()
        return {
            "RequestData": request_data,
            "EBusinessID": self.ebusiness_id,
            "RequestType": request_type,
            "DataSign": kdniao_data_sign(request_data, self.api_key),
            "DataType": "2",
        }

    async def call(self, path: str, request_type: str, data: dict[str, Any]) -> dict[str, Any]:
        response = await post(
            self.client, SYSTEM, f"{self.url}{path}", form=self.envelope(request_type, data)
        )
        try:
            answer = orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise RetryableError(SYSTEM, f"{request_type}: answer is not JSON") from exc
        if not isinstance(answer, dict):
            raise RetryableError(SYSTEM, f"{request_type}: unexpected answer {answer!r}")
        if answer.get("Success") is True:
            return answer
        code = str(answer.get("ResultCode") or "")
        message = f"{request_type}: ResultCode {code or '?'} {answer.get('Reason') or ''}".strip()
        if code in RETRYABLE_RESULT_CODES and answer.get("Reason") != INTERCEPT_TOO_LATE:
            raise RetryableError(SYSTEM, message)
        raise PermanentError(SYSTEM, message)

    async def create_waybill(self, data: dict[str, Any]) -> str:
        """1007; returns the LogisticCode. A repeated OrderCode answers the same number."""
        answer = await self.call("/api/EOrderService", "1007", data)
        order = answer.get("Order")
        code = order.get("LogisticCode") if isinstance(order, dict) else None
        if not code:
            raise RetryableError(SYSTEM, "1007: success without Order.LogisticCode")
        return str(code)

    async def subscribe(self, data: dict[str, Any]) -> None:
        """1008: ask for 101 pushes for one waybill."""
        await self.call("/api/dist", "1008", data)

    async def intercept(self, data: dict[str, Any]) -> str:
        """1816: stop the parcel and return it to the sender; the request's status
        (`requested`, then tracking says 413 and 406). PermanentError once it was signed."""
        answer = await self.call("/api/EOrderService", "1816", data)
        return str(answer.get("InterceptStatus") or "requested")

    async def statements(self, page: int, size: int) -> dict[str, Any]:
        """1950 without StatementNo: a page of the account's closed fee statements."""
        return await self.call("/api/EOrderService", "1950", {"PageIndex": page, "PageSize": size})

    async def statement_lines(self, number: str, page: int, size: int) -> dict[str, Any]:
        """1950 with StatementNo: the statement's header and a page of its lines."""
        return await self.call(
            "/api/EOrderService",
            "1950",
            {"StatementNo": number, "PageIndex": page, "PageSize": size},
        )
