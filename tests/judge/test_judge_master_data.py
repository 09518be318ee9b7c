"""Judge tests on built runs: master data. Materials carried to the WMS and the OMS as the ERP
has them pass; an ignored change, a discontinued item still on sale, a change carried after
the objective each fail `master_data_agrees` naming the SKU with expected and observed; a run
from before the change tables checks nothing."""

from __future__ import annotations

from pathlib import Path

from contract_tests.judge import RunMeta
from tests.support.judge import RunBuilder, failed, judge

DDL = {
    "erp": """
        CREATE TABLE bd_material (number TEXT, name TEXT, barcode TEXT, price_cents INTEGER,
            is_sale INTEGER, document_status TEXT, forbid_status TEXT);
        CREATE TABLE material_changes (seq INTEGER PRIMARY KEY, number TEXT, change TEXT,
            name TEXT, barcode TEXT, price_cents INTEGER, is_sale INTEGER, changed_sim TEXT);
    """,
    "wms": """
        CREATE TABLE item_changes (seq INTEGER PRIMARY KEY, item_code TEXT, name TEXT,
            bar_code TEXT, changed_sim TEXT);
    """,
    "oms": """
        CREATE TABLE goods_changes (seq INTEGER PRIMARY KEY, spec_no TEXT, goods_name TEXT,
            barcode TEXT, price_cents INTEGER, deleted INTEGER, changed_sim TEXT);
    """,
}
LOAD = "2026-11-10 20:00:00"
SKU, OTHER = "1000000000000001", "1000000000000002"


class Catalogue:
    """The three systems' master data in a built run, written as the fakes write it."""

    def __init__(self, builder: RunBuilder) -> None:
        self.builder = builder
        for system, ddl in DDL.items():
            builder.conns[system].executescript(ddl)

    def material(self, number: str, name: str, barcode: str, price: int) -> None:
        """A material of the loaded catalogue, in all three systems alike."""
        self.builder.sql(
            "erp",
            "INSERT INTO bd_material VALUES (?, ?, ?, ?, 1, 'C', 'A')",
            (number, name, barcode, price),
        )
        self.wms(number, LOAD, name, barcode)
        self.oms(number, LOAD, name, barcode, price)

    def change(self, number: str, kind: str, at: str, **fields: object) -> None:
        """The business changes a material in the ERP at `at` (simulated)."""
        if fields:
            sets = ", ".join(f"{key} = ?" for key in fields)
            self.builder.sql(
                "erp",
                f"UPDATE bd_material SET {sets} WHERE number = ?",
                (*fields.values(), number),
            )
        self.builder.sql(
            "erp",
            "INSERT INTO material_changes (number, change, name, barcode, price_cents, is_sale,"
            " changed_sim) SELECT number, ?, name, barcode, price_cents, is_sale, ?"
            " FROM bd_material WHERE number = ?",
            (kind, at, number),
        )

    def wms(self, number: str, at: str, name: str, barcode: str) -> None:
        self.builder.sql(
            "wms",
            "INSERT INTO item_changes (item_code, name, bar_code, changed_sim) VALUES (?, ?, ?, ?)",
            (number, name, barcode, at),
        )

    def oms(
        self, number: str, at: str, name: str, barcode: str, price: int, deleted: int = 0
    ) -> None:
        self.builder.sql(
            "oms",
            "INSERT INTO goods_changes (spec_no, goods_name, barcode, price_cents, deleted,"
            " changed_sim) VALUES (?, ?, ?, ?, ?, ?)",
            (number, name, barcode, price, deleted, at),
        )


def loaded(tmp_path: Path) -> tuple[RunBuilder, Catalogue]:
    builder = RunBuilder(tmp_path / "run")
    builder.good_mix()
    catalogue = Catalogue(builder)
    catalogue.material(SKU, "T恤", "6900000000011", 9900)
    catalogue.material(OTHER, "鞋", "6900000000028", 19900)
    return builder, catalogue


