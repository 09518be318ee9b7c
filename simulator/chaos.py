"""`ecomock chaos`: change the fault plan of a running `ecomock up` live, through /_fake/faults.

Toxiproxy's idea on ecomock's plan: each fake serves its own rules at `/_fake/faults` (list,
add, remove); this module finds the fakes in the endpoints.json `ecomock up` wrote, with the
control token it holds, and speaks to them. A rule is the same as a scenario's `faults:`
entry and is validated the same way (docs/CHAOS.md).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from pydantic import ValidationError

from fake_systems.ecosystem import PUSHES, SYSTEMS, protocol_operations
from simulator.scenario import (
    FaultSettings,
    Strict,
    describe_validation_error,
    fault_context,
    read_yaml,
)

DEFAULT_ENDPOINTS = Path("runs/up/endpoints.json")
ENDPOINTS_ENV = "ECOMOCK_ENDPOINTS_FILE"
TIMEOUT_SECONDS = 10.0
FAULTS_PATH = "/_fake/faults"


class ChaosError(Exception):
    """What went wrong, for the user: the message says what to fix."""


@dataclass(frozen=True)
class Fake:
    """One running fake: where it listens and the token its /_fake/ wants (if any)."""

    system: str
    url: str
    token: str | None


def read_endpoints(path: Path, token: str | None = None) -> dict[str, Fake]:
    """The fakes `ecomock up` serves, from its endpoints.json; `token` overrides theirs."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ChaosError(
            f"cannot read {path}: {exc.strerror}; start the fakes with `ecomock up`"
            " (it writes runs/up/endpoints.json) or give --endpoints"
        ) from exc
    except ValueError as exc:
        raise ChaosError(f"{path} is not JSON: {exc}") from exc
    fakes: dict[str, Fake] = {}
    for system in SYSTEMS:
        entry = data.get(system) if isinstance(data, dict) else None
        if not isinstance(entry, dict) or not isinstance(entry.get("url"), str):
            raise ChaosError(f"{path} has no url for {system}: is it an ecomock endpoints.json?")
        given = token or entry.get("control_token")
        fakes[system] = Fake(system, entry["url"].rstrip("/"), given or None)
    return fakes


class Plan(Strict):
    """A plan file: a scenario's `faults:` list alone."""

    faults: list[FaultSettings]


def validate_plan(raw: object, source: str) -> list[FaultSettings]:
    """The rules of a plan file (`faults:` entries), checked as a scenario's are: every
    problem named by its field (`faults.2.kind: …`)."""
    if not isinstance(raw, dict):
        raise ChaosError(f"{source}: expected a mapping with a `faults:` list, as in a scenario")
    context = fault_context(protocol_operations(), PUSHES)
    try:
        return Plan.model_validate(raw, context=context).faults
    except ValidationError as exc:
        raise ChaosError(f"{source}: {describe_validation_error(exc)}") from exc


class ChaosClient:
    """Lists, adds and removes the running fakes' fault rules."""

    def __init__(self, fakes: Mapping[str, Fake], client: httpx.Client | None = None) -> None:
        self.fakes = dict(fakes)
        self.client = client or httpx.Client(timeout=TIMEOUT_SECONDS)

    def close(self) -> None:
        self.client.close()

    def listing(self, systems: Iterable[str] | None = None) -> list[dict[str, Any]]:
        """Every rule in force on the fakes (all, or those of `systems`), each with its id."""
        rules: list[dict[str, Any]] = []
        for system in systems or SYSTEMS:
            if system not in self.fakes:
                raise ChaosError(f"--system: expected one of {', '.join(SYSTEMS)}, got {system!r}")
            rules += self._call(system, "GET", FAULTS_PATH)
        return rules

    def add(self, entry: Mapping[str, Any]) -> dict[str, Any]:
        """Add one rule on the fake it names; the rule as the fake lists it."""
        system = entry.get("system")
        if system not in self.fakes:
            raise ChaosError(f"system: expected one of {', '.join(SYSTEMS)}, got {system!r}")
        result: dict[str, Any] = self._call(str(system), "POST", FAULTS_PATH, dict(entry))
        return result

    def apply(self, rules: Iterable[FaultSettings]) -> list[dict[str, Any]]:
        """Add every rule of a validated plan; the rules as the fakes list them."""
        return [self.add(rule.model_dump(by_alias=True, exclude_none=True)) for rule in rules]

    def remove(self, reference: str) -> dict[str, Any]:
        """Remove the rule `wms:3` (or `3`, when only one fake has a rule 3)."""
        system, _, number = reference.rpartition(":")
        if not number.isdigit() or (system and system not in self.fakes):
            raise ChaosError(
                f"{reference!r}: expected a rule id as `ecomock chaos list` shows it, e.g. wms:3"
            )
        if not system:
            owners = [rule["system"] for rule in self.listing() if rule["id"] == int(number)]
            if len(owners) != 1:
                where = "no fake has" if not owners else f"{', '.join(owners)} each have"
                raise ChaosError(f"{where} a rule {number}: name it as SYSTEM:{number}")
            system = owners[0]
        removed: dict[str, Any] = self._call(system, "DELETE", f"{FAULTS_PATH}/{number}")
        return removed

    def _call(self, system: str, method: str, path: str, body: object = None) -> Any:
        fake = self.fakes[system]
        headers = {"Authorization": f"Bearer {fake.token}"} if fake.token else {}
        try:
            response = self.client.request(method, fake.url + path, json=body, headers=headers)
        except httpx.HTTPError as exc:
            raise ChaosError(
                f"cannot reach the {system} fake at {fake.url} ({exc}): is `ecomock up` running?"
            ) from exc
        if response.status_code == 401:
            raise ChaosError(
                f"the {system} fake refused the control token: give --control-token, or the"
                " endpoints.json of the running `ecomock up`"
            )
        if response.status_code == 422:
            raise ChaosError(f"{system} refused the rule: {_field_errors(response)}")
        if response.status_code >= 400:
            raise ChaosError(f"{system}: {_detail(response)}")
        try:
            return response.json()
        except ValueError as exc:
            raise ChaosError(f"the {system} fake at {fake.url} did not answer JSON") from exc


def read_plan(path: Path) -> list[FaultSettings]:
    """A plan file: YAML with a `faults:` list, validated."""
    return validate_plan(read_yaml(path, ChaosError), str(path))


def _field_errors(response: httpx.Response) -> str:
    """A 422's `detail` list as `field: message` lines (the body's own `loc`, minus "body")."""
    detail = _json(response).get("detail")
    if not isinstance(detail, list):
        return str(detail)
    parts = []
    for error in detail:
        loc = [str(part) for part in error.get("loc", ()) if part != "body"]
        parts.append(f"{'.'.join(loc) or '(rule)'}: {error.get('msg')}")
    return "; ".join(parts)


def _detail(response: httpx.Response) -> str:
    detail = _json(response).get("detail")
    return str(detail) if detail else f"HTTP {response.status_code}"


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
