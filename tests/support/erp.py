"""ERP test helpers: the K3 WebAPI paths, a login, the connector's outstock model, documents."""

from __future__ import annotations

from typing import Any

import httpx

from fake_systems.common.credentials import K3Credentials
from fake_systems.erp.service import ErpService
from simulator.world import World

STUB = "/Kingdee.BOS.WebApi.ServicesStub.{}.common.kdsvc"
LOGIN = STUB.format("AuthService.ValidateUser")
# The integrator's user, the one most ERP tests log in with.
CREDS = K3Credentials(acct_id="acct-1", username="connector", password="pw-123")


def form_url(op: str) -> str:
    """The path of a DynamicFormService operation (Save, Submit, ExecuteBillQuery, ...)."""
    return STUB.format(f"DynamicFormService.{op}")


async def login(client: httpx.AsyncClient, creds: K3Credentials) -> str:
    """Log `creds` in (which must succeed); the K3 session id."""
    response = await client.post(
        LOGIN,
        json={
            "acctID": creds.acct_id,
            "username": creds.username,
            "password": creds.password,
            "lcid": 2052,
        },
    )
    body = response.json()
    assert body["LoginResultType"] == 1
    return str(body["KDSVCSessionId"])


def outstock_model(world: World, trade_no: str) -> dict[str, Any]:
    """The model the connector posts, as written in the brief and docs/protocols/erp.md."""
    return {
        "FBillNo": trade_no,
        "FDate": "2026-11-10 20:00:00",
        "FSaleOrgId": {"FNumber": "100"},
        "FStockOrgId": {"FNumber": "100"},
        "FCustomerID": {"FNumber": world.shops[0].shop_no},
        "FNote": "ecomock order",
        "FEntity": [
            {
                "FMaterialID": {"FNumber": world.skus[0].item_code},
                "FRealQty": 2,
                "FTaxPrice": 12.5,
                "FAllAmount": 25.0,
                "FStockID": {"FNumber": world.warehouses[0].code},
            }
        ],
    }


def documents(erp: ErpService) -> list[tuple[Any, ...]]:
    """(form, bill number, status, amount) of every document, in creation order."""
    rows = erp.conn.execute(
        "SELECT form_id, bill_no, document_status, amount_cents FROM documents ORDER BY fid"
    )
    return [tuple(row) for row in rows]
