"""report.html: the verdict at a glance, with throughput, backlog and latency plots (inline SVG)."""

from __future__ import annotations

import bisect
import html
import json
import math
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from contract_tests.chaos import ChaosReport, fault_times
from contract_tests.database import attach_run
from contract_tests.invariants import LATENCY_OBJECTIVES, InvariantResult
from contract_tests.judge import Verdict
from contract_tests.metrics import FLOWS, latency_samples

WIDTH, HEIGHT = 760, 230
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 56, 16, 14, 34
COLOURS = ("#2563eb", "#16a34a", "#d97706", "#9333ea", "#dc2626")
BUCKETS = 40  # points per time series

# Wall times of the milestones plotted over time; each query yields one REAL per order.
MILESTONES = {
    "paid": "SELECT paid_wall FROM oms.orders WHERE paid_wall IS NOT NULL",
    "at WMS": "SELECT created_wall FROM wms.delivery_orders WHERE created_wall IS NOT NULL",
    "shipped": "SELECT delivered_wall FROM wms.delivery_orders WHERE delivered_wall IS NOT NULL",
    "invoiced": "SELECT audited_wall FROM erp.documents"
    " WHERE form_id = 'AR_receivable' AND audited_wall IS NOT NULL AND amount_cents >= 0",
}


FLOW_TITLES = {
    "paid_to_wms": "paid → delivery order at the WMS",
    "shipped_to_oms": "shipped by the WMS → shipped in the OMS",
    "shipped_to_erp": "shipped by the WMS → both ERP documents audited",
    "return_to_refund": "return received by the WMS → red receivable audited",
    "cancel_to_intercept": "cancel asked after picking → interception asked at the carrier",
}


@dataclass(frozen=True)
class Series:
    label: str
    points: list[tuple[float, float]]


def _read(conn: sqlite3.Connection, sql: str) -> list[float]:
    try:
        return sorted(float(row[0]) for row in conn.execute(sql))
    except sqlite3.Error:
        return []  # a missing table is already a failed invariant; the plot just stays empty


def rate_series(times: dict[str, list[float]]) -> tuple[list[Series], float, float]:
    """Per-minute rates of each milestone over the run, in BUCKETS equal slices of wall time."""
    everything = [t for values in times.values() for t in values]
    if not everything:
        return [], 0.0, 0.0
    start, end = min(everything), max(everything)
    width = max((end - start) / BUCKETS, 1e-6)
    series = []
    for label, values in times.items():
        counts = [0] * BUCKETS
        for t in values:
            counts[min(int((t - start) / width), BUCKETS - 1)] += 1
        points = [((i + 0.5) * width, c * 60.0 / width) for i, c in enumerate(counts)]
        series.append(Series(label, points))
    return series, start, end


def backlog_series(created: list[float], shipped: list[float], start: float, end: float) -> Series:
    """Delivery orders at the WMS not yet shipped, sampled across the run."""
    points = []
    for i in range(BUCKETS + 1):
        t = start + (end - start) * i / BUCKETS
        waiting = bisect.bisect_right(created, t) - bisect.bisect_right(shipped, t)
        points.append((t - start, float(waiting)))
    return Series("backlog", points)


def _nice_max(value: float) -> float:
    if value <= 0:
        return 1.0
    magnitude = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * magnitude:
            return step * magnitude
    return 10 * magnitude


