"""A period's engineering output and agent telemetry without hours of demo simulation: the sampled days of GitHub's
pull requests and deployments, Jira's issues and the coding agents' requests (OpenTelemetry), landed through their
clients, repeated back over the period with keys of their own.

At L a year of the demo's GitHub and Jira APIs takes hours of simulation, so the bench lands their last N days
(`--sample-days`). The models that share AI cost over work in flight (int_work_item_spans,
int_person_feature_cost_daily, the unit economics marts) read every pull request and ticket of the history, so with
N days they would cost a daily run far less than at a real organisation with a year of them (stop 34: ~10 s of a
daily dbt build at L went unseen). Each copy moves every date back by a whole number of sample periods and gives
each row a key the demo never makes: pull request numbers and deployment ids shifted past the demo's range, issue
keys with a zero-led number (the demo's never start with 0), and the issue keys a pull request's title, branch and
links name remapped the same way, so a copied pull request still names its copied ticket. Epics (parent keys) stay:
a team's epics span the year.

The agent telemetry (raw_agent_telemetry.agent_requests: one row per model request, hundreds of thousands a day at
L) is sampled the same way, and the models over it (the sessions, the anomaly rules' baselines, the daily ledger)
would otherwise read N days where a real warehouse holds a year. Its copies move the day, the timestamp and the
nanoseconds (and the date a file's name carries) back by the same exact number of hours, and suffix every id
('-h<copy>': session, prompt, request, trace, span, the event key, dlt's row id if there is one), the same suffix
for every row of a copy: a copied session's requests still make one session, crossing midnight if the original did,
and never meet the original's or another copy's. The demo's event keys are md5 hex and never hold a '-'.
"""
from __future__ import annotations

import datetime as dt
from typing import Callable

import duckdb

# per copy k: pull request numbers + k * PR_NUMBER_STEP, deployment ids + k * DEPLOYMENT_ID_STEP (the demo's stay
# under 10^7 and 10^10); issue numbers '0' + two-digit k + the number, so at most 99 copies
PR_NUMBER_STEP = 10**8
DEPLOYMENT_ID_STEP = 10**11
MAX_COPIES = 99

TELEMETRY = "raw_agent_telemetry.agent_requests"
# a request's ids, suffixed per copy (null stays null: a log record has no trace, a span may have no session)
TELEMETRY_IDS = ("session_id", "prompt_id", "request_id", "trace_id", "span_id", "event_key")
DAY_NS = 86_400 * 10**9


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


def repeat_agent_telemetry(connection: duckdb.DuckDBPyConnection, period_start: dt.date,
                           sample_days: int) -> dict[str, int]:
    """Copy the agent requests landed so far (the sample) back in steps of `sample_days` days, copy k by
    k * sample_days days, as long as a copy's usage_date is on or after `period_start` (the rows of a copy that
    would fall before it are left out). Returns the table's rows afterwards. Only original rows (event keys without
    a '-') are copied, so copies are never copied again; run it once, on the sample alone: a table that holds copies
    already is refused (its copies' keys would collide)."""
    if sample_days < 1:
        raise ValueError("sample_days must be at least 1")
    copied = connection.execute(f"select count(*) from {TELEMETRY} where event_key like '%-%'").fetchone()[0]
    if copied:
        raise ValueError(f"{TELEMETRY} holds {copied:,} copied rows already: repeat the sample alone, once")
    first = connection.execute(f"select min(usage_date) from {TELEMETRY}").fetchone()[0]
    if first is None:
        return _telemetry_counts(connection)
    columns = {name for (name,) in connection.execute(
        "select column_name from information_schema.columns "
        "where table_schema = 'raw_agent_telemetry' and table_name = 'agent_requests'").fetchall()}
    ids = TELEMETRY_IDS + (("_dlt_id",) if "_dlt_id" in columns else ())  # dlt's row id, if it adds one
    copies = -(-(first - period_start).days // sample_days)
    for k in range(1, copies + 1):
        days = k * sample_days
        # a timestamptz minus `interval n day` keeps the wall clock of the session's time zone (an hour off the
        # nanoseconds across a DST change); hours are exact. `usage_date >= first` only spares reading the copies made
        # so far (those that land before the sample); `event_key not like '%-%'` is what keeps them out
        connection.execute(f"""
            insert into {TELEMETRY} by name
            select usage_date - {days} as usage_date, event_at - interval {days * 24} hour as event_at,
                   event_time_unix_nano - {days * DAY_NS} as event_time_unix_nano,
                   {_file_day_back('source_file', days)} as source_file,
                   {', '.join(f"{name} || '-h{k}' as {name}" for name in ids)},
                   * exclude (usage_date, event_at, event_time_unix_nano, source_file, {', '.join(ids)})
            from {TELEMETRY}
            where event_key not like '%-%' and usage_date >= date '{first}'
              and usage_date >= date '{period_start + dt.timedelta(days=days)}'""")
    return _telemetry_counts(connection)


def _file_day_back(column: str, days: int) -> str:
    """SQL: a file's url with the date its name carries (the demo's claude-code-2026-11-10.jsonl.gz) `days` days
    earlier; a url whose name carries no date (or a folder's only) as it is."""
    parts = f"regexp_extract({column}, '^(.*?)([0-9]{{4}}-[0-9]{{2}}-[0-9]{{2}})([^/]*)$', ['head', 'day', 'tail'])"
    return (f"coalesce({parts}.head || strftime(try_cast({parts}.day as date) - {days}, '%Y-%m-%d') || {parts}.tail, "
            f"{column})")


def _telemetry_counts(connection: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return {TELEMETRY: connection.execute(f"select count(*) from {TELEMETRY}").fetchone()[0]}


def _counts(connection: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return {table: connection.execute(f"select count(*) from {table}").fetchone()[0]
            for table in ("raw_github.pull_requests", "raw_github.deployments", "raw_jira.issues")}


def sampled_repeats(measured: set[str], sample_days: int) -> list[tuple[str, str, Callable]]:
    """(results key, what, repeat) of each repeat-back the bench runs: the engineering output's when neither GitHub
    nor Jira is ingested over the whole period, the agent telemetry's when it is not, and none without sampled days."""
    repeats = (({"github", "jira"}, "engineering_output_rows", "engineering output", repeat_engineering_output),
               ({"agent_telemetry"}, "agent_telemetry_rows", "agent telemetry", repeat_agent_telemetry))
    return [(result, what, repeat) for kinds, result, what, repeat in repeats if sample_days and not kinds & measured]
