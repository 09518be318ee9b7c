"""ISO 20022 documents of the bank: camt.053 / camt.054 / pain.002 written, pain.001 read.

Outgoing documents are written from string templates (about ten times faster than an lxml
tree, and statements can hold a busy day); every variable text goes through `_text`.
pain.001 is read with lxml set up safely: no DTD loading, no entity expansion, no network,
no huge trees; a document carrying a DOCTYPE is refused outright (a bank file has no use
for one, and that closes entity bombs and external entities). A pain.001 is validated
against the official XSD of the version it names (`schemas/`, loaded once per process)
before the fake reads it, and is answered by the pain.002 of the same maintenance release.
"""

from __future__ import annotations

import functools
import re
import threading
import uuid
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from xml.sax.saxutils import escape

from lxml import etree

from fake_systems.bank.models import (
    BankError,
    CreditTransfer,
    Entry,
    MessageStatus,
    PaymentInstruction,
    PaymentMessage,
    Statement,
)
from fake_systems.common.money import cents_to_text
from fake_systems.common.wire import (
    WireValueError,
    check_text,
    parse_decimal,
    parse_int,
    xml_safe,
)

CAMT053_NS = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"
CAMT054_NS = "urn:iso:std:iso:20022:tech:xsd:camt.054.001.08"
ISO_NS = "urn:iso:std:iso:20022:tech:xsd:"
# pain.001 versions read: .03 (still the most common in China and SEPA) and .09, each
# answered by the status report of its own release: .03 (2009) by pain.002.001.03, .09
# (2019) by pain.002.001.10, as banks pair them (docs/protocols/bank.md).
PAIN002_FOR = {"pain.001.001.03": "pain.002.001.03", "pain.001.001.09": "pain.002.001.10"}
PAIN001_VERSIONS = tuple(PAIN002_FOR)
SCHEMA_DIR = Path(__file__).parent / "schemas"
# pain.002.001.03 closes its status lists (TransactionIndividualStatus3Code): RCVD may stand
# as GrpSts only, never as TxSts or DtldSts.
PAIN002_03_TX_STATUSES = frozenset({"ACTC", "RJCT", "PDNG", "ACCP", "ACSP", "ACSC", "ACWC"})
SCHEMA_ERROR_MAX = 300
CURRENCY = "CNY"
REMITTANCE_MAX = 140  # Ustrd is Max140Text
ID_MAX = 35  # MsgId, PmtInfId, InstrId, EndToEndId are Max35Text
CTRL_SUM_MAX = Decimal("999999999999999.99")
NAME_MAX = 140
ACCOUNT_MAX = 34
AMOUNT_MAX = Decimal("999999999999.99")  # keeps sums inside SQLite's 64-bit integers

NB_OF_TXS_MAX = 10**15 - 1  # Max15NumericText

_BALANCE = (
    '<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp><Amt Ccy="{ccy}">{amount}</Amt>'
    "<CdtDbtInd>{indicator}</CdtDbtInd><Dt><Dt>{day}</Dt></Dt></Bal>"
)
_ENTRY = (
    '<Ntry><NtryRef>{ref}</NtryRef><Amt Ccy="{ccy}">{amount}</Amt>'
    "<CdtDbtInd>{direction}</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>"
    "<BookgDt><Dt>{day}</Dt></BookgDt><ValDt><Dt>{day}</Dt></ValDt>"
    "<AcctSvcrRef>{ref}</AcctSvcrRef>"
    "<BkTxCd><Domn><Cd>{domain}</Cd><Fmly><Cd>{family}</Cd><SubFmlyCd>{sub_family}</SubFmlyCd>"
    "</Fmly></Domn></BkTxCd>"
    "<NtryDtls><TxDtls><Refs><EndToEndId>{e2e}</EndToEndId></Refs>"
    "<RmtInf><Ustrd>{remittance}</Ustrd></RmtInf></TxDtls></NtryDtls></Ntry>"
)


def _text(value: str) -> str:
    # What XML cannot carry is dropped: remittance text must not break the document.
    return escape(xml_safe(value), {'"': "&quot;"})


