"""split_trade_covered_once on built runs: a split trade carried sub-order by sub-order passes;
a line missing, sent twice, or sent under a sibling sub-order fails it, naming the platform
order and the line."""

from __future__ import annotations

from tests.support.judge import Built, Line, RunBuilder, failed, judge

CHECK = "split_trade_covered_once"


def split_trade(builder: RunBuilder, stage: str = "shipped") -> tuple[str, Built, Built]:
    """The good mix, and a platform order split in two sub-orders carried to `stage`."""
    builder.good_mix()
    first = builder.order(stage, lines=[Line("SKU-S1", 2, 4000), Line("SKU-S2", 1, 1500)])
    second = builder.order(stage, lines=[Line("SKU-S3", 1, 2500)], post_cents=0)
    return builder.split(first, second), first, second


def test_a_split_trade_carried_sub_order_by_sub_order_passes(builder: RunBuilder) -> None:
    split_trade(builder)
    verdict = judge(builder)
    assert failed(verdict) == []
    assert verdict.invariant(CHECK).checked == 1  # one platform order, not two trades


def test_no_split_trade_nothing_checked(builder: RunBuilder) -> None:
    builder.good_mix()
    verdict = judge(builder)
    assert failed(verdict) == [] and verdict.invariant(CHECK).checked == 0


def test_the_whole_trade_under_the_first_sub_order_fails_naming_the_trade(
    builder: RunBuilder,
) -> None:
    # What ships_split_trade_whole does: every line in the first sub-order's delivery order,
    # the second sub-order never sent.
    tid, first, second = split_trade(builder, "at_wms")
    builder.sql(
        "wms",
        "UPDATE delivery_order_lines SET delivery_order_id = ? WHERE delivery_order_id = ?",
        (first.delivery_order_id, second.delivery_order_id),
    )
    builder.sql(
        "wms",
        "DELETE FROM delivery_orders WHERE delivery_order_id = ?",
        (second.delivery_order_id,),
    )
    verdict = judge(builder)
    assert CHECK in failed(verdict)
    # The per-trade checks see it too: the second sub-order lost, the first's lines wrong.
    assert {"no_lost_orders", "wms_lines_match_oms"} <= set(failed(verdict))
    inv = verdict.invariant(CHECK)
    assert inv.breakdown == {"line sent under another sub-order": 1}
    [example] = inv.examples
    assert example["entity"] == tid
    assert set(example["sub_orders"]) == {first.trade_no, second.trade_no}
    [(oid, observed)] = example["observed"].items()
    assert oid.startswith(tid)
    assert observed["sub_order"] == second.trade_no
    assert [sent["under"] for sent in observed["sent"]] == [first.trade_no]


def test_a_line_sent_twice_fails(builder: RunBuilder) -> None:
    tid, first, second = split_trade(builder, "at_wms")
    builder.sql(
        "wms",
        "INSERT INTO delivery_order_lines SELECT ?, order_line_no, item_code, plan_qty,"
        " actual_qty FROM delivery_order_lines WHERE delivery_order_id = ?",
        (first.delivery_order_id, second.delivery_order_id),
    )
    verdict = judge(builder)
    inv = verdict.invariant(CHECK)
    assert inv.breakdown == {"line sent twice": 1}
    assert inv.examples[0]["entity"] == tid


def test_a_line_missing_or_short_fails(builder: RunBuilder) -> None:
    tid, first, second = split_trade(builder, "at_wms")
    builder.sql(
        "wms",
        "DELETE FROM delivery_order_lines WHERE delivery_order_id = ? AND item_code = 'SKU-S2'",
        (first.delivery_order_id,),
    )
    builder.sql(
        "wms",
        "UPDATE delivery_order_lines SET plan_qty = 2 WHERE delivery_order_id = ?",
        (second.delivery_order_id,),
    )
    verdict = judge(builder)
    inv = verdict.invariant(CHECK)
    # One platform order, two problems: one violation, counted under each.
    assert (inv.violations, inv.breakdown) == (
        1,
        {"line missing": 1, "line with another quantity": 1},
    )
    # The builder's rec_ids are the order's number * 100 + the line's index.
    missing, short = int(first.trade_no[1:]) * 100 + 1, int(second.trade_no[1:]) * 100
    assert set(inv.examples[0]["observed"]) == {f"{tid}-{missing}", f"{tid}-{short}"}


def test_a_cancelled_sub_order_needs_no_cover(builder: RunBuilder) -> None:
    _, _, second = split_trade(builder, "at_wms")
    builder.sql(
        "wms",
        "UPDATE delivery_orders SET status = 'CANCELED' WHERE delivery_order_id = ?",
        (second.delivery_order_id,),
    )
    builder.sql("oms", "UPDATE orders SET trade_status = 5 WHERE trade_no = ?", (second.trade_no,))
    verdict = judge(builder)
    assert CHECK not in failed(verdict)
    assert verdict.invariant(CHECK).checked == 1
