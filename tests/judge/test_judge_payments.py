"""`payments_match_payables` on built runs: each executed payment pays one payable once, for
its amount, to the supplier's account, booked as one AP_PAYBILL writing it off; a rejected
payment is booked as nothing; a payment bill no executed payment explains is named."""

from __future__ import annotations

from typing import Any

import pytest

from tests.support.judge import RunBuilder, failed, judge

CHECK = "payments_match_payables"


@pytest.fixture
def builder(tmp_path: Any) -> RunBuilder:
    built = RunBuilder(tmp_path / "run")
    built.good_mix()
    return built


def paid_as_the_reference_pays(builder: RunBuilder) -> None:
    """Two payables paid and booked, one rejected (AC04) and left open, one not yet due."""
    builder.payment(builder.payable("CGDD1-AP", 31_50), 31_50)
    builder.payment(
        builder.payable("CGDD2-AP", 1_200_00, "3100001002"), 1_200_00, supplier="3100001002"
    )
    builder.payment(builder.payable("CGDD3-AP", 99_99), 99_99, status="RJCT", booked=False)
    builder.payable("CGDD4-AP", 10_00)


def test_payments_as_the_reference_makes_them_pass(builder: RunBuilder) -> None:
    paid_as_the_reference_pays(builder)
    verdict = judge(builder)
    assert failed(verdict) == []
    assert verdict.invariant(CHECK).checked == 3  # two settled, one rejected


def kinds(builder: RunBuilder) -> tuple[list[str], dict[str, int], dict[str, Any]]:
    verdict = judge(builder)
    result = verdict.invariant(CHECK)
    return failed(verdict), result.breakdown, result.examples[0]


def test_a_payable_paid_twice_is_named(builder: RunBuilder) -> None:
    paid_as_the_reference_pays(builder)
    # Sent again under a new EndToEndId (remittance the payable), never booked.
    builder.payment("CGDD1-AP", 31_50, end_to_end_id="CGDD1-AP-R", booked=False)
    names, breakdown, example = kinds(builder)
    assert names == [CHECK]
    assert breakdown == {"payable paid more than once": 2, "executed payment not booked": 1}
    assert example["payable"] == "CGDD1-AP"
    assert example["observed"]["executed payments for the payable"] == 2


def test_a_payment_booked_twice_is_named(builder: RunBuilder) -> None:
    paid_as_the_reference_pays(builder)
    builder.payment_bill("FKD00000009", 31_50, "CGDD1-AP", "BK2026112000000001")
    names, breakdown, example = kinds(builder)
    assert names == [CHECK]
    assert breakdown == {"payment booked more than once": 1}
    assert example["entity"] == "CGDD1-AP"
    assert len(example["observed"]["audited AP_PAYBILL (bill, amount, write-offs)"]) == 2


def test_a_rejected_payment_booked_as_paid_is_named(builder: RunBuilder) -> None:
    paid_as_the_reference_pays(builder)
    builder.payment_bill("CGDD3-AP", 99_99, "CGDD3-AP", None)
    names, breakdown, example = kinds(builder)
    assert names == [CHECK]
    assert breakdown == {"rejected payment booked as paid": 1}
    assert (example["entity"], example["observed"]["bank status"]) == ("CGDD3-AP", "RJCT AC04")
    assert example["expected"]["audited AP_PAYBILL"] == "none"


def test_a_settled_payment_left_unbooked_is_named(builder: RunBuilder) -> None:
    paid_as_the_reference_pays(builder)
    builder.payment(builder.payable("CGDD5-AP", 5_00), 5_00, booked=False)
    _, breakdown, example = kinds(builder)
    assert breakdown == {"executed payment not booked": 1}
    assert example["entity"] == "CGDD5-AP"


@pytest.mark.parametrize(
    ("amount", "account_of", "kind"),
    [
        (30_00, "3100001001", "amount differs from the payable"),
        (31_50, "3100009999", "paid to another account than the supplier's"),
    ],
)
def test_a_payment_of_another_amount_or_to_another_account_is_named(
    builder: RunBuilder, amount: int, account_of: str, kind: str
) -> None:
    builder.payable("CGDD1-AP", 31_50)
    builder.payment("CGDD1-AP", amount, supplier=account_of)
    _, breakdown, _ = kinds(builder)
    assert kind in breakdown


def test_a_payment_bill_that_writes_off_another_amount_is_named(builder: RunBuilder) -> None:
    builder.payable("CGDD1-AP", 31_50)
    e2e = builder.payment("CGDD1-AP", 31_50, booked=False)
    builder.payment_bill(e2e, 31_50, "CGDD1-AP", None)
    builder.sql("erp", "UPDATE write_offs SET amount_cents = 3000 WHERE source_bill_no = ?", (e2e,))
    _, breakdown, _ = kinds(builder)
    assert breakdown == {"payment bill differs from the payment": 1}


def test_payments_and_bills_that_trace_to_nothing_are_named(builder: RunBuilder) -> None:
    builder.payment("NOSUCH-AP", 1_00)
    builder.payment_bill("FKD00000001", 2_00, "CGDD7-AP", "BK-none")
    _, breakdown, example = kinds(builder)
    assert breakdown == {
        "payment matches no payable": 1,
        "payment bill without an executed payment": 1,
    }
    assert example["entity"] == "NOSUCH-AP"


def test_a_run_from_before_payments_checks_nothing(builder: RunBuilder) -> None:
    builder.sql("bank", "DROP TABLE payments")
    verdict = judge(builder)
    assert failed(verdict) == []
    assert verdict.invariant(CHECK).checked == 0
