"""The project's dbt resource: dagster-dbt's, without the start-up work it does not need."""

import sys
from pathlib import Path

import pytest
from packaging import version

import dagster_dbt.core.resource as dagster_dbt_resource
from orchestration.resources import ProjectDbtCliResource, dbt_project, dbt_resource

BESIDE = Path(sys.executable).parent / "dbt"


def _no_subprocess(*args, **kwargs):
    raise AssertionError(f"dbt was started to ask its version: {args}")


@pytest.mark.skipif(not BESIDE.exists(), reason="needs the venv's dbt beside the interpreter")
def test_version_of_the_dbt_beside_the_interpreter_without_running_it(monkeypatch):
    # the version dbt-core's own source declares (what `dbt --version` prints as installed; running it would also
    # ask PyPI for the latest one), not the package metadata the resource reads
    from dbt.__version__ import version as installed

    monkeypatch.setattr(dagster_dbt_resource, "check_output", _no_subprocess)
    resource = dbt_resource()
    assert Path(resource.dbt_executable) == BESIDE
    assert resource._cli_version == version.parse(installed)
    # dagster-dbt's in-process adapter handle (for its row-count and column fetches, unused here) is not built
    assert resource._initialize_dbt_core_adapter(["build"]) is None


def test_another_dbt_executable_keeps_dagster_dbts_own_check(monkeypatch, tmp_path):
    elsewhere = tmp_path / "dbt"
    elsewhere.write_text("#!/bin/sh\nexit 1\n")  # never run: dagster-dbt's check_output is replaced below
    elsewhere.chmod(0o755)
    asked = []

    def fake_check_output(command, *args, **kwargs):
        asked.append(command)
        return b"Core:\n  - installed: 1.10.7\n"

    monkeypatch.setattr(dagster_dbt_resource, "check_output", fake_check_output)
    resource = ProjectDbtCliResource(project_dir=dbt_project, dbt_executable=str(elsewhere))
    assert resource._cli_version == version.parse("1.10.7")
    assert asked == [[str(elsewhere), "--version"]]