def line_chart(
    series: Sequence[Series], x_label: str, y_label: str, ref: float | None = None
) -> str:
    """An SVG line chart; `ref` draws a dashed horizontal reference line."""
    if not series or not any(s.points for s in series):
        return '<p class="empty">nothing to plot</p>'
    x_max = max(x for s in series for x, _ in s.points) or 1.0
    y_max = _nice_max(max([y for s in series for _, y in s.points] + [ref or 0.0]))
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM

    def px(x: float) -> float:
        return MARGIN_LEFT + x / x_max * plot_w

    def py(y: float) -> float:
        return MARGIN_TOP + plot_h - y / y_max * plot_h

    parts = [_axes(plot_w, plot_h, x_max, y_max, x_label, y_label)]
    if ref is not None:
        parts.append(
            f'<line x1="{MARGIN_LEFT}" x2="{MARGIN_LEFT + plot_w}" y1="{py(ref):.1f}"'
            f' y2="{py(ref):.1f}" class="ref"/>'
            f'<text x="{MARGIN_LEFT + plot_w - 4}" y="{py(ref) - 4:.1f}" class="ref-label"'
            f' text-anchor="end">{ref:,.0f}</text>'
        )
    for index, s in enumerate(series):
        colour = COLOURS[index % len(COLOURS)]
        path = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y in s.points)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>')
        parts.append(
            f'<rect x="{MARGIN_LEFT + 10 + index * 110}" y="{MARGIN_TOP}" width="10" height="10"'
            f' fill="{colour}"/><text x="{MARGIN_LEFT + 24 + index * 110}" y="{MARGIN_TOP + 9}"'
            f' class="legend">{html.escape(s.label)}</text>'
        )
    return _svg("".join(parts))


def histogram(values: Sequence[float], label: str, objective: float | None) -> str:
    """Latency distribution: 30 bins up to the 99.9th percentile, with p99 and the objective."""
    if not values:
        return '<p class="empty">no samples</p>'
    ordered = sorted(values)
    top = ordered[min(len(ordered) - 1, int(len(ordered) * 0.999))] or ordered[-1] or 1e-3
    top = max(top, objective or 0.0) if objective else top
    bins = [0] * 30
    for v in ordered:
        bins[min(int(v / top * 30), 29)] += 1
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    y_max = _nice_max(max(bins))
    bar_w = plot_w / 30
    parts = [_axes(plot_w, plot_h, top, y_max, f"{label} (wall seconds)", "orders")]
    for i, count in enumerate(bins):
        h = count / y_max * plot_h
        parts.append(
            f'<rect x="{MARGIN_LEFT + i * bar_w + 1:.1f}" y="{MARGIN_TOP + plot_h - h:.1f}"'
            f' width="{bar_w - 2:.1f}" height="{h:.1f}" fill="{COLOURS[0]}"/>'
        )
    p99 = ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]
    for value, name, css in ((p99, "p99", "marker"), (objective, "objective", "ref")):
        if value is None or value > top:
            continue
        x = MARGIN_LEFT + value / top * plot_w
        # Labels near the right edge go on the left of their line, so they stay readable.
        anchor, dx = ("end", -4) if x > MARGIN_LEFT + plot_w * 0.8 else ("start", 4)
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{MARGIN_TOP}" y2="{MARGIN_TOP + plot_h}"'
            f' class="{css}"/><text x="{x + dx:.1f}" y="{MARGIN_TOP + 24}" text-anchor="{anchor}"'
            f' class="{css}-label">{name} {value:.3f} s</text>'
        )
    return _svg("".join(parts))


def _axes(
    plot_w: float, plot_h: float, x_max: float, y_max: float, x_label: str, y_label: str
) -> str:
    bottom = MARGIN_TOP + plot_h
    parts = [
        f'<line x1="{MARGIN_LEFT}" x2="{MARGIN_LEFT + plot_w}" y1="{bottom}" y2="{bottom}"'
        ' class="axis"/>',
        f'<line x1="{MARGIN_LEFT}" x2="{MARGIN_LEFT}" y1="{MARGIN_TOP}" y2="{bottom}"'
        ' class="axis"/>',
    ]
    for i in range(5):
        y = MARGIN_TOP + plot_h * i / 4
        value = y_max * (4 - i) / 4
        parts.append(
            f'<line x1="{MARGIN_LEFT}" x2="{MARGIN_LEFT + plot_w}" y1="{y:.1f}" y2="{y:.1f}"'
            f' class="grid"/><text x="{MARGIN_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end"'
            f' class="tick">{value:,.4g}</text>'
        )
        x = MARGIN_LEFT + plot_w * i / 4
        parts.append(
            f'<text x="{x:.1f}" y="{bottom + 16}" text-anchor="middle" class="tick">'
            f"{x_max * i / 4:,.3g}</text>"
        )
    parts.append(
        f'<text x="{MARGIN_LEFT + plot_w / 2}" y="{HEIGHT - 4}" text-anchor="middle"'
        f' class="label">{html.escape(x_label)}</text>'
        f'<text x="12" y="{MARGIN_TOP + plot_h / 2}" transform="rotate(-90 12'
        f' {MARGIN_TOP + plot_h / 2})" text-anchor="middle" class="label">'
        f"{html.escape(y_label)}</text>"
    )
    return "".join(parts)


