"""The bench's period of engineering output and agent telemetry: the sampled days repeated back with keys of their
own."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import duckdb
import pytest

from bench.history import repeat_agent_telemetry, repeat_engineering_output, sampled_repeats
from ingestion.agent_telemetry import AGENT_REQUESTS_SCHEMA

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


# ------------------------------------------------------------------------------------------------- agent telemetry

UTC = dt.timezone.utc
TELEMETRY = "raw_agent_telemetry.agent_requests"
KEYS = ("c4ca4238a0b923820dcc509a6f75849b", "c81e728d9d4c2f636f067f89cc14862c", "eccbc87e4b5ce2fe28308fd9f2a7baf3")


@pytest.fixture
def telemetry():
    """Two sampled days (2 and 3 Nov 2026) of agent requests, in the table's real columns (the source's schema and
    dlt's load id): a Claude Code session crossing midnight (2 Nov 23:50 and 3 Nov 00:10 UTC) and a GenAI span of a
    review bot (no session, a trace). The connection's time zone is New York's, whose clocks go back on 1 Nov 2026
    06:00 UTC, between the sample and its copies: a copy moved back by calendar days there would be an hour off."""
    con = duckdb.connect()
    con.execute("set timezone = 'America/New_York'")
    con.execute("create schema raw_agent_telemetry")
    con.execute(f"""create table {TELEMETRY} (usage_date date not null, event_at timestamptz,
        event_time_unix_nano bigint, event_name varchar, tool varchar, service_name varchar, service_version varchar,
        provider varchar, session_id varchar, prompt_id varchar, request_id varchar, trace_id varchar, span_id varchar,
        event_sequence bigint, user_email varchar, user_id varchar, install_id varchar, organization_id varchar,
        agent_name varchar, model varchar, request_model varchar, input_tokens bigint, output_tokens bigint,
        cache_read_tokens bigint, cache_write_tokens bigint, cost_usd decimal(38, 12), duration_ms bigint,
        is_error boolean, status_code bigint, attempt bigint, error_type varchar, query_source varchar, speed varchar,
        resource_attributes varchar, extra_fields varchar, source_file varchar, source_line bigint,
        event_key varchar not null, _dlt_load_id varchar)""")
    con.execute(f"""insert into {TELEMETRY} (usage_date, event_at, event_time_unix_nano, event_name, tool,
        service_name, provider, session_id, prompt_id, request_id, trace_id, span_id, event_sequence, user_email,
        model, input_tokens, output_tokens, cost_usd, duration_ms, is_error, resource_attributes, source_file,
        source_line, event_key, _dlt_load_id) values
        ('2026-11-02', '2026-11-02 23:50:00+00', 1793663400000000000, 'api_request', 'claude_code', 'claude-code',
         'anthropic', 'sess-1', 'prompt-1', 'req_1', null, null, 1, 'ana@northwind.example', 'claude-sonnet-4-5', 10,
         20, 0.0012, 1000, false, '{{"service.name": "claude-code", "team.id": "payments"}}',
         'file:///otel/claude-code/claude-code-2026-11-02.jsonl.gz', 7, '{KEYS[0]}', 'load-1'),
        ('2026-11-03', '2026-11-03 00:10:00+00', 1793664600000000000, 'api_request', 'claude_code', 'claude-code',
         'anthropic', 'sess-1', 'prompt-2', 'req_2', null, null, 2, 'ana@northwind.example', 'claude-sonnet-4-5', 30,
         40, 0.0034, 2000, false, '{{"service.name": "claude-code", "team.id": "payments"}}',
         'file:///otel/claude-code/claude-code-2026-11-03.jsonl.gz', 1, '{KEYS[1]}', 'load-1'),
        ('2026-11-03', '2026-11-03 12:00:00.123456+00', 1793707200123456789, 'chat', 'pr_review_agent',
         'pr-review-agent', 'openai', null, null, 'resp-1', 'trace-1', 'span-1', null, null, 'gpt-4.1', 500, 50, null,
         3000, false, '{{"service.name": "pr-review-agent"}}', 's3://otel/2026-11-03/spans.jsonl', 3, '{KEYS[2]}',
         'load-2')""")
    yield con
    con.close()


def test_the_fixture_has_the_landed_tables_columns(telemetry):
    # a column the source adds may be a time (to move back) or an id (to suffix): repeat_agent_telemetry must know
    columns = [name for (name,) in telemetry.execute(f"select column_name from (describe {TELEMETRY})").fetchall()]
    assert columns == [*AGENT_REQUESTS_SCHEMA.names, "_dlt_load_id"]


def test_the_telemetry_is_repeated_back_to_the_periods_first_day_and_no_further(telemetry):
    # from 30 Oct, in steps of the 2 sampled days: ceil((2 Nov - 30 Oct) / 2) = 2 copies; copy 1 moves every time back
    # 2 days (172,800 s), copy 2 back 4 days (345,600 s), of which the request of 2 Nov 23:50 would land on 29 Oct,
    # before the period: left out
    assert repeat_agent_telemetry(telemetry, D(2026, 10, 30), 2) == {TELEMETRY: 8}
    rows = telemetry.execute(f"select event_key, usage_date, event_time_unix_nano from {TELEMETRY} "
                             "order by 3").fetchall()
    assert rows == [
        (f"{KEYS[1]}-h2", D(2026, 10, 30), 1793319000000000000),
        (f"{KEYS[2]}-h2", D(2026, 10, 30), 1793361600123456789),
        (f"{KEYS[0]}-h1", D(2026, 10, 31), 1793490600000000000),
        (f"{KEYS[1]}-h1", D(2026, 11, 1), 1793491800000000000),
        (f"{KEYS[2]}-h1", D(2026, 11, 1), 1793534400123456789),
        (KEYS[0], D(2026, 11, 2), 1793663400000000000),
        (KEYS[1], D(2026, 11, 3), 1793664600000000000),
        (KEYS[2], D(2026, 11, 3), 1793707200123456789),
    ]


def test_a_copy_moves_every_time_back_exactly_and_carries_the_rest_over(telemetry):
    repeat_agent_telemetry(telemetry, D(2026, 10, 30), 2)
    span = telemetry.execute(f"""select event_at, source_file, source_line, tool, provider, model, input_tokens,
        output_tokens, cost_usd, duration_ms, is_error, resource_attributes, _dlt_load_id
        from {TELEMETRY} where event_key = '{KEYS[2]}-h1'""").fetchone()
    # the date in a file's name moves back with its records; a folder's date (s3://otel/2026-11-03/) is not a file's
    assert span == (dt.datetime(2026, 11, 1, 12, 0, 0, 123456, tzinfo=UTC), "s3://otel/2026-11-03/spans.jsonl", 3,
                    "pr_review_agent", "openai", "gpt-4.1", 500, 50, None, 3000, False,
                    '{"service.name": "pr-review-agent"}', "load-2")
    request = telemetry.execute(f"""select event_at, source_file, source_line, event_sequence, user_email,
        cost_usd, resource_attributes, _dlt_load_id from {TELEMETRY} where event_key = '{KEYS[1]}-h1'""").fetchone()
    # 3 Nov 00:10 UTC is 2 Nov 19:10 in New York; two calendar days back there would be 31 Oct 23:10 UTC
    assert request == (dt.datetime(2026, 11, 1, 0, 10, tzinfo=UTC),
                       "file:///otel/claude-code/claude-code-2026-11-01.jsonl.gz", 1, 2, "ana@northwind.example",
                       Decimal("0.0034"),
                       '{"service.name": "claude-code", "team.id": "payments"}', "load-1")
    assert telemetry.execute(f"""select count(*) from {TELEMETRY}
        where epoch_us(event_at) <> event_time_unix_nano // 1000""").fetchone()[0] == 0


