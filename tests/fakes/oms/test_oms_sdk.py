"""SDK conformance: requests built exactly as the public 旺店通旗舰版 clients build them.

Written from the clients' code (docs/protocols/research/issue15-public-sources.md §1.2), not
from ecomock's: nothing here imports the fake's or the connector's signing.

- PHP-WESTNG `westng/wangdian-sdk-php` `WdtErpClient` (a refactor of the official wdtsdk.php):
  appsecret `secret:salt` split at the first colon; `buildRequest` puts sid, key, salt,
  method, `timestamp = time() - 1325347200`, v and, for `pageCall`, page_size, page_no,
  calc_total in the query; `body = json_encode($args, JSON_UNESCAPED_UNICODE)` (so `/` is
  written `\\/`); `makeSign`: ksort, md5(secret + k1v1k2v2… + secret); POST with
  `Content-Type: application/json`; `status > 0` raises with `message`.
- GO-MARVIS `go-marvis/wangdian-sdk-go` `core/transport.go`: always one object, body
  `json.Marshal([]any{req})` (map keys sorted, `<>&` escaped as `\\u003c`…),
  `Content-Type: application/json; charset=utf-8`, the same sign.
- DENO-WAYWAKE `waywake/wdt-sdk-deno` `buildSign`: the same string, keys `.sort()`ed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime, tzinfo
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import httpx
import pytest

from fake_systems.common.context import SystemContext
from fake_systems.common.credentials import OmsCredentials
from fake_systems.oms.api import wdt
from fake_systems.oms.service import OmsService
from simulator.world import World

APPSECRET = "sdk-secret:sdk-salt"  # as 旺店通 issues it
CHINA = ZoneInfo("Asia/Shanghai")
CREDS = OmsCredentials(sid="sdk-sid", app_key="sdk-key", app_secret=APPSECRET)
# PHP-WESTNG shouldRetry(): the two status-100 messages it retries.
PHP_RETRY_MESSAGES = (
    "超过每分钟最大调用频率限制，请稍后重试",
    "超过每分钟最大并发次数限制，请稍后重试",
)


class WdtErpException(Exception):
    """PHP-WESTNG's exception: the answer's `message` and `status` as code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def php_make_sign(secret: str, req: dict[str, Any]) -> str:
    """PHP-WESTNG `makeSign`: ksort, then md5(secret . k1 . v1 . k2 . v2 … . secret)."""
    parts = [secret]
    for key in sorted(req):
        if key != "sign":
            parts += [key, str(req[key])]
    parts.append(secret)
    return hashlib.md5("".join(parts).encode("utf-8")).hexdigest()


def deno_build_sign(secret: str, params: dict[str, str]) -> str:
    """DENO-WAYWAKE `buildSign`: keys sorted, `${secret}${k}${v}…${secret}`, md5 hex."""
    text = secret + "".join(f"{k}{params[k]}" for k in sorted(params)) + secret
    return hashlib.md5(text.encode("utf-8")).hexdigest()


