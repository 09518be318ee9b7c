"""Where the repository and its scenario files are, for tests that read them or run from there."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
SMOKE = SCENARIOS / "smoke.yaml"
MONTH_END = SCENARIOS / "month_end.yaml"
AFTER_SALES = SCENARIOS / "after_sales.yaml"
