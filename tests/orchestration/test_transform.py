"""The dbt asset's housekeeping: dagster-dbt gives every dbt invocation a target folder of its own (~20 MB) and never
removes one, so a daily schedule would pile up a folder a day; the asset keeps the last few. And each build starts
from a saved parse that matches its profile (dbt parses the whole project again otherwise)."""

import os
from pathlib import Path

import pytest

from orchestration import resources
from orchestration.assets.transform import DEFAULT_DBT_RUNS_KEPT, dbt_runs_kept, prune_run_folders
from orchestration.resources import keep_partial_parse


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


def test_a_build_that_parsed_again_leaves_its_parse_for_the_next(tmp_path):
    target = tmp_path / "target"
    run = target / "ai_finops_dbt_assets-abc1234-def5678"
    run.mkdir(parents=True)
    (target / "partial_parse.msgpack").write_bytes(b"parsed under another profile")
    (run / "partial_parse.msgpack").write_bytes(b"parsed by this build")
    assert keep_partial_parse(run) is True
    assert (target / "partial_parse.msgpack").read_bytes() == b"parsed by this build"
    assert sorted(p.name for p in target.iterdir()) == ["ai_finops_dbt_assets-abc1234-def5678", "partial_parse.msgpack"]
    # the next build started from it and had nothing to parse: the file is left alone
    assert keep_partial_parse(run) is False
    # a build that failed before dbt wrote a parse leaves the shared one as it was
    failed = target / "ai_finops_dbt_assets-abc1234-0000000"
    failed.mkdir()
    assert keep_partial_parse(failed) is False
    assert (target / "partial_parse.msgpack").read_bytes() == b"parsed by this build"


def test_a_first_build_in_an_empty_target_folder_leaves_its_parse(tmp_path):
    run = tmp_path / "target" / "ai_finops_dbt_assets-abc1234-def5678"
    run.mkdir(parents=True)
    (run / "partial_parse.msgpack").write_bytes(b"parsed by this build")
    assert keep_partial_parse(run) is True
    assert (tmp_path / "target" / "partial_parse.msgpack").read_bytes() == b"parsed by this build"


def test_the_project_is_parsed_with_the_settings_the_dbt_asset_builds_with(monkeypatch, tmp_path):
    """The asset builds with Warehouse.dbt_env() in the environment (an absolute DuckDB path); a parse without it
    renders another profile (the relative default path), and dbt then parses the whole project again on every
    build."""
    seen = []

    class Recording:
        def cli(self, args, target_path):
            seen.append((args, os.environ.get("WAREHOUSE_PATH"), os.environ.get("DBT_TARGET")))
            return self

        def wait(self):
            return self

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("WAREHOUSE_PATH", "data/warehouse.duckdb")  # relative, as a user may write it
    monkeypatch.delenv("DBT_TARGET", raising=False)
    monkeypatch.delenv("WAREHOUSE", raising=False)
    monkeypatch.setattr(resources, "_manifest_is_stale", lambda: True)
    monkeypatch.setattr(resources, "dbt_resource", Recording)
    resources.ensure_dbt_manifest()
    assert seen == [(["parse", "--quiet"], str(tmp_path / "data" / "warehouse.duckdb"), "duckdb")]
    assert resources.Warehouse.from_env().dbt_env() == {"WAREHOUSE_PATH": str(tmp_path / "data" / "warehouse.duckdb"),
                                                        "DBT_TARGET": "duckdb"}
    # put back afterwards: the path as the user wrote it, no target
    assert os.environ["WAREHOUSE_PATH"] == "data/warehouse.duckdb" and "DBT_TARGET" not in os.environ


def test_a_parse_that_cannot_be_kept_costs_the_next_build_a_parse_not_the_run(tmp_path):
    target = tmp_path / "target"
    run = target / "ai_finops_dbt_assets-abc1234-def5678"
    run.mkdir(parents=True)
    (run / "partial_parse.msgpack").write_bytes(b"parsed by this build")
    (target / "partial_parse.msgpack").mkdir()  # in the way: cannot be replaced by a file
    assert keep_partial_parse(run) is False
    assert sorted(p.name for p in target.iterdir()) == ["ai_finops_dbt_assets-abc1234-def5678", "partial_parse.msgpack"]


def test_a_marts_figures_line_is_read_and_nothing_else_is():
    """mart_figures_logged: the line dbt_project/macros/mart_figures.sql logs inside a mart's node gives that node's
    figures; any other log line, a line outside a node, or one that does not read as figures gives none."""
    from orchestration.assets.transform import mart_figures_logged

    def event(name: str, msg: str, node: str | None = "model.ai_finops.fct_spend") -> dict:
        return {"info": {"name": name, "msg": msg}, "data": {"node_info": {"unique_id": node}} if node else {}}

    line = 'finops-mart-figures {"dagster/row_count": 3, "billed_cost_usd_total": 3.75}'
    assert mart_figures_logged(event("JinjaLogInfo", line)) == (
        "model.ai_finops.fct_spend", {"dagster/row_count": 3, "billed_cost_usd_total": 3.75})
    assert mart_figures_logged(event("JinjaLogInfo", 'finops-mart-figures {"dagster/row_count": 2}',
                                     "seed.ai_finops.model_catalog")) == (
        "seed.ai_finops.model_catalog", {"dagster/row_count": 2})
    assert mart_figures_logged(event("LogModelResult", line)) is None  # not a log line of the macro
    assert mart_figures_logged(event("JinjaLogInfo", line, node=None)) is None  # outside a node: whose?
    assert mart_figures_logged(event("JinjaLogInfo", "finops-mart-figures {not json")) is None
    assert mart_figures_logged(event("JinjaLogInfo", 'finops-mart-figures {"dagster/row_count": "3"}')) is None
    assert mart_figures_logged(event("JinjaLogInfo", '{"dagster/row_count": 3}')) is None  # no prefix