def test_a_copy_has_ids_of_its_own_and_its_sessions_stay_sessions(telemetry):
    repeat_agent_telemetry(telemetry, D(2026, 10, 30), 2)
    sessions = telemetry.execute(f"""select session_id, list(usage_date order by event_time_unix_nano),
        list(prompt_id order by event_time_unix_nano), list(request_id order by event_time_unix_nano)
        from {TELEMETRY} where tool = 'claude_code' group by 1 order by 1""").fetchall()
    # copy 1's session crosses midnight as the original does; of copy 2's, only what lands in the period
    assert sessions == [
        ("sess-1", [D(2026, 11, 2), D(2026, 11, 3)], ["prompt-1", "prompt-2"], ["req_1", "req_2"]),
        ("sess-1-h1", [D(2026, 10, 31), D(2026, 11, 1)], ["prompt-1-h1", "prompt-2-h1"], ["req_1-h1", "req_2-h1"]),
        ("sess-1-h2", [D(2026, 10, 30)], ["prompt-2-h2"], ["req_2-h2"]),
    ]
    spans = telemetry.execute(f"""select session_id, prompt_id, request_id, trace_id, span_id from {TELEMETRY}
        where tool = 'pr_review_agent' order by event_time_unix_nano""").fetchall()
    # what the telemetry left empty stays empty (a span's session is its trace downstream)
    assert spans == [(None, None, "resp-1-h2", "trace-1-h2", "span-1-h2"),
                     (None, None, "resp-1-h1", "trace-1-h1", "span-1-h1"),
                     (None, None, "resp-1", "trace-1", "span-1")]
    # claude-code log records have no trace or span
    assert telemetry.execute(f"select count(trace_id), count(span_id) from {TELEMETRY} "
                             "where tool = 'claude_code'").fetchone() == (0, 0)
    assert telemetry.execute(f"select count(distinct event_key), count(*) from {TELEMETRY}").fetchone() == (8, 8)


