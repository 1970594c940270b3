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


def _other_process_can_write(path: Path) -> bool:
    """Whether a second process can open the DuckDB file for writing (what dbt does) right now."""
    import subprocess

    probe = f"import duckdb; duckdb.connect({str(path)!r}).close()"
    return subprocess.run([sys.executable, "-c", probe], capture_output=True).returncode == 0


def test_a_load_inside_held_open_shares_one_open_database_and_frees_the_file_after(tmp_path):
    import dlt

    from orchestration.resources import Warehouse

    warehouse = Warehouse(kind="duckdb", duckdb_path=str(tmp_path / "w.duckdb"), pipelines_dir=str(tmp_path / "p"))
    wal = Path(warehouse.duckdb_path + ".wal")

    @dlt.resource(name="spend", write_disposition="merge", primary_key="row_key")
    def spend(rows):
        yield rows

    first = [{"row_key": "a", "usd": 1.5}, {"row_key": "b", "usd": 2.0}]
    warehouse.pipeline("held", "raw_held").run(spend(first))
    # without a held connection dlt's last close checkpoints: the write-ahead log is folded into the file
    assert not wal.exists()

    with warehouse.held_open():
        # a restatement of b and a new row c, merged on the key
        warehouse.pipeline("held", "raw_held").run(spend([{"row_key": "b", "usd": 3.0}, {"row_key": "c", "usd": 4.0}]))
        # dlt's connections closed, yet the database stayed open: its changes still sit in the log, not checkpointed
        assert wal.exists()
        assert not _other_process_can_write(Path(warehouse.duckdb_path))
    # closed at the block's end: checkpointed, and another process (dbt) can write the file again
    assert not wal.exists()
    assert _other_process_can_write(Path(warehouse.duckdb_path))

    import duckdb

    with duckdb.connect(warehouse.duckdb_path, read_only=True) as connection:
        rows = connection.sql("select row_key, usd from raw_held.spend order by row_key").fetchall()
    assert rows == [("a", 1.5), ("b", 3.0), ("c", 4.0)]


def test_held_open_does_nothing_on_another_engine(tmp_path):
    from orchestration.resources import Warehouse

    warehouse = Warehouse(kind="postgres", duckdb_path=str(tmp_path / "never.duckdb"))
    with warehouse.held_open():
        pass
    assert not (tmp_path / "never.duckdb").exists()