def _indicator(cents: int) -> str:
    return "CRDT" if cents >= 0 else "DBIT"


def _balance(code: str, cents: int, ccy: str, day: str) -> str:
    return _BALANCE.format(
        code=code, ccy=ccy, amount=cents_to_text(abs(cents)), indicator=_indicator(cents), day=day
    )


def _entry(entry: Entry, ccy: str) -> str:
    domain, family, sub_family = entry.tx_code.split("/")
    return _ENTRY.format(
        ref=_text(entry.entry_ref),
        ccy=ccy,
        amount=cents_to_text(entry.amount_cents),
        direction=entry.direction,
        day=entry.booking_date.isoformat(),
        domain=domain,
        family=family,
        sub_family=sub_family,
        e2e=_text(entry.end_to_end_id or "NOTPROVIDED"),
        remittance=_text(xml_safe(entry.remittance)[:REMITTANCE_MAX]),
    )


def _account(account: str, ccy: str) -> str:
    return f"<Acct><Id><Othr><Id>{_text(account)}</Id></Othr></Id><Ccy>{ccy}</Ccy></Acct>"


def render_camt053(statement: Statement, created: str) -> bytes:
    """The statement as a camt.053.001.08 document; `created` is the ISO CreDtTm."""
    ccy = _text(statement.currency)
    day = statement.booking_date.isoformat()
    credits = sum(1 for x in statement.entries if x.direction == "CRDT")
    net = statement.credit_cents - statement.debit_cents
    message_id = f"C53{statement.booking_date:%Y%m%d}{uuid.uuid4().hex[:20]}"
    parts = [
        "<?xml version='1.0' encoding='UTF-8'?>\n",
        f'<Document xmlns="{CAMT053_NS}"><BkToCstmrStmt>',
        f"<GrpHdr><MsgId>{message_id}</MsgId><CreDtTm>{_text(created)}</CreDtTm></GrpHdr>",
        f"<Stmt><Id>{_text(statement.statement_id)}</Id>",
        f"<ElctrncSeqNb>{statement.sequence_number}</ElctrncSeqNb>",
        f"<CreDtTm>{_text(created)}</CreDtTm>",
        _account(statement.account, ccy),
        _balance("OPBD", statement.opening_cents, ccy, day),
        _balance("CLBD", statement.closing_cents, ccy, day),
        "<TxsSummry><TtlNtries>",
        f"<NbOfNtries>{len(statement.entries)}</NbOfNtries>",
        f"<Sum>{cents_to_text(statement.credit_cents + statement.debit_cents)}</Sum>",
        f"<TtlNetNtry><Amt>{cents_to_text(abs(net))}</Amt>",
        f"<CdtDbtInd>{_indicator(net)}</CdtDbtInd></TtlNetNtry></TtlNtries>",
        f"<TtlCdtNtries><NbOfNtries>{credits}</NbOfNtries>",
        f"<Sum>{cents_to_text(statement.credit_cents)}</Sum></TtlCdtNtries>",
        f"<TtlDbtNtries><NbOfNtries>{len(statement.entries) - credits}</NbOfNtries>",
        f"<Sum>{cents_to_text(statement.debit_cents)}</Sum></TtlDbtNtries></TxsSummry>",
        *(_entry(entry, ccy) for entry in statement.entries),
        "</Stmt></BkToCstmrStmt></Document>",
    ]
    return "".join(parts).encode()


def render_camt054(entry: Entry, currency: str, created: str) -> bytes:
    """One booked entry as a camt.054.001.08 notification. MsgId and Ntfctn/Id derive from the
    entry reference, so every delivery attempt of one notice carries the same ids."""
    ccy = _text(currency)
    ref = _text(entry.entry_ref)
    parts = [
        "<?xml version='1.0' encoding='UTF-8'?>\n",
        f'<Document xmlns="{CAMT054_NS}"><BkToCstmrDbtCdtNtfctn>',
        f"<GrpHdr><MsgId>C54-{ref}</MsgId><CreDtTm>{_text(created)}</CreDtTm></GrpHdr>",
        f"<Ntfctn><Id>NTFN-{ref}</Id><CreDtTm>{_text(created)}</CreDtTm>",
        _account(entry.account, ccy),
        _entry(entry, ccy),
        "</Ntfctn></BkToCstmrDbtCdtNtfctn></Document>",
    ]
    return "".join(parts).encode()


