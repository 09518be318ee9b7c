"""reconciliation_flags_differences on built runs: a settlement's difference (bank credit less
what the platform settled for its orders) is flagged in its receipt's FREMARK exactly when it
is at or over 500 CNY or 0.5 %; a missed flag and a needless one each name the bill."""

from __future__ import annotations

import pytest

from tests.support.judge import RunBuilder, failed, judge

CHECK = "reconciliation_flags_differences"
FLAG = "对账差异需审批: 差异"
WITHIN = "对账差异在容差内: 差异"


def bill(builder: RunBuilder, share_permille: float, remark: str | None, cents: int = 0) -> str:
    """The good mix and one paid bill of two completed orders, adjusted by `share_permille`
    of what the platform settled for them (or by `cents`), booked with `remark`."""
    builder.good_mix()
    orders = [builder.order("completed"), builder.order("completed", post_cents=0)]
    expected = sum(o.paid_cents - o.paid_cents * 5 // 100 for o in orders)
    adjustment = cents or round(expected * share_permille / 1000)
    return builder.settled(orders, adjustment_cents=adjustment, remark=remark)


@pytest.mark.parametrize(
    ("share_permille", "remark"),
    [
        (0, None),  # nothing to reconcile
        (4.9, WITHIN),  # below both thresholds
        (-4.9, WITHIN),  # a penalty: the size counts, not the sign
        (5, FLAG),  # at 0.5 %: at a threshold is over it
        (-30, FLAG),
    ],
)
def test_flags_exactly_at_or_over_a_threshold_pass(
    builder: RunBuilder, share_permille: float, remark: str | None
) -> None:
    bill(builder, share_permille, remark)
    verdict = judge(builder)
    assert failed(verdict) == []
    assert verdict.invariant(CHECK).checked == 1


def test_a_difference_of_500_cny_needs_a_flag_whatever_its_share(builder: RunBuilder) -> None:
    number = bill(builder, 0, None, cents=50_000)
    verdict = judge(builder)
    assert failed(verdict) == [CHECK]
    example = verdict.invariant(CHECK).examples[0]
    assert example["entity"] == number
    assert example["expected"]["difference"] == "500.00"


def test_an_unflagged_difference_at_the_share_threshold_fails(builder: RunBuilder) -> None:
    number = bill(builder, 5, WITHIN)
    verdict = judge(builder)
    assert failed(verdict) == [CHECK]
    inv = verdict.invariant(CHECK)
    assert inv.breakdown == {"difference at or over a threshold not flagged": 1}
    example = inv.examples[0]
    assert example["entity"] == number
    assert (example["expected"]["flagged"], example["observed"]["flagged"]) == (True, False)
    assert example["expected"]["difference share"] == "0.50 %"
    assert example["observed"]["FREMARK"] == [WITHIN]
    assert example["expected"]["bank credit"] is not None


def test_a_flag_below_both_thresholds_fails(builder: RunBuilder) -> None:
    number = bill(builder, 4.9, FLAG)
    verdict = judge(builder)
    assert failed(verdict) == [CHECK]
    inv = verdict.invariant(CHECK)
    assert inv.breakdown == {"flagged below both thresholds": 1}
    assert inv.examples[0]["entity"] == number
    assert (inv.examples[0]["expected"]["flagged"], inv.examples[0]["observed"]["flagged"]) == (
        False,
        True,
    )


def test_a_flag_on_a_bill_that_agrees_fails(builder: RunBuilder) -> None:
    bill(builder, 0, FLAG)
    assert failed(judge(builder)) == [CHECK]


def test_the_remark_field_is_read_whatever_its_case(builder: RunBuilder) -> None:
    bill(builder, 10, None)
    builder.sql(
        "erp",
        "UPDATE documents SET model = json_set(model, '$.FRemark', ?)"
        " WHERE form_id = 'AR_RECEIVEBILL'",
        (FLAG,),
    )
    assert failed(judge(builder)) == []


def test_a_settlement_without_an_audited_receipt_is_not_judged_here(builder: RunBuilder) -> None:
    bill(builder, 10, None)
    builder.sql(
        "erp", "UPDATE documents SET document_status = 'B' WHERE form_id = 'AR_RECEIVEBILL'"
    )
    verdict = judge(builder)
    assert CHECK not in failed(verdict)
    assert verdict.invariant(CHECK).checked == 0
