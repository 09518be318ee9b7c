"""A K3 Cloud WebAPI client written only from the public description (docs/protocols/erp.md,
Kingdee's SDK conventions): login, then Save → Submit → Audit and a query, over ASGI.

Nothing of the fake's adapter or models is imported: the envelope, the cookie handling, the
LoginBySign signature and the answers' shapes are re-derived here, so a mistake the fake and
its own helpers agree on still fails.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from fake_systems.common.context import SystemContext
from fake_systems.common.credentials import K3Credentials
from fake_systems.erp.api.k3 import create_app
from fake_systems.erp.service import ErpService
from simulator.clock import ManualClock
from simulator.world import World


class K3:
    """Kingdee's ApiClient conventions: POST JSON to `<Service>.<Op>.common.kdsvc`, keep the
    `kdservice-sessionid` cookie from the login answer, `{"formid", "data"}` bodies."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    @staticmethod
    def path(service: str, op: str) -> str:
        return f"/k3cloud/Kingdee.BOS.WebApi.ServicesStub.{service}.{op}.common.kdsvc"

    async def login_by_sign(self, acct: str, user: str, app_id: str, secret: str, now: int) -> Any:
        stamp = str(now)
        signature = hashlib.sha256(
            "".join(sorted([acct, user, app_id, secret, stamp])).encode()
        ).hexdigest()
        body = {
            "format": 1,
            "useragent": "ApiClient",
            "rid": "1",
            "parameters": [acct, user, app_id, stamp, signature, 2052],
            "timestamp": "2026-11-10",
            "v": "1.0",
        }
        response = await self.http.post(self.path("AuthService", "LoginBySign"), json=body)
        return response.json()

    async def call(self, op: str, form_id: str, data: dict[str, Any]) -> Any:
        response = await self.http.post(
            self.path("DynamicFormService", op), json={"formid": form_id, "data": data}
        )
        assert response.status_code == 200
        return response.json()


@pytest.mark.anyio
async def test_login_save_submit_audit_from_the_public_description(
    make_context: Callable[[str], SystemContext],
    world: World,
    clock: ManualClock,
    asgi_client: Callable[[object], httpx.AsyncClient],
) -> None:
    user = K3Credentials(acct_id="acct-1", username="integration", password="pw")
    erp = ErpService(make_context("erp"), user)
    erp.setup(world)
    k3 = K3(asgi_client(create_app(erp, user)))

    login = await k3.login_by_sign(
        user.acct_id, user.username, user.app_id, user.app_secret, int(clock.wall())
    )
    assert login["LoginResultType"] == 1, login["Message"]
    assert k3.http.cookies.get("kdservice-sessionid") == login["KDSVCSessionId"]

    model = {
        "FBillNo": "IC-1",
        "FDate": "2026-11-10 20:00:00",
        "FSaleOrgId": {"FNumber": "100"},
        "FCustomerID": {"FNumber": world.shops[0].shop_no},
        "FEntity": [
            {
                "FMaterialID": {"FNumber": world.skus[0].item_code},
                "FRealQty": 4,
                "FTaxPrice": "2.50",
                "FStockID": {"FNumber": world.warehouses[0].code},
            }
        ],
    }
    saved = await k3.call("Save", "SAL_OUTSTOCK", {"Model": model, "NeedReturnFields": []})
    status = saved["Result"]["ResponseStatus"]
    assert status["IsSuccess"] is True and status["Errors"] == []
    assert saved["Result"]["Number"] == "IC-1" and isinstance(saved["Result"]["Id"], int)
    for op in ("Submit", "Audit"):
        answer = await k3.call(op, "SAL_OUTSTOCK", {"Numbers": ["IC-1"]})
        entities = answer["Result"]["ResponseStatus"]["SuccessEntitys"]
        assert [(e["Number"], e["DIndex"]) for e in entities] == [("IC-1", 0)]
    again = await k3.call("Audit", "SAL_OUTSTOCK", {"Numbers": ["IC-1"]})
    assert again["Result"]["ResponseStatus"]["IsSuccess"] is False
    changed = await k3.call("Save", "SAL_OUTSTOCK", {"Model": {"FID": saved["Result"]["Id"]}})
    assert changed["Result"]["ResponseStatus"]["Errors"][0]["Message"] == "单据已审核，不允许修改"

    query = await k3.http.post(
        k3.path("DynamicFormService", "ExecuteBillQuery"),
        json={
            "parameters": [
                {
                    "FormId": "SAL_OUTSTOCK",
                    "FieldKeys": "FBillNo,FDocumentStatus,FBillAllAmount",
                    "FilterString": "FBillNo = 'IC-1'",
                }
            ]
        },
    )
    assert query.json() == [["IC-1", "C", 10.0]]
