"""`ecomock certify` and `ecomock verify`: the suite file, level verdicts, the signed certificate.

Most tests play the suite with a stand-in for the runner that writes a report.json of a chosen
verdict (what certify reads of a run), so the level rules are checked in milliseconds; two
end-to-end tests play a tiny suite for real against the reference and a faulty connector.
"""

from __future__ import annotations

import json
import shutil
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from simulator.certificate import (
    EXIT_CODES,
    NOT_AVAILABLE,
    harness_identity,
    load_suite,
    public_key_text,
    sign,
    signing_key,
    suite_hash,
    verify_certificate,
)
from simulator.certify import (
    HARNESS_ROOT,
    SUITE_FILE,
    Certification,
    PlannedRun,
    certify,
    plan_level,
    write_certificate,
)
from simulator.cli import app
from simulator.connector import ConnectorError, find_profile
from tests.support.paths import SMOKE
from tests.support.scenarios import objectives_with_latency_margin

Document = dict[str, Any]


@pytest.fixture(autouse=True)
def key_in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No test makes or reads the user's own key (~/.config/ecomock/certify-key)."""
    monkeypatch.setenv("ECOMOCK_CERTIFY_KEY", str(tmp_path / "key.pem"))


def write_suite(folder: Path, levels: list[dict[str, Any]], scenario: str = "short.yaml") -> Path:
    """A suite file in `folder`, beside a short scenario (smoke, 40 simulated minutes)."""
    raw = yaml.safe_load(SMOKE.read_text(encoding="utf-8"))
    raw.update(
        name="short", duration="40m", faults=[], objectives=objectives_with_latency_margin(raw)
    )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / scenario).write_text(yaml.safe_dump(raw), encoding="utf-8")
    path = folder / "suite.yaml"
    path.write_text(yaml.safe_dump({"version": 1, "levels": levels}), encoding="utf-8")
    return path


L1 = {"level": 1, "name": "sales order flow", "runs": [{"scenario": "short.yaml", "seeds": [1, 2]}]}
L2_NOT_AVAILABLE = {
    "level": 2,
    "name": "after-sales",
    "available": False,
    "reason": "no after-sales flows yet",
}


def fake_report(verdict_of: Callable[[PlannedRun], str], state: str = "finished") -> Any:
    """A stand-in for playing a run: writes the report.json certify reads, of that verdict."""
    played: list[PlannedRun] = []

    def play_run(planned: PlannedRun, run_dir: Path) -> None:
        played.append(planned)
        verdict = verdict_of(planned)
        run_dir.mkdir(parents=True)
        report = {
            "verdict": verdict,
            "seed": planned.seed,
            "orders": {"created": 10 + planned.seed},
            "throughput": {"orders_per_min": 100.0 + planned.seed},
            "latency_seconds": {"paid_to_wms": {"p99": 0.5 * planned.seed}},
            "faults": {"total": 3},
            "crashes": [],
            "invariants": [{"name": "no_lost_orders", "passed": verdict != "fail"}],
            "invalid_reasons": ["no orders"] if verdict == "invalid" else [],
            "run": {"status": {"state": state}},
        }
        (run_dir / "report.json").write_text(json.dumps(report), encoding="utf-8")

    play_run.played = played  # type: ignore[attr-defined]
    return play_run


def certify_with(
    suite_path: Path, out: Path, play_run: Callable[[PlannedRun, Path], None], up_to: int = 6
) -> Document:
    job = Certification(
        "stand-in",
        find_profile("reference"),
        suite_path,
        load_suite(suite_path),
        up_to,
        harness_identity(HARNESS_ROOT),
    )
    return certify(job, out, play_run, lambda message: None)


def signed_folder(tmp_path: Path, verdict_of: Callable[[PlannedRun], str]) -> tuple[Path, Path]:
    """A certification folder made with the stand-in and signed; (certificate, key file)."""
    suite = write_suite(tmp_path / "suite", [L1, L2_NOT_AVAILABLE])
    out = tmp_path / "out"
    key, _ = signing_key(tmp_path / "key.pem")
    document = sign(certify_with(suite, out, fake_report(verdict_of)), key)
    return write_certificate(document, out), tmp_path / "key.pem"


def resign(path: Path, key_file: Path, change: Callable[[Document], None]) -> None:
    """Change the certificate and sign it again with the same key: a forger holding the key."""
    document = json.loads(path.read_text())
    change(document)
    key, _ = signing_key(key_file)
    write_certificate(sign(document, key), path.parent)


def edit(path: Path, change: Callable[[Document], None]) -> None:
    document = json.loads(path.read_text())
    change(document)
    path.write_text(json.dumps(document, indent=2))


