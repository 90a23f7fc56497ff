"""Which CDK CLI the local cloud runs: the one the project's users have."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ses_lambda_localcloud.cdk_cli import find_cdk, project_root
from ses_lambda_localcloud.target import CommandError


def executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\necho 2.0.0\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A CDK project nested in a workspace, with a PATH holding neither npx nor cdk."""
    project = tmp_path / "workspace" / "app"
    project.mkdir(parents=True)
    (project / "cdk.json").write_text('{"app": "python app.py"}')
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    return project


def test_the_projects_node_modules_cli_comes_first(project: Path, tmp_path: Path) -> None:
    executable(tmp_path / "bin" / "cdk")
    os.environ["PATH"] = f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}"
    local = executable(project / "node_modules" / ".bin" / "cdk")
    assert find_cdk(project) == [str(local)]


def test_a_parent_directorys_node_modules_counts_as_the_projects(project: Path) -> None:
    workspace = executable(project.parent / "node_modules" / ".bin" / "cdk")
    assert find_cdk(project) == [str(workspace)]


def test_cdk_on_path_is_the_last_resort(project: Path, tmp_path: Path) -> None:
    on_path = executable(tmp_path / "bin" / "cdk")
    os.environ["PATH"] = f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}"
    assert find_cdk(project) == [str(on_path)]


def test_an_explicit_cli_wins(project: Path, tmp_path: Path) -> None:
    executable(project / "node_modules" / ".bin" / "cdk")
    mine = executable(tmp_path / "tools" / "my-cdk")
    assert find_cdk(project, str(mine)) == [str(mine)]


def test_fails_when_the_explicit_cli_does_not_exist(project: Path, tmp_path: Path) -> None:
    with pytest.raises(CommandError, match=r"--cdk .*nowhere/cdk: no such executable"):
        find_cdk(project, str(tmp_path / "nowhere" / "cdk"))


def test_fails_when_no_cdk_cli_is_found_and_says_where_it_looked(project: Path) -> None:
    with pytest.raises(CommandError) as raised:
        find_cdk(project)
    message = str(raised.value)
    assert f"node_modules/.bin/cdk in {project} and its parents" in message
    assert "npx (not on PATH)" in message
    assert "cdk on PATH" in message
    assert "npm install --save-dev aws-cdk" in message and "--cdk PATH" in message


def test_fails_outside_a_cdk_project(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match=r"no cdk.json in .* or above"):
        project_root(tmp_path)


def test_the_project_is_the_nearest_cdk_json_above(project: Path) -> None:
    (project / "src" / "deep").mkdir(parents=True)
    assert project_root(project / "src" / "deep") == project
