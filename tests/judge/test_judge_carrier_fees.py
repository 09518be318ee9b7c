"""`carrier_fees_booked` on built runs: each closed fee statement is booked once, as one
audited AP_Payable to the express company for its total, and bills every parcel of its period
once at the price card's fee; each way of getting that wrong is named."""

from __future__ import annotations

from typing import Any

import pytest

from fake_systems.carrier.fees import fee_cents, weight_grams, zone
from tests.support.judge import SIM, RunBuilder, failed, judge

CHECK = "carrier_fees_booked"
STATEMENT = "FS20261111-SF-EB1"
PERIOD = ("2026-11-11 00:00:00", "2026-11-12 00:00:00")
ROUTES = [("广东省", "广东省"), ("广东省", "湖南省"), ("广东省", "黑龙江省")]
CARRIER = "3900000001"


def fee_tables(builder: RunBuilder) -> None:
    """The carrier's fee tables and the parcel columns they read (docs/DATABASES.md)."""
    for column in ("weight_kg REAL", "sender_province TEXT", "receiver_province TEXT"):
        builder.sql("carrier", f"ALTER TABLE parcels ADD COLUMN {column}")
    builder.sql("erp", "ALTER TABLE bd_supplier ADD COLUMN name TEXT")
    builder.conns["carrier"].executescript(
        """
        CREATE TABLE traces (logistic_code TEXT, seq INTEGER, accept_time TEXT, action TEXT);
        CREATE TABLE fee_statements (statement_no TEXT PRIMARY KEY, ebusiness_id TEXT,
            shipper_code TEXT, period_start TEXT, period_end TEXT, closed_sim TEXT,
            total_cents INTEGER, line_count INTEGER);
        CREATE TABLE fee_statement_lines (statement_no TEXT, seq INTEGER, logistic_code TEXT,
            kind TEXT, weight_grams INTEGER, sender_province TEXT, receiver_province TEXT,
            zone TEXT, fee_cents INTEGER, event_sim TEXT);
        """
    )
    builder.sql(
        "erp",
        "INSERT INTO bd_supplier (number, bank_account, name) VALUES (?, ?, '顺丰速运')",
        (CARRIER, f"62284800{CARRIER}"),
    )


def line(builder: RunBuilder, number: str, seq: int, code: str, kind: str = "delivery") -> int:
    """Bill one parcel as the carrier does; its fee."""
    row = (
        builder.conns["carrier"]
        .execute(
            "SELECT weight_kg, sender_province, receiver_province FROM parcels"
            " WHERE logistic_code = ?",
            (code,),
        )
        .fetchone()
    )
    grams, route_zone = weight_grams(row[0]), zone(row[1], row[2])
    fee = fee_cents(grams, route_zone)
    builder.sql(
        "carrier",
        "INSERT INTO fee_statement_lines VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (number, seq, code, kind, grams, row[1], row[2], route_zone, fee, SIM),
    )
    return fee


def statement(builder: RunBuilder, number: str, codes: list[str], total: int) -> None:
    builder.sql(
        "carrier",
        "INSERT INTO fee_statements VALUES (?, 'EB1', 'SF', ?, ?, ?, ?, ?)",
        (number, *PERIOD, "2026-11-12 01:00:00", total, len(codes)),
    )


def payable(builder: RunBuilder, bill_no: str, cents: int, supplier: str = CARRIER) -> None:
    builder.sql(
        "erp",
        "INSERT INTO documents (form_id, bill_no, document_status, supplier_number,"
        " amount_cents, note, model) VALUES ('AP_Payable', ?, 'C', ?, ?, ?, '{}')",
        (bill_no, supplier, cents, STATEMENT),
    )


@pytest.fixture
def builder(tmp_path: Any) -> RunBuilder:
    """The good mix, its parcels weighed and routed, billed on one statement, booked."""
    built = RunBuilder(tmp_path / "run")
    built.good_mix()
    fee_tables(built)
    codes = [
        r[0]
        for r in built.conns["carrier"].execute(
            "SELECT logistic_code FROM parcels ORDER BY logistic_code"
        )
    ]
    for n, code in enumerate(codes):
        sender, receiver = ROUTES[n % len(ROUTES)]
        built.sql(
            "carrier",
            "UPDATE parcels SET weight_kg = ?, sender_province = ?, receiver_province = ?"
            " WHERE logistic_code = ?",
            (0.4 + 0.9 * n, sender, receiver, code),
        )
    total = sum(line(built, STATEMENT, n, code) for n, code in enumerate(codes, start=1))
    statement(built, STATEMENT, codes, total)
    payable(built, STATEMENT, total)
    return built


def total(builder: RunBuilder) -> int:
    return int(
        builder.conns["carrier"].execute("SELECT total_cents FROM fee_statements").fetchone()[0]
    )


def kinds(builder: RunBuilder) -> tuple[list[str], dict[str, int], dict[str, Any]]:
    verdict = judge(builder)
    result = verdict.invariant(CHECK)
    return failed(verdict), result.breakdown, result.examples[0] if result.examples else {}


def test_fees_as_the_reference_books_them_pass(builder: RunBuilder) -> None:
    # The mix's parcels cover every zone and more than one kilo: the card is exercised.
    zones = (
        builder.conns["carrier"]
        .execute("SELECT COUNT(DISTINCT zone), MAX(weight_grams) FROM fee_statement_lines")
        .fetchone()
    )
    assert zones[0] == 3 and zones[1] > 1000
    verdict = judge(builder)
    assert failed(verdict) == []
    assert verdict.invariant(CHECK).checked == 1


def test_a_run_without_fee_tables_has_nothing_to_judge(tmp_path: Any) -> None:
    built = RunBuilder(tmp_path / "run")
    built.good_mix()
    verdict = judge(built)
    assert verdict.invariant(CHECK).passed and verdict.invariant(CHECK).checked == 0