def test_the_shipped_suite_is_valid_and_every_level_available() -> None:
    suite = load_suite(SUITE_FILE)
    assert [level.level for level in suite.levels] == [1, 2, 3, 4, 5, 6]
    available = {level.level: level.available for level in suite.levels}
    assert available == {1: True, 2: True, 3: True, 4: True, 5: True, 6: True}
    for level in suite.levels:
        assert level.available or "issue" in level.reason
    peak = suite.level(5)
    assert peak is not None
    assert {run.scenario for run in peak.runs} == {"../certification.yaml", "../double11.yaml"}
    assert next(run.drill for run in peak.runs if "double11" in run.scenario) == 1.5


def test_the_shipped_suite_plans_its_runs_without_playing_them() -> None:
    """Every scenario file it names loads (with its drill), or its level says which is missing."""
    suite = load_suite(SUITE_FILE)
    planned = {}
    for level in suite.levels:
        if level.available:
            runs, problems = plan_level(SUITE_FILE, level)
            missing = [
                run.scenario
                for run in level.runs
                if not (SUITE_FILE.parent / run.scenario).is_file()
            ]
            assert len(problems) == len(missing), problems
            planned[level.level] = runs
    assert [(run.dir, run.seed) for run in planned[1]] == [
        ("L1/smoke-seed11", 11),
        ("L1/smoke-seed12", 12),
        ("L1/smoke-seed13", 13),
    ]
    assert [run.dir for run in planned[2]] == [
        "L2/after_sales-seed11",
        "L2/after_sales-seed12",
        "L2/after_sales-seed13",
    ]
    assert planned[2][0].scenario.demand.cancellations.after_picking > 0
    assert planned[2][0].scenario.demand.returns.rate > 0
    assert [(run.dir, run.drill) for run in planned[5]] == [
        ("L5/certification-seed7", None),
        ("L5/double11-seed1111-drill1.5", 1.5),
        ("L5/double11-seed1112-drill1.5", 1.5),
    ]
    assert planned[5][1].scenario.demand.drill == 1.5 and planned[5][1].scenario.seed == 1111


def test_a_bad_suite_is_refused_naming_each_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        yaml.safe_dump(
            {
                "version": 1,
                "levels": [
                    {"level": 1, "name": "x", "runs": [{"scenario": "a.yaml", "seeds": [3, 3]}]},
                    {"level": 2, "name": "y", "available": False},
                    {"level": 3, "name": "z"},
                    {"level": 4, "name": "w", "runs": [], "bogus": 1},
                ],
            }
        )
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["certify", "--suite", str(bad), "--out", str(out)])
    assert result.exit_code == 2
    output = " ".join(result.output.split())
    assert "levels.0.runs.0.seeds: a seed is listed twice" in output
    assert "levels.1.reason: say why the level is not available" in output
    assert "levels.2.runs: an available level needs at least one run" in output
    assert "levels.3.bogus" in output
    assert not out.exists()


def test_levels_out_of_order_are_refused(tmp_path: Path) -> None:
    suite = write_suite(tmp_path, [L2_NOT_AVAILABLE, L1])
    result = CliRunner().invoke(app, ["certify", "--suite", str(suite)])
    assert result.exit_code == 2
    assert "levels: each level once, in order" in " ".join(result.output.split())


@pytest.mark.parametrize("level", ["0", "7"])
def test_a_level_out_of_range_is_refused(tmp_path: Path, level: str) -> None:
    result = CliRunner().invoke(app, ["certify", "--level", level, "--out", str(tmp_path)])
    assert result.exit_code == 2 and "--level" in result.output
    assert not (tmp_path / "certificate.json").exists()


def test_certify_refuses_a_folder_in_use(tmp_path: Path) -> None:
    (tmp_path / "L1").mkdir()
    result = CliRunner().invoke(app, ["certify", "--out", str(tmp_path)])
    assert result.exit_code == 2 and "is not empty" in " ".join(result.output.split())
    assert not (tmp_path / "certificate.json").exists()


def test_verify_refuses_a_missing_certificate(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["verify", str(tmp_path / "certificate.json")])
    assert result.exit_code == 2 and "is not a file" in result.output


