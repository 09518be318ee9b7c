"""Variants of the shipped scenario files for tests: one setting changed, written to a folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tests.support.paths import SMOKE


def smoke_variant(folder: Path, name: str, **settings: Any) -> Path:
    """scenarios/smoke.yaml renamed `name`, its top-level `settings` replaced; the file's path."""
    raw = yaml.safe_load(SMOKE.read_text(encoding="utf-8"))
    raw.update(settings, name=name)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def smoke_with_faults(folder: Path, name: str, faults: list[dict[str, Any]]) -> Path:
    """scenarios/smoke.yaml renamed `name`, with `faults` added to its own; the file's path."""
    raw = yaml.safe_load(SMOKE.read_text(encoding="utf-8"))
    return smoke_variant(folder, name, faults=[*raw.get("faults", []), *faults])
