"""Where bills and writable master data move: Submit, Audit, UnAudit, Delete, by number or id.

A batch acts on each document on its own: those that may move, move; the others are
reported by DIndex (their position in Numbers / Ids), as K3 reports partial success.
Save → A, Submit A/D/Z → B, Audit B → C, UnAudit C → D, Delete only in A, D, Z.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NoReturn

from fake_systems.common.context import SystemContext
from fake_systems.common.scope import OwnerScope
from fake_systems.common.storage import transaction
from fake_systems.common.wire import WireValueError, parse_int
from fake_systems.erp import inventory, receipts, transfers
from fake_systems.erp.fields import id_list
from fake_systems.erp.master_data import MasterData
from fake_systems.erp.models import (
    BILL_FORMS,
    MASTER_FORMS,
    MSG_AUDITED_NO_CHANGE,
    MSG_FORM_NOT_FOUND,
    MSG_SUBMITTED_NO_CHANGE,
    DocumentStatus,
    ErrorItem,
    FormSpec,
    K3Error,
    MsgCode,
    OperationResult,
    SuccessEntity,
)
from fake_systems.erp.schema import MASTER_KINDS, MASTER_TABLES, owner_clause, sim_now


@dataclass(frozen=True)
class Table:
    """Rows the batch operations (Submit, Audit, UnAudit, Delete) act on."""

    name: str
    id_col: str
    number_col: str
    where: str
    params: tuple[Any, ...]
    owned: bool  # has an owner_code column that scoped users are limited by
    master: str | None = None  # the master-data kind whose cache follows status changes


def ambiguous(number: str) -> str:
    """The refusal of a Number several owners use, seen by an unscoped user."""
    return f"单据编号为[{number}]的单据不唯一（多个货主使用此编号），请按内码(Ids)操作"


def check_editable(status: str) -> None:
    """Save on an existing document: refused once it is submitted or audited."""
    if status == DocumentStatus.AUDITED:
        raise K3Error.one(MsgCode.NOT_OPERABLE, MSG_AUDITED_NO_CHANGE)
    if status == DocumentStatus.IN_REVIEW:
        raise K3Error.one(MsgCode.NOT_OPERABLE, MSG_SUBMITTED_NO_CHANGE)


def form_key(form_id: Any) -> str:
    """The lower-cased form id (K3 ignores its case); MsgCode 8 when absent."""
    if not form_id or not isinstance(form_id, str):
        raise K3Error.one(MsgCode.PARAMETER_ERROR, "接口参数formid不能为空", "FormId")
    return form_id.lower()


def bill_form(form_id: Any, action: str) -> FormSpec:
    """The bill form `form_id` names; master data and unknown forms are refused."""
    key = form_key(form_id)
    spec = BILL_FORMS.get(key)
    if spec is None:
        refuse(key, action)
    return spec


def refuse(key: str, action: str) -> NoReturn:
    """A form the API may not write: master data without permission, or no such form."""
    master = MASTER_FORMS.get(key)
    if master is not None:
        raise K3Error.one(MsgCode.NO_PERMISSION, f"没有{master}的{action}权限", "FormId")
    raise K3Error.one(MsgCode.PARAMETER_ERROR, MSG_FORM_NOT_FOUND, "FormId")


# Whether a document in `status` may take the step: None, or the refusal's message.
def check_submit(bill_no: str, status: str) -> str | None:
    if status == DocumentStatus.IN_REVIEW:
        return f"单据[{bill_no}]已提交，不允许重复提交"
    if status == DocumentStatus.AUDITED:
        return f"单据[{bill_no}]已审核，不允许提交"
    return None


def check_audit(bill_no: str, status: str) -> str | None:
    if status == DocumentStatus.AUDITED:
        return f"单据[{bill_no}]已审核，不允许重复审核"
    if status != DocumentStatus.IN_REVIEW:
        return f"单据[{bill_no}]未提交，不允许审核"
    return None


def check_unaudit(bill_no: str, status: str) -> str | None:
    if status != DocumentStatus.AUDITED:
        return f"单据[{bill_no}]未审核，不允许反审核"
    return None


def check_delete(bill_no: str, status: str) -> str | None:
    if status == DocumentStatus.IN_REVIEW:
        return f"单据[{bill_no}]已提交，不允许删除"
    if status == DocumentStatus.AUDITED:
        return f"单据[{bill_no}]已审核，不允许删除"
    return None


class Lifecycle:
    """Status changes of bills (`documents`) and of writable master data (materials and
    customers, whose usable-number cache follows each change)."""

    def __init__(self, ctx: SystemContext, master: MasterData) -> None:
        self.ctx = ctx
        self.conn = ctx.conn
        self.master = master

    def submit(
        self,
        form_id: str,
        numbers: Sequence[str] = (),
        ids: Any = None,
        *,
        scope: OwnerScope = OwnerScope.EVERYONE,
    ) -> OperationResult:
        """DynamicFormService.Submit: A/D/Z → B, per document; the others are reported by DIndex."""
        return self.batch(form_id, numbers, ids, scope, check_submit, DocumentStatus.IN_REVIEW)

    def audit(
        self,
        form_id: str,
        numbers: Sequence[str] = (),
        ids: Any = None,
        *,
        scope: OwnerScope = OwnerScope.EVERYONE,
    ) -> OperationResult:
        """DynamicFormService.Audit: B → C."""
        return self.batch(form_id, numbers, ids, scope, check_audit, DocumentStatus.AUDITED)

    def unaudit(
        self,
        form_id: str,
        numbers: Sequence[str] = (),
        ids: Any = None,
        *,
        scope: OwnerScope = OwnerScope.EVERYONE,
    ) -> OperationResult:
        """DynamicFormService.UnAudit: C → D."""
        return self.batch(form_id, numbers, ids, scope, check_unaudit, DocumentStatus.REREVIEW)

    def delete(
        self,
        form_id: str,
        numbers: Sequence[str] = (),
        ids: Any = None,
        *,
        scope: OwnerScope = OwnerScope.EVERYONE,
    ) -> OperationResult:
        """DynamicFormService.Delete: only documents not submitted nor audited (A, D, Z)."""
        return self.batch(form_id, numbers, ids, scope, check_delete, None)

    def table(self, form_id: Any, scope: OwnerScope, action: str = "保存") -> Table:
        """What a write on `form_id` acts on; master data only where K3 lets the API write it
        and, for shared master data (materials), only for unscoped users."""
        key = form_key(form_id)
        spec = BILL_FORMS.get(key)
        if spec is not None:
            return Table("documents", "fid", "bill_no", "form_id = ?", (spec.form_id,), True)
        kind = MASTER_KINDS.get(key)
        if kind is not None:
            table, id_col, owned = MASTER_TABLES[kind]
            if owned or scope.owners is None:
                return Table(table, id_col, "number", "1 = 1", (), owned, kind)
        refuse(key, action)

    def batch(
        self,
        form_id: str,
        numbers: Sequence[str] | None,
        ids: Any,
        scope: OwnerScope,
        check: Callable[[str, str], str | None],
        target: DocumentStatus | None,
    ) -> OperationResult:
        """Move each document `check` lets through to `target` (None: delete it)."""
        action = {None: "删除", "B": "提交", "C": "审核", "D": "反审核"}[
            target.value if target else None
        ]
        table = self.table(form_id, scope, action)
        keys: list[Any]
        by_number = bool(numbers)
        if by_number:
            assert numbers is not None
            keys = [str(number).strip() for number in numbers]
        else:
            keys = id_list(ids)
        if not keys:
            raise K3Error.one(MsgCode.PARAMETER_ERROR, "参数Numbers和Ids不能同时为空", "Numbers")
        result = OperationResult()
        codes: list[MsgCode] = []
        with transaction(self.conn):
            for dindex, key in enumerate(keys):
                rows = self._find(table, key, by_number, scope)
                if len(rows) > 1:
                    result.errors.append(ErrorItem(ambiguous(key), None, dindex))
                    codes.append(MsgCode.PARAMETER_ERROR)
                    continue
                row = rows[0] if rows else None
                if row is None:
                    label = f"单据编号为[{key}]" if by_number else f"内码为[{key}]"
                    result.errors.append(ErrorItem(f"{label}的单据不存在", None, dindex))
                    codes.append(MsgCode.NOT_FOUND)
                    continue
                refusal = check(row["bill_no"], row["document_status"])
                if refusal is not None:
                    result.errors.append(ErrorItem(refusal, None, dindex))
                    codes.append(MsgCode.NOT_OPERABLE)
                    continue
                # K3 writes a receipt off at its audit: not beyond what is still open.
                if target == DocumentStatus.AUDITED and table.master is None:
                    refusal = receipts.audit_refusal(self.conn, int(row["fid"]))
                    if refusal is not None:
                        result.errors.append(ErrorItem(refusal, "FREALRECAMOUNT", dindex))
                        codes.append(MsgCode.VALIDATION_FAILED)
                        continue
                if target is None:
                    self.remove(table, int(row["fid"]), row["bill_no"])
                else:
                    self.move(table, int(row["fid"]), row["bill_no"], target)
                result.successes.append(SuccessEntity(int(row["fid"]), row["bill_no"], dindex))
        if codes:
            result.msg_code = codes[0]
        return result

    def _find(
        self, table: Table, key: Any, by_number: bool, scope: OwnerScope
    ) -> list[sqlite3.Row]:
        """The rows (at most two) a Number or Id names within `scope`; two mean a number
        several owners use, which only an unscoped user can see."""
        clause, params = owner_clause(scope) if table.owned else ("", [])
        select = (
            f"SELECT {table.id_col} AS fid, {table.number_col} AS bill_no, document_status"
            f" FROM {table.name} WHERE {table.where}{clause}"
        )
        if by_number:
            return self.conn.execute(
                f"{select} AND {table.number_col} = ? LIMIT 2", (*table.params, *params, key)
            ).fetchall()
        try:
            fid = parse_int(key)
        except WireValueError:
            return []  # no document has such an id
        return self.conn.execute(
            f"{select} AND {table.id_col} = ?", (*table.params, *params, fid)
        ).fetchall()

    @staticmethod
    def _operation_name(table: Table) -> str:
        if table.master is not None:
            return next(
                MASTER_FORMS[key] for key, kind in MASTER_KINDS.items() if kind == table.master
            )
        return str(table.params[0])

    def remove(self, table: Table, row_id: int, number: str) -> None:
        """Delete a row (a bill with its entries), recorded as a state change."""
        if table.master is None:
            self.conn.execute("DELETE FROM document_entries WHERE fid = ?", (row_id,))
            receipts.forget(self.conn, row_id)
            transfers.forget(self.conn, row_id)
        self.conn.execute(f"DELETE FROM {table.name} WHERE {table.id_col} = ?", (row_id,))
        self.ctx.history.record("state", f"{self._operation_name(table)}.Delete", "deleted", number)
        if table.master is not None:
            self.master.refresh(table.master, number)

    def move(self, table: Table, row_id: int, number: str, target: DocumentStatus) -> None:
        """Move a row to `target` with its time stamps, recorded as a state change."""
        now_sim, now_wall = sim_now(self.ctx), self.ctx.clock.wall()
        if table.master is not None:
            self.conn.execute(
                f"UPDATE {table.name} SET document_status = ?, modified_sim = ?"
                f" WHERE {table.id_col} = ?",
                (target.value, now_sim, row_id),
            )
        else:
            if target == DocumentStatus.IN_REVIEW:
                sql = "document_status = 'B', submitted_sim = ?, submitted_wall = ?"
            elif target == DocumentStatus.AUDITED:
                sql = "document_status = 'C', audited_sim = ?, audited_wall = ?"
            else:  # UnAudit: no longer audited, so the audit stamps go
                sql = (
                    "document_status = 'D', audited_sim = NULL, audited_wall = NULL,"
                    " modified_sim = ?, modified_wall = ?"
                )
            self.conn.execute(
                f"UPDATE documents SET {sql} WHERE fid = ?", (now_sim, now_wall, row_id)
            )
            # The book stock follows the audited stock documents (K3's 即时库存).
            if target == DocumentStatus.AUDITED:
                inventory.post(self.conn, row_id, str(table.params[0]), 1, now_sim, now_wall)
            elif target == DocumentStatus.REREVIEW:
                inventory.post(self.conn, row_id, str(table.params[0]), -1, now_sim, now_wall)
        operation = {"B": "Submit", "C": "Audit", "D": "UnAudit"}[target.value]
        self.ctx.history.record(
            "state", f"{self._operation_name(table)}.{operation}", target.value, number
        )
        if table.master is not None:
            self.master.refresh(table.master, number)
