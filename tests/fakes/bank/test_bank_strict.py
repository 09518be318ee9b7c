"""Bank strict values: identifiers with control characters, over-long path and query values
get FORMAT_ERROR (400, Berlin Group JSON) and change nothing; big pain.001 bodies are read
off the event loop."""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from fake_systems.bank.api import iso20022
from fake_systems.bank.iso_xml import render_pain001
from fake_systems.bank.service import BankService
from fake_systems.common.pipeline import OFF_LOOP_BYTES
from tests.support.bank import PAIN001, PATH, message, transfer

pytestmark = pytest.mark.anyio


def format_error(response: httpx.Response) -> str:
    assert response.status_code == 400, response.text
    (error,) = response.json()["tppMessages"]
    assert error["code"] == "FORMAT_ERROR"
    return str(error["text"])


def messages(bank: BankService) -> int:
    return int(bank.ctx.conn.execute("SELECT COUNT(*) FROM payment_messages").fetchone()[0])


@pytest.mark.parametrize(
    "changes",
    [
        {"end_to_end_id": "E2E\t1"},  # XML carries a tab; an id must not
        {"end_to_end_id": "E2E\u00851"},  # NEL: legal XML, a C1 control character
        {"creditor_account": "6228\x7f4800"},
        {"creditor_name": "供应商\x7f"},
        {"remittance": "PO\u009b1"},
    ],
)
async def test_pain001_refuses_control_characters_in_ids_and_text(
    client: httpx.AsyncClient, bank: BankService, auth: dict[str, str], changes: dict[str, str]
) -> None:
    document = render_pain001(message("M-CTRL", replace(transfer("E1"), **changes)))
    text = format_error(await client.post(PAIN001, content=document, headers=auth))
    assert "control character" in text
    assert messages(bank) == 0


@pytest.mark.parametrize("msg_id", ["M\x00NUL", "M\tTAB", "M" * 36, "M" * 10_000])
async def test_pain002_message_ids_are_bounded_and_clean(
    client: httpx.AsyncClient, auth: dict[str, str], msg_id: str
) -> None:
    response = await client.get(f"/iso20022/pain.002/{quote(msg_id)}", headers=auth)
    assert "MsgId" in format_error(response)


@pytest.mark.parametrize("account", ["6222\x00", "6222\n", "6" * 35, "6" * 10_000])
async def test_statement_accounts_are_bounded_and_clean(
    client: httpx.AsyncClient, auth: dict[str, str], account: str
) -> None:
    response = await client.get(
        PATH, params={"account": account, "date": "2026-11-10"}, headers=auth
    )
    assert "account" in format_error(response)


async def test_big_pain001_bodies_are_read_off_the_event_loop(
    client: httpx.AsyncClient, auth: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[int] = []
    parse = iso20022.iso_xml.parse_pain001

    def spy(body: bytes) -> Any:
        threads.append(threading.get_ident())
        return parse(body)

    monkeypatch.setattr(iso20022.iso_xml, "parse_pain001", spy)
    small = render_pain001(message("M-SMALL", transfer("S1")))
    big = render_pain001(message("M-BIG", *(transfer(f"B{i}", 100) for i in range(300))))
    assert len(small) < OFF_LOOP_BYTES < len(big) < iso20022.MAX_BODY_BYTES
    assert (await client.post(PAIN001, content=small, headers=auth)).status_code == 201
    assert (await client.post(PAIN001, content=big, headers=auth)).status_code == 201
    assert threads[0] == threading.get_ident()  # small bodies: no thread hop
    assert threads[1] != threading.get_ident()
