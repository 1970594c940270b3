"""dbt_project/tests/singular/assert_agent_sessions_hold_every_request_token.sql on a small dbt project of its own
(real dbt, real DuckDB file, the project's own macros): a run with a window compares the sessions with a request in
it, each whole and one by one; a build without a window compares every tool's total."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.dbt_project.small_project import write_project_files
from tests.dbt_project.test_sums_match import dbt, failures

ROOT = Path(__file__).resolve().parents[2]
TEST = "assert_agent_sessions_hold_every_request_token"

# Requests of five sessions over two days; a run's window is one of the days. Tokens: input, output, cache read,
# cache write (a null counts as none).
# claude_code/s_cross: 10 on day 1 + 2+3+4+1 on day 2 = 20; its session says 20: adds up, but only compared whole
# claude_code/s_new:   day 2, 40 + null output = 40; its session says 45: wrong, inside the day-2 window
# claude_code/s_gone:  day 2, 10; no session row at all: wrong (a missing side counts as none), inside the window
# claude_code/s_idle:  a session row of 7 tokens with no request at all: wrong, but in no window
# pr_agent/s_old:      day 1, 50; its session says 60: wrong, inside the day-1 window only
REQUESTS = """{{ config(materialized='table') }}
select * from (values
    ('claude_code', 's_cross', 's_cross', date '2026-01-01', 10, 0, 0, 0),
    ('claude_code', 's_cross', 's_cross', date '2026-01-02', 2, 3, 4, 1),
    ('claude_code', 's_new', 's_new', date '2026-01-02', 40, null, 0, 0),
    ('claude_code', 's_gone', 's_gone', date '2026-01-02', 10, 0, 0, 0),
    ('pr_agent', 's_old', 's_old', date '2026-01-01', 50, 0, 0, 0)
) as requests (tool, agent_session_id, session_key, usage_date, input_tokens, output_tokens, cache_read_tokens,
               cache_write_tokens)
"""
SESSIONS = """{{ config(materialized='table') }}
select * from (values
    ('claude_code', 's_cross', 20), ('claude_code', 's_new', 45), ('claude_code', 's_idle', 7), ('pr_agent', 's_old', 60)
) as sessions (tool, session_key, total_tokens)
"""


def write_project(folder: Path) -> None:
    for sub in ("models", "macros", "tests"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    for macros in ("run_window.sql", "sessions.sql", "portable.sql"):
        shutil.copy(ROOT / "dbt_project" / "macros" / macros, folder / "macros" / macros)
    shutil.copy(ROOT / "dbt_project" / "tests" / "singular" / f"{TEST}.sql", folder / "tests")
    write_project_files(folder, "session_tokens")
    (folder / "models" / "stg_agent_telemetry__requests.sql").write_text(REQUESTS)
    (folder / "models" / "fct_agent_sessions.sql").write_text(SESSIONS)


def test_a_windowed_run_compares_its_sessions_whole_and_a_plain_build_every_tool(tmp_path):
    write_project(tmp_path)
    built = dbt(tmp_path, "run")
    assert built.returncode == 0, built.stdout[-3000:]

    # day 2 (the environment, as Dagster passes it): s_cross, s_new, s_gone; s_cross adds up whole (10 + 10)
    count, sql = failures(tmp_path, "--select", TEST,
                          env={"FINOPS_MIN_DATE": "2026-01-02", "FINOPS_MAX_DATE": "2026-01-02"})
    assert count == 2
    assert "window_sessions as (" in sql

    # day 1: s_cross (whole: adds up) and s_old (wrong)
    count, _ = failures(tmp_path, "--select", TEST, "--vars", "{min_date: 2026-01-01, max_date: 2026-01-01}")
    assert count == 1

    # no window: per tool. claude_code: sessions 20 + 45 + 7 = 72, requests 20 + 40 + 10 = 70; pr_agent 60 vs 50
    count, sql = failures(tmp_path, "--select", TEST)
    assert count == 2
    assert "window_sessions as (" not in sql


def test_sessions_that_hold_their_requests_tokens_pass(tmp_path):
    write_project(tmp_path)
    (tmp_path / "models" / "fct_agent_sessions.sql").write_text(
        "{{ config(materialized='table') }}\n"
        "select * from (values ('claude_code', 's_cross', 20), ('claude_code', 's_new', 40), "
        "('claude_code', 's_gone', 10), ('pr_agent', 's_old', 50)) as sessions (tool, session_key, total_tokens)\n")
    built = dbt(tmp_path, "run")
    assert built.returncode == 0, built.stdout[-3000:]
    for env in ({"FINOPS_MIN_DATE": "2026-01-02", "FINOPS_MAX_DATE": "2026-01-02"},
                {"FINOPS_MIN_DATE": "2026-01-01", "FINOPS_MAX_DATE": "2026-01-01"}, None):
        count, _ = failures(tmp_path, "--select", TEST, env=env)
        assert count == 0, env
