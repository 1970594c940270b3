"""The bench's period of engineering output: the sampled days repeated back with keys of their own."""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from bench.history import repeat_engineering_output

D = dt.date


@pytest.fixture
def warehouse():
    """Two sampled days (9 and 10 Oct) of the three raw tables, in the columns the bench's copies touch and a few
    they carry over untouched."""
    con = duckdb.connect()
    con.execute("set timezone = 'UTC'")
    con.execute("create schema raw_github; create schema raw_jira")
    con.execute("""create table raw_github.pull_requests (pr_key varchar, repository varchar, number bigint,
        title varchar, created_at timestamptz, merged_at timestamptz, merged_date date, updated_at timestamptz,
        head_ref varchar, linked_issue_keys varchar, additions bigint, _dlt_load_id varchar)""")
    con.execute("""insert into raw_github.pull_requests values
        ('acme/app#7', 'acme/app', 7, '[PAY-12] fix', '2026-10-08 10:00+00', '2026-10-09 12:00+00', '2026-10-09',
         '2026-10-09 12:05+00', 'feature/PAY-12-fix', 'PAY-12', 5, 'load-1'),
        ('acme/app#8', 'acme/app', 8, 'chore', '2026-10-10 08:00+00', '2026-10-10 09:00+00', '2026-10-10',
         '2026-10-10 09:00+00', 'chore/x', null, 9, 'load-1')""")
    con.execute("""create table raw_github.deployments (deployment_id bigint, repository varchar,
        created_at timestamptz, created_date date, succeeded_at timestamptz, is_success boolean)""")
    con.execute("""insert into raw_github.deployments values
        (5, 'acme/app', '2026-10-10 11:00+00', '2026-10-10', '2026-10-10 11:10+00', true)""")
    con.execute("""create table raw_jira.issues (issue_key varchar, issue_id varchar, created_at timestamptz,
        resolved_at timestamptz, resolved_date date, parent_key varchar, sprint_start date, sprint_end date,
        story_points double)""")
    con.execute("""insert into raw_jira.issues values
        ('PAY-12', '100', '2026-10-01 09:00+00', '2026-10-09 15:00+00', '2026-10-09', 'PAY-1', '2026-10-05',
         '2026-10-18', 3)""")
    yield con
    con.close()


def test_the_sample_is_repeated_back_to_the_periods_first_day_and_no_further(warehouse):
    # from 6 Oct, in steps of the 2 sampled days: copy 1 moves every date back 2 days (7-8 Oct), copy 2 back 4 days
    # (5-6 Oct), of which only what lands on 6 Oct is kept: pull request 8 and the deployment, not pull request 7
    # (merged 9 Oct: 5 Oct) nor the ticket (resolved 9 Oct: 5 Oct)
    counts = repeat_engineering_output(warehouse, D(2026, 10, 6), 2)
    assert counts == {"raw_github.pull_requests": 5, "raw_github.deployments": 3, "raw_jira.issues": 2}
    merged = warehouse.execute("select number, merged_date from raw_github.pull_requests order by 1").fetchall()
    assert merged == [(7, D(2026, 10, 9)), (8, D(2026, 10, 10)), (100000007, D(2026, 10, 7)),
                      (100000008, D(2026, 10, 8)), (200000008, D(2026, 10, 6))]
    assert warehouse.execute("select deployment_id, created_date from raw_github.deployments order by 1").fetchall() \
        == [(5, D(2026, 10, 10)), (100000000005, D(2026, 10, 8)), (200000000005, D(2026, 10, 6))]


def test_a_copy_has_keys_of_its_own_and_names_its_own_copied_ticket(warehouse):
    repeat_engineering_output(warehouse, D(2026, 10, 6), 2)
    pr = warehouse.execute("""select pr_key, title, head_ref, linked_issue_keys, created_at, updated_at, additions,
        _dlt_load_id from raw_github.pull_requests where number = 100000007""").fetchone()
    utc = dt.timezone.utc
    assert pr == ("acme/app#100000007", "[PAY-00112] fix", "feature/PAY-00112-fix", "PAY-00112",
                  dt.datetime(2026, 10, 6, 10, tzinfo=utc), dt.datetime(2026, 10, 7, 12, 5, tzinfo=utc), 5, "load-1")
    ticket = warehouse.execute("""select issue_key, issue_id, resolved_at, resolved_date, parent_key, sprint_start,
        sprint_end, story_points from raw_jira.issues where issue_key <> 'PAY-12'""").fetchone()
    # the epic (parent) stays: a team's epics span the period
    assert ticket == ("PAY-00112", "100-1", dt.datetime(2026, 10, 7, 15, tzinfo=utc), D(2026, 10, 7), "PAY-1",
                      D(2026, 10, 3), D(2026, 10, 16), 3.0)
    keys = warehouse.execute("select count(distinct pr_key), count(*) from raw_github.pull_requests").fetchone()
    assert keys == (5, 5)


def test_nothing_sampled_copies_nothing(warehouse):
    for table in ("raw_github.pull_requests", "raw_github.deployments", "raw_jira.issues"):
        warehouse.execute(f"delete from {table}")
    assert repeat_engineering_output(warehouse, D(2026, 10, 6), 2) == {
        "raw_github.pull_requests": 0, "raw_github.deployments": 0, "raw_jira.issues": 0}


def test_a_period_the_keys_have_no_room_for_is_refused(warehouse):
    # 9 Oct back to 1 Jul 2026 in steps of 1 day: 100 copies, one more than the issue keys' two digits hold
    with pytest.raises(ValueError, match="100 copies"):
        repeat_engineering_output(warehouse, D(2026, 7, 1), 1)
    assert warehouse.execute("select count(*) from raw_jira.issues").fetchone()[0] == 1
