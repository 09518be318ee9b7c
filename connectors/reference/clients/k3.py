"""Kingdee K3 Cloud WebAPI client: signed session login (LoginBySign), Save / Submit / Audit,
bill-status query."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson

from connectors.reference.clients.http import HttpClient, post
from connectors.reference.retry import PermanentError, RetryableError, SessionExpired
from connectors.reference.signing import k3_login_sign

SYSTEM = "erp"
STUB = "Kingdee.BOS.WebApi.ServicesStub"
SESSION_COOKIE = "kdservice-sessionid"

MSG_CONTEXT_LOST = 1
# 网控冲突 (another user holds the bill) and 调用限制 (the call limit): both pass later.
MSG_NETWORK_CONTROL = 13
# Logins again for one call, in a row: in a session-expiry storm (a K3 server restart, a
# session-store failover) the fresh session can die too. A lost context refuses the call
# before any work, so repeating it is safe; past this bound the graded retries take over.
RELOGINS_PER_CALL = 5
MSG_CALL_LIMIT = 14
# FDocumentStatus values.
DRAFT, CREATED, IN_REVIEW, AUDITED, REREVIEW = "Z", "A", "B", "C", "D"


class K3Client:
    """Logs in once by LoginBySign (the app secret never travels), keeps the
    `kdservice-sessionid` cookie, logs in again on a lost context."""

    def __init__(
        self,
        client: HttpClient,
        url: str,
        acct_id: str,
        username: str,
        app_id: str,
        app_secret: str,
        lcid: int,
    ) -> None:
        self.client = client
        self.url = url
        self.acct_id = acct_id
        self.username = username
        self.app_id = app_id
        self.app_secret = app_secret
        self.lcid = lcid
        self._session: str | None = None
        self._login_lock = asyncio.Lock()
        self._last_stamp = 0
        self.logins = 0

    def _endpoint(self, service: str, operation: str) -> str:
        return f"{self.url}/{STUB}.{service}.{operation}.common.kdsvc"

    def _login_parameters(self) -> list[Any]:
        """[acctID, username, appId, timestamp, sign, lcid], signed now.

        A sign is good once, and the stamp has whole seconds: a second login within the same
        second (a context lost right after a login) takes the next second, well within the
        server's tolerance, rather than repeat a sign.
        """
        stamp = max(int(time.time()), self._last_stamp + 1)
        self._last_stamp = stamp
        sign = k3_login_sign(self.acct_id, self.username, self.app_id, self.app_secret, str(stamp))
        return [self.acct_id, self.username, self.app_id, str(stamp), sign, self.lcid]

    async def _login(self) -> str:
        response = await post(
            self.client,
            SYSTEM,
            self._endpoint("AuthService", "LoginBySign"),
            content=orjson.dumps({"parameters": self._login_parameters()}),
            headers={"Content-Type": "application/json"},
        )
        try:
            answer = orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise RetryableError(SYSTEM, "LoginBySign: answer is not JSON") from exc
        if not isinstance(answer, dict) or answer.get("LoginResultType") != 1:
            message = answer.get("Message") if isinstance(answer, dict) else answer
            raise PermanentError(SYSTEM, f"LoginBySign refused: {message}")
        session = response.cookies.get(SESSION_COOKIE)
        if not session:
            raise RetryableError(SYSTEM, f"LoginBySign: no {SESSION_COOKIE} cookie")
        self.logins += 1
        return str(session)

    async def _session_id(self, expired: str | None = None) -> str:
        """The current session; with `expired`, replace that one (once, however many saw it die)."""
        async with self._login_lock:
            if self._session is None or self._session == expired:
                self._session = await self._login()
            return self._session

    async def _post(self, operation: str, body: dict[str, Any]) -> Any:
        """Call a DynamicFormService operation; on a lost context, log in again and repeat
        (at most `RELOGINS_PER_CALL` times in a row)."""
        session = await self._session_id()
        for _ in range(RELOGINS_PER_CALL):
            try:
                return await self._post_once(operation, body, session)
            except SessionExpired:
                session = await self._session_id(expired=session)
        # One loss too many propagates: the step's graded retries take over.
        return await self._post_once(operation, body, session)

    async def _post_once(self, operation: str, body: dict[str, Any], session: str) -> Any:
        # The cookie goes in the header, so the shared client's cookie jar plays no part.
        response = await post(
            self.client,
            SYSTEM,
            self._endpoint("DynamicFormService", operation),
            content=orjson.dumps(body),
            headers={"Content-Type": "application/json", "Cookie": f"{SESSION_COOKIE}={session}"},
        )
        try:
            answer = orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise RetryableError(SYSTEM, f"{operation}: answer is not JSON") from exc
        status = _response_status(answer)
        if status is not None and not status.get("IsSuccess"):
            _raise_for(operation, status)
        return answer

    # ---------------------------------------------------------------- operations

    async def bill_status(self, form_id: str, bill_no: str) -> str | None:
        """FDocumentStatus of the bill with that FBillNo, or None if there is none."""
        escaped = bill_no.replace("'", "''")
        rows = await self._post(
            "ExecuteBillQuery",
            {
                "data": {
                    "FormId": form_id,
                    "FieldKeys": "FBillNo,FDocumentStatus",
                    "FilterString": f"FBillNo='{escaped}'",
                    "StartRow": 0,
                    "Limit": 10,
                }
            },
        )
        if not isinstance(rows, list):
            raise RetryableError(SYSTEM, f"ExecuteBillQuery: unexpected answer {rows!r}")
        for row in rows:
            if isinstance(row, list) and len(row) >= 2 and row[0] == bill_no:
                return str(row[1])
        return None

    async def execute_bill_query(
        self, form_id: str, field_keys: str, filter_string: str, start_row: int, limit: int
    ) -> list[list[Any]]:
        """ExecuteBillQuery's rows (one per entry for entry fields)."""
        rows = await self._post(
            "ExecuteBillQuery",
            {
                "data": {
                    "FormId": form_id,
                    "FieldKeys": field_keys,
                    "FilterString": filter_string,
                    "StartRow": start_row,
                    "Limit": limit,
                }
            },
        )
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise RetryableError(SYSTEM, f"ExecuteBillQuery: unexpected answer {rows!r:.200}")
        return rows

    async def save(self, form_id: str, model: dict[str, Any]) -> None:
        await self._post("Save", {"formid": form_id, "data": {"Model": model}})

    async def submit(self, form_id: str, bill_no: str) -> None:
        await self._post("Submit", {"formid": form_id, "data": {"Numbers": [bill_no]}})

    async def audit(self, form_id: str, bill_no: str) -> None:
        await self._post("Audit", {"formid": form_id, "data": {"Numbers": [bill_no]}})

    async def post_audited(self, form_id: str, model: dict[str, Any]) -> None:
        """Bring the bill `model["FBillNo"]` to audited, from wherever an earlier attempt left it.

        Looking first means a retry after a lost answer never saves the bill twice.
        """
        bill_no = str(model["FBillNo"])
        status = await self.bill_status(form_id, bill_no)
        if status is None:
            await self.save(form_id, model)
            status = CREATED
        if status in (DRAFT, CREATED, REREVIEW):
            await self.submit(form_id, bill_no)
            status = IN_REVIEW
        if status == IN_REVIEW:
            await self.audit(form_id, bill_no)
            status = AUDITED
        if status != AUDITED:
            raise PermanentError(
                SYSTEM, f"{form_id} {bill_no}: unexpected FDocumentStatus {status!r}"
            )


