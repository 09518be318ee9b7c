"""The OMS and carrier services take the pipeline's OwnerScope: every owner, some, or none."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from fake_systems.common.context import SystemContext
from fake_systems.common.scope import OwnerScope
from fake_systems.oms.service import OmsService
from simulator.world import World
from tests.support.oms import CREDS, raw_push

WINDOW = ("2026-11-10 20:00:00", "2026-11-10 21:00:00")


@pytest.fixture
def oms(make_context: Callable[[str], SystemContext], world: World) -> OmsService:
    service = OmsService(make_context("oms"), CREDS)
    service.setup(world)
    service.push_raw_trades("TM-A", *raw_push(world, "A1"))
    service.push_raw_trades("TM-B", *raw_push(world, "B1"))
    for trade in service.query_trades(*WINDOW).trades:  # shipped: each leaves a sync record
        service.sync_logistics(trade.trade_no, "SF", f"SF-{trade.src_tid}")
    return service


def visible(oms: OmsService, scope: OwnerScope) -> tuple[list[str], list[str], int]:
    """The trades, shops and sync-list length the scope sees."""
    trades = [t.src_tid for t in oms.query_trades(*WINDOW, scope=scope).trades]
    shops = sorted({shop.owner_code for shop in oms.shops(scope)})
    return sorted(trades), shops, oms.logistics_sync_list(scope=scope).total_count


def test_oms_reads_follow_the_owner_scope(oms: OmsService) -> None:
    assert visible(oms, OwnerScope.EVERYONE)[0] == ["A1", "B1"]
    assert visible(oms, OwnerScope.of(("OWNER-A",))) == (["A1"], ["OWNER-A"], 1)


def test_an_empty_owner_scope_sees_nothing_not_everything(oms: OmsService) -> None:
    # `names` is () for both every owner and no owner: the services must not read it as "all".
    assert visible(oms, OwnerScope(frozenset())) == ([], [], 0)
