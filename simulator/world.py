"""The seeded world: catalog, owners, shops, warehouses, customers and initial stock."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from faker import Faker

CATEGORIES: dict[str, tuple[int, int, float, float]] = {
    # category: (min price yuan, max price yuan, min kg, max kg)
    "apparel": (39, 699, 0.2, 1.2),
    "shoes": (99, 1299, 0.6, 1.8),
    "electronics": (59, 4999, 0.1, 3.5),
    "beauty": (29, 899, 0.05, 0.8),
    "home": (19, 1599, 0.3, 12.0),
    "food": (9, 299, 0.2, 5.0),
}
PLATFORMS = ("TM", "JD", "DY")
PLATFORM_NAMES = {"TM": "天猫", "JD": "京东", "DY": "抖音"}


@dataclass(frozen=True)
class Sku:
    item_code: str  # 16 digits, as the seeds' master data demands
    name: str
    category: str
    weight_kg: float
    price_cents: int
    popularity_rank: int  # 1 = most popular (Zipf)


def barcode_of(item_code: str, generation: int = 0) -> str:
    """An EAN-13 barcode (prefix 69: China) derived from the item code, no random draw; a
    later `generation` is the barcode a relabelled item gets."""
    body = f"69{(int(item_code) + generation * 7919) % 10**10:010d}"
    odd = sum(int(digit) for digit in body[0::2])
    even = sum(int(digit) for digit in body[1::2])
    return body + str((10 - (odd + even * 3) % 10) % 10)


@dataclass(frozen=True)
class Owner:
    """A cargo owner (货主): shops and stock belong to one."""

    code: str
    name: str


@dataclass(frozen=True)
class Supplier:
    """A supplier (供应商) of one cargo owner, with the seeds' 10-digit code."""

    code: str
    name: str
    owner_code: str

    @property
    def bank_account(self) -> str:
        """Where it is paid: an 18-digit account number derived from its code."""
        return f"62284800{self.code}"


def suppliers_of(owners: list[Owner], per_owner: int = 2) -> list[Supplier]:
    """Each owner's suppliers, numbered without a random draw: adding them changes no traffic."""
    return [
        Supplier(f"{3100000000 + index * 1000 + n:010d}", f"{owner.name}供应商{n}", owner.code)
        for index, owner in enumerate(owners, start=1)
        for n in range(1, per_owner + 1)
    ]


@dataclass(frozen=True)
class Shop:
    shop_no: str
    name: str
    platform: str
    owner_code: str


@dataclass(frozen=True)
class Warehouse:
    code: str
    name: str
    province: str
    city: str
    area: str
    address: str
    carrier_code: str  # default express company (Kdniao ShipperCode)
    pickers: int
    packers: int


@dataclass(frozen=True)
class Customer:
    name: str
    mobile: str
    province: str
    city: str
    area: str
    address: str


@dataclass(frozen=True)
class NewTradeLine:
    """One line of a paid platform order; `share_cents` is what the buyer paid for it."""

    spec_no: str
    goods_name: str
    num: int
    price_cents: int
    share_cents: int
    oid: str | None = None  # the platform's sub-order id; None: `<tid>-<line number>`


@dataclass(frozen=True)
class NewTrade:
    """A platform order the simulator (or a platform push) hands to the OMS once paid.

    Times are simulated `yyyy-MM-dd HH:mm:ss`; None means "now" when the OMS stores it.
    """

    src_tid: str
    shop_no: str
    warehouse_no: str
    logistics_code: str
    receiver: Customer
    lines: tuple[NewTradeLine, ...]
    post_cents: int = 0
    trade_time: str | None = None
    pay_time: str | None = None
    buyer_nick: str = ""
    # A split trade: the warehouse holding each line, in line order (empty: `warehouse_no`
    # holds them all). The OMS splits the trade into one sub-order per warehouse.
    line_warehouses: tuple[str, ...] = ()


