"""ISO 20022 bank client: login with password and TOTP, pain.001 credit transfers, their
pain.002 status reports, camt.053 day statements (docs/protocols/bank.md)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import date, datetime
from urllib.parse import quote

import orjson
from lxml import etree

from connectors.reference.clients.http import HttpClient, Reply, Request, TransportFailure
from connectors.reference.clients.qimen import parse_xml
from connectors.reference.money import cents_to_text, to_cents
from connectors.reference.retry import PermanentError, RetryableError
from connectors.reference.signing import totp_at

SYSTEM = "bank"
PAIN001_NS = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.03"
TOTP_STEP_SECONDS = 30
FINAL = frozenset({"ACSC", "RJCT"})
DEBTOR_NAME = "ecomock merchant"


@dataclass(frozen=True)
class Transfer:
    """One credit transfer to send: a payment of `amount_cents` CNY to a creditor."""

    end_to_end_id: str
    amount_cents: int
    creditor_name: str
    creditor_account: str
    remittance: str


@dataclass(frozen=True)
class TransferStatus:
    """One transaction of a pain.002: its status (None while only received), the reason of a
    rejection, and the bank's entry (AcctSvcrRef) once it is booked."""

    end_to_end_id: str
    status: str | None
    reason: str | None
    entry_ref: str | None

    @property
    def final(self) -> bool:
        return self.status in FINAL


@dataclass(frozen=True)
class StatementEntry:
    """One Ntry of a camt.053: `amount_cents` positive, `credit` its direction, `tx_code` its
    BkTxCd as Domain/Family/SubFamily."""

    entry_ref: str
    amount_cents: int
    credit: bool
    tx_code: str
    end_to_end_id: str
    remittance: str

    @property
    def is_charge(self) -> bool:
        """A bank fee: sub-family CHRG (charges), whatever the domain."""
        return self.tx_code.rsplit("/", 1)[-1] == "CHRG"


@dataclass(frozen=True)
class Statement:
    """A camt.053 Stmt: its id and sequence number, opening (OPBD) and closing (CLBD) booked
    balances in signed cents, and its entries."""

    statement_id: str
    sequence_number: int
    booking_date: date
    opening_cents: int
    closing_cents: int
    entries: tuple[StatementEntry, ...]

    @property
    def credit_cents(self) -> int:
        return sum(e.amount_cents for e in self.entries if e.credit)

    @property
    def debit_cents(self) -> int:
        return sum(e.amount_cents for e in self.entries if not e.credit)

    @property
    def closes(self) -> bool:
        """Opening + credits - debits = closing."""
        return self.opening_cents + self.credit_cents - self.debit_cents == self.closing_cents


def _local_names(root: etree._Element) -> etree._Element:
    for element in root.iter():  # the namespace is the version's: match on local names
        if isinstance(element.tag, str):
            element.tag = etree.QName(element).localname
    return root


def _signed(node: etree._Element) -> int:
    cents = to_cents(node.findtext("Amt") or "")
    return -cents if node.findtext("CdtDbtInd") == "DBIT" else cents


def parse_camt053(body: bytes, day: date) -> Statement:
    """The first Stmt of a camt.053; ValueError if a required part is missing."""
    stmt = _local_names(parse_xml(body)).find(".//Stmt")
    if stmt is None:
        raise ValueError("no Stmt")
    balances = {b.findtext("Tp/CdOrPrtry/Cd"): _signed(b) for b in stmt.iter("Bal")}
    if "OPBD" not in balances or "CLBD" not in balances:
        raise ValueError("a Stmt without OPBD and CLBD balances")
    entries = []
    for ntry in stmt.iter("Ntry"):
        code = "/".join(
            ntry.findtext(path) or ""
            for path in ("BkTxCd/Domn/Cd", "BkTxCd/Domn/Fmly/Cd", "BkTxCd/Domn/Fmly/SubFmlyCd")
        )
        entries.append(
            StatementEntry(
                entry_ref=ntry.findtext("NtryRef") or ntry.findtext("AcctSvcrRef") or "",
                amount_cents=to_cents(ntry.findtext("Amt") or ""),
                credit=ntry.findtext("CdtDbtInd") == "CRDT",
                tx_code=code,
                end_to_end_id=ntry.findtext(".//Refs/EndToEndId") or "",
                remittance=ntry.findtext(".//RmtInf/Ustrd") or "",
            )
        )
    return Statement(
        statement_id=stmt.findtext("Id") or "",
        sequence_number=int(stmt.findtext("ElctrncSeqNb") or 0),
        booking_date=day,
        opening_cents=balances["OPBD"],
        closing_cents=balances["CLBD"],
        entries=tuple(entries),
    )


