"""The certification suite file, its hash, and the signed `certificate.json` (docs/CERTIFY.md).

Plain data and hashing: playing the suite is simulator/certify.py's. `verify` needs only this
module, the certificate and the run folders beside it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from simulator.scenario import describe_validation_error, read_yaml

CERTIFICATE_FORMAT = 1
CERTIFICATE_KIND = "ecomock-certificate"
SIGNATURE_ALGORITHM = "Ed25519"
KEY_ENV = "ECOMOCK_CERTIFY_KEY"
LEVELS = range(1, 7)
NOT_AVAILABLE = "not_available"
# Worst first: a level (and the whole certificate) takes the worst verdict of its runs. An
# "error" (a run that could not be played) and an "invalid" run leave the level unproven,
# whatever another run failed on; each run keeps its own verdict in the listing.
VERDICT_ORDER = ("error", "invalid", "fail", "pass")
EXIT_CODES = {"pass": 0, "fail": 1, "invalid": 2, "error": 2}


class CertifyError(ValueError):
    """A suite, key or certificate that cannot be used; the message names the file and field."""


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SuiteRun(Strict):
    """One scenario file of a level, played once per seed."""

    scenario: str = Field(min_length=1, description="path relative to the suite file")
    seeds: list[int] = Field(min_length=1)
    drill: float | None = Field(default=None, gt=0, le=10)

    @field_validator("seeds")
    @classmethod
    def _distinct_seeds(cls, seeds: list[int]) -> list[int]:
        if len(set(seeds)) != len(seeds):
            raise ValueError("a seed is listed twice (each seed is one run)")
        return seeds


class SuiteLevel(Strict):
    """A level: its runs, or why it is not available yet."""

    level: int = Field(ge=1, le=6)
    name: str = Field(min_length=1)
    available: bool = True
    # Checked even when left out (validate_default), against `available` declared above.
    reason: str = Field(default="", validate_default=True)
    runs: list[SuiteRun] = Field(default=[], validate_default=True)

    @field_validator("reason")
    @classmethod
    def _reason_when_not_available(cls, reason: str, info: ValidationInfo) -> str:
        if info.data.get("available") is False and not reason.strip():
            raise ValueError("say why the level is not available")
        return reason

    @field_validator("runs")
    @classmethod
    def _runs_when_available(cls, runs: list[SuiteRun], info: ValidationInfo) -> list[SuiteRun]:
        if info.data.get("available") is True and not runs:
            raise ValueError("an available level needs at least one run")
        if info.data.get("available") is False and runs:
            raise ValueError("a level that is not available plays no runs")
        return runs


class Suite(Strict):
    """scenarios/certify/suite.yaml: the fixed, versioned suite per level."""

    version: int = Field(ge=1)
    levels: list[SuiteLevel] = Field(min_length=1)

    @model_validator(mode="after")
    def _each_level_once_in_order(self) -> Suite:
        numbers = [level.level for level in self.levels]
        if numbers != sorted(set(numbers)):
            raise ValueError(f"levels: each level once, in order (got {numbers})")
        return self

    def level(self, number: int) -> SuiteLevel | None:
        return next((level for level in self.levels if level.level == number), None)


def load_suite(path: Path) -> Suite:
    """Read and validate a suite file; errors name the file and the field."""
    raw = read_yaml(path, CertifyError)
    if not isinstance(raw, dict):
        raise CertifyError(f"{path}: expected a mapping (version, levels) at the top level")
    try:
        return Suite.model_validate(raw)
    except ValidationError as exc:
        raise CertifyError(f"{path}: {describe_validation_error(exc)}") from exc


def sha256_file(path: Path) -> str | None:
    """The file's SHA-256 in hex, or None when it cannot be read."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return None


def suite_files(suite: Suite) -> list[str]:
    """Every scenario file the suite names, once each, in the order of the file."""
    seen: dict[str, None] = {}
    for level in suite.levels:
        for run in level.runs:
            seen.setdefault(run.scenario, None)
    return list(seen)


def suite_hash(suite_path: Path, suite: Suite) -> tuple[str, dict[str, str | None]]:
    """The hash of the suite file's bytes and of every scenario file it names (a missing
    file hashes as missing), and each scenario file's own hash."""
    digest = hashlib.sha256(b"ecomock-suite\0")
    digest.update(suite_path.read_bytes())
    files: dict[str, str | None] = {}
    for name in suite_files(suite):
        files[name] = sha256_file(suite_path.parent / name)
        digest.update(f"\0{name}\0{files[name] or 'missing'}".encode())
    return digest.hexdigest(), files