def render_pain002(report: MessageStatus, created: str) -> bytes:
    """The CstmrPmtStsRpt for one pain.001, in the pain.002 version that answers its version
    (`PAIN002_FOR`): group status, counts per status and one TxInfAndSts per transaction,
    grouped by the original PmtInf."""
    version = PAIN002_FOR[report.message_name]
    # In .03 a transaction only received has no individual status yet (no RCVD there).
    closed = version == "pain.002.001.03"

    def shown(status: str) -> bool:
        return not closed or status in PAIN002_03_TX_STATUSES

    per_status: dict[str, list[int]] = {}
    for tx in report.transactions:
        per_status.setdefault(tx.status, []).append(tx.amount_cents)
    parts = [
        "<?xml version='1.0' encoding='UTF-8'?>\n",
        f'<Document xmlns="{ISO_NS}{version}"><CstmrPmtStsRpt>',
        f"<GrpHdr><MsgId>P2-{uuid.uuid4().hex[:24]}</MsgId>",
        f"<CreDtTm>{_text(created)}</CreDtTm></GrpHdr>",
        f"<OrgnlGrpInfAndSts><OrgnlMsgId>{_text(report.msg_id)}</OrgnlMsgId>",
        f"<OrgnlMsgNmId>{_text(report.message_name)}</OrgnlMsgNmId>",
        f"<OrgnlCreDtTm>{_text(report.created)}</OrgnlCreDtTm>",
        f"<OrgnlNbOfTxs>{report.nb_of_txs}</OrgnlNbOfTxs>",
        f"<OrgnlCtrlSum>{cents_to_text(report.ctrl_sum_cents)}</OrgnlCtrlSum>",
        f"<GrpSts>{report.group_status}</GrpSts>",
        *(
            f"<NbOfTxsPerSts><DtldNbOfTxs>{len(amounts)}</DtldNbOfTxs>"
            f"<DtldSts>{status}</DtldSts><DtldCtrlSum>{cents_to_text(sum(amounts))}</DtldCtrlSum>"
            "</NbOfTxsPerSts>"
            for status, amounts in sorted(per_status.items())
            if shown(status)
        ),
        "</OrgnlGrpInfAndSts>",
    ]
    groups: dict[str, list[str]] = {}
    for tx in report.transactions:
        reason = f"<StsRsnInf><Rsn><Cd>{tx.reason}</Cd></Rsn></StsRsnInf>" if tx.reason else ""
        groups.setdefault(tx.pmt_inf_id, []).append(
            "<TxInfAndSts>"
            + (f"<OrgnlInstrId>{_text(tx.instr_id)}</OrgnlInstrId>" if tx.instr_id else "")
            + f"<OrgnlEndToEndId>{_text(tx.end_to_end_id)}</OrgnlEndToEndId>"
            + (f"<TxSts>{tx.status}</TxSts>" if shown(tx.status) else "")
            + reason
            + (f"<AcctSvcrRef>{_text(tx.entry_ref)}</AcctSvcrRef>" if tx.entry_ref else "")
            + f'<OrgnlTxRef><Amt><InstdAmt Ccy="{_text(tx.currency)}">'
            + f"{cents_to_text(tx.amount_cents)}</InstdAmt></Amt></OrgnlTxRef></TxInfAndSts>"
        )
    for pmt_inf_id, transactions in groups.items():
        parts.append(f"<OrgnlPmtInfAndSts><OrgnlPmtInfId>{_text(pmt_inf_id)}</OrgnlPmtInfId>")
        parts.extend(transactions)
        parts.append("</OrgnlPmtInfAndSts>")
    parts.append("</CstmrPmtStsRpt></Document>")
    return "".join(parts).encode()


# ---------------------------------------------------------------------------- pain.001 in


def _safe_parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=True,
        remove_pis=True,
    )


