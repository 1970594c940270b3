"""`make bench` end to end on a tiny organisation: every phase runs (ingestion, the repeat-back, the full build with
all data tests, the rollup path, the floor, the daily run the bench's way and through Dagster) and the size's table
is written. Times are not asserted: speed is measured by the bench itself, never by a test.

Five developers put every directory team below min_group_size, so the unit-economics data tests run with every team
suppressed (a singular test once failed there: it compared the suppressed teams' null figures with their spend)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_bench_runs_through_on_a_tiny_organisation(tmp_path):
    doc, out = tmp_path / "performance.md", tmp_path / "results"
    # nothing in the checkout: the warehouse in TMPDIR, dbt's and dagster-dbt's run folders in DBT_TARGET_PATH (other
    # test files read the project's target/ while this runs), the table and figures in --doc and --out
    env = {**os.environ, "RUNTIME__DLTHUB_TELEMETRY": "false", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
           "DO_NOT_TRACK": "1", "GX_ANALYTICS_ENABLED": "false", "TMPDIR": str(tmp_path),
           "DBT_TARGET_PATH": str(tmp_path / "dbt_target"),
           # a pinned clock: the bench's periods are read off it, one today for the whole run
           "FINOPS_TODAY": "2026-06-15"}
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--size", "S", "--developers", "5", "--days", "14",
         "--sources", "cursor_events", "--sample-days", "3", "--doc", str(doc), "--out", str(out)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=840)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    text = doc.read_text()
    assert text.count("<!-- bench:5x14 -->") == 1 and "### Size 5x14" in text
    # 14 days of history ending three days before the pinned today, then the day before yesterday the bench's way
    assert "14 days (2026-05-30 .. 2026-06-12)" in done.stdout
    assert "..2026-06-13)" in text
    results = json.loads((out / "5x14.json").read_text())
    assert results["ledger_rows"] > 0
    # both repeat-back steps ran (the sampled sources are all but Cursor's events)
    assert results["engineering_output_rows"]["raw_github.pull_requests"] > 0
    assert results["agent_telemetry_rows"]["raw_agent_telemetry.agent_requests"] > 0
    # the Dagster day succeeded (a failed one still writes its table, naming the failed steps)
    assert "failed_steps" not in results["dagster_daily"] and results["dagster_daily"]["wall_s"] > 0
    # in a process of its own, as Dagster's run launcher starts a scheduled run: counted from its launch to the job's
    # end (a new interpreter imports Dagster, dbt and dlt first), its exit after the job left out of the total
    day = results["dagster_daily"]
    assert day["startup_s"] > 0.5 and day["exit_s"] >= 0 and day["process_peak_mib"] > 0
    # the raw tables' suites ran in the run's worker process, whose peak is reported beside the run's own
    assert day["suites_worker_peak_mib"] > 0 and "Great Expectations worker beside it" in text
    assert abs(results["dagster_daily_s"] - ((results["dagster_cursor_apart_s"] or 0) + day["process_s"])) <= 0.2
    assert day["demo_seconds"] >= day["world_s"] >= 0
    # the daily dbt build ran twice, each with dbt's elapsed time read from its own run_results.json (dbt's start and
    # parse are outside it); a node listed as slower the first time was
    assert results["daily_dbt_again_s"] > results["daily_dbt_elapsed_s"]["again"] > 0
    assert results["daily_dbt_s"] > results["daily_dbt_elapsed_s"]["first"] > 0
    assert all(node.split(".")[0] in ("model", "test", "seed") and first > again
               for node, first, again in results["daily_dbt_slower_first"])
    assert (tmp_path / "dbt_target").is_dir()
    # the temporary warehouse is removed without --keep
    assert not list(tmp_path.glob("finops-bench-*"))
