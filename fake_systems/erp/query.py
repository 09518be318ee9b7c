"""ExecuteBillQuery: K3 field keys and FilterString translated to parameterised SQL."""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from typing import Any

from fake_systems.common.scope import OwnerScope
from fake_systems.erp.models import MSG_FORM_NOT_FOUND, K3Error, MsgCode


@dataclass(frozen=True)
class QueryField:
    """One queryable K3 field key: its SQL over `d` (header row) and `e` (entry row)."""

    sql: str
    entry: bool = False
    money: bool = False  # integer cents inside, decimal yuan on the wire


@dataclass(frozen=True)
class QuerySpec:
    """A form's query surface: its rows, its fields, and how to join its entries."""

    form_id: str
    source: str  # FROM clause with the header aliased `d`
    where: str  # restriction to the form's own rows
    params: tuple[Any, ...]
    fields: dict[str, QueryField]
    order: str
    entry_join: str | None = None
    entry_order: str | None = None
    owner_sql: str | None = None  # the row's cargo owner, for owner-scoped users; None: shared


_MATERIAL_ID = "(SELECT m.fmaterialid FROM bd_material m WHERE m.number = e.material_number)"
_MATERIAL_NAME = "(SELECT m.name FROM bd_material m WHERE m.number = e.material_number)"
_ACCOUNT_NAME = "(SELECT a.name FROM bd_account a WHERE a.number = e.account_number)"
# The partner basedata of a bill: (column of documents, master table, its id column).
_PARTNERS = {
    "customer": ("customer_number", "bd_customer", "fcustid"),
    "supplier": ("supplier_number", "bd_supplier", "fsupplierid"),
    "book": ("book_number", "bd_accountbook", "faccountbookid"),
    "org": ("org_number", "org_organizations", "forgid"),  # transfers: the stock organisation
}


def _bill_header(
    partner: tuple[str, str],
    amount_keys: tuple[str, ...],
    currency_key: str,
    org_keys: tuple[str, ...],
) -> dict[str, QueryField]:
    """Header fields of a bill: `partner` is (field key, kind), e.g. ("fcustomerid", "customer")."""
    key, kind = partner
    column, table, id_col = _PARTNERS[kind]
    lookup = f"(SELECT p.{{}} FROM {table} p WHERE p.number = d.{column})"
    fields = {
        "fid": QueryField("d.fid"),
        "fbillno": QueryField("d.bill_no"),
        "fdocumentstatus": QueryField("d.document_status"),
        "fdate": QueryField("d.bill_date"),
        "fnote": QueryField("d.note"),
        key: QueryField(lookup.format(id_col)),
        f"{key}.fnumber": QueryField(f"d.{column}"),
        f"{key}.fname": QueryField(lookup.format("name")),
        "fcreatedate": QueryField("d.saved_sim"),
        "fmodifydate": QueryField("d.modified_sim"),
        "fsubmitdate": QueryField("d.submitted_sim"),
        "fapprovedate": QueryField("d.audited_sim"),
        f"{currency_key}.fnumber": QueryField("d.currency_number"),
    }
    for amount_key in amount_keys:
        fields[amount_key] = QueryField("d.amount_cents", money=True)
    for org_key in org_keys:
        fields[f"{org_key}.fnumber"] = QueryField("d.org_number")
    return fields


def _entry_keys(entity: str) -> dict[str, QueryField]:
    return {
        f"{entity}_fentryid": QueryField("e.entry_id", entry=True),
        f"{entity}_fseq": QueryField("e.seq", entry=True),
    }


def _bill_entries(entity: str, qty_key: str, amount_key: str) -> dict[str, QueryField]:
    return {
        **_entry_keys(entity),
        "fmaterialid": QueryField(_MATERIAL_ID, entry=True),
        "fmaterialid.fnumber": QueryField("e.material_number", entry=True),
        "fmaterialid.fname": QueryField(_MATERIAL_NAME, entry=True),
        qty_key: QueryField("e.qty", entry=True),
        "ftaxprice": QueryField("e.price_cents", entry=True, money=True),
        amount_key: QueryField("e.amount_cents", entry=True, money=True),
    }