class _Schema:
    """One official XSD, compiled once per process. Validation holds a lock: lxml keeps each
    run's error log on the schema object, and big bodies are validated in worker threads."""

    def __init__(self, version: str) -> None:
        self.version = version
        document = etree.parse(str(SCHEMA_DIR / f"{version}.xsd"), _safe_parser())
        self._xsd = etree.XMLSchema(document)
        self._lock = threading.Lock()

    def first_error(self, root: etree._Element) -> str | None:
        """None if `root` is valid, else the first violation: its line and what libxml2 says
        of it (element names without their namespace, values left out)."""
        with self._lock:
            if self._xsd.validate(root):
                return None
            entry = self._xsd.error_log[0]
        message = entry.message.replace(f"{{{ISO_NS}{self.version}}}", "")
        return f"not a valid {self.version} (line {entry.line}): {_without_values(message)}"


# A value quoted in a libxml2 message may be personal data (a name, an address), and the
# refusal's text is recorded in the history; the element name says enough.
_VALUE_NOT_VALID = re.compile(r"^(Element '[^']*'): '.*' (is not a valid value)", re.DOTALL)
_THE_VALUE = re.compile(r"The value '.*?' (is|has|does)", re.DOTALL)


def _without_values(message: str) -> str:
    message = _VALUE_NOT_VALID.sub(r"\1: the value \2", message)
    return _THE_VALUE.sub(r"The value \1", message)[:SCHEMA_ERROR_MAX]


@functools.cache
def schema(version: str) -> _Schema:
    """The compiled XSD of an ISO 20022 message version shipped in `schemas/`."""
    return _Schema(version)


class _Reader:
    """Reads leaf texts under one namespace, refusing what the schema would refuse."""

    def __init__(self, ns: str) -> None:
        self.ns = {"p": ns}

    def find(self, node: etree._Element, path: str) -> etree._Element | None:
        found: etree._Element | None = node.find(self._q(path), self.ns)
        return found

    def all(self, node: etree._Element, path: str) -> list[etree._Element]:
        return list(node.findall(self._q(path), self.ns))

    def text(self, node: etree._Element, path: str, max_len: int, required: bool = True) -> str:
        """The text of a leaf element (1..max_len characters), verbatim apart from the ends of
        identifiers; '' for an absent optional element."""
        found = self.find(node, path)
        if found is None:
            if required:
                raise BankError(f"{path} is missing")
            return ""
        if len(found):
            raise BankError(f"{path} must be text, not elements")
        value = found.text or ""
        if not value.strip():
            raise BankError(f"{path} is empty")
        try:
            return check_text(value, max_len, multiline=True)
        except WireValueError as exc:
            raise BankError(f"{path} {exc}") from None

    def ident(self, node: etree._Element, path: str, required: bool = True) -> str:
        """An identifier: stripped, and without any control character inside."""
        return _ident(self.text(node, path, ID_MAX, required).strip(), path)

    def account(self, node: etree._Element, path: str) -> str:
        """`…Acct/Id/IBAN` or `…Acct/Id/Othr/Id`."""
        for choice in (f"{path}/Id/IBAN", f"{path}/Id/Othr/Id"):
            if self.find(node, choice) is not None:
                return _ident(self.text(node, choice, ACCOUNT_MAX).strip(), choice)
        raise BankError(f"{path}/Id is missing")

    @staticmethod
    def _q(path: str) -> str:
        return "/".join(f"p:{step}" for step in path.split("/"))


def _ident(value: str, path: str) -> str:
    """An identifier or account number as read, refused if a control character is left in it
    (a tab or a line break inside an id is never what the sender meant)."""
    try:
        return check_text(value, len(value))
    except WireValueError as exc:
        raise BankError(f"{path} {exc}") from None


