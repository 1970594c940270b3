"""The dbt asset's housekeeping: dagster-dbt gives every dbt invocation a target folder of its own (~20 MB) and never
removes one, so a daily schedule would pile up a folder a day; the asset keeps the last few."""

import os
from pathlib import Path

import pytest

from orchestration.assets.transform import DEFAULT_DBT_RUNS_KEPT, dbt_runs_kept, prune_run_folders


def _run_folder(target: Path, name: str, modified: int) -> Path:
    folder = target / name
    (folder / "compiled").mkdir(parents=True)
    (folder / "run_results.json").write_text("{}")
    os.utime(folder, (modified, modified))
    return folder


def test_only_the_newest_run_folders_of_the_same_op_are_kept(tmp_path):
    target = tmp_path / "target"
    old = [_run_folder(target, f"ai_finops_dbt_assets-aaaa00{i}-bbbb00{i}", 1_000 + i) for i in range(5)]
    current = _run_folder(target, "ai_finops_dbt_assets-cccc000-dddd000", 500)  # oldest mtime, still kept: it is ours
    other_op = _run_folder(target, "another_op-eeee000-ffff000", 1)
    prefix_alike = _run_folder(target, "ai_finops_dbt_assets_v2-eeee000-ffff000", 1)
    (target / "manifest.json").write_text("{}")  # dbt's own files in the target directory
    (target / "partial_parse.msgpack").write_text("")

    removed = prune_run_folders(current, kept=3)

    # 3 kept = the current run + the two most recently modified of the five older ones (mtimes 1004 and 1003)
    assert sorted(removed) == sorted(old[:3])
    remaining = sorted(path.name for path in target.iterdir())
    assert remaining == sorted([old[3].name, old[4].name, current.name, other_op.name, prefix_alike.name,
                                "manifest.json", "partial_parse.msgpack"])


def test_a_build_still_writing_its_log_counts_as_recent(tmp_path):
    """Another process's build started long ago (an old folder) but its dbt.log is written to now: it is kept."""
    target = tmp_path / "target"
    running = _run_folder(target, "ai_finops_dbt_assets-aaaa000-bbbb000", 1_000)
    (running / "dbt.log").write_text("still building")
    os.utime(running / "dbt.log", (9_000, 9_000))
    os.utime(running, (1_000, 1_000))
    finished = _run_folder(target, "ai_finops_dbt_assets-cccc000-dddd000", 5_000)
    current = _run_folder(target, "ai_finops_dbt_assets-eeee000-ffff000", 8_000)
    assert prune_run_folders(current, kept=2) == [finished]
    assert running.exists()


def test_keeping_zero_or_one_leaves_the_current_run_alone(tmp_path):
    target = tmp_path / "target"
    older = _run_folder(target, "ai_finops_dbt_assets-aaaa000-bbbb000", 2_000)
    current = _run_folder(target, "ai_finops_dbt_assets-cccc000-dddd000", 1_000)
    assert prune_run_folders(current, kept=0) == [older]
    assert [path.name for path in target.iterdir()] == [current.name]
    assert prune_run_folders(current, kept=1) == []
    assert current.exists()


def test_the_number_kept_is_a_setting_with_a_clear_error(monkeypatch):
    monkeypatch.delenv("FINOPS_DBT_RUNS_KEPT", raising=False)
    assert dbt_runs_kept() == DEFAULT_DBT_RUNS_KEPT == 30
    monkeypatch.setenv("FINOPS_DBT_RUNS_KEPT", "7")
    assert dbt_runs_kept() == 7
    monkeypatch.setenv("FINOPS_DBT_RUNS_KEPT", "a week")
    with pytest.raises(ValueError, match="FINOPS_DBT_RUNS_KEPT must be a whole number"):
        dbt_runs_kept()