class PhpWdtErpClient:
    """PHP-WESTNG `WdtErpClient` ported line by line: `call`, `pageCall`."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        sid: str,
        appkey: str,
        appsecret: str,
        now: Callable[[], float],
    ) -> None:
        self.http, self.sid, self.key, self.now = http, sid, appkey, now
        secret, sep, salt = appsecret.partition(":")
        assert sep, "密钥格式不正确，应为 secret:salt 格式"
        self.secret, self.salt = secret, salt

    @staticmethod
    def json_encode(args: list[Any]) -> str:
        # json_encode with JSON_UNESCAPED_UNICODE: compact, slashes escaped.
        return json.dumps(args, ensure_ascii=False, separators=(",", ":")).replace("/", "\\/")

    def build_request(
        self, method: str, pager: tuple[int, int, bool] | None, args: list[Any]
    ) -> tuple[str, str]:
        req: dict[str, Any] = {
            "sid": self.sid,
            "key": self.key,
            "salt": self.salt,
            "method": method,
            "timestamp": int(self.now()) - 1325347200,
            "v": "1.0",
        }
        if pager is not None:
            req["page_size"], req["page_no"] = pager[0], pager[1]
            req["calc_total"] = 1 if pager[2] else 0
        body = self.json_encode(args)
        req["body"] = body
        req = dict(sorted(req.items()))  # ksort($req) sorts in place, before the sign
        req["sign"] = php_make_sign(self.secret, req)
        del req["body"]
        return body, "/openapi?" + urlencode(req)

    async def execute(
        self, method: str, pager: tuple[int, int, bool] | None, args: list[Any]
    ) -> dict[str, Any]:
        body, url = self.build_request(method, pager, args)
        response = await self.http.post(
            url,
            content=body.encode("utf-8"),
            headers={"Content-Type": "application/json", "X-Version-SDK": "php-3.0"},
        )
        answer: dict[str, Any] = response.json()
        if answer.get("status", 0) > 0:
            raise WdtErpException(answer.get("message", "未知错误"), answer["status"])
        return answer

    async def call(self, method: str, *args: Any) -> Any:
        return (await self.execute(method, None, list(args))).get("data")

    async def page_call(self, method: str, pager: tuple[int, int, bool], *args: Any) -> Any:
        answer = await self.execute(method, pager, list(args))
        return answer if pager[2] else answer.get("data")


def go_marshal(value: Any) -> str:
    """Go's json.Marshal: compact, map keys sorted, `<`, `>`, `&` escaped."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


