"""The carrier's price card: a parcel's fee from its weight and zone, in CNY cents.

Like a Chinese express price card (首重 + 续重): a first-kilo price and a price per further
started kilo, by zone — the sender's province against the receiver's:
  same      同省 (the same province)                      first 800, each further kilo 200
  near      邻省 (a neighbouring province of the sender's)  first 1000, each further 500
  far       跨区 (any other, or a province not known)       first 1200, each further 800
Weight is billed by the started kilo (a 1.2 kg parcel pays 2 kilos), at least one kilo, from
the WMS's package weight in grams (rounded half up: no float reaches the money). A parcel
that comes back to its sender (refused and returned, or intercepted: Kdniao 406) pays the
same fee again for the way back (退回费 at the outbound price, as most carriers' cards say).
The neighbours are listed for the provinces ecomock's warehouses stand in; from any other
sender only the same province is near. The prices are ecomock's, not any carrier's.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from fake_systems.carrier.models import SHIPPERS
from simulator.world import Supplier, Warehouse

SAME, NEAR, FAR = "same", "near", "far"
# Zone → (first kilo, each further started kilo), CNY cents.
PRICE_CARD: dict[str, tuple[int, int]] = {SAME: (800, 200), NEAR: (1000, 500), FAR: (1200, 800)}
NEIGHBOURS: dict[str, frozenset[str]] = {
    "广东省": frozenset(
        {
            "广西壮族自治区",
            "湖南省",
            "江西省",
            "福建省",
            "海南省",
            "香港特别行政区",
            "澳门特别行政区",
        }
    ),
    "湖北省": frozenset({"河南省", "安徽省", "江西省", "湖南省", "重庆市", "陕西省"}),
    "四川省": frozenset({"重庆市", "贵州省", "云南省", "西藏自治区", "青海省", "甘肃省", "陕西省"}),
}
DELIVERY, RETURN = "delivery", "return"  # what a statement line bills


def zone(sender_province: str, receiver_province: str) -> str:
    """The zone of a route; an unknown province on either end is far."""
    if not sender_province or not receiver_province:
        return FAR
    if sender_province == receiver_province:
        return SAME
    if receiver_province in NEIGHBOURS.get(sender_province, frozenset()):
        return NEAR
    return FAR


def weight_grams(weight_kg: float) -> int:
    """The package weight in whole grams, rounded half up (the WMS reports kilos)."""
    exact = Decimal(str(weight_kg)) * 1000
    return int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def fee_cents(grams: int, route_zone: str) -> int:
    """The card's fee for a parcel of `grams` in `route_zone`: first kilo, then each started
    kilo after it."""
    first, further = PRICE_CARD[route_zone]
    kilos = max(1, -(-grams // 1000))
    return first + further * (kilos - 1)


def carrier_suppliers(warehouses: list[Warehouse]) -> list[Supplier]:
    """The express companies the warehouses ship with, as the merchant's suppliers (they bill
    carrier fees): numbered 39000000NN in the order first used, named as Kdniao names them,
    and shared by every cargo owner (no owner)."""
    codes = list(dict.fromkeys(w.carrier_code for w in warehouses))
    return [
        Supplier(f"{3900000000 + n:010d}", SHIPPERS[code].name if code in SHIPPERS else code, "")
        for n, code in enumerate(codes, start=1)
    ]
