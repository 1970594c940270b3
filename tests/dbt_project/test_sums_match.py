"""dbt_project/tests/generic/sums_match.sql narrowed to a run window's groups (window_groups_from/where), on a small
dbt project of its own (real dbt, real DuckDB file): the groups the window's rows name are compared whole, the
others are left out, and a build without a window compares every group."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

from orchestration.resources import VENV_DBT
from tests.dbt_project.small_project import write_project_files

ROOT = Path(__file__).resolve().parents[2]

# Four sessions over two days; the window is the second day.
# s_cross: 1.00 on day 1 + 2.00 on day 2, its session says 3.00: adds up, but only if compared whole
# s_old:   day 1 only, 5.00 against 6.00: wrong, outside the window
# s_new:   day 2 only, 4.00 against 4.50: wrong, inside the window
# s_gone:  day 2 only, 1.00, no session row at all: wrong (a missing group counts as zero), inside the window
REQUESTS = """{{ config(materialized='table') }}
select * from (values
    ('s_cross', date '2026-01-01', 1.00), ('s_cross', date '2026-01-02', 2.00),
    ('s_old', date '2026-01-01', 5.00), ('s_new', date '2026-01-02', 4.00), ('s_gone', date '2026-01-02', 1.00)
) as requests (session_key, usage_date, cost_usd)
"""
SESSIONS = """{{ config(materialized='table') }}
select * from (values ('s_cross', 3.00), ('s_old', 6.00), ('s_new', 4.50)) as sessions (session_key, cost_usd)
"""
SCHEMA = """version: 2
models:
  - name: requests
    data_tests:
      - sums_match:
          name: requests_add_up_to_their_session
          arguments:
            column_name: cost_usd
            compare_model: ref('sessions')
            compare_column: cost_usd
            group_by: ['session_key']
            tolerance: 0
            window_groups_from: ref('requests')
            window_groups_where: "usage_date between __window_start__ and __window_end__"
"""


def write_project(folder: Path) -> None:
    for sub in ("models", "macros", "tests/generic"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "dbt_project" / "macros" / "run_window.sql", folder / "macros" / "run_window.sql")
    shutil.copy(ROOT / "dbt_project" / "tests" / "generic" / "sums_match.sql", folder / "tests" / "generic")
    write_project_files(folder, "sums_check")
    (folder / "models" / "requests.sql").write_text(REQUESTS)
    (folder / "models" / "sessions.sql").write_text(SESSIONS)
    (folder / "models" / "schema.yml").write_text(SCHEMA)


def dbt(folder: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in ("FINOPS_MIN_DATE", "FINOPS_MAX_DATE")}
    return subprocess.run([str(VENV_DBT), *args, "--project-dir", str(folder), "--profiles-dir", str(folder)],
                          cwd=folder, capture_output=True, text=True, timeout=300, env={**environment, **(env or {})})


def failures(folder: Path, *args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """The test's failing groups (dbt's failure count) and its compiled SQL."""
    done = dbt(folder, "test", *args, env=env)
    results = json.loads((folder / "target" / "run_results.json").read_text())["results"]
    assert len(results) == 1, done.stdout[-3000:]
    assert results[0]["status"] in ("pass", "fail"), done.stdout[-3000:] + done.stderr[-2000:]
    return results[0]["failures"], results[0]["compiled_code"]


def test_a_windowed_run_compares_the_window_groups_whole_and_a_plain_build_every_group(tmp_path):
    write_project(tmp_path)
    built = dbt(tmp_path, "run")
    assert built.returncode == 0, built.stdout[-3000:]

    # the window from the environment (as Dagster and the bench pass it): s_new and s_gone; s_cross adds up whole
    count, sql = failures(tmp_path, env={"FINOPS_MIN_DATE": "2026-01-02", "FINOPS_MAX_DATE": "2026-01-02"})
    assert count == 2
    assert "window_groups as (" in sql

    # the same window as dbt vars (YAML reads them as dates)
    count, _ = failures(tmp_path, "--vars", "{min_date: 2026-01-02, max_date: 2026-01-02}")
    assert count == 2

    # the first day's window: s_cross (whole: adds up) and s_old (wrong)
    count, _ = failures(tmp_path, env={"FINOPS_MIN_DATE": "2026-01-01", "FINOPS_MAX_DATE": "2026-01-01"})
    assert count == 1

    # no window: every group, s_old, s_new and s_gone
    count, sql = failures(tmp_path)
    assert count == 3
    assert "window_groups as (" not in sql