def pain001(
    msg_id: str, debtor_account: str, day: date, now: datetime, *transfers: Transfer
) -> bytes:
    """A pain.001.001.03 of one payment instruction holding `transfers`, executed on `day`."""
    root = etree.Element("Document", nsmap={None: PAIN001_NS})
    initiation = etree.SubElement(root, "CstmrCdtTrfInitn")

    def add(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
        node = etree.SubElement(parent, tag)
        if text is not None:
            node.text = text
        return node

    def account(parent: etree._Element, tag: str, number: str) -> None:
        add(add(add(add(parent, tag), "Id"), "Othr"), "Id", number)

    total = cents_to_text(sum(t.amount_cents for t in transfers))
    header = add(initiation, "GrpHdr")
    add(header, "MsgId", msg_id)
    add(header, "CreDtTm", now.strftime("%Y-%m-%dT%H:%M:%S"))
    add(header, "NbOfTxs", str(len(transfers)))
    add(header, "CtrlSum", total)
    add(add(header, "InitgPty"), "Nm", DEBTOR_NAME)
    instruction = add(initiation, "PmtInf")
    add(instruction, "PmtInfId", msg_id)
    add(instruction, "PmtMtd", "TRF")
    add(instruction, "NbOfTxs", str(len(transfers)))
    add(instruction, "CtrlSum", total)
    add(instruction, "ReqdExctnDt", day.isoformat())
    add(add(instruction, "Dbtr"), "Nm", DEBTOR_NAME)
    account(instruction, "DbtrAcct", debtor_account)
    add(add(add(add(instruction, "DbtrAgt"), "FinInstnId"), "Othr"), "Id", "NOTPROVIDED")
    for transfer in transfers:
        tx = add(instruction, "CdtTrfTxInf")
        add(add(tx, "PmtId"), "EndToEndId", transfer.end_to_end_id)
        amount = add(add(tx, "Amt"), "InstdAmt", cents_to_text(transfer.amount_cents))
        amount.set("Ccy", "CNY")
        add(add(tx, "Cdtr"), "Nm", transfer.creditor_name)
        account(tx, "CdtrAcct", transfer.creditor_account)
        add(add(tx, "RmtInf"), "Ustrd", transfer.remittance)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))


def parse_pain002(body: bytes) -> dict[str, TransferStatus]:
    """Each transaction of a pain.002 (any version) by its OrgnlEndToEndId."""
    root = parse_xml(body)
    for element in root.iter():  # the namespace is the version's: match on local names
        if isinstance(element.tag, str):
            element.tag = etree.QName(element).localname
    found = {}
    for tx in root.iter("TxInfAndSts"):
        e2e = tx.findtext("OrgnlEndToEndId")
        if not e2e:
            continue
        found[e2e] = TransferStatus(
            e2e,
            tx.findtext("TxSts"),
            tx.findtext("StsRsnInf/Rsn/Cd"),
            tx.findtext("AcctSvcrRef"),
        )
    return found


