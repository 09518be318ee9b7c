"""旺店通旗舰版 OMS client: signed `/openapi` calls, the trade query, shipping and trace uploads."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import orjson

from connectors.reference.clients.http import HttpClient, get_json, post
from connectors.reference.mapper import RETURN_REFUND_TYPE, Trade
from connectors.reference.retry import PermanentError, RetryableError
from connectors.reference.signing import qimen_sign, wdt_qimen_sign, wdt_sign

SYSTEM = "oms"
CHINA = ZoneInfo("Asia/Shanghai")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
PAGE_SIZE = 100  # the fake's maximum (the doc advises below 200)
# Paid trades to fulfil (30) and cancelled ones (5): a trade cancelled after we took it shows
# up again, as 5, in the window of its cancellation (its modified time moves). Shipped ones
# (95) too: a buyer's refund asked after picking may find the trade already marked shipped,
# and it must still be seen (its lines' refund_status moves its modified time).
POLLED_STATUSES = "5,30,95"
# Return refunds (退货退款) once the buyer has sent the goods back (40, with the return waybill).
# 旗舰版 timestamps count seconds from 2012-01-01 00:00:00 (Unix 1325347200).
EPOCH_2012 = 1325347200

# `status` codes worth retrying: 7, a stale timestamp (our clock drifted); 99, server trouble.
RETRYABLE_CODES = frozenset({7, 99})
# Status 100 is every business refusal; only these messages (the per-minute call and
# concurrency limits) say "later", as the public PHP client's shouldRetry() reads them.
RATE_LIMIT_STATUS = 100
RATE_LIMIT_MESSAGES = ("超过每分钟最大调用频率限制", "超过每分钟最大并发次数限制")


def parse_time(text: str) -> datetime:
    return datetime.strptime(text, TIME_FORMAT).replace(tzinfo=CHINA)


def format_time(moment: datetime) -> str:
    return moment.astimezone(CHINA).strftime(TIME_FORMAT)


@dataclass(frozen=True)
class OmsClock:
    """The OMS's simulated now, and the simulated seconds since its run began."""

    now: datetime
    sim_seconds: float

    @property
    def run_start(self) -> datetime:
        return self.now - timedelta(seconds=self.sim_seconds)


@dataclass(frozen=True)
class QimenApp:
    """The integrator's Qimen (TOP) app and 旺店通's app on Qimen: the Qimen custom scenario,
    the only way to Taobao/Tmall trades (`/openapi` never returns them)."""

    app_key: str
    secret: str
    target_app_key: str


@dataclass(frozen=True)
class TradePage:
    total_count: int
    trades: list[Trade]


TAOBAO_TRADE_QUERY = "wdt.sales.tradequery.querywithdetail"