def level_verdict(run_verdicts: Sequence[str], problems: Sequence[str] = ()) -> str:
    """An available level's verdict: "pass" only when it has runs and every one passed."""
    if problems or not run_verdicts or not set(run_verdicts) <= set(VERDICT_ORDER):
        return "error"
    return next(v for v in VERDICT_ORDER if v in run_verdicts or v == "pass")


def overall_verdict(level_verdicts: Iterable[str]) -> str:
    """The certificate's verdict: the worst of its available levels ("error" if none)."""
    played = [v for v in level_verdicts if v != NOT_AVAILABLE]
    if not played:
        return "error"
    return next(v for v in VERDICT_ORDER if v in played or v == "pass")


def results_hash(runs: Iterable[Mapping[str, Any]]) -> str:
    """The hash of every run's folder and report.json hash, in the certificate's order."""
    digest = hashlib.sha256(b"ecomock-results\0")
    for run in runs:
        digest.update(f"{run.get('dir')}\0{run.get('report_sha256')}\n".encode())
    return digest.hexdigest()


def all_runs(certificate: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [run for level in certificate.get("levels", []) for run in level.get("runs", [])]


def harness_identity(repo: Path) -> dict[str, Any]:
    """ecomock's version, and the git commit it runs from (dirty: uncommitted changes)."""
    try:
        version = metadata.version("ecomock")
    except metadata.PackageNotFoundError:
        version = None
    commit: str | None = None
    dirty: bool | None = None
    try:
        commit = _git(repo, "rev-parse", "HEAD")
        dirty = bool(_git(repo, "status", "--porcelain", "--untracked-files=no"))
    except (OSError, subprocess.CalledProcessError):
        pass  # not a git checkout (an installed wheel): the version alone names the harness
    return {"version": version, "commit": commit, "dirty": dirty}


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True, timeout=10
    )
    return done.stdout.strip()


def default_key_path() -> Path:
    """$ECOMOCK_CERTIFY_KEY, else ~/.config/ecomock/certify-key (outside any checkout)."""
    if os.environ.get(KEY_ENV):
        return Path(os.environ[KEY_ENV]).expanduser()
    config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return config / "ecomock" / "certify-key"


def signing_key(path: Path) -> tuple[Ed25519PrivateKey, bool]:
    """The Ed25519 key at `path` (PEM, PKCS#8); generated, readable by the owner only, when
    missing. The flag says whether it was just generated."""
    if path.exists():
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (OSError, ValueError, TypeError) as exc:
            raise CertifyError(f"{path}: not an unencrypted PEM private key: {exc}") from exc
        if not isinstance(key, Ed25519PrivateKey):
            raise CertifyError(f"{path}: not an Ed25519 key")
        return key, False
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # Created 0600 from the start: the key is never readable by others, not even briefly.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    return key, True


def public_key_text(key: Ed25519PublicKey) -> str:
    """The raw 32-byte public key, base64: how certificate.json and --public-key carry it."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return base64.b64encode(raw).decode()


def read_public_key(path: Path) -> str:
    """A pinned public key from a file: PEM (SubjectPublicKeyInfo) or the base64 raw key."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CertifyError(f"{path}: cannot read: {exc.strerror}") from exc
    if b"-----BEGIN" in data:
        try:
            key = serialization.load_pem_public_key(data)
        except ValueError as exc:
            raise CertifyError(f"{path}: not a PEM public key: {exc}") from exc
        if not isinstance(key, Ed25519PublicKey):
            raise CertifyError(f"{path}: not an Ed25519 public key")
        return public_key_text(key)
    text = data.decode("ascii", errors="replace").strip()
    try:
        Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))
    except ValueError as exc:
        raise CertifyError(f"{path}: not a base64 Ed25519 public key") from exc
    return text


