"""Locust's own statistics, read back from its `--csv` output for report.json."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

PERCENTILES = {"p50": "50%", "p95": "95%", "p99": "99%"}


def _number(text: str | None) -> float | None:
    """Locust writes "N/A" where it has no figure (a percentile of nothing)."""
    try:
        return float(text) if text not in (None, "", "N/A") else None
    except ValueError:
        return None


def read_locust_stats(csv_prefix: Path) -> dict[str, Any]:
    """`{"endpoints": [...], "total": {...}}` from `<prefix>_stats.csv`, times in ms.

    Each entry: name, method, requests, failures, rps, failures_per_s, average, min, max and
    p50 / p95 / p99 response times. Locust's "Aggregated" row is `total`.
    """
    path = Path(f"{csv_prefix}_stats.csv")
    if not path.is_file():
        return {"error": f"no Locust statistics at {path}"}
    endpoints: list[dict[str, Any]] = []
    total: dict[str, Any] = {}
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            entry: dict[str, Any] = {
                "name": row.get("Name", ""),
                "method": row.get("Type", ""),
                "requests": int(_number(row.get("Request Count")) or 0),
                "failures": int(_number(row.get("Failure Count")) or 0),
                "rps": _number(row.get("Requests/s")),
                "failures_per_s": _number(row.get("Failures/s")),
                "average_ms": _number(row.get("Average Response Time")),
                "min_ms": _number(row.get("Min Response Time")),
                "max_ms": _number(row.get("Max Response Time")),
            }
            for key, column in PERCENTILES.items():
                entry[f"{key}_ms"] = _number(row.get(column))
            if entry["name"] == "Aggregated":
                total = entry
            else:
                endpoints.append(entry)
    return {"endpoints": endpoints, "total": total}
