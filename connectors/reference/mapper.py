"""How an OMS trade becomes the other systems' requests: the connector's business rules.

`TradeMapper` is pure (no I/O, no clock), so every rule is unit-testable, and it is the
connector's extension point: a variant subclasses it and overrides one method.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from lxml import etree

from connectors.reference.money import cents_to_text, to_cents
from connectors.reference.stock_mapper import StockMapper

if TYPE_CHECKING:  # the store imports this module (Trade)
    from connectors.reference.store import Package

Trade = dict[str, Any]

# The OMS status of a paid trade awaiting review: the only one the connector fulfils.
PAID_STATUS = 30
# 旺店通's cancelled trade (a refund before shipment of every line cancels it).
CANCELLED_STATUS = 5
# A trade marked shipped in the OMS (a buyer's refund may still be waiting on it).
SHIPPED_STATUS = 95
# A detail line's refund_status while its refund waits for the merchant (申请退款).
REFUND_APPLIED = 2
RETURN_REFUND_TYPE = 2  # 旺店通 refund type 2: 退货 (a return after delivery)
SALE_ORDER_TYPE = "JYCK"
GOOD_INVENTORY = "ZP"
RETURN_ORDER_TYPE = "THRK"  # Qimen 退货入库
# K3 stock statuses (BD_StockStatus) a sales return books its goods in: available for what
# the warehouse passed as good (ZP), defective (不良) for the rest (CC and any other type).
AVAILABLE_STOCK_STATUS = "KCZT01_SYS"
DEFECTIVE_STOCK_STATUS = "KCZT08_SYS"
ERP_ORG = "100"
ERP_CURRENCY = "PRE001"  # K3's preset number for CNY

# Qimen `logisticsCode` -> Kdniao `ShipperCode` where the two spell a company differently
# (Qimen WMS spec's list against Kdniao's code table; the rest are spelled alike).
KDNIAO_SHIPPER_CODES = {
    "YUNDA": "YD",
    "EYB": "EMS",
    "POSTB": "YZPY",
    "BSKY": "BTWL",
    "TTKDEX": "HHTT",
    "DBKD": "DBL",
    "DBWL": "DBLKY",
    "DBKY": "DBLKY",
}

# The connector does not know the warehouses' addresses; the sender is the merchant's return
# address, which is what a merchant usually configures in a waybill template.
SENDER = {
    "Name": "ecomock 发货中心",
    "Mobile": "13800000000",
    "ProvinceName": "广东省",
    "CityName": "广州市",
    "ExpAreaName": "白云区",
    "Address": "太和镇物流园 1 号",
}


CHINA = ZoneInfo("Asia/Shanghai")
# 旺店通 platform ids (integers) as Qimen's sourcePlatformCode; 1 is 淘宝, sub-platform 1 天猫.
QIMEN_PLATFORMS = {3: "JD", 39: "PDD", 69: "DY", 75: "KS", 56: "XHS"}


def receiver_area(trade: Trade) -> tuple[str, str, str]:
    """Province, city and district names: 旗舰版 sends ids in `receiver_province`… and the
    names in `receiver_area`, "省 市 区" separated by spaces."""
    parts = str(trade.get("receiver_area") or "").split(" ")
    parts += [""] * (3 - len(parts))
    return parts[0], parts[1], " ".join(parts[2:]).strip()


def line_details(trade: Trade) -> list[dict[str, Any]]:
    details = trade.get("detail_list") or []
    if not details:
        raise ValueError(f"trade {trade.get('trade_no')} has no detail_list")
    return list(details)


# Qimen's times are China time as text (the clients import the mapper, not the reverse).
QIMEN_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def qimen_time(value: object) -> str:
    """A trade time as Qimen's `yyyy-MM-dd HH:mm:ss` (China time): text passes as it is,
    a number is read as milliseconds since the epoch (how 旺店通旗舰版 writes times)."""
    text = str(value or "").strip()
    if text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000, CHINA).strftime(QIMEN_TIME_FORMAT)
    return text


def unit_price_cents(amount_cents: int, quantity: int) -> int:
    """The line amount spread over its quantity, rounded half up to the cent (display only)."""
    if quantity <= 0:
        return amount_cents
    return (2 * amount_cents + quantity) // (2 * quantity)


class TradeMapper:
    """Turns a trade (the OMS JSON object) into Kdniao, Qimen and K3 payloads.

    Extension points, one rule each: `accepts` (which trades to fulfil), `is_cancelled`
    (which trades to stop), `delivery_order_code` (the WMS idempotency key),
    `outstock_amounts_cents` and `receivable_amounts_cents` (what each ERP line is worth);
    `stock` holds the stock flows' rules (connectors/reference/stock_mapper.py).
    """

    stock: StockMapper = StockMapper()

    # ---------------------------------------------------------------- rules

    def accepts(self, trade: Trade) -> bool:
        """Fulfil every paid trade (status 30), whatever its shop or platform."""
        return int(trade.get("trade_status", 0)) == PAID_STATUS

    def is_cancelled(self, trade: Trade) -> bool:
        """The buyer cancelled the trade before shipment: send it nowhere, stop it at the WMS."""
        return int(trade.get("trade_status", 0)) == CANCELLED_STATUS

    def is_return(self, refund: dict[str, Any]) -> bool:
        """A return refund (type 2), whatever its status: its trade was delivered."""
        return int(refund.get("type", 0)) == RETURN_REFUND_TYPE

    def follows_return(self, refund: dict[str, Any]) -> bool:
        """Carry every return refund (type 2) whose goods the buyer has sent back (40)."""
        return self.is_return(refund) and bool(refund.get("logistics_no"))

    def cancel_requested(self, trade: Trade) -> bool:
        """The buyer asked for a refund of every line of a paid trade and it waits for the
        merchant (type 1 after picking: the goods may be on their way): stop the goods. The
        trade may be marked shipped already (the WMS shipped before we saw the request)."""
        lines = trade.get("detail_list") or []
        return (
            int(trade.get("trade_status", 0)) in (PAID_STATUS, SHIPPED_STATUS)
            and bool(lines)
            and all(int(line.get("refund_status") or 0) == REFUND_APPLIED for line in lines)
        )

    def delivery_order_code(self, trade: Trade, attempt: int) -> str:
        """The WMS key is the trade number on every attempt, so a retried create is a no-op."""
        return str(trade["trade_no"])

    def paid_amounts_cents(self, trade: Trade) -> list[int]:
        """Per line what the buyer paid: the line's share, with the freight added to the last line.

        K3 receivables carry goods lines only; putting `post_amount` on the last line keeps the
        document total equal to the trade's `paid` without inventing a freight material.
        """
        amounts = [to_cents(str(line["share_amount"])) for line in line_details(trade)]
        amounts[-1] += to_cents(str(trade.get("post_amount") or "0"))
        return amounts

    def package_oids(self, trade: Trade, package: Package) -> list[str]:
        """The platform sub-orders (src_oid) a package holds, as 旺店通's 拆单发货 names them:
        its lines' orderLineNo is the trade line's rec_id."""
        by_rec_id = {str(d["rec_id"]): str(d["src_oid"]) for d in line_details(trade)}
        oids = [by_rec_id[line_no] for line_no, _, qty in package.lines if qty > 0]
        return list(dict.fromkeys(oids))

    def outstock_amounts_cents(self, trade: Trade) -> list[int]:
        return self.paid_amounts_cents(trade)

    def receivable_amounts_cents(self, trade: Trade) -> list[int]:
        return self.paid_amounts_cents(trade)

    # ---------------------------------------------------------------- carrier

    def shipper_code(self, trade: Trade) -> str:
        """The trade's express company in Kdniao's codes (the OMS and WMS speak Qimen's)."""
        code = str(trade["logistics_code"])
        return KDNIAO_SHIPPER_CODES.get(code, code)

    def waybill_request(self, trade: Trade) -> dict[str, Any]:
        """Kdniao 1007 RequestData; OrderCode = trade_no, so a repeat returns the same waybill."""
        details = line_details(trade)
        province, city, district = receiver_area(trade)
        return {
            "OrderCode": str(trade["trade_no"]),
            "ShipperCode": self.shipper_code(trade),
            "PayType": 1,
            "ExpType": 1,
            "Sender": dict(SENDER),
            "Receiver": {
                "Name": str(trade.get("receiver_name", "")),
                "Mobile": str(trade.get("receiver_mobile", "")),
                "ProvinceName": province,
                "CityName": city,
                # Kdniao requires a district; a buyer who left it out (it is then in the
                # address line) gets the city's name, which the carrier's address parsing
                # resolves, rather than no waybill at all.
                "ExpAreaName": district or city,
                "Address": str(trade.get("receiver_address", "")),
            },
            "Commodity": [
                {
                    "GoodsName": str(line.get("goods_name") or line["spec_no"]),
                    "Goodsquantity": int(line["num"]),
                }
                for line in details
            ],
            "Quantity": 1,
        }

    def subscribe_request(self, trade: Trade, logistic_code: str) -> dict[str, Any]:
        """Kdniao 1008 RequestData."""
        return {
            "OrderCode": str(trade["trade_no"]),
            "ShipperCode": self.shipper_code(trade),
            "LogisticCode": logistic_code,
        }

    def intercept_request(self, trade: Trade, logistic_code: str) -> dict[str, Any]:
        """1816 RequestData: return the parcel to the sender (InterceptType 2, 退回)."""
        return {
            "ShipperCode": self.shipper_code(trade),
            "LogisticCode": logistic_code,
            "OrderCode": str(trade["trade_no"]),
            "InterceptType": "2",
            "Reason": "买家取消订单",
        }

    # ---------------------------------------------------------------- WMS

    def source_platform_code(self, trade: Trade) -> str:
        """Qimen's platform code of 旺店通's integer `platform_id` (1 淘宝: TM for its
        sub-platform 1 天猫, else TB; 3 JD; 69 DY; …; OTHER)."""
        platform_id = int(trade.get("platform_id") or 0)
        if platform_id == 1:
            return "TM" if int(trade.get("sub_platform_id") or 0) == 1 else "TB"
        return QIMEN_PLATFORMS.get(platform_id, "OTHER")

    def cancel_xml(self, trade: Trade) -> str:
        """The Qimen order.cancel body of the trade's delivery order."""
        request = etree.Element("request")
        _add(
            request,
            warehouseCode=trade["warehouse_no"],
            ownerCode=trade["owner_code"],
            orderCode=self.delivery_order_code(trade, 1),
            orderType=SALE_ORDER_TYPE,
            cancelReason="买家取消订单",
        )
        return etree.tostring(request, encoding="unicode")

    def delivery_order_xml(self, trade: Trade, code: str, logistic_code: str) -> str:
        """The Qimen deliveryorder.create body."""
        details = line_details(trade)
        request = etree.Element("request")
        order = etree.SubElement(request, "deliveryOrder")
        pay_time = qimen_time(trade.get("pay_time"))
        created = qimen_time(trade.get("trade_time")) or pay_time
        _add(
            order,
            deliveryOrderCode=code,
            orderType=SALE_ORDER_TYPE,
            warehouseCode=trade["warehouse_no"],
            sourcePlatformCode=self.source_platform_code(trade),
            shopNick=trade["shop_no"],
            createTime=created,
            placeOrderTime=created,
            payTime=pay_time,
            operateTime=pay_time or created,  # the order became the ERP's to ship when paid
            logisticsCode=trade["logistics_code"],
            expressCode=logistic_code,
            totalAmount=cents_to_text(to_cents(str(trade.get("paid") or "0"))),
            freight=cents_to_text(to_cents(str(trade.get("post_amount") or "0"))),
        )
        sender = etree.SubElement(order, "senderInfo")
        _add(
            sender,
            name=SENDER["Name"],
            mobile=SENDER["Mobile"],
            province=SENDER["ProvinceName"],
            city=SENDER["CityName"],
            area=SENDER["ExpAreaName"],
            detailAddress=SENDER["Address"],
        )
        receiver = etree.SubElement(order, "receiverInfo")
        province, city, district = receiver_area(trade)
        _add(
            receiver,
            name=trade.get("receiver_name", ""),
            mobile=trade.get("receiver_mobile", ""),
            province=province,
            city=city,
            area=district,
            detailAddress=trade.get("receiver_address", ""),
        )
        lines = etree.SubElement(request, "orderLines")
        for detail in details:
            _add(
                etree.SubElement(lines, "orderLine"),
                orderLineNo=detail["rec_id"],
                sourceOrderCode=detail.get("src_tid") or trade.get("src_tids", ""),
                ownerCode=trade["owner_code"],
                itemCode=detail["spec_no"],
                planQty=int(detail["num"]),
                actualPrice=cents_to_text(to_cents(str(detail["share_amount"]))),
                inventoryType=GOOD_INVENTORY,
            )
        return str(etree.tostring(request, encoding="unicode"))

    def return_order_xml(self, trade: Trade, refund: dict[str, Any]) -> str:
        """The Qimen returnorder.create body of a return refund: returnOrderCode = refund_no,
        preDeliveryOrderCode = the delivery order it returns, expressCode = the buyer's return
        waybill (the refund's logistics_no), one orderLine per refunded line (planned ZP: the
        warehouse's quality check decides)."""
        request = etree.Element("request")
        order = etree.SubElement(request, "returnOrder")
        _add(
            order,
            returnOrderCode=refund["refund_no"],
            warehouseCode=trade["warehouse_no"],
            orderType=RETURN_ORDER_TYPE,
            ownerCode=trade["owner_code"],
            preDeliveryOrderCode=self.delivery_order_code(trade, 1),
            logisticsCode=refund.get("logistics_code") or trade["logistics_code"],
            expressCode=refund.get("logistics_no") or "",
            returnReason=refund.get("reason") or "",
        )
        lines = etree.SubElement(request, "orderLines")
        for index, detail in enumerate(refund.get("detail_list") or [], start=1):
            _add(
                etree.SubElement(lines, "orderLine"),
                orderLineNo=detail.get("oid") or index,
                ownerCode=trade["owner_code"],
                itemCode=detail["spec_no"],
                planQty=int(detail["num"]),
                inventoryType=GOOD_INVENTORY,
            )
        return str(etree.tostring(request, encoding="unicode"))

    def stock_status(self, inventory_type: str) -> str:
        """The K3 stock status of goods the WMS received as `inventory_type`."""
        if inventory_type == GOOD_INVENTORY:
            return AVAILABLE_STOCK_STATUS
        return DEFECTIVE_STOCK_STATUS

    def red_amounts_cents(self, trade: Trade, refund: dict[str, Any]) -> list[int]:
        """Per refunded line, what the buyer got back: the refund's own amounts (the paid
        share of the units returned, as the OMS computed it), never price x quantity."""
        return [to_cents(str(d["refund_amount"])) for d in refund.get("detail_list") or []]

    def return_stock_model(
        self,
        trade: Trade,
        refund: dict[str, Any],
        lines: list[dict[str, Any]],
        bill_date: str,
    ) -> dict[str, Any]:
        """K3 SAL_RETURNSTOCK Model: FBillNo = refund_no, FNote = trade_no, one entry per
        confirmed (item, inventoryType) with units, linked to the trade's SAL_OUTSTOCK."""
        per_unit = {
            str(d["spec_no"]): to_cents(str(d["refund_amount"])) // max(int(d["num"]), 1)
            for d in refund.get("detail_list") or []
        }
        entries = []
        for line in lines:
            quantity = int(line["actualQty"])
            if quantity <= 0:
                continue
            item = str(line["itemCode"])
            entries.append(
                {
                    "FMaterialID": {"FNumber": item},
                    "FRealQty": quantity,
                    "FAllAmount": cents_to_text(per_unit.get(item, 0) * quantity),
                    "FStockID": {"FNumber": str(trade["warehouse_no"])},
                    "FStockStatusId": {"FNumber": self.stock_status(str(line["inventoryType"]))},
                    "FSrcBillTypeID": "SAL_OUTSTOCK",
                    "FSrcBillNo": str(trade["trade_no"]),
                }
            )
        return {
            "FBillNo": str(refund["refund_no"]),
            "FNote": str(trade["trade_no"]),
            "FDate": bill_date,
            "FSaleOrgId": {"FNumber": ERP_ORG},
            "FStockOrgId": {"FNumber": ERP_ORG},
            "FRetcustId": {"FNumber": str(trade["shop_no"])},
            "FEntity": entries,
        }

    def red_receivable_model(
        self, trade: Trade, refund: dict[str, Any], bill_date: str
    ) -> dict[str, Any]:
        """K3 red AR_receivable Model: FBillNo = refund_no, negative quantities and amounts
        (the refunded amount in all), each entry linked to the trade's receivable."""
        entries = []
        details = refund.get("detail_list") or []
        for detail, amount in zip(details, self.red_amounts_cents(trade, refund), strict=True):
            quantity = int(detail["num"])
            entries.append(
                {
                    "FMATERIALID": {"FNumber": str(detail["spec_no"])},
                    "FPriceQty": -quantity,
                    "FTaxPrice": cents_to_text(unit_price_cents(amount, quantity)),
                    "FALLAMOUNTFOR": cents_to_text(-amount),
                    "FSOURCETYPE": "AR_receivable",
                    "FSourceBillNo": str(trade["trade_no"]),
                }
            )
        return {
            "FBillNo": str(refund["refund_no"]),
            "FNote": str(trade["trade_no"]),
            "FDATE": bill_date,
            "FCUSTOMERID": {"FNumber": str(trade["shop_no"])},
            "FCURRENCYID": {"FNumber": ERP_CURRENCY},
            "FSETTLEORGID": {"FNumber": ERP_ORG},
            "FEntityDetail": entries,
        }

    # ---------------------------------------------------------------- ERP

    def outstock_model(
        self, trade: Trade, bill_date: str, shipped: Mapping[str, int] | None = None
    ) -> dict[str, Any]:
        """K3 SAL_OUTSTOCK Model: FBillNo = FNote = trade_no, one entry per line; `shipped`
        (units per orderLineNo, summed over the packages of a split shipment) gives each
        line's quantity, else the trade's."""
        entries = []
        for detail, amount in zip(
            line_details(trade), self.outstock_amounts_cents(trade), strict=True
        ):
            quantity = int(detail["num"])
            if shipped is not None:
                quantity = shipped.get(str(detail["rec_id"]), 0)
            entries.append(
                {
                    "FMaterialID": {"FNumber": str(detail["spec_no"])},
                    "FRealQty": quantity,
                    "FTaxPrice": cents_to_text(unit_price_cents(amount, quantity)),
                    "FAllAmount": cents_to_text(amount),
                    "FStockID": {"FNumber": str(trade["warehouse_no"])},
                }
            )
        return {
            "FBillNo": str(trade["trade_no"]),
            # The trade in the note as well: whatever number a document ends up under, the
            # note says which trade it books (the judge links documents by either).
            "FNote": str(trade["trade_no"]),
            "FDate": bill_date,
            "FSaleOrgId": {"FNumber": ERP_ORG},
            "FStockOrgId": {"FNumber": ERP_ORG},
            "FCustomerID": {"FNumber": str(trade["shop_no"])},
            "FEntity": entries,
        }

    def receivable_model(self, trade: Trade, bill_date: str) -> dict[str, Any]:
        """K3 AR_receivable Model: its total is the trade's `paid` to the cent."""
        entries = []
        for detail, amount in zip(
            line_details(trade), self.receivable_amounts_cents(trade), strict=True
        ):
            quantity = int(detail["num"])
            entries.append(
                {
                    "FMATERIALID": {"FNumber": str(detail["spec_no"])},
                    "FPriceQty": quantity,
                    "FTaxPrice": cents_to_text(unit_price_cents(amount, quantity)),
                    "FALLAMOUNTFOR": cents_to_text(amount),
                }
            )
        return {
            "FBillNo": str(trade["trade_no"]),
            "FNote": str(trade["trade_no"]),
            "FDATE": bill_date,
            "FCUSTOMERID": {"FNumber": str(trade["shop_no"])},
            "FCURRENCYID": {"FNumber": ERP_CURRENCY},
            "FSETTLEORGID": {"FNumber": ERP_ORG},
            "FEntityDetail": entries,
        }


def _add(parent: etree._Element, **fields: object) -> None:
    """Append `<name>text</name>` children in the given (Qimen's usual) order."""
    for name, value in fields.items():
        etree.SubElement(parent, name).text = "" if value is None else str(value)
