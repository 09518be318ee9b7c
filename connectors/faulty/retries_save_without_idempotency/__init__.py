"""Faulty connector, defect "ERP Save retried without idempotency": a retry takes a new number.

The reference looks the bill up before a retry (ExecuteBillQuery on FBillNo) and carries the
Save, Submit or Audit on from where the lost attempt left it. This one never looks: each
retry saves the model again under the next number (`<trade_no>-R<n>`, as a connector that
draws bill numbers from a sequence would), then submits and audits that one. When a Save's
answer is lost the ERP books the trade twice, and the first document stays unaudited:
`no_duplicate_erp_documents` must catch it, linking both to the trade through FNote.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from connectors.reference.clients.http import HttpClient
from connectors.reference.clients.k3 import K3Client
from connectors.reference.connector import Connector
from connectors.reference.workflow import Peers


class NewNumberOnRetryK3Client(K3Client):
    """The reference K3 client, except that `post_audited` never checks what a lost attempt did."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Attempts per (form, trade bill number), in memory: enough for the defect.
        self.attempts: Counter[tuple[str, str]] = Counter()

    async def post_audited(self, form_id: str, model: dict[str, Any]) -> None:
        trade_bill = str(model["FBillNo"])
        earlier = self.attempts[(form_id, trade_bill)]
        self.attempts[(form_id, trade_bill)] += 1
        bill_no = trade_bill if earlier == 0 else f"{trade_bill}-R{earlier}"
        await self.save(form_id, {**model, "FBillNo": bill_no})
        await self.submit(form_id, bill_no)
        await self.audit(form_id, bill_no)


class RetriesSaveWithoutIdempotencyConnector(Connector):
    """The reference connector with the non-idempotent ERP client."""

    def build_peers(self, clients: dict[str, HttpClient]) -> Peers:
        peers = super().build_peers(clients)
        erp = peers.erp
        peers.erp = NewNumberOnRetryK3Client(
            erp.client, erp.url, erp.acct_id, erp.username, erp.app_id, erp.app_secret, erp.lcid
        )
        return peers
