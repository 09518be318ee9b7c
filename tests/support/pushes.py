"""Push senders for tests: the fakes' pushes answered in process, no sockets."""

from __future__ import annotations

from collections.abc import Callable

import httpx

from fake_systems.common.webhooks import HttpxSender


def mock_sender(handler: Callable[[httpx.Request], httpx.Response]) -> HttpxSender:
    """A push sender whose requests `handler` answers in process (an httpx MockTransport)."""
    return HttpxSender(httpx.AsyncClient(transport=httpx.MockTransport(handler)))