def _response_status(answer: Any) -> dict[str, Any] | None:
    """The ResponseStatus of a write answer, or of an error wrapped in an ExecuteBillQuery array."""
    if isinstance(answer, list):
        # Query errors come back as [[{"Result": {"ResponseStatus": …}}]].
        first = answer[0] if answer else None
        if isinstance(first, list) and first and isinstance(first[0], dict):
            answer = first[0]
        elif isinstance(first, dict):
            answer = first
        else:
            return None
    if not isinstance(answer, dict):
        raise RetryableError(SYSTEM, f"unexpected answer {answer!r}")
    result = answer.get("Result", answer)
    status = result.get("ResponseStatus") if isinstance(result, dict) else None
    return status if isinstance(status, dict) else None


def _raise_for(operation: str, status: dict[str, Any]) -> None:
    code = status.get("MsgCode")
    errors = status.get("Errors") or []
    detail = "; ".join(
        str(error.get("Message")) for error in errors if isinstance(error, dict)
    ) or str(status.get("ErrorCode") or "")
    message = f"{operation}: MsgCode {code}: {detail}"
    if code == MSG_CONTEXT_LOST:
        raise SessionExpired(SYSTEM, message)
    if code in (MSG_NETWORK_CONTROL, MSG_CALL_LIMIT):
        raise RetryableError(SYSTEM, message)
    raise PermanentError(SYSTEM, message)
