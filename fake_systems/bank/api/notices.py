"""camt.054 credit notices: the bank's CreditNotice events rendered, signed Stripe-style and
pushed (retried on the shared schedule) to the connector's callback URL."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from functools import partial

from fake_systems.bank.iso_xml import render_camt054
from fake_systems.bank.models import CreditNotice
from fake_systems.bank.service import BankService
from fake_systems.common.context import SystemContext
from fake_systems.common.signing import stripe_style_signature
from fake_systems.common.webhooks import Push

SIGNATURE_HEADER = "Bank-Signature"
NOTICE_OPERATION = "camt.054"
PUSHES = (NOTICE_OPERATION,)
XML = "application/xml; charset=utf-8"


class SignedAtSend(Mapping[str, str]):
    """Push headers whose Stripe-style signature is computed each time they are read.

    The dispatcher reads a push's headers on every attempt, so a retry minutes later carries
    a fresh `t=` and still passes a receiver's 300-second tolerance.
    """

    def __init__(self, secret: str, wall: Callable[[], float], body: bytes) -> None:
        self._secret = secret
        self._wall = wall  # the bank's own clock (skewed by a `clock_skew` fault)
        self._body = body
        self._keys = ("Content-Type", SIGNATURE_HEADER)

    def __getitem__(self, key: str) -> str:
        if key == "Content-Type":
            return XML
        if key == SIGNATURE_HEADER:
            return stripe_style_signature(self._secret, int(self._wall()), self._body)
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)


# What a forger signs with instead of the webhook secret: anything but the secret.
FORGED = "-forged"


class CreditNotices:
    """Sends each CreditNotice as a signed camt.054 through the bank's push dispatcher."""

    def __init__(self, ctx: SystemContext, webhook_secret: str) -> None:
        self.ctx = ctx
        self.webhook_secret = webhook_secret

    def __call__(self, notice: CreditNotice) -> None:
        entry = notice.entry
        created = self.ctx.now(NOTICE_OPERATION).isoformat(timespec="seconds")
        body = render_camt054(entry, notice.currency, created)
        summary = {
            "entry_ref": entry.entry_ref,
            "end_to_end_id": entry.end_to_end_id,
            "amount_cents": entry.amount_cents,
        }
        self.ctx.dispatcher.send(
            self.push(
                notice.url,
                entry.entry_ref,
                body,
                summary,
                self.webhook_secret,
                # push_forged: the same notice under a signature the bank never made.
                forge=lambda: self.push(
                    notice.url, entry.entry_ref, body, summary, self.webhook_secret + FORGED
                ),
            )
        )

    def push(
        self,
        url: str,
        entry_ref: str,
        body: bytes,
        summary: dict[str, object],
        secret: str,
        forge: Callable[[], Push | None] | None = None,
    ) -> Push:
        """One camt.054 to `url`, signed with `secret` at each attempt."""
        return Push(
            operation=NOTICE_OPERATION,
            entity=entry_ref,
            url=url,
            content=body,
            headers=SignedAtSend(secret, partial(self.ctx.wall, NOTICE_OPERATION), body),
            accepted=lambda reply: 200 <= reply.status_code < 300,
            payload_for_history=summary,
            forge=forge,
        )


def send_credit_notices(service: BankService) -> None:
    """From now on the service's credit notices go out as signed camt.054 pushes (the
    connector's credential's webhook secret signs them)."""
    service.credit_notices = CreditNotices(service.ctx, service.credentials.webhook_secret)
