"""A period's engineering output without hours of demo simulation: the sampled days of GitHub's pull requests and
deployments and Jira's issues, landed through their clients, repeated back over the period with keys of their own.

At L a year of the demo's GitHub and Jira APIs takes hours of simulation, so the bench lands their last N days
(`--sample-days`). The models that share AI cost over work in flight (int_work_item_spans,
int_person_feature_cost_daily, the unit economics marts) read every pull request and ticket of the history, so with
N days they would cost a daily run far less than at a real organisation with a year of them (stop 34: ~10 s of a
daily dbt build at L went unseen). Each copy moves every date back by a whole number of sample periods and gives
each row a key the demo never makes: pull request numbers and deployment ids shifted past the demo's range, issue
keys with a zero-led number (the demo's never start with 0), and the issue keys a pull request's title, branch and
links name remapped the same way, so a copied pull request still names its copied ticket. Epics (parent keys) stay:
a team's epics span the year.
"""

from __future__ import annotations

import datetime as dt

import duckdb

# per copy k: pull request numbers + k * PR_NUMBER_STEP, deployment ids + k * DEPLOYMENT_ID_STEP (the demo's stay
# under 10^7 and 10^10); issue numbers '0' + two-digit k + the number, so at most 99 copies
PR_NUMBER_STEP = 10**8
DEPLOYMENT_ID_STEP = 10**11
MAX_COPIES = 99


def _remap(expression: str, k: int) -> str:
    """SQL: every Jira issue key in `expression` (PROJ-123) as copy k's (PROJ-0kk123; RE2 reads \\1 then 0)."""
    return f"regexp_replace({expression}, '([A-Z][A-Z0-9]*-)([0-9]+)', '\\10{k:02d}\\2', 'g')"


def repeat_engineering_output(connection: duckdb.DuckDBPyConnection, period_start: dt.date,
                              sample_days: int) -> dict[str, int]:
    """Copy the raw GitHub and Jira rows landed so far (the sample) back in steps of `sample_days` days, as long as
    a copy's day (merged, deployed, resolved) is on or after `period_start`. Returns each table's rows afterwards.
    Run once, on the sample alone: copies of copies would collide."""
    if sample_days < 1:
        raise ValueError("sample_days must be at least 1")
    first = connection.execute("select least((select min(merged_date) from raw_github.pull_requests), "
                               "(select min(created_date) from raw_github.deployments), "
                               "(select min(resolved_date) from raw_jira.issues))").fetchone()[0]
    if first is None:
        return _counts(connection)
    copies = -(-(first - period_start).days // sample_days)
    if copies > MAX_COPIES:  # the issue keys have room for 99 copies; a shorter history would pass unnoticed
        raise ValueError(f"{copies} copies of {sample_days} sampled days are needed to reach {period_start}; at most "
                         f"{MAX_COPIES}: sample more days")
    for k in range(1, copies + 1):
        days = k * sample_days
        shift = f"interval {days} day"
        connection.execute(f"""
            insert into raw_github.pull_requests by name
            select repository || '#' || (number + {k * PR_NUMBER_STEP}) as pr_key,
                   number + {k * PR_NUMBER_STEP} as number, {_remap('title', k)} as title,
                   created_at - {shift} as created_at, merged_at - {shift} as merged_at,
                   cast(merged_date - {shift} as date) as merged_date, updated_at - {shift} as updated_at,
                   {_remap('head_ref', k)} as head_ref, {_remap('linked_issue_keys', k)} as linked_issue_keys,
                   * exclude (pr_key, number, title, created_at, merged_at, merged_date, updated_at, head_ref,
                              linked_issue_keys)
            from raw_github.pull_requests
            where number < {PR_NUMBER_STEP} and merged_date - {shift} >= date '{period_start}'""")
        connection.execute(f"""
            insert into raw_github.deployments by name
            select deployment_id + {k * DEPLOYMENT_ID_STEP} as deployment_id, created_at - {shift} as created_at,
                   cast(created_date - {shift} as date) as created_date, succeeded_at - {shift} as succeeded_at,
                   * exclude (deployment_id, created_at, created_date, succeeded_at)
            from raw_github.deployments
            where deployment_id < {DEPLOYMENT_ID_STEP} and created_date - {shift} >= date '{period_start}'""")
        connection.execute(f"""
            insert into raw_jira.issues by name
            select {_remap('issue_key', k)} as issue_key, issue_id || '-{k}' as issue_id,
                   created_at - {shift} as created_at, resolved_at - {shift} as resolved_at,
                   cast(resolved_date - {shift} as date) as resolved_date,
                   cast(sprint_start - {shift} as date) as sprint_start,
                   cast(sprint_end - {shift} as date) as sprint_end,
                   * exclude (issue_key, issue_id, created_at, resolved_at, resolved_date, sprint_start, sprint_end)
            from raw_jira.issues
            where issue_id not like '%-%' and resolved_date - {shift} >= date '{period_start}'""")
    return _counts(connection)


def _counts(connection: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return {table: connection.execute(f"select count(*) from {table}").fetchone()[0]
            for table in ("raw_github.pull_requests", "raw_github.deployments", "raw_jira.issues")}
