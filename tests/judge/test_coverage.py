"""Coverage from run histories: calls counted per operation, untouched operations listed."""

from __future__ import annotations

from pathlib import Path

from contract_tests.coverage import Catalogue, coverage_markdown, read_run
from fake_systems.common.storage import open_database


def make_run(folder: Path, rows: dict[str, list[tuple[str, str, str]]]) -> Path:
    folder.mkdir()
    for system, events in rows.items():
        conn = open_database(folder / f"{system}.db")
        conn.executemany(
            "INSERT INTO events (sim_time, wall_time, kind, operation, outcome)"
            " VALUES ('', 0, ?, ?, ?)",
            events,
        )
        conn.close()
    return folder


def test_coverage_counts_calls_and_lists_what_no_run_touched(tmp_path: Path) -> None:
    smoke = make_run(
        tmp_path / "smoke",
        {
            "wms": [
                ("api_in", "deliveryorder.create", "ok"),
                ("api_in", "deliveryorder.create", "ok"),
                ("api_in", "order.cancel", "isv.invalid-parameter"),
                ("push_out", "deliveryorder.confirm", "ok"),
                ("state", "order.cancel", "CANCELED"),  # not a protocol call
            ]
        },
    )
    empty = make_run(tmp_path / "empty", {})
    catalogue = {
        "wms": Catalogue(
            requests=("deliveryorder.create", "order.cancel", "entryorder.create"),
            pushes=("deliveryorder.confirm",),
        )
    }
    runs = [read_run(smoke, ["wms", "oms"]), read_run(empty, ["wms"])]
    page = coverage_markdown(runs, catalogue)
    assert "| `deliveryorder.create` | 2 | — |" in page
    assert "| `order.cancel` | 0 +1 refused | — |" in page
    assert "| `deliveryorder.confirm (push)` | 1 | — |" in page
    untouched = page.split("## Touched by no run")[1]
    assert "wms `order.cancel`" in untouched  # refused calls do not count as exercised
    assert "wms `entryorder.create`" in untouched
    assert "deliveryorder.create" not in untouched