async def go_request(
    http: httpx.AsyncClient,
    now: Callable[[], float],
    method: str,
    req: dict[str, Any],
    page: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """GO-MARVIS `Client.Request`: one business object, always wrapped in an array."""
    secret, _, salt = APPSECRET.partition(":")
    params = {
        "sid": CREDS.sid,
        "key": CREDS.app_key,
        "salt": salt,
        "method": method,
        "timestamp": str(int(now()) - 1325347200),
        "v": "1.0",
    }
    if page is not None:
        params.update(page_size=str(page[0]), page_no=str(page[1]), calc_total="1")
    body = go_marshal([req])
    params["sign"] = deno_build_sign(secret, {**params, "body": body})
    response = await http.post(
        "/openapi",
        params=params,
        content=body.encode("utf-8"),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert response.status_code == 200  # GO-MARVIS treats any other status as transport error
    answer: dict[str, Any] = response.json()
    return answer


# ---------------------------------------------------------------- the worked examples


WORKED_1 = {
    "sid": "ecomock",
    "key": "oms_demo",
    "salt": "s4lt",
    "method": "sales.TradeQuery.queryWithDetail",
    "timestamp": "474652800",
    "v": "1.0",
    "page_size": "100",
    "page_no": "0",
    "calc_total": "1",
    "body": '[{"start_time":"2026-11-10 20:00:00","end_time":"2026-11-10 21:00:00",'
    '"status":"30,95"}]',
}
WORKED_2 = {
    "sid": "ecomock",
    "key": "oms_demo",
    "salt": "s4lt",
    "method": "sales.LogisticsSync.update",
    "timestamp": "474652800",
    "v": "1.0",
    "body": '[[{"sync_id":88950,"status":0,"error_msg":""}]]',
}


@pytest.mark.parametrize(
    ("params", "sign"),
    [
        (WORKED_1, "b2236f187cadf1ed96e81fa6428df54a"),
        (WORKED_2, "4c432ac8aac68bd72258d25fcc41caa4"),
    ],
)
@pytest.mark.parametrize("signer", [php_make_sign, deno_build_sign])
def test_the_worked_examples_as_two_public_clients_sign_them(
    signer: Callable[[str, dict[str, str]], str], params: dict[str, str], sign: str
) -> None:
    assert signer("s3cr3t", params) == sign


# QJB-DOCS sales.RawTrade.pushSelf2, 5.请求示例 (JSON), verbatim but for the codes the fake
# must know (spec_no) and the tid: `[shop_no, rawTradeList, rawTradeOrderList]`.
DOC_TRADE: dict[str, Any] = {
    "is_auto_wms": False,
    "post_amount": 2,
    "other_amount": 5.2,
    "discount": 1,
    "platform_cost": 0,
    "cod_amount": "",
    "received": "",
    "process_status": 10,
    "trade_status": 30,
    "refund_status": 0,
    "pay_status": 2,
    "order_count": 2,
    "pay_method": 2,
    "trade_time": "2020-03-20 18:24:37",
    "pay_time": "2020-03-20 18:24:37",
    "end_time": "2020-03-20 18:24:37",
    "buyer_nick": "test_openapi",
    "buyer_message": "test_openapi",
    "buyer_email": "test_openapi@gmail.com",
    "buyer_area": "test_area",
    "receiver_name": "receiver_name",
    "receiver_area": "北京 北京市 朝阳区",
    "receiver_address": "春天街道春天花园小区1号楼1单元101",
    "receiver_zip": "014500",
    "receiver_mobile": "15612340987",
    "receiver_telno": "02288888888",
    "invoice_type": 0,
    "invoice_title": "",
    "invoice_content": "",
    "logistics_type": -1,
    "consign_interval": 0,
    "delivery_term": 1,
    "to_deliver_time": "",
    "pay_id": "",
    "pay_account": "",
    "remark": "",
    "remark_flag": 0,
    "goods_count": 6,
    "receivable": 17.6,
}
DOC_LINE: dict[str, Any] = {
    "order_type": 0,
    "status": 30,
    "refund_status": 0,
    "goods_id": "openapi_gid-0",
    "spec_id": "openapi_sid-0",
    "goods_no": "api_gno-0",
    "goods_name": "api_gname-0",
    "spec_name": "api_sname-0",
    "num": 3,
    "price": 2.5,
    "adjust_amount": 2,
    "refund_amount": "",
    "discount": 0.5,
    "share_discount": 0.2,
    "total_amount": 9,
    "cid": "",
    "remark": "",
    "json": "",
}


def doc_example(spec_no: str, tid: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The doc's request example for one world SKU: its trade and its two lines (the
    second, as in the doc, also sending share_amount 8.8)."""
    lines = [
        {**DOC_LINE, "tid": tid, "oid": f"{tid}-0", "spec_no": spec_no},
        {**DOC_LINE, "tid": tid, "oid": f"{tid}-1", "spec_no": spec_no, "share_amount": 8.8},
    ]
    return {**DOC_TRADE, "tid": tid}, lines


# ---------------------------------------------------------------- against the fake


@pytest.fixture
def service(make_context: Callable[[str], SystemContext], world: World) -> OmsService:
    oms = OmsService(make_context("oms"), CREDS)
    oms.setup(world)
    return oms


@pytest.fixture
def http(
    service: OmsService, asgi_client: Callable[[object], httpx.AsyncClient]
) -> httpx.AsyncClient:
    return asgi_client(wdt.create_app(service, CREDS, rate_limit=30))


@pytest.mark.anyio
async def test_the_php_client_runs_a_flow(
    http: httpx.AsyncClient, service: OmsService, world: World
) -> None:
    php = PhpWdtErpClient(http, CREDS.sid, CREDS.app_key, APPSECRET, service.ctx.clock.wall)
    shops = await php.page_call("setting.Shop.queryShop", (100, 0, False), {})
    assert shops["total_count"] == len(world.shops)
    sku = world.skus[0]
    # The doc's PHP example: call("sales.RawTrade.pushSelf2", $shopNo, [$rawTrade], $orders).
    trade, lines = doc_example(sku.item_code, "T-1")
    trade["receiver_address"] = "科技园 3/5 号"  # PHP writes the slash as \/: the sign covers that
    pushed = await php.call("sales.RawTrade.pushSelf2", "JD-A", [trade], lines)
    assert pushed == {"chg_count": 0, "error_list": [], "new_count": 1}
    assert (
        service.conn.execute("SELECT receiver_address FROM orders").fetchone()[0] == "科技园 3/5 号"
    )
    window = {"start_time": "2026-11-10 19:30:00", "end_time": "2026-11-10 20:30:00"}
    # calc_total=1: pageCall returns the whole answer; a comma list in `status` is accepted.
    page = await php.page_call(
        "sales.TradeQuery.queryWithDetail", (100, 0, True), {**window, "status": "30,95"}
    )
    assert page["status"] == 0 and page["data"]["total_count"] == 1
    [order] = page["data"]["order"]
    assert order["src_tids"] == "T-1"
    none = await php.page_call(
        "sales.TradeQuery.queryWithDetail", (100, 0, False), {**window, "status": "95,110"}
    )
    assert none["total_count"] == 0
    refunds = await php.page_call(
        "aftersales.refund.Refund.search",
        (100, 0, False),
        {"modified_from": "2026-11-01 00:00:00", "modified_to": "2026-11-30 00:00:00"},
    )
    assert refunds == {"total_count": 0, "order": []}
    # The warehouse ships; the platform side pulls the logistics sync and acknowledges it,
    # with the doc's own request example's shape (status as the string "0").
    service.sync_logistics(order["trade_no"], "SF", "SF100")
    syncs = await php.page_call("sales.LogisticsSync.getSyncListExt", (100, 0, True), {})
    assert syncs["status"] == 0 and syncs["total"] == 1
    [sync] = syncs["data"]
    assert (sync["tid"], sync["logistics_no"], sync["platform_id"]) == ("T-1", "SF100", 3)
    ack = [{"sync_id": sync["sync_id"], "error_msg": "", "status": "0"}]
    assert await php.call("sales.LogisticsSync.update", ack) == []
    left = await php.page_call("sales.LogisticsSync.getSyncListExt", (100, 0, True), {})
    assert left["total"] == 0
    with pytest.raises(WdtErpException) as refused:
        await php.page_call(
            "sales.TradeQuery.queryWithDetail",
            (100, 0, False),
            {"start_time": "2026-11-10 19:00:00", "end_time": "2026-11-10 20:00:01"},
        )
    assert refused.value.code == 100
    assert str(refused.value) == "您的查询时间过宽,查询时间不能大于60分钟"
    with pytest.raises(WdtErpException) as unpaged:
        await php.call("sales.TradeQuery.queryWithDetail", window)
    assert (unpaged.value.code, str(unpaged.value)) == (
        100,
        "此方法仅支持分页查询：sales.TradeQuery.queryWithDetail",
    )


@pytest.mark.anyio
async def test_the_go_client_wraps_one_object_and_escapes_html(
    http: httpx.AsyncClient, service: OmsService
) -> None:
    now = service.ctx.clock.wall
    window = {"start_time": "2026-11-10 19:30:00", "end_time": "2026-11-10 20:30:00"}
    answer = await go_request(
        http, now, "sales.TradeQuery.queryWithDetail", {**window, "shop_no": "A&B<1>"}, (50, 0)
    )
    assert answer == {"status": 0, "data": {"total_count": 0, "order": []}}
    sync = await go_request(http, now, "sales.LogisticsSync.getSyncListExt", {}, (50, 0))
    # getSyncListExt answers flat: `total` beside `status`, `data` the list.
    assert sync == {"status": 0, "total": 0, "data": []}


@pytest.mark.anyio
async def test_errors_carry_the_documented_status_and_message(
    http: httpx.AsyncClient, service: OmsService
) -> None:
    clock = service.ctx.clock
    php = PhpWdtErpClient(http, CREDS.sid, CREDS.app_key, "sdk-secret:wrong-salt", clock.wall)
    with pytest.raises(WdtErpException) as wrong_salt:
        await php.call("setting.Shop.queryShop", {})
    assert wrong_salt.value.code == 1
    php = PhpWdtErpClient(http, CREDS.sid, CREDS.app_key, "other-secret:sdk-salt", clock.wall)
    with pytest.raises(WdtErpException) as wrong_secret:
        await php.page_call("setting.Shop.queryShop", (10, 0, False), {})
    assert (wrong_secret.value.code, str(wrong_secret.value)) == (1, "验证失败")
    late = PhpWdtErpClient(http, CREDS.sid, CREDS.app_key, APPSECRET, lambda: clock.wall() + 121)
    with pytest.raises(WdtErpException) as stale:
        await late.page_call("setting.Shop.queryShop", (10, 0, False), {})
    assert (stale.value.code, str(stale.value)) == (7, "时间戳错误")


@pytest.mark.anyio
async def test_the_docs_push_example_goes_in_and_a_bad_trade_comes_back_in_error_list(
    http: httpx.AsyncClient, service: OmsService, world: World
) -> None:
    """QJB-DOCS sales.RawTrade.pushSelf2: the request example as the PHP example sends it
    (`call(method, $shopNo, [$rawTrade], $tradeOderList)`); 6.1 `{"status":0,"data":
    {"chg_count":…,"error_list":[],"new_count":…}}`; 6.2 a refused trade in error_list as
    `{"error": …, "no": …}` with status 0, the others stored."""
    php = PhpWdtErpClient(http, CREDS.sid, CREDS.app_key, APPSECRET, service.ctx.clock.wall)
    sku = world.skus[0].item_code
    trade, lines = doc_example(sku, "tid-aqyYHjEldp")
    assert await php.call("sales.RawTrade.pushSelf2", "JD-A", [trade], lines) == {
        "chg_count": 0,
        "error_list": [],
        "new_count": 1,
    }
    stored = service.conn.execute(
        "SELECT receiver_province, receiver_city, receiver_district, post_cents, paid_cents"
        " FROM orders"
    ).fetchone()
    assert tuple(stored) == ("北京", "北京市", "朝阳区", 200, 1960)  # shares 8.8 + 8.8
    shares = service.conn.execute("SELECT num, price_cents, share_cents FROM order_lines")
    assert [tuple(r) for r in shares] == [(3, 250, 880), (3, 250, 880)]
    bad_trade, bad_lines = doc_example("NOT-A-SPEC", "ceshi20230109002")
    answer = await php.call(
        "sales.RawTrade.pushSelf2", "JD-A", [trade, bad_trade], [*lines, *bad_lines]
    )
    assert answer["chg_count"] == 1 and answer["new_count"] == 0
    [error] = answer["error_list"]
    assert error["no"] == "ceshi20230109002" and "NOT-A-SPEC" in error["error"]
    with pytest.raises(WdtErpException) as unknown:
        await php.call("sales.RawTrade.pushSelf2", "NO-SHOP", [trade], lines)
    # QJB-DOCS sales.RawTrade.pushSelf 6.2: the unknown shop's message.
    assert (unknown.value.code, str(unknown.value)) == (100, "店铺编号不存在或已停用")


@pytest.mark.anyio
async def test_the_obsolete_push_takes_the_same_arguments(
    http: httpx.AsyncClient, service: OmsService, world: World
) -> None:
    """sales.RawTrade.pushSelf ("接口已过时"): the same positional arguments as pushSelf2, and
    its answer 6.1 `{"chg_count": 0, "new_count": 1}` without error_list."""
    php = PhpWdtErpClient(http, CREDS.sid, CREDS.app_key, APPSECRET, service.ctx.clock.wall)
    trade, lines = doc_example(world.skus[0].item_code, "OLD-1")
    answer = await php.call("sales.RawTrade.pushSelf", "JD-A", [trade], lines)
    assert answer == {"chg_count": 0, "new_count": 1}


@pytest.mark.anyio
async def test_ecomocks_former_shapes_are_refused(
    http: httpx.AsyncClient, service: OmsService, world: World
) -> None:
    """No 旗舰版 page has `wms.StockSpec.push`, and the push takes no nested `order_list`:
    what the fake used to accept is refused as the real server refuses it."""
    php = PhpWdtErpClient(http, CREDS.sid, CREDS.app_key, APPSECRET, service.ctx.clock.wall)
    trade, lines = doc_example(world.skus[0].item_code, "NESTED-1")
    with pytest.raises(WdtErpException) as nested:
        await php.call("sales.RawTrade.pushSelf2", "JD-A", [{**trade, "order_list": lines}])
    assert nested.value.code == 1
    stock = [{"spec_no": world.skus[0].item_code, "warehouse_no": "WH01", "stock_num": 1}]
    with pytest.raises(WdtErpException) as gone:
        await php.call("wms.StockSpec.push", stock)
    assert gone.value.code == 1
    assert service.conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0] == 0


@pytest.mark.anyio
async def test_the_docs_stock_count_example_overwrites_the_stock(
    http: httpx.AsyncClient, service: OmsService, world: World
) -> None:
    """QJB-DOCS wms.StockPd.stockSyncByPd, its PHP example `call(method, $pdOrder,
    $specList)` with new_num "200.0000"; 6.1 `{"pd_no":"WP…","<id>":"ok"}`; 6.2 status 100
    `商家编码全不存在或都已删除` when no code is known."""
    php = PhpWdtErpClient(http, CREDS.sid, CREDS.app_key, APPSECRET, service.ctx.clock.wall)
    warehouse, sku = world.warehouses[0].code, world.skus[0].item_code
    pd_order = {"warehouse_no": warehouse, "defect_mode": 1, "remark": "API TEST"}
    spec = {"spec_no": sku, "remark": "PD TEST", "new_num": "200.0000", "defect": False}
    answer = await php.call("wms.StockPd.stockSyncByPd", pd_order, [spec])
    assert answer == {"pd_no": "WP202611100001", "1": "ok"}
    rows = service.conn.execute(
        "SELECT warehouse_no, spec_no, stock_num FROM stock WHERE pd_id IS NOT NULL"
    )
    assert [tuple(r) for r in rows] == [(warehouse, sku, 200)]
    with pytest.raises(WdtErpException) as unknown:
        await php.call("wms.StockPd.stockSyncByPd", pd_order, [{**spec, "spec_no": "PC_2018"}])
    assert (unknown.value.code, str(unknown.value)) == (100, "商家编码全不存在或都已删除")


@pytest.mark.anyio
async def test_the_rate_limit_is_what_the_php_client_retries(
    http: httpx.AsyncClient, service: OmsService
) -> None:
    php = PhpWdtErpClient(http, CREDS.sid, CREDS.app_key, APPSECRET, service.ctx.clock.wall)
    for _ in range(30):
        await php.page_call("setting.Warehouse.queryWarehouse", (10, 0, False), {})
    with pytest.raises(WdtErpException) as throttled:
        await php.page_call("setting.Warehouse.queryWarehouse", (10, 0, False), {})
    # shouldRetry(): status 100 and one of the two documented messages.
    assert throttled.value.code == 100 and str(throttled.value) in PHP_RETRY_MESSAGES


# ---------------------------------------------------------------- Taobao/Tmall: Qimen custom


def tmall_and_jd_trades(service: OmsService, world: World) -> None:
    """One paid trade in the Tmall shop TM-A and one in JD-A, pushed at 20:00."""
    for shop, tid in (("TM-A", "TMALL-1"), ("JD-A", "JD-1")):
        trade, lines = doc_example(world.skus[0].item_code, tid)
        assert service.push_raw_trades(shop, [trade], lines).new_count == 1


@pytest.mark.anyio
async def test_openapi_never_returns_taobao_or_tmall_trades(
    http: httpx.AsyncClient, service: OmsService, world: World
) -> None:
    """QJB-DOCS queryWithDetail: "本接口不返回淘系、拼多多…订单数据"; a connector that only
    polls /openapi loses every Tmall order."""
    tmall_and_jd_trades(service, world)
    php = PhpWdtErpClient(http, CREDS.sid, CREDS.app_key, APPSECRET, service.ctx.clock.wall)
    window = {"start_time": "2026-11-10 19:30:00", "end_time": "2026-11-10 20:30:00"}
    page = await php.page_call("sales.TradeQuery.queryWithDetail", (100, 0, False), window)
    assert [t["src_tids"] for t in page["order"]] == ["JD-1"] and page["total_count"] == 1
    assert service.conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0] == 2


def test_the_wdtqm_sdk_reads_tmall_trades_through_the_qimen_custom_route(
    service: OmsService, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """PyPI `wdtqm` 0.0.4 as published: its request goes to /router/qm unchanged; only its
    transport (requests.post) and its clock (Beijing time of the fake's wall) are swapped."""
    import wdtqm
    from starlette.testclient import TestClient

    tmall_and_jd_trades(service, world)
    wall = service.ctx.clock.wall()

    class BeijingNow(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> BeijingNow:
            moment = datetime.fromtimestamp(wall, CHINA).replace(tzinfo=None)
            return cls(*moment.timetuple()[:6])

    monkeypatch.setattr(wdtqm, "datetime", BeijingNow)
    with TestClient(wdt.create_app(service, CREDS)) as client:

        def post(url: str, data: dict[str, str], timeout: float) -> httpx.Response:
            assert url == "http://fake/router/qm"
            return client.post("/router/qm", data=data)

        monkeypatch.setattr(wdtqm.requests, "post", post)
        sdk = wdtqm.WdtQimenSDK(
            app_key=CREDS.qimen_app_key,
            app_secret=CREDS.qimen_secret,
            target_app_key=CREDS.qimen_target_app_key,
            wdt_app_key=CREDS.app_key,
            wdt_app_secret=APPSECRET,
            wdt3_customer_id=CREDS.sid,
            server_url="http://fake/router/qm",
        )
        params = {"start_time": "2026-11-10 19:30:00", "end_time": "2026-11-10 20:30:00"}
        business = {
            "params": json.dumps(params),
            "pager": json.dumps({"page_size": 50, "page_no": 0}),
        }
        answer = sdk.call_api("wdt.sales.tradequery.querywithdetail", business)
        assert answer["response"]["status"] == 0
        [trade] = answer["response"]["data"]["order"]
        assert (trade["src_tids"], trade["platform_id"], trade["sub_platform_id"]) == (
            "TMALL-1",
            1,
            1,
        )
        # A wrong Qimen app secret is the gateway's refusal (TOP error_response).
        wrong = wdtqm.WdtQimenSDK(
            app_key=CREDS.qimen_app_key,
            app_secret="not-the-secret",
            target_app_key=CREDS.qimen_target_app_key,
            wdt_app_key=CREDS.app_key,
            wdt_app_secret=APPSECRET,
            wdt3_customer_id=CREDS.sid,
            server_url="http://fake/router/qm",
        )
        with pytest.raises(Exception, match="code=25"):
            wrong.call_api("wdt.sales.tradequery.querywithdetail", business)
        # A wrong 旺店通 secret passes the gateway and fails 旺店通's wdt_sign check.
        inner = wdtqm.WdtQimenSDK(
            app_key=CREDS.qimen_app_key,
            app_secret=CREDS.qimen_secret,
            target_app_key=CREDS.qimen_target_app_key,
            wdt_app_key=CREDS.app_key,
            wdt_app_secret="other-secret:sdk-salt",
            wdt3_customer_id=CREDS.sid,
            server_url="http://fake/router/qm",
        )
        refused = inner.call_api("wdt.sales.tradequery.querywithdetail", business)
        assert refused == {"response": {"status": 1, "message": "验证失败"}}