def _amount_cents(
    text: str, field: str, fraction_digits: int = 5, maximum: Decimal = AMOUNT_MAX
) -> int:
    """Whole cents of a decimal amount; the schema allows 5 (InstdAmt) or 17 (CtrlSum)
    fraction digits, CNY only whole fen, so 1.500 is fine and 1.505 is not."""
    try:
        amount = parse_decimal(text)
    except WireValueError:
        raise BankError(f"{field} must be a positive decimal amount") from None
    exponent = amount.as_tuple().exponent
    if amount.is_signed() or (isinstance(exponent, int) and -exponent > fraction_digits):
        raise BankError(f"{field} must be a positive decimal amount")
    cents = amount * 100
    if cents != cents.to_integral_value():
        raise BankError(f"{field} must be whole fen (two decimals for CNY)")
    if cents <= 0 or cents > maximum * 100:
        raise BankError(f"{field} must be between 0.01 and {maximum}")
    return int(cents)


def _requested_date(reader: _Reader, pmt: etree._Element) -> date:
    """ReqdExctnDt: plain ISODate in .03, Dt or DtTm inside it in .09."""
    node = reader.find(pmt, "ReqdExctnDt")
    if node is None:
        raise BankError("PmtInf/ReqdExctnDt is missing")
    try:
        if reader.find(node, "Dt") is not None:
            return date.fromisoformat(reader.text(node, "Dt", 10).strip())
        if reader.find(node, "DtTm") is not None:
            return datetime.fromisoformat(reader.text(node, "DtTm", 40).strip()).date()
        return date.fromisoformat(reader.text(pmt, "ReqdExctnDt", 10).strip())
    except ValueError as exc:
        raise BankError("PmtInf/ReqdExctnDt is not an ISO date") from exc


def _transfer(reader: _Reader, tx: etree._Element) -> CreditTransfer:
    amount_node = reader.find(tx, "Amt/InstdAmt")
    if amount_node is None:
        raise BankError("CdtTrfTxInf/Amt/InstdAmt is missing")
    currency = amount_node.get("Ccy", "")
    if currency != CURRENCY:
        raise BankError(f"InstdAmt/@Ccy must be {CURRENCY}: the fake holds CNY accounts only")
    return CreditTransfer(
        end_to_end_id=reader.ident(tx, "PmtId/EndToEndId"),
        instr_id=reader.ident(tx, "PmtId/InstrId", required=False) or None,
        amount_cents=_amount_cents(reader.text(tx, "Amt/InstdAmt", 20), "InstdAmt"),
        currency=currency,
        creditor_name=reader.text(tx, "Cdtr/Nm", NAME_MAX),
        creditor_account=reader.account(tx, "CdtrAcct"),
        remittance=reader.text(tx, "RmtInf/Ustrd", REMITTANCE_MAX, required=False),
    )


def parse_pain001(body: bytes) -> PaymentMessage:
    """A pain.001 (.03 or .09) CstmrCdtTrfInitn; BankError (FORMAT_ERROR) on anything the
    version's XSD or the fake's own rules refuse (the XSD first, then CNY, whole fen, control
    characters, sums). Valid elements the fake does not use are read past."""
    try:
        root = etree.fromstring(body, _safe_parser())
    except (etree.XMLSyntaxError, ValueError) as exc:
        raise BankError(f"malformed XML: {str(exc)[:200]}") from exc
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise BankError("DOCTYPE declarations are not accepted")
    names = {f"{{{ISO_NS}{v}}}Document": v for v in PAIN001_VERSIONS}
    if root.tag not in names:
        raise BankError(f"root element must be Document in one of {', '.join(PAIN001_VERSIONS)}")
    version = names[root.tag]
    invalid = schema(version).first_error(root)
    if invalid is not None:
        raise BankError(invalid)
    reader = _Reader(f"{ISO_NS}{version}")
    initiation = reader.find(root, "CstmrCdtTrfInitn")
    if initiation is None:
        raise BankError("Document/CstmrCdtTrfInitn is missing")
    try:
        nb_of_txs = parse_int(reader.text(initiation, "GrpHdr/NbOfTxs", 15), 0, NB_OF_TXS_MAX)
    except WireValueError:
        raise BankError("GrpHdr/NbOfTxs must be digits") from None
    created = reader.text(initiation, "GrpHdr/CreDtTm", 40).strip()
    try:
        datetime.fromisoformat(created)
    except ValueError as exc:
        raise BankError("GrpHdr/CreDtTm is not an ISO date-time") from exc
    ctrl_sum = reader.text(initiation, "GrpHdr/CtrlSum", 20, required=False)
    instructions = []
    for pmt in reader.all(initiation, "PmtInf"):
        if reader.text(pmt, "PmtMtd", 3).strip() != "TRF":
            raise BankError("PmtInf/PmtMtd must be TRF")
        transfers = tuple(_transfer(reader, tx) for tx in reader.all(pmt, "CdtTrfTxInf"))
        if not transfers:
            raise BankError("PmtInf has no CdtTrfTxInf")
        instructions.append(
            PaymentInstruction(
                pmt_inf_id=reader.ident(pmt, "PmtInfId"),
                requested_date=_requested_date(reader, pmt),
                debtor_account=reader.account(pmt, "DbtrAcct"),
                transfers=transfers,
            )
        )
    if not instructions:
        raise BankError("CstmrCdtTrfInitn has no PmtInf")
    return PaymentMessage(
        msg_id=reader.ident(initiation, "GrpHdr/MsgId"),
        message_name=version,
        created=created,
        nb_of_txs=nb_of_txs,
        ctrl_sum_cents=(
            _amount_cents(ctrl_sum, "GrpHdr/CtrlSum", 17, CTRL_SUM_MAX) if ctrl_sum else None
        ),
        instructions=tuple(instructions),
    )


