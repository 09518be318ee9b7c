"""ERP test helpers: the K3 WebAPI paths, a login, the connector's outstock model, documents."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx

from fake_systems.common.credentials import K3Credentials
from fake_systems.erp.service import ErpService
from simulator.world import World
from tests.support.site import Site

STUB = "/Kingdee.BOS.WebApi.ServicesStub.{}.common.kdsvc"
LOGIN = STUB.format("AuthService.ValidateUser")
OUTSTOCK = "SAL_OUTSTOCK"
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


def login_sign(creds: K3Credentials, timestamp: str) -> str:
    """LoginBySign's signature as docs/protocols/erp.md states it: SHA-256 of the sorted,
    concatenated account, user, app id, app secret and timestamp."""
    parts = [creds.acct_id, creds.username, creds.app_id, creds.app_secret, timestamp]
    return hashlib.sha256("".join(sorted(parts)).encode()).hexdigest()


def form_request(
    client: httpx.AsyncClient, op: str, form_id: str, data: dict[str, Any], session: str
) -> httpx.Request:
    """A DynamicFormService call of `op` on `form_id` within the K3 session `session`."""
    return client.build_request(
        "POST",
        form_url(op),
        json={"formid": form_id, "data": data},
        headers={"Cookie": f"kdservice-sessionid={session}"},
    )


# ---------------------------------------------------------------- one valid request per operation
# Each builds what its operation needs on `site` (a session, documents through the service),
# then the request the connector's user sends; tests/support/operations.py holds the table.


async def _form(site: Site, op: str, data: dict[str, Any]) -> httpx.Request:
    client = site.clients["erp"]
    return form_request(client, op, OUTSTOCK, data, await login(client, site.credentials.erp))


def _outstock(site: Site, bill_no: str, stages: tuple[str, ...] = ()) -> None:
    """An outstock bill saved through the service, then taken through `stages` (submit...)."""
    erp = site.ecosystem.erp
    erp.save(OUTSTOCK, outstock_model(site.world, bill_no))
    for stage in stages:
        getattr(erp, stage)(OUTSTOCK, [bill_no])


async def valid_validate_user(site: Site) -> httpx.Request:
    """AuthService.ValidateUser with the user's password."""
    creds = site.credentials.erp
    body = {"parameters": [creds.acct_id, creds.username, creds.password, 2052]}
    return site.clients["erp"].build_request("POST", LOGIN, json=body)


async def valid_app_secret(site: Site) -> httpx.Request:
    """AuthService.LoginByAppSecret with the user's third-party app."""
    creds = site.credentials.erp
    body = {"parameters": [creds.acct_id, creds.username, creds.app_id, creds.app_secret, 2052]}
    return site.clients["erp"].build_request(
        "POST", STUB.format("AuthService.LoginByAppSecret"), json=body
    )


async def valid_sign(site: Site) -> httpx.Request:
    """AuthService.LoginBySign, signed now."""
    creds = site.credentials.erp
    now = str(int(site.clock.wall()))
    parameters = [creds.acct_id, creds.username, creds.app_id, now, login_sign(creds, now), 2052]
    return site.clients["erp"].build_request(
        "POST", STUB.format("AuthService.LoginBySign"), json={"parameters": parameters}
    )


async def valid_logout(site: Site) -> httpx.Request:
    """AuthService.Logout of a live session."""
    client = site.clients["erp"]
    session = await login(client, site.credentials.erp)
    return client.build_request(
        "POST",
        STUB.format("AuthService.Logout"),
        headers={"Cookie": f"kdservice-sessionid={session}"},
    )


async def valid_save(site: Site) -> httpx.Request:
    """Save: a new outstock bill."""
    return await _form(site, "Save", {"Model": outstock_model(site.world, "LOST-S1")})


async def valid_batch_save(site: Site) -> httpx.Request:
    """BatchSave: two new outstock bills."""
    models = [outstock_model(site.world, bill) for bill in ("LOST-B1", "LOST-B2")]
    return await _form(site, "BatchSave", {"Model": models})


async def valid_submit(site: Site) -> httpx.Request:
    """Submit a saved bill."""
    _outstock(site, "LOST-SU1")
    return await _form(site, "Submit", {"Numbers": ["LOST-SU1"]})


async def valid_audit(site: Site) -> httpx.Request:
    """Audit a submitted bill."""
    _outstock(site, "LOST-AU1", ("submit",))
    return await _form(site, "Audit", {"Numbers": ["LOST-AU1"]})


async def valid_unaudit(site: Site) -> httpx.Request:
    """UnAudit an audited bill."""
    _outstock(site, "LOST-UN1", ("submit", "audit"))
    return await _form(site, "UnAudit", {"Numbers": ["LOST-UN1"]})


async def valid_delete(site: Site) -> httpx.Request:
    """Delete a saved bill (not submitted)."""
    _outstock(site, "LOST-DE1")
    return await _form(site, "Delete", {"Numbers": ["LOST-DE1"]})


async def valid_view(site: Site) -> httpx.Request:
    """View a saved bill by number."""
    _outstock(site, "LOST-VI1")
    return await _form(site, "View", {"Number": "LOST-VI1"})


async def valid_query(site: Site) -> httpx.Request:
    """ExecuteBillQuery over the outstock bills."""
    _outstock(site, "LOST-EQ1")
    return await _form(
        site, "ExecuteBillQuery", {"FormId": OUTSTOCK, "FieldKeys": "FBillNo,FDocumentStatus"}
    )