@dataclass
class World:
    seed: int
    owners: list[Owner]
    shops: list[Shop]
    warehouses: list[Warehouse]
    skus: list[Sku]
    customers: list[Customer]
    initial_stock: dict[tuple[str, str], int] = field(default_factory=dict)
    suppliers: list[Supplier] = field(default_factory=list)

    def sku(self, item_code: str) -> Sku:
        return self._sku_index[item_code]

    def supplier_of(self, item_code: str) -> Supplier:
        """An item's supplier: fixed by its position in the catalogue, no draw (its cargo
        owner is the item's owner in the purchasing and transfer flows)."""
        index = self.skus.index(self.sku(item_code))
        return self.suppliers[index % len(self.suppliers)]

    def __post_init__(self) -> None:
        self._sku_index = {sku.item_code: sku for sku in self.skus}
        if not self.suppliers:
            self.suppliers = suppliers_of(self.owners)


WAREHOUSE_SITES = (
    ("WH-GZ01", "广州主仓", "广东省", "广州市", "白云区", "太和镇物流园1号", "SF"),
    ("WH-WH01", "武汉仓", "湖北省", "武汉市", "东西湖区", "走马岭物流大道8号", "YTO"),
    ("WH-CD01", "成都仓", "四川省", "成都市", "双流区", "西航港物流中心3号", "ZTO"),
)


def build_world(
    seed: int,
    *,
    sku_count: int = 200,
    customer_count: int = 2000,
    warehouse_count: int = 2,
    stock_per_sku: int = 5000,
    pickers: int = 8,
    packers: int = 6,
    locale: str = "zh_CN",
) -> World:
    """Everything static in the world, the same for the same seed and parameters."""
    rng = random.Random(seed)
    fake = Faker(locale)
    fake.seed_instance(seed)

    owners = [Owner("OWNER-A", "山海优选"), Owner("OWNER-B", "云杉生活")]
    shops = [
        Shop(
            f"{platform}-{owner.code[-1]}",
            f"{owner.name}{PLATFORM_NAMES[platform]}旗舰店",
            platform,
            owner.code,
        )
        for owner in owners
        for platform in PLATFORMS
    ]
    warehouses = [
        Warehouse(code, name, prov, city, area, addr, carrier, pickers, packers)
        for code, name, prov, city, area, addr, carrier in WAREHOUSE_SITES[:warehouse_count]
    ]

    skus: list[Sku] = []
    used_codes: set[str] = set()
    categories = list(CATEGORIES)
    for rank in range(1, sku_count + 1):
        category = rng.choice(categories)
        low, high, kg_low, kg_high = CATEGORIES[category]
        code = str(rng.randrange(10**15, 10**16))
        while code in used_codes:
            code = str(rng.randrange(10**15, 10**16))
        used_codes.add(code)
        price_yuan = rng.randint(low, high)
        skus.append(
            Sku(
                item_code=code,
                name=f"{fake.word()}{category_label(category)}",
                category=category,
                weight_kg=round(rng.uniform(kg_low, kg_high), 2),
                price_cents=price_yuan * 100 - rng.choice((0, 0, 1, 10)),
                popularity_rank=rank,
            )
        )

    customers = []
    for _ in range(customer_count):
        province = fake.province()
        customers.append(
            Customer(
                name=fake.name(),
                mobile=fake.phone_number(),
                province=province,
                city=fake.city(),
                area=fake.district() + "区",
                address=fake.street_address(),
            )
        )

    stock = {(wh.code, sku.item_code): stock_per_sku for wh in warehouses for sku in skus}
    return World(seed, owners, shops, warehouses, skus, customers, stock)


def category_label(category: str) -> str:
    return {
        "apparel": "T恤",
        "shoes": "运动鞋",
        "electronics": "蓝牙耳机",
        "beauty": "精华液",
        "home": "收纳箱",
        "food": "坚果礼盒",
    }[category]