def canonical(document: Mapping[str, Any]) -> bytes:
    """The signed bytes: the certificate without its signature, sorted, compact JSON."""
    unsigned = {key: value for key, value in document.items() if key != "signature"}
    return json.dumps(unsigned, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign(document: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    """The document with its `signature`: algorithm, public key and value (base64)."""
    value = key.sign(canonical(document))
    return {
        **document,
        "signature": {
            "algorithm": SIGNATURE_ALGORITHM,
            "public_key": public_key_text(key.public_key()),
            "value": base64.b64encode(value).decode(),
        },
    }


def verify_certificate(
    path: Path, pinned_key: str | None = None, suite_path: Path | None = None
) -> list[str]:
    """Every reason `path` cannot be trusted; none when it verifies.

    The signature with the embedded key (and that key is `pinned_key`, when given); each
    run's report.json beside the certificate against its hash; the results hash; each
    level's and the overall verdict against its runs; with `suite_path`, the suite hash.
    """
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        return [f"{path}: cannot read: {exc.strerror}"]
    except ValueError as exc:
        return [f"{path}: not JSON: {exc}"]
    if not isinstance(document, dict) or document.get("kind") != CERTIFICATE_KIND:
        return [f"{path}: not an ecomock certificate (kind is not {CERTIFICATE_KIND!r})"]
    problems = _signature_problems(document, pinned_key)
    try:
        problems += _result_problems(document, path.parent)
        problems += _verdict_problems(document)
    except (AttributeError, KeyError, TypeError) as exc:
        problems.append(f"malformed certificate: {type(exc).__name__}: {exc}")
    if suite_path is not None:
        problems += _suite_problems(document, suite_path)
    return problems


def _signature_problems(document: Mapping[str, Any], pinned_key: str | None) -> list[str]:
    signature = document.get("signature")
    if not isinstance(signature, dict) or signature.get("algorithm") != SIGNATURE_ALGORITHM:
        return [f"signature: missing, or not {SIGNATURE_ALGORITHM}"]
    try:
        key = Ed25519PublicKey.from_public_bytes(
            base64.b64decode(signature.get("public_key", ""), validate=True)
        )
        value = base64.b64decode(signature.get("value", ""), validate=True)
    except ValueError:
        return ["signature: public_key or value is not valid base64 Ed25519"]
    problems = []
    try:
        key.verify(value, canonical(document))
    except InvalidSignature:
        problems.append("signature: does not match the certificate: it was changed after signing")
    if pinned_key is not None and signature.get("public_key") != pinned_key:
        problems.append(
            f"signature: signed by key {signature.get('public_key')}, not by the pinned key"
            f" {pinned_key}"
        )
    return problems


def _result_problems(document: Mapping[str, Any], folder: Path) -> list[str]:
    problems = []
    for run in all_runs(document):
        if run.get("dir") is None:
            continue  # a run that could not be played left no report; its error is listed
        report = folder / run["dir"] / "report.json"
        actual = sha256_file(report)
        if actual is None:
            problems.append(f"{run['dir']}: report.json is missing")
            continue
        if actual != run.get("report_sha256"):
            problems.append(f"{run['dir']}: report.json does not match its hash")
            continue
        verdict = json.loads(report.read_bytes()).get("verdict")
        if verdict != run.get("verdict"):
            problems.append(
                f"{run['dir']}: the certificate says {run.get('verdict')!r},"
                f" its report.json says {verdict!r}"
            )
    if results_hash(all_runs(document)) != document.get("results_sha256"):
        problems.append("results_sha256: does not match the runs' report hashes")
    return problems


def _verdict_problems(document: Mapping[str, Any]) -> list[str]:
    problems = []
    follows: list[str] = []  # each level's verdict as its runs make it
    for level in document.get("levels", []):
        name = f"level {level.get('level')}"
        runs = level.get("runs", [])
        if level.get("verdict") == NOT_AVAILABLE:
            follows.append(NOT_AVAILABLE)
            if runs:
                problems.append(f"{name}: not available, yet it lists runs")
            continue
        expected = level_verdict([run.get("verdict") for run in runs], level.get("problems", []))
        follows.append(expected)
        if level.get("verdict") != expected:
            problems.append(
                f"{name}: verdict {level.get('verdict')!r} does not follow from its runs"
                f" ({expected!r})"
            )
    expected = overall_verdict(follows)
    if document.get("verdict") != expected:
        problems.append(
            f"verdict: {document.get('verdict')!r} does not follow from the levels ({expected!r})"
        )
    return problems


def _suite_problems(document: Mapping[str, Any], suite_path: Path) -> list[str]:
    try:
        actual, _ = suite_hash(suite_path, load_suite(suite_path))
    except (CertifyError, OSError) as exc:
        return [f"suite: {exc}"]
    if actual != document.get("suite", {}).get("sha256"):
        return [f"suite.sha256: the certificate was not made with {suite_path} as it is now"]
    return []
