"""Bills and writable master data saved: Save and BatchSave, View, and the stored rows.

A Save without FID creates (status A); with the FID of a document in A, D or Z it updates,
the fields left out keeping their saved values and a given entry list replacing all entries.
Bill numbers are unique per form and cargo owner. Materials and customers are saved only by
unscoped users (master numbers are one namespace for every owner).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

import orjson

from fake_systems.common.context import SystemContext
from fake_systems.common.scope import OwnerScope
from fake_systems.common.storage import transaction
from fake_systems.erp import purchasing, receipts, returns, transfers
from fake_systems.erp.fields import basedata_number, lower_keys, parse_fid, text
from fake_systems.erp.lifecycle import (
    Lifecycle,
    ambiguous,
    bill_form,
    check_editable,
    refuse,
)
from fake_systems.erp.master_data import MasterData
from fake_systems.erp.models import (
    MASTER_FORMS,
    BillView,
    DocumentStatus,
    ErrorItem,
    FormSpec,
    K3Error,
    MsgCode,
    OperationResult,
    SuccessEntity,
)
from fake_systems.erp.schema import FIRST_FID, MASTER_KINDS, MASTER_TABLES, owner_clause, sim_now
from fake_systems.erp.validation import BillValidator


class Documents:
    """Saves and reads bills (`documents`, `document_entries`) and writable master data."""

    def __init__(self, ctx: SystemContext, master: MasterData, lifecycle: Lifecycle) -> None:
        self.ctx = ctx
        self.conn = ctx.conn
        self.master = master
        self.lifecycle = lifecycle
        self.validator = BillValidator(master)
        self._next_fid = FIRST_FID

    def load(self) -> None:
        """Continue the internal ids after the highest stored one."""
        row = self.conn.execute("SELECT MAX(fid) FROM documents").fetchone()
        self._next_fid = max(FIRST_FID, (row[0] or 0) + 1)

    def save(
        self,
        form_id: str,
        model: Any,
        *,
        auto_submit_audit: bool = False,
        scope: OwnerScope = OwnerScope.EVERYONE,
    ) -> OperationResult:
        """DynamicFormService.Save: new without FID (status A), update of A/D/Z with FID.

        Raises K3Error when the whole save is refused; nothing is written then.
        """
        if isinstance(form_id, str) and form_id.lower() in MASTER_KINDS:
            return self._save_master(form_id, model, auto_submit_audit, scope)
        spec = bill_form(form_id, "保存")
        if not isinstance(model, Mapping) or not model:
            raise K3Error.one(MsgCode.PARAMETER_ERROR, "参数Model不能为空", "Model")
        fields = lower_keys(model)
        fid = parse_fid(fields.get("fid", fields.get("id")))
        existing: sqlite3.Row | None = None
        stored_model: dict[str, Any] = dict(model)
        if fid is not None:
            clause, params = owner_clause(scope)
            existing = self.conn.execute(
                f"SELECT * FROM documents WHERE fid = ? AND form_id = ?{clause}",
                (fid, spec.form_id, *params),
            ).fetchone()
            if existing is None:
                raise K3Error.one(MsgCode.NOT_FOUND, f"内码为[{fid}]的单据不存在", "FID")
            check_editable(existing["document_status"])
            # K3 keeps the fields a Save leaves out: merge, the new keys winning whatever their case
            stored_model = {
                key: value
                for key, value in orjson.loads(existing["model"]).items()
                if key.lower() not in fields
            }
            stored_model.update(model)
            fields = lower_keys(stored_model)

        partner, entries, org, currency = self.validator.validate(spec, fields, scope)
        owner = self.master.owner_of(spec.partner.kind, partner)
        bill_no = text(fields.get("fbillno"))
        if bill_no:
            clash = self.conn.execute(
                "SELECT fid FROM documents WHERE form_id = ? AND bill_no = ? AND owner_code IS ?",
                (spec.form_id, bill_no, owner),
            ).fetchone()
            if clash is not None and (existing is None or clash[0] != existing["fid"]):
                raise K3Error.one(
                    MsgCode.VALIDATION_FAILED,
                    f"违反字段唯一性要求：单据编号[{bill_no}]已存在",
                    "FBillNo",
                )

        links = purchasing.check_links(
            self.conn,
            spec,
            fields,
            entries,
            partner,
            owner,
            None if existing is None else int(existing["fid"]),
        ) or returns.check_links(
            self.conn,
            spec,
            fields,
            entries,
            partner,
            owner,
            None if existing is None else int(existing["fid"]),
        )
        transfer = transfers.check(
            self.conn,
            spec,
            fields,
            entries,
            partner,
            owner,
            None if existing is None else int(existing["fid"]),
        )
        if transfer is not None:
            links = transfer.links
        receipt = receipts.check(
            self.conn,
            self.validator,
            spec,
            fields,
            entries,
            partner,
            owner,
            None if existing is None else int(existing["fid"]),
        )
        now_sim, now_wall = sim_now(self.ctx), self.ctx.clock.wall()
        if spec.lines == "voucher":
            amount = sum(entry.debit_cents or 0 for entry in entries)
        else:
            amount = sum(entry.amount_cents for entry in entries)
        numbers = {"customer": None, "supplier": None, "book": None, spec.partner.kind: partner}
        header = (
            numbers["customer"],
            numbers["supplier"],
            numbers["book"],
            owner,
            amount,
            text(fields.get("fdate")) or now_sim,
            text(fields.get("fnote")),
            org,
            currency,
        )
        # A payable falls due by its supplier's terms (K3 computes FENDDATE_H from 付款条件).
        due = (
            self.master.due_date(partner, header[5]) if spec.form_id == purchasing.PAYABLE else None
        )
        model_text = orjson.dumps(stored_model, default=str).decode()
        with transaction(self.conn):
            if existing is None:
                fid = self._next_fid
                self._next_fid += 1
                bill_no = bill_no or f"{spec.bill_prefix}{fid:08d}"
                self.conn.execute(
                    "INSERT INTO documents (fid, form_id, bill_no, document_status,"
                    " customer_number, supplier_number, book_number, owner_code, amount_cents,"
                    " bill_date, note, org_number, currency_number, saved_sim, saved_wall,"
                    " modified_sim, modified_wall, model, due_date)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        fid,
                        spec.form_id,
                        bill_no,
                        DocumentStatus.CREATED.value,
                        *header,
                        now_sim,
                        now_wall,
                        now_sim,
                        now_wall,
                        model_text,
                        due,
                    ),
                )
                self.ctx.history.record("state", f"{spec.form_id}.Save", "A", bill_no)
            else:
                fid = int(existing["fid"])
                bill_no = bill_no or existing["bill_no"]
                status = existing["document_status"]
                if status == DocumentStatus.DRAFT:
                    status = DocumentStatus.CREATED.value
                self.conn.execute(
                    "UPDATE documents SET bill_no = ?, document_status = ?, customer_number = ?,"
                    " supplier_number = ?, book_number = ?, owner_code = ?, amount_cents = ?,"
                    " bill_date = ?, note = ?, org_number = ?, currency_number = ?,"
                    " modified_sim = ?, modified_wall = ?, model = ?, due_date = ? WHERE fid = ?",
                    (bill_no, status, *header, now_sim, now_wall, model_text, due, fid),
                )
                self.conn.execute("DELETE FROM document_entries WHERE fid = ?", (fid,))
                self.ctx.history.record("state", f"{spec.form_id}.Save", status, bill_no)
            self.conn.executemany(
                "INSERT INTO document_entries (fid, seq, material_number, qty, amount_cents,"
                " price_cents, stock_number, account_number, debit_cents, credit_cents)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        fid,
                        seq,
                        e.material_number,
                        e.qty,
                        e.amount_cents,
                        e.price_cents,
                        e.stock_number,
                        e.account_number,
                        e.debit_cents,
                        e.credit_cents,
                    )
                    for seq, e in enumerate(entries, start=1)
                ],
            )
            if links or existing is not None:
                returns.store_links(self.conn, fid, links)
            if receipt is not None:
                receipts.store(self.conn, fid, receipt)
            if transfer is not None:
                transfers.store(self.conn, fid, transfer)
            if auto_submit_audit:
                table = self.lifecycle.table(spec.form_id, OwnerScope.EVERYONE)
                self.lifecycle.move(table, fid, bill_no, DocumentStatus.IN_REVIEW)
                self.lifecycle.move(table, fid, bill_no, DocumentStatus.AUDITED)
        return OperationResult(successes=[SuccessEntity(fid, bill_no, 0)])

    def batch_save(
        self,
        form_id: str,
        models: Any,
        *,
        auto_submit_audit: bool = False,
        scope: OwnerScope = OwnerScope.EVERYONE,
    ) -> OperationResult:
        """DynamicFormService.BatchSave: each model saved on its own; the refused ones are
        reported by DIndex (their position in `Model`), the others are kept."""
        self.lifecycle.table(form_id, scope)
        if not isinstance(models, list) or not models:
            raise K3Error.one(MsgCode.PARAMETER_ERROR, "参数Model不能为空", "Model")
        result = OperationResult()
        codes: list[MsgCode] = []
        for dindex, model in enumerate(models):
            try:
                saved = self.save(form_id, model, auto_submit_audit=auto_submit_audit, scope=scope)
            except K3Error as error:
                result.errors.extend(
                    ErrorItem(item.message, item.field_name, dindex) for item in error.errors
                )
                codes.append(error.msg_code)
                continue
            entity = saved.successes[0]
            result.successes.append(SuccessEntity(entity.id, entity.number, dindex))
        if codes:
            result.msg_code = codes[0]
        return result

    def _save_master(
        self, form_id: str, model: Any, auto_submit_audit: bool, scope: OwnerScope
    ) -> OperationResult:
        """Save a material or a customer: new ones start in A and are usable once audited."""
        kind = MASTER_KINDS[form_id.lower()]
        canonical = MASTER_FORMS[form_id.lower()]
        if scope.owners is not None:
            # Master numbers are one namespace for every owner: a scoped user's Save would
            # learn from 编码已存在 that another owner's customer exists. Only the integrator
            # writes master data; owners' customers come with their shops.
            refuse(form_id.lower(), "保存")
        table = self.lifecycle.table(form_id, scope)
        if not isinstance(model, Mapping) or not model:
            raise K3Error.one(MsgCode.PARAMETER_ERROR, "参数Model不能为空", "Model")
        fields = lower_keys(model)
        id_col = table.id_col
        row_id = parse_fid(fields.get(id_col, fields.get("id")))
        existing: sqlite3.Row | None = None
        if row_id is not None:
            clause, params = owner_clause(scope) if table.owned else ("", [])
            existing = self.conn.execute(
                f"SELECT * FROM {table.name} WHERE {id_col} = ?{clause}", (row_id, *params)
            ).fetchone()
            if existing is None:
                raise K3Error.one(MsgCode.NOT_FOUND, f"内码为[{row_id}]的数据不存在", id_col)
            check_editable(existing["document_status"])
        errors: list[ErrorItem] = []
        number = text(fields.get("fnumber")) or (existing["number"] if existing else None)
        name = text(fields.get("fname")) or (existing["name"] if existing else None)
        if not number:
            errors.append(ErrorItem("字段[编码]是必录字段", "FNumber"))
        if not name:
            errors.append(ErrorItem("字段[名称]是必录字段", "FName"))
        for key in ("fcreateorgid", "fuseorgid"):
            if key in fields:
                self.master.check(fields[key], "org", "组织", key, errors)
        if errors:
            raise K3Error(MsgCode.VALIDATION_FAILED, errors)
        assert number is not None and name is not None
        clash = self.conn.execute(
            f"SELECT {id_col} FROM {table.name} WHERE number = ?", (number,)
        ).fetchone()
        if clash is not None and (existing is None or clash[0] != existing[id_col]):
            raise K3Error.one(
                MsgCode.VALIDATION_FAILED, f"违反字段唯一性要求：编码[{number}]已存在", "FNumber"
            )
        now = sim_now(self.ctx)
        extra: dict[str, Any] = {}
        if kind == "material":
            group = fields.get("fmaterialgroup")
            try:
                extra["category"] = basedata_number(group) or (
                    existing["category"] if existing else ""
                )
            except ValueError:
                raise K3Error.one(
                    MsgCode.VALIDATION_FAILED,
                    '字段[物料分组]的值格式不正确，应为{"FNumber": "编码"}',
                    "FMaterialGroup",
                ) from None
        elif existing is None:
            extra["owner_code"] = None  # the integrator's new customer belongs to no owner
        with transaction(self.conn):
            if existing is None:
                columns = ["number", "name", "document_status", "created_sim", "modified_sim"]
                values: list[Any] = [number, name, DocumentStatus.CREATED.value, now, now]
                columns += list(extra)
                values += list(extra.values())
                cursor = self.conn.execute(
                    f"INSERT INTO {table.name} ({', '.join(columns)})"
                    f" VALUES ({', '.join('?' for _ in columns)})",
                    values,
                )
                row_id = int(cursor.lastrowid or 0)
                status = DocumentStatus.CREATED.value
            else:
                row_id = int(existing[id_col])
                status = existing["document_status"]
                if status == DocumentStatus.DRAFT:
                    status = DocumentStatus.CREATED.value
                sets = ", ".join(f"{column} = ?" for column in extra)
                self.conn.execute(
                    f"UPDATE {table.name} SET number = ?, name = ?, document_status = ?,"
                    f" modified_sim = ?{', ' + sets if sets else ''} WHERE {id_col} = ?",
                    (number, name, status, now, *extra.values(), row_id),
                )
                if existing["number"] != number:
                    self.master.forget(kind, existing["number"])
            self.ctx.history.record("state", f"{canonical}.Save", status, number)
            if auto_submit_audit:
                self.lifecycle.move(table, row_id, number, DocumentStatus.IN_REVIEW)
                self.lifecycle.move(table, row_id, number, DocumentStatus.AUDITED)
            self.master.refresh(kind, number)
        return OperationResult(successes=[SuccessEntity(row_id, number, 0)])

    def view(
        self,
        form_id: str,
        number: str | None = None,
        fid: Any = None,
        *,
        scope: OwnerScope = OwnerScope.EVERYONE,
    ) -> BillView:
        """DynamicFormService.View: one bill by number or id, with its partner and entries."""
        spec = bill_form(form_id, "查看")
        clause, params = owner_clause(scope)
        if number:
            rows = self.conn.execute(
                f"SELECT * FROM documents WHERE form_id = ? AND bill_no = ?{clause} LIMIT 2",
                (spec.form_id, str(number), *params),
            ).fetchall()
            if len(rows) > 1:
                raise K3Error.one(MsgCode.PARAMETER_ERROR, ambiguous(str(number)), "Number")
            row = rows[0] if rows else None
            key = f"单据编号为[{number}]的单据不存在"
        else:
            parsed = parse_fid(fid)
            if parsed is None:
                raise K3Error.one(MsgCode.PARAMETER_ERROR, "参数Number和Id不能同时为空", "Number")
            row = self.conn.execute(
                f"SELECT * FROM documents WHERE form_id = ? AND fid = ?{clause}",
                (spec.form_id, parsed, *params),
            ).fetchone()
            key = f"内码为[{parsed}]的单据不存在"
        if row is None:
            raise K3Error.one(MsgCode.NOT_FOUND, key)
        return self._view(spec, row)

    def _view(self, spec: FormSpec, row: sqlite3.Row) -> BillView:
        partner_kind = spec.partner.kind
        table, id_col, _ = MASTER_TABLES[partner_kind]
        partner = self.conn.execute(
            f"SELECT {id_col}, name FROM {table} WHERE number = ?",
            (row[f"{partner_kind}_number"],),
        ).fetchone()
        entries = self.conn.execute(
            "SELECT e.*, m.fmaterialid, m.name FROM document_entries e"
            " LEFT JOIN bd_material m ON m.number = e.material_number"
            " WHERE e.fid = ? ORDER BY e.seq",
            (row["fid"],),
        ).fetchall()
        return BillView(
            spec,
            dict(row),
            partner[0] if partner else None,
            partner["name"] if partner else None,
            tuple(dict(entry) for entry in entries),
        )

    def document(self, form_id: str, bill_no: str) -> dict[str, Any] | None:
        """The stored row of a document with its entries (for the simulator and tests)."""
        row = self.conn.execute(
            "SELECT * FROM documents WHERE form_id = ? AND bill_no = ?", (form_id, bill_no)
        ).fetchone()
        if row is None:
            return None
        result = dict(row)
        result["entries"] = [
            dict(entry)
            for entry in self.conn.execute(
                "SELECT * FROM document_entries WHERE fid = ? ORDER BY seq", (row["fid"],)
            )
        ]
        return result

    # ------------------------------------------------------------------ internals