def _bill_spec(
    form_id: str, header: dict[str, QueryField], entries: dict[str, QueryField]
) -> QuerySpec:
    return QuerySpec(
        form_id=form_id,
        source="documents d",
        where="d.form_id = ?",
        params=(form_id,),
        fields={**header, **entries},
        order="d.fid",
        entry_join="JOIN document_entries e ON e.fid = d.fid",
        entry_order="e.seq",
        owner_sql="d.owner_code",
    )


def _master_spec(
    form_id: str, table: str, id_key: str, extra: dict[str, QueryField], owned: bool = False
) -> QuerySpec:
    fields = {
        id_key: QueryField(f"d.{id_key}"),
        "fnumber": QueryField("d.number"),
        "fname": QueryField("d.name"),
        "fdocumentstatus": QueryField("d.document_status"),
        "fforbidstatus": QueryField("d.forbid_status"),
        "fcreatedate": QueryField("d.created_sim"),
        "fmodifydate": QueryField("d.modified_sim"),
        **extra,
    }
    owner = "d.owner_code" if owned else None
    return QuerySpec(form_id, f"{table} d", "1 = 1", (), fields, f"d.{id_key}", owner_sql=owner)


_CUSTOMER = ("fcustomerid", "customer")
_SAL_ENTRIES = _bill_entries("fentity", "frealqty", "fallamount")
_SAL_ENTRIES["fstockid.fnumber"] = QueryField("e.stock_number", entry=True)
_INSTOCK_ENTRIES = _bill_entries("finstockentry", "frealqty", "fallamount")
_INSTOCK_ENTRIES["fstockid.fnumber"] = QueryField("e.stock_number", entry=True)
_PO_ENTRIES = _bill_entries("fpoorderentry", "fqty", "fallamount")
_PO_ENTRIES["fstockid.fnumber"] = QueryField("e.stock_number", entry=True)
# K3's 货主 (FOwnerId) of a purchase order entry: the fake's is the supplier's cargo owner.
_PO_ENTRIES["fownerid.fnumber"] = QueryField("d.owner_code", entry=True)
# the header total is FALLAMOUNTFOR, so the entry amount is queried as FALLAMOUNTFOR_D
_DETAIL_ENTRIES = _bill_entries("fentitydetail", "fpriceqty", "fallamountfor_d")
# Two-step transfers: each entry moves units at one warehouse, the sender's on a transfer-out,
# the receiver's on a transfer-in (fake_systems/erp/transfers.py).
_TRANSFER_OUT_ENTRIES = _bill_entries("fstktrsoutentry", "fqty", "famount")
_TRANSFER_OUT_ENTRIES["fsrcstockid.fnumber"] = QueryField("e.stock_number", entry=True)
_TRANSFER_IN_ENTRIES = _bill_entries("fstktrsinentry", "fqty", "famount")
_TRANSFER_IN_ENTRIES["fdeststockid.fnumber"] = QueryField("e.stock_number", entry=True)
# Count gains and losses: each entry's units over or under the books at one warehouse.
_COUNT_GAIN_ENTRIES = _bill_entries("fbillentry", "fgainqty", "famount")
_COUNT_GAIN_ENTRIES["fstockid.fnumber"] = QueryField("e.stock_number", entry=True)
_COUNT_LOSS_ENTRIES = _bill_entries("fbillentry", "flossqty", "famount")
_COUNT_LOSS_ENTRIES["fstockid.fnumber"] = QueryField("e.stock_number", entry=True)
_VOUCHER_ENTRIES = {
    **_entry_keys("fentity"),
    "faccountid.fnumber": QueryField("e.account_number", entry=True),
    "faccountid.fname": QueryField(_ACCOUNT_NAME, entry=True),
    "fdebit": QueryField("e.debit_cents", entry=True, money=True),
    "fcredit": QueryField("e.credit_cents", entry=True, money=True),
}

# 即时库存: the book stock per material and warehouse (fake_systems/erp/inventory.py). Shared
# by every owner, so an owner-scoped user reads no row of it (the owner expression is NULL).
_INVENTORY = QuerySpec(
    form_id="STK_Inventory",
    source="inventory d",
    where="1 = 1",
    params=(),
    fields={
        "fmaterialid": QueryField(
            "(SELECT m.fmaterialid FROM bd_material m WHERE m.number = d.material_number)"
        ),
        "fmaterialid.fnumber": QueryField("d.material_number"),
        "fmaterialid.fname": QueryField(
            "(SELECT m.name FROM bd_material m WHERE m.number = d.material_number)"
        ),
        "fstockid": QueryField(
            "(SELECT s.fstockid FROM bd_stock s WHERE s.number = d.stock_number)"
        ),
        "fstockid.fnumber": QueryField("d.stock_number"),
        "fbaseqty": QueryField("d.qty"),
        "fqty": QueryField("d.qty"),
    },
    order="d.stock_number, d.material_number",
    owner_sql="NULL",
)