class BankClient:
    """Logs in with the password and a TOTP code (each 30-second step once, as RFC 6238
    wants), keeps the bearer session, logs in again when the bank drops it."""

    def __init__(
        self, client: HttpClient, url: str, account: str, password: str, totp_seed: str
    ) -> None:
        self.client = client
        self.url = url
        self.account = account
        self.password = password
        self.totp_seed = totp_seed
        self._token: str | None = None
        self._last_step = 0
        self._login_lock = asyncio.Lock()
        self.logins = 0

    async def _login(self) -> str:
        # A step the bank saw is refused: take the next one (it accepts one step ahead).
        step = max(int(time.time()) // TOTP_STEP_SECONDS, self._last_step + 1)
        if step > int(time.time()) // TOTP_STEP_SECONDS + 1:
            raise RetryableError(SYSTEM, "login: no fresh one-time password step yet")
        self._last_step = step
        body = {
            "account": self.account,
            "password": self.password,
            "otp": totp_at(self.totp_seed, step),
        }
        reply = await self._send(
            Request(
                "POST",
                f"{self.url}/iso20022/login",
                orjson.dumps(body),
                headers={"Content-Type": "application/json"},
            )
        )
        if reply.status_code != 200:
            # A refused code (a clock off by a step) passes with the next one: retry later.
            raise RetryableError(SYSTEM, f"login refused: HTTP {reply.status_code}")
        try:
            token = str(orjson.loads(reply.content)["session_token"])
        except (orjson.JSONDecodeError, KeyError, TypeError) as exc:
            raise RetryableError(SYSTEM, "login: no session_token") from exc
        self.logins += 1
        return token

    async def _session(self, expired: str | None = None) -> str:
        async with self._login_lock:
            if self._token is None or self._token == expired:
                self._token = await self._login()
            return self._token

    async def _send(self, request: Request) -> Reply:
        try:
            return await self.client.send(request)
        except TransportFailure as exc:
            raise RetryableError(SYSTEM, f"transport error ({exc})") from exc

    async def _call(self, method: str, path: str, content: bytes | None = None) -> bytes:
        """An authenticated call's body; on a dropped session (401), log in again once."""
        token = await self._session()
        for attempt in range(2):
            headers = {"Authorization": f"Bearer {token}"}
            if content is not None:
                headers["Content-Type"] = "application/xml"
            reply = await self._send(Request(method, f"{self.url}{path}", content, headers=headers))
            if reply.status_code == 401 and attempt == 0:
                token = await self._session(expired=token)
                continue
            if reply.status_code >= 500 or reply.status_code == 429:
                raise RetryableError(
                    SYSTEM, f"{path}: HTTP {reply.status_code}", retry_after=reply.retry_after
                )
            if reply.status_code >= 300:
                raise PermanentError(
                    SYSTEM, f"{path}: HTTP {reply.status_code}: {reply.text[:200]}"
                )
            return reply.content
        raise RetryableError(SYSTEM, f"{path}: session refused twice")

    async def send_transfers(
        self, msg_id: str, day: date, now: datetime, *transfers: Transfer
    ) -> dict[str, TransferStatus]:
        """POST a pain.001 (idempotent on `msg_id`: a resend returns the first's report)."""
        body = pain001(msg_id, self.account, day, now, *transfers)
        return _report(await self._call("POST", "/iso20022/pain.001", body))

    async def status(self, msg_id: str) -> dict[str, TransferStatus]:
        """The pain.002 of a sent message, as it stands now."""
        return _report(await self._call("GET", f"/iso20022/pain.002/{quote(msg_id, safe='')}"))

    async def statement(self, day: date) -> Statement:
        """The camt.053 of the account for booking date `day` (today's: so far)."""
        query = f"account={quote(self.account, safe='')}&date={day.isoformat()}"
        body = await self._call("GET", f"/iso20022/camt.053/statements?{query}")
        try:
            return parse_camt053(body, day)
        except (ValueError, etree.XMLSyntaxError) as exc:
            raise RetryableError(SYSTEM, f"unreadable camt.053: {exc}") from exc


def _report(body: bytes) -> dict[str, TransferStatus]:
    try:
        return parse_pain002(body)
    except (ValueError, etree.XMLSyntaxError) as exc:
        raise RetryableError(SYSTEM, f"unreadable pain.002: {exc}") from exc