def test_the_suite_hash_covers_the_suite_and_every_scenario_file(tmp_path: Path) -> None:
    suite_path = write_suite(tmp_path, [L1])
    suite = load_suite(suite_path)
    first, files = suite_hash(suite_path, suite)
    assert set(files) == {"short.yaml"} and files["short.yaml"]
    scenario = tmp_path / "short.yaml"
    scenario.write_text(scenario.read_text() + "\n# one more line\n")
    second, _ = suite_hash(suite_path, suite)
    assert second != first
    suite_path.write_text(suite_path.read_text() + "\n# a comment\n")
    third, _ = suite_hash(suite_path, suite)
    assert third not in (first, second)
    scenario.unlink()
    missing, files = suite_hash(suite_path, suite)
    assert files == {"short.yaml": None} and missing != third


def test_a_level_passes_only_when_every_run_passed(tmp_path: Path) -> None:
    suite = write_suite(tmp_path / "suite", [L1, L2_NOT_AVAILABLE])
    play_run = fake_report(lambda run: "fail" if run.seed == 2 else "pass")
    document = certify_with(suite, tmp_path / "out", play_run)
    level1, level2 = document["levels"]
    assert [run.seed for run in play_run.played] == [1, 2]
    assert level1["verdict"] == "fail" and document["verdict"] == "fail"
    assert [(run["seed"], run["verdict"]) for run in level1["runs"]] == [(1, "pass"), (2, "fail")]
    assert level1["runs"][1]["failed_invariants"] == ["no_lost_orders"]
    assert level1["figures"]["runs_passed"] == 1 and level1["figures"]["orders_created"] == 23
    assert level1["figures"]["worst_p99_seconds"]["paid_to_wms"] == 1.0
    assert level2 == {
        "level": 2,
        "name": "after-sales",
        "verdict": NOT_AVAILABLE,
        "reason": "no after-sales flows yet",
        "runs": [],
    }
    assert EXIT_CODES[document["verdict"]] == 1


def test_every_run_passing_passes_and_not_available_is_not_pass(tmp_path: Path) -> None:
    suite = write_suite(tmp_path / "suite", [L1, L2_NOT_AVAILABLE])
    document = certify_with(suite, tmp_path / "out", fake_report(lambda run: "pass"))
    assert [level["verdict"] for level in document["levels"]] == ["pass", NOT_AVAILABLE]
    assert document["verdict"] == "pass" and document["levels"][0]["seeds"] == [1, 2]


def test_only_unavailable_levels_certify_nothing(tmp_path: Path) -> None:
    suite = write_suite(tmp_path / "suite", [{**L2_NOT_AVAILABLE, "level": 1}])
    document = certify_with(suite, tmp_path / "out", fake_report(lambda run: "pass"))
    assert document["levels"][0]["verdict"] == NOT_AVAILABLE
    assert document["verdict"] == "error"


def test_an_invalid_run_makes_the_level_invalid_even_beside_a_failed_one(tmp_path: Path) -> None:
    suite = write_suite(tmp_path / "suite", [L1])
    play_run = fake_report(lambda run: "invalid" if run.seed == 1 else "fail")
    document = certify_with(suite, tmp_path / "out", play_run)
    assert document["levels"][0]["verdict"] == "invalid"
    assert [run["verdict"] for run in document["levels"][0]["runs"]] == ["invalid", "fail"]
    assert EXIT_CODES[document["verdict"]] == 2


def test_a_missing_scenario_file_makes_its_level_an_error_and_the_rest_plays(
    tmp_path: Path,
) -> None:
    missing = {"level": 1, "name": "a", "runs": [{"scenario": "nope.yaml", "seeds": [1]}]}
    present = {**L1, "level": 2}
    suite = write_suite(tmp_path / "suite", [missing, present])
    play_run = fake_report(lambda run: "pass")
    document = certify_with(suite, tmp_path / "out", play_run)
    level1, level2 = document["levels"]
    assert level1["verdict"] == "error" and level1["runs"] == []
    assert "L1 runs.0.scenario" in level1["problems"][0]
    assert "nope.yaml: cannot read" in level1["problems"][0]
    assert level2["verdict"] == "pass"
    assert {run.level for run in play_run.played} == {2}
    assert document["verdict"] == "error" and EXIT_CODES["error"] == 2


def test_a_run_that_cannot_be_played_is_an_error(tmp_path: Path) -> None:
    suite = write_suite(tmp_path / "suite", [L1])

    def play_run(planned: PlannedRun, run_dir: Path) -> None:
        raise ConnectorError("the connector never became ready")

    document = certify_with(suite, tmp_path / "out", play_run)
    runs = document["levels"][0]["runs"]
    assert [run["verdict"] for run in runs] == ["error", "error"]
    assert runs[0]["error"] == "ConnectorError: the connector never became ready"
    assert runs[0]["dir"] is None and document["verdict"] == "error"


