"""The sprint calendar's guards (dbt_project/tests/singular/assert_*_follow_the_sprint_calendar.sql) on a small dbt
project of its own (real dbt, real DuckDB file, the project's own macros): the incremental models keep the sprints
they built, so after the calendar changes each guard names the kept rows whose sprint is not one of today's."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.dbt_project.small_project import write_project_files
from tests.dbt_project.test_sums_match import dbt, failures

ROOT = Path(__file__).resolve().parents[2]
GUARDS = ("assert_team_period_sprints_follow_the_sprint_calendar",
          "assert_developer_sprints_follow_the_sprint_calendar")

# Two-week sprints from Monday 5 Jan 2026: 5-18 Jan, 19 Jan - 1 Feb. The week row of Wednesday 7 Jan is no sprint.
TEAM_PERIODS = """{{ config(materialized='table') }}
select * from (values
    ('sprint', date '2026-01-05', 'a'), ('sprint', date '2026-01-19', 'a'), ('week', date '2026-01-07', 'a')
) as totals (period_type, period_start, team_id)
"""
DEVELOPER_SPRINTS = """{{ config(materialized='table') }}
select * from (values
    ('p@x', date '2026-01-05', date '2026-01-18'), ('p@x', date '2026-01-19', date '2026-02-01')
) as sprints (person_email, sprint_start, sprint_end)
"""


def write_project(folder: Path) -> None:
    for sub in ("models", "macros", "tests"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    for macros in ("sprints.sql", "portable.sql"):
        shutil.copy(ROOT / "dbt_project" / "macros" / macros, folder / "macros" / macros)
    for guard in GUARDS:
        shutil.copy(ROOT / "dbt_project" / "tests" / "singular" / f"{guard}.sql", folder / "tests")
    write_project_files(folder, "sprint_guards")
    (folder / "models" / "int_team_period_totals.sql").write_text(TEAM_PERIODS)
    (folder / "models" / "int_developer_sprint_totals.sql").write_text(DEVELOPER_SPRINTS)


def calendar(anchor: str, days: int) -> str:
    return f"{{sprint_anchor_date: '{anchor}', sprint_length_days: {days}}}"


def test_kept_sprints_pass_under_their_calendar_and_fail_once_it_changes(tmp_path):
    write_project(tmp_path)
    built = dbt(tmp_path, "run", "--vars", calendar("2026-01-05", 14))
    assert built.returncode == 0, built.stdout[-3000:]
    for guard in GUARDS:
        # the calendar they were built with, and the same one anchored a sprint (two weeks) earlier
        assert failures(tmp_path, "--select", guard, "--vars", calendar("2026-01-05", 14))[0] == 0, guard
        assert failures(tmp_path, "--select", guard, "--vars", calendar("2025-12-22", 14))[0] == 0, guard
        # anchored a day later: both kept sprints start a day early (the week row is not a sprint)
        assert failures(tmp_path, "--select", guard, "--vars", calendar("2026-01-06", 14))[0] == 2, guard
        # one-week sprints from the same Monday: 5 and 19 Jan still start sprints (the week row is still none)
        count = failures(tmp_path, "--select", guard, "--vars", calendar("2026-01-05", 7))[0]
        # a developer's sprint also ends on its calendar's last day: 18 Jan and 1 Feb are no longer ends
        assert count == (2 if guard.startswith("assert_developer") else 0), guard