class OmsClient:
    """Calls `POST {url}/openapi?sid&key&salt&method&timestamp&v[&page_size&page_no]&sign`
    with the body a JSON array of the method's positional arguments (旗舰版)."""

    def __init__(
        self,
        client: HttpClient,
        url: str,
        sid: str,
        app_key: str,
        app_secret: str,
        qimen: QimenApp | None = None,
    ) -> None:
        self.client = client
        self.url = url
        self.sid = sid
        self.app_key = app_key
        # 旺店通 issues the appsecret as `secret:salt`: sign with the one, send the other.
        self.secret, _, self.salt = app_secret.partition(":")
        self.qimen = qimen

    def signed_params(
        self,
        method: str,
        body: str,
        timestamp: int | None = None,
        pager: tuple[int, int] | None = None,
    ) -> dict[str, str]:
        """The query string of one call; the sign covers the body under the name `body`."""
        unix = int(time.time()) if timestamp is None else timestamp
        params = {
            "sid": self.sid,
            "key": self.app_key,
            "salt": self.salt,
            "method": method,
            "timestamp": str(unix - EPOCH_2012),
            "v": "1.0",
        }
        if pager is not None:
            params.update(page_size=str(pager[0]), page_no=str(pager[1]), calc_total="1")
        params["sign"] = wdt_sign(self.secret, {**params, "body": body})
        return params

    async def call(self, method: str, *args: Any, pager: tuple[int, int] | None = None) -> Any:
        """One call with positional `args`; the answer, raises on transport failure or a
        non-zero `status`."""
        body = orjson.dumps(list(args)).decode()
        response = await post(
            self.client,
            SYSTEM,
            f"{self.url}/openapi",
            params=self.signed_params(method, body, pager=pager),
            content=body.encode(),
            headers={"Content-Type": "application/json; charset=utf-8"},
        )
        try:
            answer = orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise RetryableError(SYSTEM, f"{method}: answer is not JSON") from exc
        status = answer.get("status") if isinstance(answer, dict) else None
        if status == 0:
            return answer.get("data")
        reason = answer.get("message") if isinstance(answer, dict) else answer
        message = f"{method}: status {status}: {reason}"
        throttled = status == RATE_LIMIT_STATUS and any(
            text in str(reason) for text in RATE_LIMIT_MESSAGES
        )
        if status in RETRYABLE_CODES or throttled:
            raise RetryableError(SYSTEM, message)
        raise PermanentError(SYSTEM, message)

    async def clock(self) -> OmsClock:
        """`GET /_fake/clock`: the one thing a connector cannot know by itself in a simulation."""
        answer = await get_json(self.client, SYSTEM, f"{self.url}/_fake/clock")
        try:
            return OmsClock(parse_time(answer["now_text"]), float(answer["sim_seconds"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise RetryableError(SYSTEM, f"unexpected clock answer {answer!r}") from exc

    async def query_paid(self, start: datetime, end: datetime, page_no: int) -> TradePage:
        """One page of paid (30) and cancelled (5) trades with start <= modified < end."""
        data = await self.call(
            "sales.TradeQuery.queryWithDetail",
            {
                "start_time": format_time(start),
                "end_time": format_time(end),
                "status": POLLED_STATUSES,
            },
            pager=(PAGE_SIZE, page_no),
        )
        if not isinstance(data, dict):
            raise RetryableError(SYSTEM, "query answer without data")
        return TradePage(int(data.get("total_count") or 0), list(data.get("order") or []))

    def taobao_query_form(
        self, start: datetime, end: datetime, page_no: int, now: datetime | None = None
    ) -> dict[str, str]:
        """The signed form of one Taobao-trade query page (`now`: the moment it is signed)."""
        if self.qimen is None:
            raise ValueError("no Qimen app: the Qimen custom route needs one")
        app = self.qimen
        method = TAOBAO_TRADE_QUERY
        stamp = (now or datetime.now(CHINA)).astimezone(CHINA).strftime(TIME_FORMAT)
        fields: dict[str, str] = {
            "datetime": stamp,
            "wdt_appkey": self.app_key,
            "wdt_salt": self.salt,
            "params": orjson.dumps(
                {
                    "start_time": format_time(start),
                    "end_time": format_time(end),
                    "status": POLLED_STATUSES,
                }
            ).decode(),
            "pager": orjson.dumps({"page_size": PAGE_SIZE, "page_no": page_no}).decode(),
        }
        fields["wdt_sign"] = wdt_qimen_sign(self.secret, {**fields, "method": method})
        form = {
            "app_key": app.app_key,
            "method": method,
            "timestamp": stamp,
            "v": "2.0",
            "sign_method": "md5",
            "format": "json",
            "target_app_key": app.target_app_key,
            "wdt3_customer_id": self.sid,
            **fields,
        }
        form["sign"] = qimen_sign(app.secret, form, "")
        return form

    async def query_paid_taobao(self, start: datetime, end: datetime, page_no: int) -> TradePage:
        """One page of paid and cancelled Taobao/Tmall trades through the Qimen custom scenario:
        `wdt.sales.tradequery.querywithdetail` at `{url}/router/qm`, Qimen-signed, with
        旺店通's `wdt_sign` inside (docs/protocols/oms.md)."""
        if self.qimen is None:
            return TradePage(0, [])
        method = TAOBAO_TRADE_QUERY
        form = self.taobao_query_form(start, end, page_no)
        response = await post(self.client, SYSTEM, f"{self.url}/router/qm", form=form)
        try:
            answer = orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise RetryableError(SYSTEM, f"{method}: answer is not JSON") from exc
        body = answer.get("response") if isinstance(answer, dict) else None
        if not isinstance(body, dict) or body.get("status") != 0:
            error = answer.get("error_response") if isinstance(answer, dict) else None
            raise PermanentError(SYSTEM, f"{method}: {body or error or answer!r}")
        data = body.get("data") or {}
        return TradePage(int(data.get("total_count") or 0), list(data.get("order") or []))

    async def search_returns(self, start: datetime, end: datetime, page_no: int) -> TradePage:
        """One page of return refunds (type 2), any status, with start <= modified < end: the
        connector carries those whose goods are on their way back (40, the buyer's return
        waybill known), and learns from the others which trades are being returned."""
        data = await self.call(
            "aftersales.refund.Refund.search",
            {
                "modified_from": format_time(start),
                "modified_to": format_time(end),
                "type": RETURN_REFUND_TYPE,
            },
            pager=(PAGE_SIZE, page_no),
        )
        if not isinstance(data, dict):
            raise RetryableError(SYSTEM, "refund search answer without data")
        return TradePage(int(data.get("total_count") or 0), list(data.get("order") or []))

    async def confirm_return(self, refund_no: str) -> None:
        """The returned goods are in the warehouse: the OMS settles the refund. ecomock's
        method: in production 旺店通 hears it from the WMS (returnorder.confirm)."""
        await self.call("ecomock.Refund.confirmReturn", {"refund_no": refund_no})

    async def mark_shipped(self, trade_no: str, logistics_code: str, logistics_no: str) -> None:
        """The waybill to the OMS. ecomock's method: in production 旺店通 hears it from the
        WMS (Qimen deliveryorder.confirm) and has no open method for it (docs/protocols/oms.md)."""
        await self.call(
            "ecomock.Trade.ship",
            {"trade_no": trade_no, "logistics_code": logistics_code, "logistics_no": logistics_no},
        )

    async def mark_package(
        self,
        trade_no: str,
        logistics_code: str,
        logistics_no: str,
        oids: list[str],
        goods_count: int,
    ) -> None:
        """One package of a split shipment to the OMS (is_part_sync 1, its sub-orders and
        units, as 旺店通's logistics sync records of 拆单发货 carry them); ecomock's method."""
        await self.call(
            "ecomock.Trade.ship",
            {
                "trade_no": trade_no,
                "logistics_code": logistics_code,
                "logistics_no": logistics_no,
                "is_part_sync": 1,
                "oids": ",".join(oids),
                "goods_count": goods_count,
            },
        )

    async def upload_trace(self, trade_no: str, logistics_no: str, state: int) -> None:
        """The signed parcel to the OMS: ecomock's method, 旺店通 has no trace upload."""
        await self.call(
            "ecomock.LogisticsTrace.upload",
            {"trade_no": trade_no, "logistics_no": logistics_no, "state": state},
        )