def test_an_interrupted_run_stops_the_suite(tmp_path: Path) -> None:
    suite = write_suite(tmp_path / "suite", [L1, {**L1, "level": 2}])
    play_run = fake_report(lambda run: "invalid", state="interrupted")
    document = certify_with(suite, tmp_path / "out", play_run)
    assert len(play_run.played) == 1
    level1, level2 = document["levels"]
    assert level1["verdict"] == "error" and len(level1["runs"]) == 1
    assert level2["verdict"] == "error" and "interrupted" in level2["problems"][0]


def test_up_to_a_level_leaves_the_later_levels_out(tmp_path: Path) -> None:
    suite = write_suite(tmp_path / "suite", [L1, L2_NOT_AVAILABLE, {**L1, "level": 3}])
    play_run = fake_report(lambda run: "pass")
    document = certify_with(suite, tmp_path / "out", play_run, up_to=2)
    assert [level["level"] for level in document["levels"]] == [1, 2]
    assert {run.level for run in play_run.played} == {1}
    assert document["levels_requested"] == 2


def test_the_key_is_made_once_readable_by_its_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "config" / "certify-key"
    key, made = signing_key(path)
    again, made_again = signing_key(path)
    assert made and not made_again
    assert public_key_text(key.public_key()) == public_key_text(again.public_key())
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_sign_then_verify_passes_and_a_pinned_key_is_checked(tmp_path: Path) -> None:
    certificate, key_file = signed_folder(tmp_path, lambda run: "pass")
    assert verify_certificate(certificate) == []
    key, _ = signing_key(key_file)
    assert verify_certificate(certificate, public_key_text(key.public_key())) == []
    other = public_key_text(Ed25519PrivateKey.generate().public_key())
    problems = verify_certificate(certificate, other)
    assert problems == [
        f"signature: signed by key {public_key_text(key.public_key())}, not by the pinned key"
        f" {other}"
    ]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda doc: doc["levels"][0].update(verdict="fail"),
            "signature: does not match the certificate",
        ),
        (
            lambda doc: doc["levels"][0]["figures"].update(orders_created=10_000),
            "signature: does not match the certificate",
        ),
        (
            lambda doc: doc["levels"][0]["runs"][0].update(seed=99),
            "signature: does not match the certificate",
        ),
        (
            lambda doc: doc["signature"].update(
                public_key=public_key_text(Ed25519PrivateKey.generate().public_key())
            ),
            "signature: does not match the certificate",
        ),
        (lambda doc: doc.pop("signature"), "signature: missing"),
    ],
)
def test_a_tampered_certificate_fails(
    tmp_path: Path, change: Callable[[Document], None], expected: str
) -> None:
    certificate, _ = signed_folder(tmp_path, lambda run: "pass")
    edit(certificate, change)
    problems = verify_certificate(certificate)
    assert any(problem.startswith(expected) for problem in problems), problems


def test_a_changed_report_fails_verify(tmp_path: Path) -> None:
    certificate, _ = signed_folder(tmp_path, lambda run: "fail" if run.seed == 2 else "pass")
    report = certificate.parent / "L1" / "short-seed2" / "report.json"
    report.write_text(report.read_text().replace('"fail"', '"pass"'))
    assert verify_certificate(certificate) == [
        "L1/short-seed2: report.json does not match its hash"
    ]
    report.unlink()
    assert verify_certificate(certificate) == ["L1/short-seed2: report.json is missing"]


def test_verdicts_that_do_not_follow_from_the_runs_fail_even_when_signed(tmp_path: Path) -> None:
    """A key holder who writes "pass" over a failed run, or over a level that is not
    available, still does not get a certificate that verifies."""
    certificate, key_file = signed_folder(tmp_path, lambda run: "fail" if run.seed == 2 else "pass")

    def flip_to_pass(doc: Document) -> None:
        doc["levels"][0]["verdict"] = "pass"
        doc["levels"][1]["verdict"] = "pass"
        doc["verdict"] = "pass"

    resign(certificate, key_file, flip_to_pass)
    assert verify_certificate(certificate) == [
        "level 1: verdict 'pass' does not follow from its runs ('fail')",
        "level 2: verdict 'pass' does not follow from its runs ('error')",
        "verdict: 'pass' does not follow from the levels ('error')",
    ]
    resign(certificate, key_file, lambda doc: doc["levels"][0]["runs"][1].update(verdict="pass"))
    assert verify_certificate(certificate)[0] == (
        "L1/short-seed2: the certificate says 'pass', its report.json says 'fail'"
    )