def _svg(body: str) -> str:
    return f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img">{body}</svg>'


STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:820px;color:#1f2937}
h1{font-size:1.5rem;margin:0}.verdict{display:inline-block;padding:.2rem .7rem;border-radius:.4rem;
color:#fff;font-weight:600}.pass{background:#16a34a}.fail{background:#dc2626}
.invalid{background:#b45309}.invalid-box{border:3px solid #b45309;background:#fffbeb;
border-radius:.5rem;padding:.6rem 1rem;margin:1rem 0}.invalid-box h2{margin:0;color:#92400e}
.invalid-box li{white-space:pre-wrap;font-family:ui-monospace,monospace;font-size:12px}
.meta{color:#6b7280;margin:.3rem 0 1.2rem}.cards{display:flex;gap:.6rem;flex-wrap:wrap}
.card{border:1px solid #e5e7eb;border-radius:.5rem;padding:.5rem .8rem;min-width:90px}
.card b{display:block;font-size:1.3rem}table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #e5e7eb;padding:.35rem .4rem;text-align:left;vertical-align:top}
td.num{text-align:right}pre{background:#f9fafb;padding:.5rem;overflow:auto;font-size:12px}
svg{width:100%;height:auto}.axis{stroke:#9ca3af}.grid{stroke:#f3f4f6}
.tick,.legend,.label{font-size:11px;fill:#4b5563}.ref{stroke:#dc2626;stroke-dasharray:5 4}
.ref-label{font-size:11px;fill:#dc2626}.marker{stroke:#111827;stroke-dasharray:2 3}
.marker-label{font-size:11px;fill:#111827}.empty{color:#9ca3af}h2{margin-top:1.8rem}
"""


def render_html(verdict: Verdict, conn: sqlite3.Connection) -> str:
    """The whole page for a judged run whose databases `conn` has attached."""
    meta = verdict.meta
    times = {label: _read(conn, sql) for label, sql in MILESTONES.items()}
    rates, start, end = rate_series(times)
    backlog = backlog_series(times["at WMS"], times["shipped"], start, end)
    cards = "".join(
        f'<div class="card">{html.escape(key.replace("_", " "))}<b>{value:,}</b></div>'
        for key, value in verdict.counts.items()
    )
    per_min = verdict.throughput.orders_per_min
    rate = "-" if per_min is None else f"{per_min:,.0f}"
    cards += f'<div class="card">orders / min<b>{rate}</b></div>'
    rows = "".join(_invariant_row(inv) for inv in verdict.invariants)
    latency_plots = ""
    for flow in FLOWS:
        try:
            values = [seconds for _, seconds in latency_samples(conn, flow)]
        except sqlite3.Error:
            values = []
        # A reported flow without an objective (cancel_to_intercept) has no limit line.
        objective = LATENCY_OBJECTIVES.get(flow)
        limit = meta.objectives.get(objective) if objective else None
        latency_plots += f"<h3>{FLOW_TITLES.get(flow, flow)}</h3>"
        latency_plots += histogram(values, flow, limit)
    status = verdict.verdict
    title = f"ecomock {status}: {meta.scenario} × {meta.connector}"
    return f"""<!doctype html><html lang="en"><meta charset="utf-8">
<title>{html.escape(title)}</title>
<style>{STYLE}</style><body>
<h1>ecomock <span class="verdict {status}">{status.upper()}</span></h1>
<p class="meta">scenario <b>{html.escape(str(meta.scenario))}</b>, seed {meta.seed},
connector <b>{html.escape(str(meta.connector))}</b></p>
{_invalid_box(verdict.invalid_reasons)}
<div class="cards">{cards}</div>
<h2>Invariants</h2><table><tr><th>invariant</th><th>result</th><th>checked</th>
<th>violations</th><th>detail</th></tr>{rows}</table>
{_flows_table(verdict)}
{_money_table(verdict)}
{_crashes_table(verdict)}
{_chaos_sections(verdict.chaos, fault_times(conn))}
<h2>Throughput</h2>{line_chart(rates, "wall seconds since the first order", "orders per minute")}
<h2>Warehouse backlog</h2>{line_chart([backlog], "wall seconds", "delivery orders waiting")}
<h2>Latency</h2>{latency_plots}
</body></html>
"""


# report.json's `flows` (metrics.count_flows), as the report's table names them.
FLOW_ROWS = {
    "created": "trades created (sub-orders of split trades each count)",
    "cancelled_before_pickup": "cancelled before the connector sent them",
    "cancelled_before_picking": "cancelled at the WMS before picking",
    "cancelled_after_picking": "cancellations after picking (CANCELEDFAIL)",
    "intercepted": "parcels intercepted at the carrier",
    "refused": "parcels refused by the buyer",
    "returned": "returns back at a warehouse",
    "refunded": "refunds settled",
    "split": "split trades (platform orders)",
    "split_sub_orders": "their sub-orders",
    "partial": "delivery orders shipped in two packages",
    "unsettled": "trades in no end state at the end",
}


def _flows_table(verdict: Verdict) -> str:
    """What happened to the trades; an unknown figure (a table missing) shows as -."""
    if not verdict.flows:
        return ""
    rows = [
        (FLOW_ROWS.get(key, key), "-" if value is None else value)
        for key, value in verdict.flows.items()
    ]
    return "<h2>Flows</h2>" + _table(("flow", "trades"), rows)


# report.json's `payments` (statements.money_summary), as the report's table names them.
MONEY_ROWS = {
    "settlements_billed": "settlement bills issued by the platforms",
    "settlements_paid": "settlement bills paid into the bank",
    "bank_credits": "bank credits",
    "bank_debits": "bank debits",
    "bank_fees": "of which bank fees",
    "fees_booked": "bank fees booked (fee vouchers' lines)",
    "payments_submitted": "supplier payments submitted (pain.001)",
    "payments_settled": "supplier payments settled (ACSC)",
    "payments_rejected": "supplier payments rejected (RJCT)",
    "receivables_written_off": "receivables written off by receipt bills",
    "payables_written_off": "payables written off by payment bills",
}


def _money_table(verdict: Verdict) -> str:
    """The run's money: how many and how much, per figure; nothing when no money moved."""
    money = verdict.money
    if not any((money.get(key) or {}).get("count") for key in MONEY_ROWS):
        return ""
    rows: list[tuple[object, ...]] = []
    for key, title in MONEY_ROWS.items():
        value = money.get(key) or {}
        count, cents = value.get("count"), value.get("cents")
        rows.append(
            (
                title,
                "-" if count is None else count,
                "-" if cents is None else f"{cents / 100:,.2f}",
            )
        )
    fetched = money.get("statements_fetched")
    rows.append(("day statements fetched (camt.053)", "-" if fetched is None else fetched, ""))
    return "<h2>Money</h2>" + _table(("figure", "count", "CNY"), rows)


def _table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A plain table; numbers right-aligned."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td class=num>{cell:,}</td>"
            if isinstance(cell, int)
            else f"<td>{html.escape(str(cell))}</td>"
            for cell in row
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _chaos_sections(chaos: ChaosReport, times: dict[str, list[float]]) -> str:
    """Faults (what hit, the plan, over time) and the connector's calls, Jepsen-style."""
    if not chaos.hits and not chaos.plan:
        faults = '<p class="empty">no faults in this run</p>'
    else:
        faults = _table(
            ("kind", "system", "operation", "hits"),
            [(h.kind, h.system, h.operation, h.count) for h in chaos.hits],
        )
        if chaos.plan:
            faults += "<h3>The plan</h3>" + _table(
                ("rule", "kind", "system", "operation", "window (simulated s)", "hits"),
                [
                    (
                        r.rule,
                        r.kind,
                        r.system,
                        r.operation,
                        f"{r.start:g} – {'end' if r.until is None else f'{r.until:g}'}",
                        r.hits,
                    )
                    for r in chaos.plan
                ],
            )
        busiest = sorted(times, key=lambda kind: -len(times[kind]))[: len(COLOURS)]
        series, _, _ = rate_series({kind: times[kind] for kind in busiest})
        faults += "<h3>Over time</h3>" + line_chart(
            series, "wall seconds since the first fault", "hits per minute"
        )
    recovered = chaos.recovery
    calls = _table(
        ("system", "operation", "invoke", "ok", "fail", "info"),
        [(c.system, c.operation, c.invoke, c.ok, c.fail, c.info) for c in chaos.calls],
    )
    return f"""<h2>Faults</h2>{faults}
<h2>The connector's calls</h2><p>Each request as the fakes saw it: <b>fail</b>, the connector was
told it failed; <b>info</b>, it cannot know (the answer was lost, cut, reset or timed out).
Orders that met a fault: <b>{recovered.met_fault:,}</b>, of which ended right
(<b>recovered</b>): <b>{recovered.recovered:,}</b>.</p>{calls}"""


def _invalid_box(reasons: Sequence[str]) -> str:
    """The first thing on the page of an invalid run: its invariants prove nothing."""
    if not reasons:
        return ""
    items = "".join(f"<li>{html.escape(reason)}</li>" for reason in reasons)
    return (
        '<div class="invalid-box"><h2>This run is invalid: it proves nothing, whatever the'
        f" invariants below say</h2><ul>{items}</ul></div>"
    )


CRASH_COLUMNS = (
    ("#", "index"),
    ("signal", "signal"),
    ("planned (sim s)", "planned_at_sim_seconds"),
    ("killed (simulated)", "killed_sim"),
    ("exit", "exit"),
    ("restart after (sim s)", "restart_after_sim_seconds"),
    ("serving again after (wall s)", "down_wall_seconds"),
    ("error", "error"),
)


def _crashes_table(verdict: Verdict) -> str:
    """The connector's crashes and restarts, when the scenario planned any."""
    status = verdict.run_status
    if status is None or not (status.crashes_planned or status.crashes):
        return ""
    head = "".join(f"<th>{html.escape(title)}</th>" for title, _ in CRASH_COLUMNS)
    rows = "".join(
        "<tr>"
        + "".join(
            f"<td>{html.escape('' if crash.get(key) is None else str(crash.get(key)))}</td>"
            for _, key in CRASH_COLUMNS
        )
        + "</tr>"
        for crash in status.crashes
    )
    return (
        f"<h2>Connector crashes</h2><p>{status.crashes_played} of {status.crashes_planned}"
        f" planned crash(es) played</p><table><tr>{head}</tr>{rows}</table>"
    )


def _invariant_row(inv: InvariantResult) -> str:
    detail = html.escape(inv.summary or "")
    if inv.examples:
        shown = json.dumps(inv.examples[:3], ensure_ascii=False, indent=1, default=str)
        detail += f"<details><summary>examples</summary><pre>{html.escape(shown)}</pre></details>"
    status = "pass" if inv.passed else "fail"
    return (
        f'<tr><td>{html.escape(inv.name)}</td><td><span class="verdict {status}">{status}</span>'
        f"</td><td class=num>{inv.checked:,}</td><td class=num>{inv.violations:,}</td>"
        f"<td>{detail}</td></tr>"
    )


def write_html_report(verdict: Verdict, run_dir: Path, path: Path) -> None:
    """Write report.html for the judged run in `run_dir`."""
    conn = attach_run(run_dir)
    try:
        page = render_html(verdict, conn)
    finally:
        conn.close()
    path.write_text(page, encoding="utf-8")
