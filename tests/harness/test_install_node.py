"""`.ci/install-node`: nothing when a recent node is there; Debian's nodejs when it is missing
or too old; a failure that says so when even that is too old. apt-get is a stand-in here."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from tests.support.paths import ROOT

SCRIPT = ROOT / ".ci" / "install-node"


def fake_node(bin_dir: Path, version: str) -> None:
    node = bin_dir / "node"
    node.write_text(f"#!/bin/sh\nprintf '{version.split('.')[0]}'\n")
    node.chmod(0o755)


def world(tmp_path: Path, node_version: str | None, installs: str) -> tuple[Path, dict[str, str]]:
    """A PATH with only a stand-in node (or none) and an apt-get that logs its calls and, on
    install, puts a node of `installs` in place."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    if node_version:
        fake_node(bin_dir, node_version)
    log = tmp_path / "apt.log"
    apt = bin_dir / "apt-get"
    apt.write_text(
        "#!/bin/sh\n"
        f'echo "$@" >> {log}\n'
        'case "$*" in *install*) '
        f"printf '#!/bin/sh\\nprintf {installs.split('.')[0]}\\n' > {bin_dir}/node; "
        f"chmod +x {bin_dir}/node;; esac\n"
    )
    apt.chmod(0o755)
    for tool in ("id", "echo", "printf", "chmod", "cat"):
        real = subprocess.run(["sh", "-c", f"command -v {tool}"], capture_output=True, text=True)
        if real.stdout.strip().startswith("/"):
            (bin_dir / tool).symlink_to(real.stdout.strip())
    env = {"PATH": str(bin_dir), "HOME": str(tmp_path)}
    if os.geteuid() != 0:  # the script would ask for sudo: stand in for it as well
        sudo = bin_dir / "sudo"
        sudo.write_text('#!/bin/sh\nexec "$@"\n')
        sudo.chmod(0o755)
    return log, env


def run(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/bin/bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30
    )


def test_a_recent_node_is_left_alone(tmp_path: Path) -> None:
    log, env = world(tmp_path, "20.1.0", installs="20.1.0")
    done = run(env)
    assert done.returncode == 0, done.stderr
    assert not log.exists()  # apt-get never called


def test_a_missing_node_is_installed_from_debian(tmp_path: Path) -> None:
    log, env = world(tmp_path, None, installs="20.1.0")
    done = run(env)
    assert done.returncode == 0, done.stderr
    assert log.read_text().splitlines() == ["update -qq", "install -y -qq nodejs"]
    assert run(env).returncode == 0 and len(log.read_text().splitlines()) == 2  # idempotent


def test_an_old_node_is_replaced_and_a_still_old_one_is_an_error(tmp_path: Path) -> None:
    log, env = world(tmp_path, "16.0.0", installs="16.0.0")
    done = run(env)
    assert done.returncode == 1
    assert "18 or newer is needed" in done.stderr
    assert "install -y -qq nodejs" in log.read_text()
