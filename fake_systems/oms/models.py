"""Value types and errors of the OMS: new trades from the simulator, stored trades, query pages."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Generic, TypeVar


class TradeStatus(IntEnum):
    """旺店通 trade_status values the fake uses (10 unpaid and 55 reviewed are never reached)."""

    CANCELLED = 5
    PAID = 30  # awaiting review: the connector's cue to fulfil
    SHIPPED = 95
    COMPLETED = 110


T = TypeVar("T")

# 旺店通 platform ids (QJB-DOCS qjbguide_ptdmbb) of the world's platform codes, with the
# sub-platform: 1 淘宝 (sub 1 天猫), 3 京东, 69 抖店; anything else 127 其他（自有商城）.
PLATFORM_IDS: dict[str, tuple[int, int]] = {"TM": (1, 1), "JD": (3, 0), "DY": (69, 0)}
OWN_MALL = (127, 0)
# Platforms whose trades `/openapi` queries never return (QJB-DOCS queryWithDetail 注意事项:
# "本接口不返回淘系、拼多多…订单数据"): 1 淘宝/天猫 and 39 拼多多. Taobao-family trades come
# through the Qimen custom scenario; Pinduoduo's only from Pinduoduo itself.
HIDDEN_FROM_OPENAPI = frozenset({1, 39})
TAOBAO_FAMILY = frozenset({1})


def platform_ids(platform: str) -> tuple[int, int]:
    """(platform_id, sub_platform_id) of a world platform code."""
    return PLATFORM_IDS.get(platform, OWN_MALL)


class SyncStatus(IntEnum):
    """`sales.LogisticsSync.update` result codes (QJB-DOCS): synced, still to sync, failed."""

    SYNCED = 0
    RETRY = -100
    FAILED = 2


@dataclass(frozen=True)
class SyncRecord:
    """A logistics sync record: a shipped trade's waybill, waiting to reach the platform."""

    sync_id: int
    trade_no: str
    tid: str
    shop_no: str
    platform: str
    logistics_no: str
    logistics_code: str
    created: str
    # A package of a split shipment (拆单发货): 1, its sub-orders (src_oid, comma-separated)
    # and its units; a whole shipment: 0, "" and None.
    is_part_sync: int = 0
    oids: str = ""
    goods_count: int | None = None


# Kdniao-style trace state that means the parcel was signed for.
TRACE_SIGNED = 3
# trade_mask bit of a split trade's sub-orders (旺店通: 2048 拆分).
TRADE_MASK_SPLIT = 2048
# trade_mask bit of a trade some of whose packages have left, not all (旺店通: 64 部分发货).
TRADE_MASK_PART_SHIPPED = 64


@dataclass(frozen=True)
class TradeLine:
    """A stored order line (旺店通 `detail_list` entry)."""

    rec_id: int
    src_oid: str
    src_tid: str
    spec_no: str
    goods_name: str
    num: int
    price_cents: int
    share_cents: int
    refund_status: int


@dataclass(frozen=True)
class Trade:
    """A stored trade with its lines, as the query returns it."""

    trade_no: str
    src_tid: str
    platform: str
    shop_no: str
    owner_code: str
    warehouse_no: str
    logistics_code: str
    logistics_no: str | None
    trade_status: int
    trade_time: str
    pay_time: str
    modified: str
    receiver_name: str
    receiver_mobile: str
    receiver_province: str
    receiver_city: str
    receiver_district: str
    receiver_address: str
    goods_cents: int
    discount_cents: int
    post_cents: int
    paid_cents: int
    lines: tuple[TradeLine, ...]
    buyer_nick: str = ""
    created: str = ""  # when the trade entered the OMS (递交时间)
    consign_time: str | None = None  # when it was shipped; None until then
    trade_mask: int = 0  # 旺店通's flags: TRADE_MASK_SPLIT


@dataclass(frozen=True)
class TradePage:
    """One page of a modified-time window query."""

    total_count: int
    trades: tuple[Trade, ...]


@dataclass(frozen=True)
class PushError:
    """One refused trade of a push: `no` its tid (error_list's `no`), `error` why."""

    no: str
    error: str


@dataclass(frozen=True)
class PushResult:
    """What a raw trade push did: trades created, trades already known, trades refused."""

    new_count: int
    chg_count: int
    errors: tuple[PushError, ...] = ()


@dataclass(frozen=True)
class StockCount:
    """A stock count (盘点单) that overwrote stock: its id, number, and the specs skipped."""

    pd_id: int
    pd_no: str
    skipped: tuple[str, ...] = ()


class OmsError(Exception):
    """A request the OMS refuses; the adapter turns each subclass into its own wire code."""


class InvalidRequest(OmsError):
    """Missing, malformed or out-of-range business parameters."""


class WindowTooLong(InvalidRequest):
    """A query window longer than the method allows (60 minutes, or 30 days for refunds)."""

    def __init__(self, message: str, limit_text: str) -> None:
        super().__init__(message)
        self.limit_text = limit_text  # the limit as the real message writes it: 60分钟, 30天


class UnknownTrade(OmsError):
    """No trade with that trade_no."""


class StateConflict(OmsError):
    """The trade's state does not allow the operation (e.g. a second, different waybill)."""


class Forbidden(OmsError):
    """The caller's credential may not use this operation (e.g. an owner-scoped one)."""


class RefundType(IntEnum):
    """旺店通 售后 type (PROTOCOLS.md)."""

    REFUND_BEFORE_SHIPMENT = 1
    RETURN = 2
    EXCHANGE = 3
    REFUND_ONLY = 4


class RefundStatus(IntEnum):
    """旺店通 售后 status; the fake walks 20 -> 30 -> 40 -> 80 -> 90, or to 10 from 20/30."""

    CANCELLED = 10
    PENDING = 20
    REVIEWED = 30
    PUSHED = 40
    SETTLED = 80
    COMPLETED = 90


class LineRefundStatus(IntEnum):
    """`detail_list[].refund_status` of a trade line (subset of 旺店通's values)."""

    NONE = 0
    CANCELLED = 1
    APPLIED = 2
    REFUNDED = 5


@dataclass(frozen=True)
class RefundLine:
    src_oid: str
    spec_no: str
    num: int
    refund_cents: int


@dataclass(frozen=True)
class Refund:
    """An after-sales order (售后单) as the refund search returns it."""

    refund_no: str
    trade_no: str
    src_tid: str
    shop_no: str
    owner_code: str
    type: int
    status: int
    refund_cents: int
    reason: str
    created: str
    modified: str
    lines: tuple[RefundLine, ...]
    logistics_code: str | None = None  # a return's parcel back, once the buyer sent it
    logistics_no: str | None = None


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list: the whole list's size and this page's entries."""

    total_count: int
    items: tuple[T, ...]