def test_a_statement_not_booked_is_named(builder: RunBuilder) -> None:
    builder.sql("erp", "DELETE FROM documents WHERE bill_no = ?", (STATEMENT,))
    names, breakdown, example = kinds(builder)
    assert names == [CHECK]
    assert breakdown == {"statement not booked": 1}
    assert example["entity"] == STATEMENT
    assert example["observed"]["audited AP_Payable (bill, amount, supplier)"] == "none"


def test_a_payable_short_of_the_total_is_named(builder: RunBuilder) -> None:
    builder.sql(
        "erp",
        "UPDATE documents SET amount_cents = amount_cents - 800 WHERE bill_no = ?",
        (STATEMENT,),
    )
    names, breakdown, example = kinds(builder)
    assert names == [CHECK]
    assert breakdown == {"payable differs from the statement's total": 1}
    assert (
        example["expected"]["amount"]
        != example["observed"]["audited AP_Payable (bill, amount, supplier)"][0].split()[1]
    )


def test_a_statement_booked_twice_is_named(builder: RunBuilder) -> None:
    payable(builder, f"{STATEMENT}-2", total(builder))  # its note names the statement
    _, breakdown, example = kinds(builder)
    assert breakdown == {"statement booked more than once": 1}
    assert len(example["observed"]["audited AP_Payable (bill, amount, supplier)"]) == 2


def test_a_payable_to_another_supplier_is_named(builder: RunBuilder) -> None:
    builder.sql("erp", "INSERT INTO bd_supplier VALUES ('3100001001', 'x', '货主供应商')")
    builder.sql(
        "erp", "UPDATE documents SET supplier_number = '3100001001' WHERE bill_no = ?", (STATEMENT,)
    )
    _, breakdown, _ = kinds(builder)
    assert breakdown == {"payable to another supplier than the express company": 1}


def test_a_carrier_payable_without_statement_is_named(builder: RunBuilder) -> None:
    builder.sql(
        "erp",
        "INSERT INTO documents (form_id, bill_no, document_status, supplier_number,"
        " amount_cents, model) VALUES ('AP_Payable', 'FEE-X', 'C', ?, 100, '{}')",
        (CARRIER,),
    )
    _, breakdown, example = kinds(builder)
    assert breakdown == {"carrier fee payable without a statement": 1}
    assert example["entity"] == "FEE-X"


def test_a_line_off_the_card_is_named(builder: RunBuilder) -> None:
    """The fake's own error: a line billed at the first kilo whatever it weighed."""
    builder.sql(
        "carrier",
        "UPDATE fee_statement_lines SET fee_cents = fee_cents + 1 WHERE seq = 2",
    )
    builder.sql("carrier", "UPDATE fee_statements SET total_cents = total_cents + 1")
    builder.sql(
        "erp",
        "UPDATE documents SET amount_cents = amount_cents + 1 WHERE bill_no = ?",
        (STATEMENT,),
    )
    _, breakdown, example = kinds(builder)
    assert breakdown == {"line priced off the card": 1}
    assert "card" in example["observed"]["off the card"][0]


def test_a_total_that_is_not_its_lines_is_named(builder: RunBuilder) -> None:
    builder.sql("carrier", "UPDATE fee_statements SET total_cents = total_cents + 5")
    builder.sql(
        "erp",
        "UPDATE documents SET amount_cents = amount_cents + 5 WHERE bill_no = ?",
        (STATEMENT,),
    )
    _, breakdown, _ = kinds(builder)
    assert breakdown == {"statement total differs from its lines": 1}


def test_a_parcel_of_the_period_left_off_is_named(builder: RunBuilder) -> None:
    left_off = (
        builder.conns["carrier"]
        .execute("SELECT logistic_code, fee_cents FROM fee_statement_lines WHERE seq = 1")
        .fetchone()
    )
    builder.sql("carrier", "DELETE FROM fee_statement_lines WHERE seq = 1")
    for system, table in (("carrier", "fee_statements"), ("erp", "documents")):
        column = "total_cents" if system == "carrier" else "amount_cents"
        builder.sql(system, f"UPDATE {table} SET {column} = {column} - ?", (left_off[1],))
    builder.sql("carrier", "UPDATE fee_statements SET line_count = line_count - 1")
    _, breakdown, example = kinds(builder)
    assert breakdown == {"delivery in a closed period on no statement": 1}
    assert example["entity"] == left_off[0]


def returned(builder: RunBuilder) -> str:
    """The first parcel back with its sender (406) within the period."""
    code = str(
        builder.conns["carrier"]
        .execute("SELECT logistic_code FROM parcels ORDER BY logistic_code")
        .fetchone()[0]
    )
    builder.sql(
        "carrier", "INSERT INTO traces VALUES (?, 9, '2026-11-11 20:00:00', '406')", (code,)
    )
    return code


def test_a_parcel_back_with_its_sender_unbilled_is_named(builder: RunBuilder) -> None:
    code = returned(builder)
    _, breakdown, example = kinds(builder)
    assert breakdown == {"return in a closed period on no statement": 1}
    assert example["entity"] == code


def test_a_return_billed_and_booked_passes(builder: RunBuilder) -> None:
    code = returned(builder)
    builder.sql("carrier", "UPDATE fee_statements SET line_count = line_count + 1")
    fee = line(builder, STATEMENT, 99, code, "return")
    builder.sql("carrier", "UPDATE fee_statements SET total_cents = total_cents + ?", (fee,))
    builder.sql(
        "erp",
        "UPDATE documents SET amount_cents = amount_cents + ? WHERE bill_no = ?",
        (fee, STATEMENT),
    )
    assert kinds(builder)[0] == []
