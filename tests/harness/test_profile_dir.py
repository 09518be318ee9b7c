"""`{dir}` in a connector profile is the profile's own folder, wherever ecomock runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from simulator.connector import load_profile


def test_dir_is_the_profiles_folder_in_command_env_and_working_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "vendor" / "my-connector"
    folder.mkdir(parents=True)
    (folder / "connector.yaml").write_text(
        """
name: mine
command: ["node", "{dir}/main.js", "--port", "{port}"]
env: {MY_CONFIG: "{dir}/config.json"}
working_dir: "{dir}/build"
callbacks:
  wms_confirm: "http://127.0.0.1:{port}/qimen/callback"
  carrier_push: "http://127.0.0.1:{port}/kdniao/push"
ready: "http://127.0.0.1:{port}/health"
""",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)  # a relative path to the profile: {dir} is still absolute
    profile = load_profile("vendor/my-connector").resolved(4321)
    assert profile.command == ["node", f"{folder}/main.js", "--port", "4321"]
    assert profile.env == {"MY_CONFIG": f"{folder}/config.json"}
    assert profile.working_dir == f"{folder}/build"
    assert profile.ready == "http://127.0.0.1:4321/health"


def test_a_profile_without_dir_is_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "connector.yaml"
    path.write_text(
        """
name: plain
command: ["java", "-jar", "build/app.jar"]
working_dir: "."
callbacks: {wms_confirm: "http://127.0.0.1:{port}/q", carrier_push: "http://127.0.0.1:{port}/k"}
ready: "http://127.0.0.1:{port}/health"
""",
        encoding="utf-8",
    )
    profile = load_profile(str(path))
    assert (profile.command, profile.working_dir, profile.env) == (
        ["java", "-jar", "build/app.jar"],
        ".",
        {},
    )
