"""report.html: the verdict, every invariant, and plots drawn from the run's own data."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from contract_tests.html_report import backlog_series, rate_series, write_html_report
from tests.support.judge import failing_run


def test_page_shows_verdict_invariants_and_plots(tmp_path: Path) -> None:
    verdict = failing_run(tmp_path)
    path = tmp_path / "report.html"
    write_html_report(verdict, tmp_path / "run", path)
    page = path.read_text()
    assert '<span class="verdict fail">FAIL</span>' in page
    for inv in verdict.invariants:
        assert inv.name in page
    lost = verdict.invariant("no_lost_orders").examples[0]["entity"]
    assert lost in page  # the failing example names the order
    assert page.count("<svg") == 5  # throughput, backlog, three latency flows
    assert "<script" not in page  # a static page: safe to attach to a CI run


def test_rates_are_per_minute_and_backlog_follows_the_orders() -> None:
    # 120 orders paid evenly over 60 s: 120 per minute in every bucket.
    paid = [i * 0.5 for i in range(120)]
    series, _, _ = rate_series({"paid": paid})
    rates = [y for _, y in series[0].points]
    assert all(abs(rate - 120) < 10 for rate in rates[1:-1])
    created = [0.0, 1.0, 2.0]
    shipped = [10.0, 11.0]
    backlog = backlog_series(created, shipped, 0.0, 20.0)
    values = dict((round(x), y) for x, y in backlog.points)
    assert values[5] == 3.0  # all three waiting
    assert values[20] == 1.0  # one never shipped


def test_user_text_is_escaped(tmp_path: Path) -> None:
    verdict = failing_run(tmp_path)
    # A copy: the meta object is shared with other tests' verdicts.
    verdict.meta = dataclasses.replace(verdict.meta, scenario="<img src=x onerror=alert(1)>")
    write_html_report(verdict, tmp_path / "run", tmp_path / "r.html")
    page = (tmp_path / "r.html").read_text()
    assert "<img src=x" not in page and "&lt;img src=x" in page
    assert not re.search(r"<(script|iframe)", page)
