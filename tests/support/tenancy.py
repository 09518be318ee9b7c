"""Two owners on the WMS and the carrier, each with its own credentials beside the integrator's:
the site the tenancy tests and the tenancy fuzz share."""

from __future__ import annotations

from fake_systems.common.credentials import KdniaoCredentials, QimenCredentials
from tests.support.carrier import FIXED

OWNERS = ("OWNER-A", "OWNER-B")
CONNECTOR = QimenCredentials(app_key="qm_conn", secret="s-conn", customer_id="ECOMOCK_CUST")
TENANTS = {
    owner: QimenCredentials(
        app_key=f"qm_{owner[-1].lower()}",
        secret=f"s-{owner}",
        customer_id=f"CUST-{owner}",
        owners=(owner,),
    )
    for owner in OWNERS
}
CARRIER_CONNECTOR = KdniaoCredentials(ebusiness_id="1000001", api_key="k-conn")
CARRIER_TENANTS = {
    owner: KdniaoCredentials(ebusiness_id=f"100000{n}", api_key=f"k-{owner}", owners=(owner,))
    for n, owner in enumerate(OWNERS, start=2)
}
TRAVEL = FIXED  # the carrier tests' fixed travel times