def render_pain001(message: PaymentMessage) -> bytes:
    """`message` as a schema-valid pain.001 document (the inverse of `parse_pain001`), for
    clients and tests. The debtor's bank (DbtrAgt, mandatory) is written as SEPA files write
    an agent without a BIC: `FinInstnId/Othr/Id` NOTPROVIDED."""
    ns = f"{ISO_NS}{message.message_name}"

    def el(tag: str, *children: etree._Element | str, **attrib: str) -> etree._Element:
        node = etree.Element(f"{{{ns}}}{tag}", attrib, nsmap={None: ns})
        for child in children:
            if isinstance(child, str):
                node.text = child
            else:
                node.append(child)
        return node

    def account(tag: str, number: str) -> etree._Element:
        return el(tag, el("Id", el("Othr", el("Id", number))))

    def requested(day: date) -> etree._Element:
        if message.message_name.endswith(".03"):
            return el("ReqdExctnDt", day.isoformat())
        return el("ReqdExctnDt", el("Dt", day.isoformat()))

    def transfer(t: CreditTransfer) -> etree._Element:
        ids = ([el("InstrId", t.instr_id)] if t.instr_id else []) + [
            el("EndToEndId", t.end_to_end_id)
        ]
        parts = [
            el("PmtId", *ids),
            el("Amt", el("InstdAmt", cents_to_text(t.amount_cents), Ccy=t.currency)),
            el("Cdtr", el("Nm", t.creditor_name)),
            account("CdtrAcct", t.creditor_account),
        ]
        if t.remittance:
            parts.append(el("RmtInf", el("Ustrd", t.remittance)))
        return el("CdtTrfTxInf", *parts)

    header = [
        el("MsgId", message.msg_id),
        el("CreDtTm", message.created),
        el("NbOfTxs", str(message.nb_of_txs)),
    ]
    if message.ctrl_sum_cents is not None:
        header.append(el("CtrlSum", cents_to_text(message.ctrl_sum_cents)))
    header.append(el("InitgPty", el("Nm", "ecomock client")))
    instructions = [
        el(
            "PmtInf",
            el("PmtInfId", i.pmt_inf_id),
            el("PmtMtd", "TRF"),
            el("NbOfTxs", str(len(i.transfers))),
            requested(i.requested_date),
            el("Dbtr", el("Nm", "ecomock client")),
            account("DbtrAcct", i.debtor_account),
            el("DbtrAgt", el("FinInstnId", el("Othr", el("Id", "NOTPROVIDED")))),
            *(transfer(t) for t in i.transfers),
        )
        for i in message.instructions
    ]
    root = el("Document", el("CstmrCdtTrfInitn", el("GrpHdr", *header), *instructions))
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