def test_a_changed_results_hash_fails_even_when_signed(tmp_path: Path) -> None:
    certificate, key_file = signed_folder(tmp_path, lambda run: "pass")
    resign(certificate, key_file, lambda doc: doc.update(results_sha256="0" * 64))
    assert verify_certificate(certificate) == [
        "results_sha256: does not match the runs' report hashes"
    ]


def test_verify_on_the_command_line(tmp_path: Path) -> None:
    certificate, key_file = signed_folder(tmp_path, lambda run: "pass")
    key, _ = signing_key(key_file)
    pem = tmp_path / "signer.pem"
    pem.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    runner = CliRunner()
    ok = runner.invoke(app, ["verify", str(certificate), "--public-key", str(pem)])
    assert ok.exit_code == 0, ok.output
    assert "verifies" in ok.output and "not pinned" not in ok.output
    unpinned = runner.invoke(app, ["verify", str(certificate)])
    assert unpinned.exit_code == 0 and "not pinned" in unpinned.output
    stranger = tmp_path / "stranger.pub"
    stranger.write_text(public_key_text(Ed25519PrivateKey.generate().public_key()))
    wrong = runner.invoke(app, ["verify", str(certificate), "--public-key", str(stranger)])
    assert wrong.exit_code == 1 and "not by the pinned key" in wrong.output
    junk = tmp_path / "junk.pub"
    junk.write_text("not a key")
    assert (
        runner.invoke(app, ["verify", str(certificate), "--public-key", str(junk)]).exit_code == 2
    )
    edit(certificate, lambda doc: doc.update(verdict="fail"))
    tampered = runner.invoke(app, ["verify", str(certificate)])
    assert tampered.exit_code == 1 and "changed after signing" in tampered.output


def test_verify_checks_the_suite_when_given(tmp_path: Path) -> None:
    certificate, _ = signed_folder(tmp_path, lambda run: "pass")
    suite = tmp_path / "suite" / "suite.yaml"
    assert verify_certificate(certificate, suite_path=suite) == []
    scenario = tmp_path / "suite" / "short.yaml"
    scenario.write_text(scenario.read_text() + "\n# changed\n")
    assert verify_certificate(certificate, suite_path=suite) == [
        f"suite.sha256: the certificate was not made with {suite} as it is now"
    ]


TINY_LEVELS = [
    {"level": 1, "name": "sales order flow", "runs": [{"scenario": "short.yaml", "seeds": [11]}]},
    L2_NOT_AVAILABLE,
]


@pytest.mark.e2e
def test_certify_the_reference_connector_end_to_end(tmp_path: Path) -> None:
    suite = write_suite(tmp_path / "suite", TINY_LEVELS)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["certify", "--suite", str(suite), "--out", str(out), "--level", "2"]
    )
    assert result.exit_code == 0, result.output
    document = json.loads((out / "certificate.json").read_text())
    assert [level["verdict"] for level in document["levels"]] == ["pass", NOT_AVAILABLE]
    run = document["levels"][0]["runs"][0]
    assert run["verdict"] == "pass" and run["figures"]["orders_created"] > 0
    assert (out / run["dir"] / "report.html").is_file()
    page = (out / "index.html").read_text()
    assert f'href="{run["dir"]}/report.html"' in page and "no after-sales flows yet" in page
    assert document["harness"]["commit"] and document["harness"]["version"]
    key, _ = signing_key(tmp_path / "key.pem")
    assert document["signature"]["public_key"] == public_key_text(key.public_key())
    pinned = tmp_path / "signer.pub"
    pinned.write_text(document["signature"]["public_key"])
    verified = CliRunner().invoke(
        app, ["verify", str(out / "certificate.json"), "--public-key", str(pinned)]
    )
    assert verified.exit_code == 0, verified.output
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    edit(
        copy / "certificate.json",
        lambda doc: doc["levels"][0]["runs"][0]["figures"].update(orders_created=1),
    )
    assert CliRunner().invoke(app, ["verify", str(copy / "certificate.json")]).exit_code == 1


@pytest.mark.e2e
def test_a_faulty_connector_fails_level_1(tmp_path: Path) -> None:
    suite = write_suite(tmp_path / "suite", TINY_LEVELS)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        ["certify", "--connector", "faulty/skips_shop", "--suite", str(suite), "--out", str(out)],
    )
    assert result.exit_code == 1, result.output
    document = json.loads((out / "certificate.json").read_text())
    assert document["verdict"] == "fail" and document["levels"][0]["verdict"] == "fail"
    assert document["levels"][0]["runs"][0]["failed_invariants"] == ["no_lost_orders"]
    assert document["connector"]["name"] == "skips_shop"
    assert verify_certificate(out / "certificate.json") == []