QUERY_SPECS: dict[str, QuerySpec] = {
    spec.form_id.lower(): spec
    for spec in (
        _bill_spec(
            "SAL_OUTSTOCK",
            _bill_header(
                _CUSTOMER, ("fbillallamount",), "fsettlecurrid", ("fsaleorgid", "fstockorgid")
            ),
            _SAL_ENTRIES,
        ),
        _bill_spec(
            "SAL_RETURNSTOCK",
            _bill_header(
                ("fretcustid", "customer"),
                ("fbillallamount",),
                "fsettlecurrid",
                ("fsaleorgid", "fstockorgid"),
            ),
            _SAL_ENTRIES,
        ),
        _bill_spec(
            "AR_receivable",
            _bill_header(
                _CUSTOMER, ("fallamountfor",), "fcurrencyid", ("fsettleorgid", "fsaleorgid")
            ),
            _DETAIL_ENTRIES,
        ),
        _bill_spec(
            "AP_Payable",
            {
                **_bill_header(
                    ("fsupplierid", "supplier"),
                    ("fallamountfor",),
                    "fcurrencyid",
                    ("fsettleorgid", "fpurchaseorgid"),
                ),
                # 到期日: the date plus the supplier's terms (documents.py)
                "fenddate_h": QueryField("d.due_date"),
            },
            _DETAIL_ENTRIES,
        ),
        _bill_spec(
            "STK_InStock",
            _bill_header(
                ("fsupplierid", "supplier"),
                ("fbillallamount",),
                "fsettlecurrid",
                ("fstockorgid", "fpurchaseorgid"),
            ),
            _INSTOCK_ENTRIES,
        ),
        _bill_spec(
            "PUR_PurchaseOrder",
            _bill_header(
                ("fsupplierid", "supplier"),
                ("fbillallamount",),
                "fsettlecurrid",
                ("fpurchaseorgid",),
            ),
            _PO_ENTRIES,
        ),
        _bill_spec(
            "AR_RECEIVEBILL",
            _bill_header(
                ("fcontactunit", "customer"),
                ("frecamountfor",),
                "fcurrencyid",
                ("fsettleorgid", "fpayorgid"),
            ),
            {
                **_entry_keys("freceivebillentry"),
                "frectotalamountfor": QueryField("e.amount_cents", entry=True, money=True),
            },
        ),
        _bill_spec(
            "AP_PAYBILL",
            _bill_header(
                ("fcontactunit", "supplier"),
                ("fpayamountfor_h",),
                "fcurrencyid",
                ("fsettleorgid", "fpayorgid"),
            ),
            {
                **_entry_keys("fpaybillentry"),
                "fpaytotalamountfor": QueryField("e.amount_cents", entry=True, money=True),
            },
        ),
        _bill_spec(
            "STK_TRANSFEROUT",
            _bill_header(("fstockoutorgid", "org"), ("famount",), "fbasecurrid", ()),
            _TRANSFER_OUT_ENTRIES,
        ),
        _bill_spec(
            "STK_TRANSFERIN",
            _bill_header(("fstockorgid", "org"), ("famount",), "fbasecurrid", ()),
            _TRANSFER_IN_ENTRIES,
        ),
        _bill_spec(
            "STK_StockCountGain",
            _bill_header(("fstockorgid", "org"), ("famount",), "fbasecurrid", ()),
            _COUNT_GAIN_ENTRIES,
        ),
        _bill_spec(
            "STK_StockCountLoss",
            _bill_header(("fstockorgid", "org"), ("famount",), "fbasecurrid", ()),
            _COUNT_LOSS_ENTRIES,
        ),
        _bill_spec(
            "GL_VOUCHER",
            _bill_header(
                ("faccountbookid", "book"), ("fdebittotal", "fcredittotal"), "fcurrencyid", ()
            ),
            _VOUCHER_ENTRIES,
        ),
        _master_spec(
            "BD_MATERIAL",
            "bd_material",
            "fmaterialid",
            {
                "fgrossweight": QueryField("d.weight_kg"),
                "fmaterialgroup.fnumber": QueryField("d.category"),
                "fbarcode": QueryField("d.barcode"),
                "fissale": QueryField("d.is_sale"),
                # ecomock's retail price, as a K3 custom field (F_<developer code>_...)
                "f_eco_retailprice": QueryField("d.price_cents", money=True),
            },
        ),
        _master_spec("BD_Customer", "bd_customer", "fcustid", {}, owned=True),
        _master_spec(
            "BD_Supplier",
            "bd_supplier",
            "fsupplierid",
            # the account of its bank entry (FBankInfo), where it is paid
            {"fbankcode": QueryField("d.bank_account")},
            owned=True,
        ),
        _master_spec("BD_AccountBook", "bd_accountbook", "faccountbookid", {}, owned=True),
        _master_spec("BD_Account", "bd_account", "facctid", {}),
        _master_spec("BD_STOCK", "bd_stock", "fstockid", {}),
        _master_spec("ORG_Organizations", "org_organizations", "forgid", {}),
        _master_spec("BD_Currency", "bd_currency", "fcurrencyid", {"fcode": QueryField("d.code")}),
        _INVENTORY,
    )
}