def test_only_the_sample_is_copied_even_where_a_copy_lands_among_it(telemetry):
    # steps of 1 day over the 2 sampled days: copy 1 lands on 1 and 2 Nov, the sample's first day, and copy 2 (31 Oct
    # and 1 Nov) is made of the sample alone, not of copy 1 again
    assert repeat_agent_telemetry(telemetry, D(2026, 10, 31), 1) == {TELEMETRY: 9}
    keys = telemetry.execute(f"select event_key, usage_date from {TELEMETRY} where usage_date = '2026-11-02' "
                             "order by event_time_unix_nano").fetchall()
    assert keys == [(f"{KEYS[1]}-h1", D(2026, 11, 2)), (f"{KEYS[2]}-h1", D(2026, 11, 2)), (KEYS[0], D(2026, 11, 2))]
    assert telemetry.execute(f"select count(*) from {TELEMETRY} where event_key like '%-h1-%'").fetchone()[0] == 0


def test_dlts_row_ids_stay_unique(telemetry):
    telemetry.execute(f"alter table {TELEMETRY} add column _dlt_id varchar")
    telemetry.execute(f"update {TELEMETRY} set _dlt_id = 'row' || source_line")
    repeat_agent_telemetry(telemetry, D(2026, 10, 30), 2)
    ids = telemetry.execute(f"select _dlt_id from {TELEMETRY} order by event_time_unix_nano").fetchall()
    assert ids == [("row1-h2",), ("row3-h2",), ("row7-h1",), ("row1-h1",), ("row3-h1",), ("row7",), ("row1",),
                   ("row3",)]


def test_no_telemetry_sampled_copies_nothing(telemetry):
    telemetry.execute(f"delete from {TELEMETRY}")
    assert repeat_agent_telemetry(telemetry, D(2026, 10, 30), 2) == {TELEMETRY: 0}


def test_telemetry_is_repeated_once_and_in_whole_days(telemetry):
    with pytest.raises(ValueError, match="at least 1"):
        repeat_agent_telemetry(telemetry, D(2026, 10, 30), 0)
    repeat_agent_telemetry(telemetry, D(2026, 10, 30), 2)
    # a second run would copy the sample again under the first run's keys
    with pytest.raises(ValueError, match="5 copied rows already"):
        repeat_agent_telemetry(telemetry, D(2026, 10, 30), 2)
    assert telemetry.execute(f"select count(*) from {TELEMETRY}").fetchone()[0] == 8


@pytest.mark.parametrize(("measured", "sample_days", "expected"), [
    ({"cursor_events"}, 7, ["engineering_output_rows", "agent_telemetry_rows"]),
    ({"cursor_events", "jira"}, 7, ["agent_telemetry_rows"]),  # Jira over the whole period: no GitHub copies either
    ({"github", "agent_telemetry"}, 7, []),
    ({"cursor_events"}, 0, []),  # nothing sampled, nothing to repeat
])
def test_the_repeats_run_for_the_sampled_sources_only(measured, sample_days, expected):
    assert [result for result, _, _ in sampled_repeats(measured, sample_days)] == expected