def test_changes_carried_in_time_pass(tmp_path: Path) -> None:
    builder, catalogue = loaded(tmp_path)
    catalogue.change(SKU, "rename", "2026-11-10 20:10:00", name="T恤（1代）")
    catalogue.wms(SKU, "2026-11-10 20:12:00", "T恤（1代）", "6900000000011")
    catalogue.oms(SKU, "2026-11-10 20:12:00", "T恤（1代）", "6900000000011", 9900)
    # Re-priced then discontinued before the connector came by: one push carries both.
    catalogue.change(OTHER, "price", "2026-11-10 20:20:00", price_cents=17900)
    catalogue.change(OTHER, "discontinue", "2026-11-10 20:21:00", is_sale=0)
    catalogue.oms(OTHER, "2026-11-10 20:25:00", "鞋", "6900000000028", 17900, deleted=1)
    verdict = judge(builder, RunMeta(objectives={"master_data_sync_seconds": 900}))
    assert failed(verdict) == []
    inv = verdict.invariant("master_data_agrees")
    assert (inv.checked, inv.violations) == (2, 0)


def test_an_ignored_change_fails_naming_the_sku(tmp_path: Path) -> None:
    builder, catalogue = loaded(tmp_path)
    catalogue.change(SKU, "barcode", "2026-11-10 20:10:00", barcode="6900000000103")
    verdict = judge(builder)
    assert failed(verdict) == ["master_data_agrees"]
    inv = verdict.invariant("master_data_agrees")
    assert inv.breakdown == {"WMS item differs": 1, "OMS goods differ": 1}
    [example] = inv.examples
    assert example["entity"] == SKU
    assert example["expected"]["barcode"] == "6900000000103"
    assert example["observed"]["wms"] == {"name": "T恤", "barcode": "6900000000011"}
    assert example["observed"]["oms"]["barcode"] == "6900000000011"


def test_a_discontinued_item_still_on_sale_fails(tmp_path: Path) -> None:
    builder, catalogue = loaded(tmp_path)
    catalogue.change(OTHER, "discontinue", "2026-11-10 20:10:00", is_sale=0)
    verdict = judge(builder)
    inv = verdict.invariant("master_data_agrees")
    assert inv.breakdown == {"discontinued but on sale in the OMS": 1}
    assert inv.examples[0]["entity"] == OTHER
    assert inv.examples[0]["observed"]["oms"]["on_sale"] is True


def test_a_change_carried_after_the_objective_is_late(tmp_path: Path) -> None:
    builder, catalogue = loaded(tmp_path)
    catalogue.change(SKU, "rename", "2026-11-10 20:10:00", name="T恤（1代）")
    catalogue.wms(SKU, "2026-11-10 20:20:00", "T恤（1代）", "6900000000011")  # 10 minutes
    catalogue.oms(SKU, "2026-11-10 20:40:00", "T恤（1代）", "6900000000011", 9900)  # 30
    verdict = judge(builder, RunMeta(objectives={"master_data_sync_seconds": 900}))
    inv = verdict.invariant("master_data_agrees")
    assert inv.breakdown == {"late to the OMS": 1}
    assert inv.examples[0]["late"] == [
        {"change": "rename", "at": "2026-11-10 20:10:00", "system": "OMS", "after_seconds": 1800.0}
    ]
    # The seeds' slowest objective (the default, 24 hours) lets it pass.
    builder2, catalogue2 = loaded(tmp_path / "again")
    catalogue2.change(SKU, "rename", "2026-11-10 20:10:00", name="T恤（1代）")
    catalogue2.wms(SKU, "2026-11-10 20:20:00", "T恤（1代）", "6900000000011")
    catalogue2.oms(SKU, "2026-11-10 20:40:00", "T恤（1代）", "6900000000011", 9900)
    assert failed(judge(builder2)) == []


def test_a_new_material_missing_downstream_fails(tmp_path: Path) -> None:
    builder, catalogue = loaded(tmp_path)
    builder.sql(
        "erp",
        "INSERT INTO bd_material VALUES ('1000000000000009', '新品', '6900000000097', 5900, 1,"
        " 'C', 'A')",
    )
    catalogue.change("1000000000000009", "new", "2026-11-10 20:10:00")
    inv = judge(builder).invariant("master_data_agrees")
    assert inv.breakdown == {"missing in the WMS": 1, "missing in the OMS": 1}


def test_a_run_from_before_the_change_tables_checks_nothing(tmp_path: Path) -> None:
    builder = RunBuilder(tmp_path / "run")
    builder.good_mix()
    inv = judge(builder).invariant("master_data_agrees")
    assert (inv.passed, inv.checked) == (True, 0)