# ASCII only: `\d` would take other scripts' digits ("٣") and `\w` any letter.
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^']|'')*')
      | (?P<number>-?[0-9]+(?:\.[0-9]+)?)(?![A-Za-z0-9_.])
      | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
      | (?P<op><>|!=|>=|<=|=|<|>)
      | (?P<punct>[(),])
    )""",
    re.VERBOSE | re.ASCII,
)
_KEYWORDS = frozenset({"and", "or", "not", "in", "like", "is", "null", "between"})
_COMPARISONS = frozenset({"=", "<>", "!=", ">", "<", ">=", "<="})
# Bounds that keep a hostile filter from costing more than a query: SQLite refuses expression
# trees deeper than 1,000, and Python's recursion would fail before that.
MAX_FILTER_TOKENS = 2000
MAX_FILTER_DEPTH = 32
MAX_NUMBER_DIGITS = 18  # fits SQLite's signed 64-bit integer whatever the digits


def _field_missing(key: str) -> K3Error:
    return K3Error.one(MsgCode.FIELD_MISSING, f"元数据中标识为{key}的字段不存在", key)


def _syntax_error(text: str) -> K3Error:
    return K3Error.one(MsgCode.PARAMETER_ERROR, f"过滤条件语法错误：{text}", "FilterString")


@dataclass(frozen=True)
class _Token:
    kind: str  # string | number | field | keyword | op | punct
    text: str  # keywords lower-cased, `!=` as `<>`
    value: Any = None  # the literal's value, or the field


def _tokenize(spec: QuerySpec, text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            if not text[position:].strip():
                break
            raise _syntax_error(text)
        position = match.end()
        if len(tokens) >= MAX_FILTER_TOKENS:
            raise _syntax_error(text)
        kind = match.lastgroup or ""
        word = match.group(kind)
        if kind == "string":
            tokens.append(_Token("string", word, word[1:-1].replace("''", "'")))
        elif kind == "number":
            if len(word.lstrip("-").partition(".")[0]) > MAX_NUMBER_DIGITS:
                raise _syntax_error(text)
            tokens.append(_Token("number", word, float(word) if "." in word else int(word)))
        elif kind == "ident" and word.lower() in _KEYWORDS:
            tokens.append(_Token("keyword", word.lower()))
        elif kind == "ident":
            field = spec.fields.get(word.lower())
            if field is None:
                raise _field_missing(word)
            tokens.append(_Token("field", word, field))
        elif kind == "op":
            tokens.append(_Token("op", "<>" if word == "!=" else word))
        else:
            tokens.append(_Token("punct", word))
    return tokens


class _FilterParser:
    """Recursive descent over FilterString's grammar; renders a fully bracketed SQL condition.

    condition := term (OR term)* ; term := factor (AND factor)* ;
    factor := NOT factor | '(' condition ')' | predicate ;
    predicate := operand (cmp operand | [NOT] IN '(' literal, … ')' | [NOT] LIKE operand
                 | IS [NOT] NULL | [NOT] BETWEEN operand AND operand)

    The SQL comes only from this renderer: field keys become their expressions, literals bound
    parameters, and every sub-condition its own brackets. So whatever the text, the result is
    one balanced expression that the owner scope can be ANDed with from outside.
    """

    def __init__(self, text: str, tokens: list[_Token]) -> None:
        self.text = text
        self.tokens = tokens
        self.position = 0
        self.params: list[Any] = []
        self.uses_entries = False

    def parse(self) -> str:
        sql = self._condition(0)
        if self.position != len(self.tokens):
            raise _syntax_error(self.text)
        return sql

    def _peek(self, offset: int = 0) -> _Token | None:
        index = self.position + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def _accept(self, kind: str, text: str) -> bool:
        token = self._peek()
        if token is not None and token.kind == kind and token.text == text:
            self.position += 1
            return True
        return False

    def _expect(self, kind: str, text: str) -> None:
        if not self._accept(kind, text):
            raise _syntax_error(self.text)

    def _condition(self, depth: int) -> str:
        if depth > MAX_FILTER_DEPTH:
            raise _syntax_error(self.text)
        terms = [self._term(depth)]
        while self._accept("keyword", "or"):
            terms.append(self._term(depth))
        return terms[0] if len(terms) == 1 else "(" + " OR ".join(terms) + ")"

    def _term(self, depth: int) -> str:
        factors = [self._factor(depth)]
        while self._accept("keyword", "and"):
            factors.append(self._factor(depth))
        return factors[0] if len(factors) == 1 else "(" + " AND ".join(factors) + ")"

    def _factor(self, depth: int) -> str:
        if self._accept("keyword", "not"):
            return f"(NOT {self._factor(depth + 1)})"
        if self._accept("punct", "("):
            inner = self._condition(depth + 1)
            self._expect("punct", ")")
            return inner
        return self._predicate()

    def _predicate(self) -> str:
        left = self._operand()
        token = self._peek()
        if token is None:
            raise _syntax_error(self.text)
        if token.kind == "op" and token.text in _COMPARISONS:
            self.position += 1
            return f"({left} {token.text} {self._operand()})"
        if self._accept("keyword", "is"):
            negated = self._accept("keyword", "not")
            self._expect("keyword", "null")
            return f"({left} IS {'NOT ' if negated else ''}NULL)"
        negated = self._accept("keyword", "not")
        prefix = "NOT " if negated else ""
        if self._accept("keyword", "in"):
            self._expect("punct", "(")
            items = [self._literal()]
            while self._accept("punct", ","):
                items.append(self._literal())
            self._expect("punct", ")")
            return f"({left} {prefix}IN ({', '.join(items)}))"
        if self._accept("keyword", "like"):
            return f"({left} {prefix}LIKE {self._operand()})"
        if self._accept("keyword", "between"):
            low = self._operand()
            self._expect("keyword", "and")
            return f"({left} {prefix}BETWEEN {low} AND {self._operand()})"
        raise _syntax_error(self.text)

    def _operand(self) -> str:
        token = self._peek()
        if token is not None and token.kind == "field":
            self.position += 1
            field: QueryField = token.value
            self.uses_entries = self.uses_entries or field.entry
            # money compared in yuan, as the caller wrote it
            return f"({field.sql} / 100.0)" if field.money else f"({field.sql})"
        return self._literal()

    def _literal(self) -> str:
        token = self._peek()
        if token is None or token.kind not in ("string", "number"):
            raise _syntax_error(self.text)
        self.position += 1
        self.params.append(token.value)
        return "?"


def translate_filter(spec: QuerySpec, text: str) -> tuple[str, list[Any], bool]:
    """FilterString → (SQL condition, parameters, whether entry fields are used).

    The text is parsed, never spliced: see _FilterParser. An empty filter gives no condition.
    """
    tokens = _tokenize(spec, text)
    if not tokens:
        return "", [], False
    parser = _FilterParser(text, tokens)
    sql = parser.parse()
    return sql, parser.params, parser.uses_entries


@dataclass(frozen=True)
class CompiledQuery:
    sql: str
    params: list[Any]
    money_columns: tuple[bool, ...]


def compile_query(
    spec: QuerySpec,
    field_keys: str,
    filter_string: str,
    order_string: str,
    start_row: int,
    limit: int,
    top_row_count: int,
    scope: OwnerScope = OwnerScope.EVERYONE,
) -> CompiledQuery:
    """The SQL for one ExecuteBillQuery; rows come one per entry when an entry field is involved.

    A scoped user's rows of owned forms are limited to its owners'.
    """
    keys = [key.strip() for key in field_keys.split(",") if key.strip()]
    if not keys:
        raise K3Error.one(MsgCode.PARAMETER_ERROR, "参数FieldKeys不能为空", "FieldKeys")
    selected: list[QueryField] = []
    for key in keys:
        field = spec.fields.get(key.lower())
        if field is None:
            raise _field_missing(key)
        selected.append(field)
    uses_entries = any(field.entry for field in selected)
    condition, params, filter_entries = translate_filter(spec, filter_string or "")
    uses_entries = uses_entries or filter_entries
    order_parts, order_entries = _order_by(spec, order_string or "")
    uses_entries = uses_entries or order_entries

    sql = [f"SELECT {', '.join(field.sql for field in selected)} FROM {spec.source}"]
    if uses_entries and spec.entry_join:
        sql.append(spec.entry_join)
    sql.append(f"WHERE {spec.where}")
    all_params: list[Any] = list(spec.params)
    owners = scope.names
    if owners and spec.owner_sql:
        sql.append(f"AND {spec.owner_sql} IN ({', '.join('?' for _ in owners)})")
        all_params.extend(owners)
    if condition:
        sql.append(f"AND ({condition})")
        all_params.extend(params)
    order = [*order_parts, spec.order]
    if uses_entries and spec.entry_order:
        order.append(spec.entry_order)
    sql.append(f"ORDER BY {', '.join(order)}")
    start = max(0, start_row)
    count = limit if limit > 0 else -1
    if top_row_count > 0:
        remaining = max(0, top_row_count - start)
        count = remaining if count < 0 else min(count, remaining)
    sql.append("LIMIT ? OFFSET ?")
    all_params.extend((count, start))
    return CompiledQuery(" ".join(sql), all_params, tuple(field.money for field in selected))


def _order_by(spec: QuerySpec, text: str) -> tuple[list[str], bool]:
    """OrderString (`FBillNo DESC, FDate`) → SQL terms, and whether entry fields are used."""
    parts: list[str] = []
    uses_entries = False
    for item in (piece.strip() for piece in text.split(",")):
        if not item:
            continue
        words = item.split()
        if len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
            raise K3Error.one(MsgCode.PARAMETER_ERROR, f"排序条件语法错误：{text}", "OrderString")
        field = spec.fields.get(words[0].lower())
        if field is None:
            raise _field_missing(words[0])
        uses_entries = uses_entries or field.entry
        direction = words[1].upper() if len(words) == 2 else "ASC"
        parts.append(f"{field.sql} {direction}")
    return parts, uses_entries


def money_out(cents: int | None) -> float | None:
    """Integer cents → the decimal number K3 writes (25.1, not 25.099999)."""
    return None if cents is None else cents / 100


def execute_bill_query(
    conn: sqlite3.Connection,
    form_id: str,
    field_keys: str,
    filter_string: str = "",
    order_string: str = "",
    start_row: int = 0,
    limit: int = 0,
    top_row_count: int = 0,
    *,
    scope: OwnerScope = OwnerScope.EVERYONE,
) -> list[list[Any]]:
    """DynamicFormService.ExecuteBillQuery: rows of the requested fields (money as yuan).

    A scoped user gets only its owners' rows of owned forms.
    """
    spec = QUERY_SPECS.get(str(form_id).lower())
    if spec is None:
        raise K3Error.one(MsgCode.PARAMETER_ERROR, MSG_FORM_NOT_FOUND, "FormId")
    query = compile_query(
        spec, field_keys, filter_string, order_string, start_row, limit, top_row_count, scope
    )
    try:
        rows = conn.execute(query.sql, query.params).fetchall()
    except sqlite3.Error as exc:  # a FilterString that tokenised but does not form a condition
        raise K3Error.one(
            MsgCode.PARAMETER_ERROR, f"过滤条件语法错误：{filter_string}", "FilterString"
        ) from exc
    if not any(query.money_columns):
        return [list(row) for row in rows]
    return [
        [
            money_out(value) if money else value
            for value, money in zip(row, query.money_columns, strict=True)
        ]
        for row in rows
    ]
