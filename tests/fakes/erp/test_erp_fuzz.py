"""Fuzzing the K3 WebAPI adapter: whatever arrives, the answer is K3's JSON and refusals change
nothing.

Property, for every generated request: HTTP 200 with K3's JSON (a login answer with
`LoginResultType`, a `Result.ResponseStatus` object, or ExecuteBillQuery's bare 2-D array,
its errors wrapped inside it); never a 5xx or an internal-error answer; exactly one `api_in`
history row; and when the answer is a refusal, documents, entries and master data are
unchanged. Inputs: raw bytes (invalid UTF-8 included), envelopes of any JSON shape for every
operation, Save models with wrong types, missing and extra fields, injection-looking strings
(stored and compared verbatim, never run as SQL) and FilterStrings built to break out of
their quotes; the official SDKs' signed headers with any of them changed or missing. The
oversized-body refusal is shown in tests/fakes/erp/test_erp_security.py.
2,000 inputs in all (and a tenth more for the headers), split by `share`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from fake_systems.common.context import SystemContext
from fake_systems.common.credentials import K3Credentials
from fake_systems.common.scope import OwnerScope
from fake_systems.erp.api import k3_headers
from fake_systems.erp.api.k3 import create_app
from fake_systems.erp.models import K3Error, MsgCode
from fake_systems.erp.service import ErpService
from simulator.world import World
from tests.support.erp import STUB
from tests.support.fuzzing import Post, asgi_poster, fuzz_settings, hostile_text, hostile_values

pytestmark = pytest.mark.fuzz

OPS = ("Save", "BatchSave", "Submit", "Audit", "UnAudit", "Delete", "View", "ExecuteBillQuery")
FORMS = (
    "SAL_OUTSTOCK",
    "AR_receivable",
    "AP_Payable",
    "STK_InStock",
    "AR_RECEIVEBILL",
    "GL_VOUCHER",
    "BD_MATERIAL",
    "BD_Customer",
    "BD_STOCK",
    "NO_SUCH_FORM",
    "PUR_MRB",
)
INJECTIONS = (
    "'; DROP TABLE documents; --",
    "1' OR '1'='1",
    "x') OR 1=1 --",
    "<script>alert(1)</script>",
    "${jndi:ldap://x/a}",
    "%s%s%n",
    "\x00",
    "Robert'); DELETE FROM document_entries;--",
    "单据\u202e反转",
    "FBillNo",
)
USER = K3Credentials(acct_id="acct-1", username="connector", password="pw-fuzz")


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(INJECTIONS)
    | hostile_values,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.text(max_size=12) | st.sampled_from(("FNumber", "Model")), inner, max_size=4
        )
    ),
    max_leaves=12,
)
texts = st.text(max_size=30) | st.sampled_from(INJECTIONS) | hostile_text


@pytest.fixture
def fuzzed(
    make_context: Callable[[str], SystemContext], world: World
) -> Iterator[tuple[ErpService, Post]]:
    """The ERP app behind a synchronous `post(path, body)` with a logged-in session."""
    service = ErpService(make_context("erp"), USER)
    service.setup(world)
    service.save(
        "SAL_OUTSTOCK",
        {
            "FBillNo": "SEED-1",
            "FCustomerID": {"FNumber": world.shops[0].shop_no},
            "FNote": INJECTIONS[0],
            "FEntity": [{"FMaterialID": {"FNumber": world.skus[0].item_code}, "FRealQty": 1}],
        },
    )
    session = service.login(USER.acct_id, USER.username, USER.password).session_id
    headers = {"Content-Type": "application/json", "Cookie": f"kdservice-sessionid={session}"}
    with asgi_poster(create_app(service, USER), headers) as post:
        yield service, post


def state(service: ErpService) -> list[Any]:
    """Everything a refused request must leave alone."""
    tables = ("documents", "document_entries", "bd_material", "bd_customer")
    return [
        [tuple(row) for row in service.conn.execute(f"SELECT * FROM {table} ORDER BY 1")]
        for table in tables
    ]


def api_rows(service: ErpService) -> int:
    return int(
        service.conn.execute("SELECT COUNT(*) FROM events WHERE kind = 'api_in'").fetchone()[0]
    )


def check(service: ErpService, post: Post, path: str, body: bytes) -> Any:
    """Send one request and assert the property; returns the parsed answer."""
    before, rows_before = state(service), api_rows(service)
    response = post(path, body)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    answer = orjson.loads(response.content)
    assert api_rows(service) == rows_before + 1
    if isinstance(answer, dict) and "LoginResultType" in answer:
        refused = answer["LoginResultType"] != 1
    elif isinstance(answer, list):
        wrapped = (
            answer and isinstance(answer[0], list) and answer[0] and isinstance(answer[0][0], dict)
        )
        if wrapped:
            status = answer[0][0]["Result"]["ResponseStatus"]
            assert status["IsSuccess"] is False and status["MsgCode"] != 0
        assert all(isinstance(row, list) for row in answer)
        refused = bool(wrapped)
    else:
        status = answer["Result"]["ResponseStatus"]
        assert set(status) >= {"IsSuccess", "Errors", "MsgCode", "SuccessEntitys"}
        assert not any("服务端内部错误" in str(e["Message"]) for e in status["Errors"])
        refused = status["IsSuccess"] is False and not status["SuccessEntitys"]
    if refused:
        assert state(service) == before
    return answer


@fuzz_settings(share=0.25)
@given(
    op=st.sampled_from((*OPS, "ValidateUser", "LoginByAppSecret", "LoginBySign")),
    body=st.binary(max_size=300)
    | st.text(max_size=200).map(str.encode)
    | st.sampled_from(
        (
            b"\xff\xfe{",
            b'{"formid": 123456789012345678901234567890}',
            b'{"formid": "\xc3\x28"}',
            b"[]",
            b"null",
            b"  ",
        )
    ),
)
def test_raw_bodies(fuzzed: tuple[ErpService, Post], op: str, body: bytes) -> None:
    service, post = fuzzed
    where = "AuthService" if op.startswith(("Validate", "Login")) else "DynamicFormService"
    check(service, post, STUB.format(f"{where}.{op}"), body)


@fuzz_settings(share=0.3)
@given(
    op=st.sampled_from(OPS),
    form_id=st.sampled_from(FORMS) | texts | st.none() | st.integers(-(2**40), 2**40),
    data=json_values,
    envelope=st.sampled_from(("object", "parameters", "string")),
)
def test_envelopes_of_any_shape(
    fuzzed: tuple[ErpService, Post], op: str, form_id: Any, data: Any, envelope: str
) -> None:
    service, post = fuzzed
    if envelope == "object":
        body: Any = {"formid": form_id, "data": data}
    elif envelope == "parameters":
        body = {"parameters": [form_id, data]}
    else:
        body = {"formid": form_id, "data": orjson.dumps(data).decode()}
    check(service, post, STUB.format(f"DynamicFormService.{op}"), orjson.dumps(body))


@fuzz_settings(share=0.25)
@given(
    form_id=st.sampled_from(FORMS[:8]),
    drop=st.sets(st.sampled_from(("FBillNo", "FCustomerID", "FEntity", "FNumber", "FName"))),
    extra=st.dictionaries(texts, json_values, max_size=3),
    note=texts,
    qty=json_values,
    batch=st.booleans(),
)
def test_save_models_with_wrong_missing_and_extra_fields(
    fuzzed: tuple[ErpService, Post],
    world: World,
    form_id: str,
    drop: set[str],
    extra: dict[str, Any],
    note: str,
    qty: Any,
    batch: bool,
) -> None:
    service, post = fuzzed
    model: dict[str, Any] = {
        "FBillNo": note or "N",
        "FNumber": note,
        "FName": note,
        "FNote": note,
        "FCustomerID": {"FNumber": world.shops[0].shop_no},
        "FEntity": [{"FMaterialID": {"FNumber": world.skus[0].item_code}, "FRealQty": qty}],
        **extra,
    }
    for key in drop:
        model.pop(key, None)
    data = {"Model": [model, model] if batch else model}
    answer = check(
        service,
        post,
        STUB.format(f"DynamicFormService.{'BatchSave' if batch else 'Save'}"),
        orjson.dumps({"formid": form_id, "data": data}),
    )
    status = answer["Result"]["ResponseStatus"]
    if status["IsSuccess"] and form_id == "SAL_OUTSTOCK" and not batch:
        # what was saved is what was sent: the note comes back verbatim
        stored = service.document(
            "SAL_OUTSTOCK", str(model.get("FBillNo") or answer["Result"]["Number"])
        )
        assert stored is not None and stored["note"] == (note.strip() or None)


@fuzz_settings(share=0.2)
@given(
    field=st.sampled_from(("FBillNo", "FNote", "FCustomerID.FNumber", "FNoSuch", "1", "")),
    operator=st.sampled_from(("=", "<>", "LIKE", "IN", ">", "", ";", "--")),
    literal=texts,
    tail=st.sampled_from(("", " OR 1=1", "; DROP TABLE documents", ") OR (1=1", " --", "'")),
    quote=st.booleans(),
)
def test_filter_strings_never_run_as_sql(
    fuzzed: tuple[ErpService, Post],
    field: str,
    operator: str,
    literal: str,
    tail: str,
    quote: bool,
) -> None:
    service, post = fuzzed
    value = "'" + literal.replace("'", "''") + "'" if quote else literal
    filter_string = f"{field} {operator} {value}{tail}"
    answer = check(
        service,
        post,
        STUB.format("DynamicFormService.ExecuteBillQuery"),
        orjson.dumps(
            {
                "data": {
                    "FormId": "SAL_OUTSTOCK",
                    "FieldKeys": "FBillNo,FNote",
                    "FilterString": filter_string,
                }
            }
        ),
    )
    if quote and not tail and field == "FNote" and operator == "=":
        # a quoted literal is a value compared verbatim, whatever it looks like
        expected = [["SEED-1", INJECTIONS[0]]] if literal == INJECTIONS[0] else []
        assert answer == expected
    assert service.conn.execute("SELECT COUNT(*) FROM documents").fetchone()[0] >= 1


# FilterStrings for the scope property: valid conditions on any form, joined by pieces that
# try to close the bracket the owner scope was once spliced around, and noise.
CONDITIONS = st.recursive(
    st.sampled_from(
        ("1=1", "0 = 0", "'a'='a'", "1 IN (1, 2)", "1 BETWEEN 0 AND 2", "'x' LIKE '%'")
    ),
    lambda inner: (
        st.tuples(inner, st.sampled_from((" AND ", " OR ")), inner).map("".join)
        | inner.map(lambda text: f"({text})")
        | inner.map(lambda text: f"NOT {text}")
    ),
    max_leaves=4,
)
BREAKOUTS = (
    ") OR (", ")) OR ((", ") OR 1=1 OR (", " OR ", ")", "(", "--", "/*", "*/", "')", "' OR '1'='1",
    ";", "UNION SELECT", "owner_code", "d.owner_code", "FBillNo", "FNumber", "IS NULL", ",",
)  # fmt: skip
# condition (joint condition)*: a breakout only works between two conditions
FILTERS = st.tuples(
    CONDITIONS,
    st.lists(st.tuples(st.sampled_from(BREAKOUTS) | texts, CONDITIONS), max_size=3),
).map(lambda parts: [parts[0], *(piece for pair in parts[1] for piece in pair)])


@fuzz_settings(share=0.2)
@given(
    form=st.sampled_from((("SAL_OUTSTOCK", "FBillNo"), ("BD_Customer", "FNumber"))),
    pieces=FILTERS,
    spaced=st.booleans(),
)
def test_no_filter_widens_an_owners_scope(
    fuzzed: tuple[ErpService, Post],
    world: World,
    form: tuple[str, str],
    pieces: list[str],
    spaced: bool,
) -> None:
    """Whatever the FilterString, an owner-scoped user reads only its owners' rows (issue 8)."""
    service, _ = fuzzed
    shops = {shop.owner_code: shop.shop_no for shop in world.shops}
    if service.document("SAL_OUTSTOCK", "B-1") is None:
        for bill_no, owner in (("A-1", "OWNER-A"), ("B-1", "OWNER-B")):
            service.save(
                "SAL_OUTSTOCK",
                {
                    "FBillNo": bill_no,
                    "FCustomerID": {"FNumber": shops[owner]},
                    "FEntity": [
                        {"FMaterialID": {"FNumber": world.skus[0].item_code}, "FRealQty": 1}
                    ],
                },
            )
    form_id, key = form
    scope = {
        row[0]
        for row in service.execute_bill_query(form_id, key, scope=OwnerScope.of(("OWNER-A",)))
    }
    assert scope and not scope & {"B-1", shops["OWNER-B"]}
    filter_string = (" " if spaced else "").join(pieces)
    try:
        rows = service.execute_bill_query(
            form_id, key, filter_string, scope=OwnerScope.of(("OWNER-A",))
        )
    except K3Error:
        return  # refused: nothing read
    assert {row[0] for row in rows} <= scope, filter_string


