"""ExecuteBillQuery: K3 field keys and FilterString translated to parameterised SQL."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from fake_systems.erp.models import K3Error, MsgCode


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
# the header total is FALLAMOUNTFOR, so the entry amount is queried as FALLAMOUNTFOR_D
_DETAIL_ENTRIES = _bill_entries("fentitydetail", "fpriceqty", "fallamountfor_d")
_VOUCHER_ENTRIES = {
    **_entry_keys("fentity"),
    "faccountid.fnumber": QueryField("e.account_number", entry=True),
    "faccountid.fname": QueryField(_ACCOUNT_NAME, entry=True),
    "fdebit": QueryField("e.debit_cents", entry=True, money=True),
    "fcredit": QueryField("e.credit_cents", entry=True, money=True),
}

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
            "AR_receivable",
            _bill_header(
                _CUSTOMER, ("fallamountfor",), "fcurrencyid", ("fsettleorgid", "fsaleorgid")
            ),
            _DETAIL_ENTRIES,
        ),
        _bill_spec(
            "AP_Payable",
            _bill_header(
                ("fsupplierid", "supplier"),
                ("fallamountfor",),
                "fcurrencyid",
                ("fsettleorgid", "fpurchaseorgid"),
            ),
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
            },
        ),
        _master_spec("BD_Customer", "bd_customer", "fcustid", {}, owned=True),
        _master_spec("BD_Supplier", "bd_supplier", "fsupplierid", {}, owned=True),
        _master_spec("BD_AccountBook", "bd_accountbook", "faccountbookid", {}, owned=True),
        _master_spec("BD_Account", "bd_account", "facctid", {}),
        _master_spec("BD_STOCK", "bd_stock", "fstockid", {}),
        _master_spec("ORG_Organizations", "org_organizations", "forgid", {}),
        _master_spec("BD_Currency", "bd_currency", "fcurrencyid", {"fcode": QueryField("d.code")}),
    )
}

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^']|'')*')
      | (?P<number>-?\d+(?:\.\d+)?)(?![\w.])
      | (?P<ident>[A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*)
      | (?P<op><>|!=|>=|<=|=|<|>)
      | (?P<punct>[(),])
    )""",
    re.VERBOSE,
)
_KEYWORDS = frozenset({"and", "or", "not", "in", "like", "is", "null", "between"})


def _field_missing(key: str) -> K3Error:
    return K3Error.one(MsgCode.FIELD_MISSING, f"元数据中标识为{key}的字段不存在", key)


def _syntax_error(text: str) -> K3Error:
    return K3Error.one(MsgCode.PARAMETER_ERROR, f"过滤条件语法错误：{text}", "FilterString")


def translate_filter(spec: QuerySpec, text: str) -> tuple[str, list[Any], bool]:
    """FilterString → (SQL condition, parameters, whether entry fields are used).

    Only whitelisted tokens reach the SQL: field keys become their expressions, literals become
    bound parameters, and keywords, comparison operators and brackets pass as they are.
    """
    parts: list[str] = []
    params: list[Any] = []
    uses_entries = False
    position = 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise _syntax_error(text)
        position = match.end()
        if match.group("string") is not None:
            parts.append("?")
            params.append(match.group("string")[1:-1].replace("''", "'"))
        elif match.group("number") is not None:
            number = match.group("number")
            parts.append("?")
            params.append(float(number) if "." in number else int(number))
        elif match.group("ident") is not None:
            word = match.group("ident")
            lowered = word.lower()
            if lowered in _KEYWORDS:
                parts.append(lowered.upper())
                continue
            field = spec.fields.get(lowered)
            if field is None:
                raise _field_missing(word)
            uses_entries = uses_entries or field.entry
            # money compared in yuan, as the caller wrote it
            parts.append(f"({field.sql} / 100.0)" if field.money else field.sql)
        elif match.group("op") is not None:
            parts.append("<>" if match.group("op") == "!=" else match.group("op"))
        else:
            parts.append(match.group("punct"))
    return " ".join(parts), params, uses_entries


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
    owners: Sequence[str] = (),
) -> CompiledQuery:
    """The SQL for one ExecuteBillQuery; rows come one per entry when an entry field is involved.

    With `owners`, rows of owned forms are limited to those owners' (the scoped user's view).
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