# The research notes' worked example (docs/protocols/research/issue15-public-sources.md 4.3):
# an app, its user, and the signed headers K3's Python SDK makes for one Save at SIGNED_AT.
SIGNED_USER = K3Credentials(
    acct_id="ecomock-acct",
    username="connector",
    app_id="301234_ZWNvbW9jay1rMy1hcHAtc2VjcmV0LTI0",
    app_secret="0123456789abcdef0123456789abcdef",
)
SIGNED_AT = 1_800_000_000.0
SIGNED_PATH = "/k3cloud/Kingdee.BOS.WebApi.ServicesStub.DynamicFormService.Save.common.kdsvc"
SIGNED_HEADERS = {
    "x-api-timestamp": "1800000000",
    "x-api-nonce": "1800000000",
    "x-api-signature": (
        "MTEzZTJlMzAyODViYmMxNmQ4MGM4ZjA0MTc0NjgzN2U5MzVhNGQ4NmQ5NWU0Mjg5ODJjYjUyODg4MTA0M2FhMA=="
    ),
    "x-kd-appkey": SIGNED_USER.app_id,
    "x-kd-appdata": "ZWNvbW9jay1hY2N0LGNvbm5lY3RvciwyMDUyLDEwMA==",
    "x-kd-signature": (
        "Y2I0OWFlZDg5NjM1YzQ0NzRkMDQ2MmFmYTdkYTI1ODM1OTZkNjQ1OTZiMzVjYzJiMzQwY2NhNWIyMTRmZjAzYg=="
    ),
}
# What an HTTP header can carry once decoded as latin-1 (the pipeline's reading).
header_text = st.text(st.characters(max_codepoint=255), max_size=120) | hostile_text


@fuzz_settings(share=0.1)
@given(
    changed=st.dictionaries(st.sampled_from(sorted(SIGNED_HEADERS)), header_text, max_size=3),
    dropped=st.sets(st.sampled_from(sorted(SIGNED_HEADERS)), max_size=2),
)
def test_signed_headers_refuse_any_change_in_k3s_envelope(
    changed: dict[str, str], dropped: set[str]
) -> None:
    """Whatever signed header is changed or missing, the check refuses it with MsgCode 1
    (never another exception); only the genuine set passes."""
    headers = {**SIGNED_HEADERS, **changed}
    for name in dropped:
        headers.pop(name)
    apps = {SIGNED_USER.app_id: SIGNED_USER}
    genuine = headers == SIGNED_HEADERS
    try:
        proven = k3_headers.verify(
            headers, SIGNED_PATH, apps.get, lambda sent: abs(SIGNED_AT - sent) > 300
        )
    except K3Error as error:
        assert not genuine
        assert error.msg_code == MsgCode.CONTEXT_LOST
        return
    assert genuine and proven.user == SIGNED_USER
