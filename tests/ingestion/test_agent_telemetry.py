"""Agent telemetry files (OTLP JSON lines of Claude Code events and GenAI spans) through the real dlt source.

Hand-checked values come from the records written here; demo ground truth is the demo generator's own records,
summed in plain Python, never through the source's parsing code.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import shutil
import time
from decimal import Decimal
from pathlib import Path
from typing import Any, Optional

import pytest

from ingestion import settings
import pyarrow as pa

from ingestion.agent_telemetry import Refused, TelemetryFile, agent_telemetry_source, count, money, unix_nanos
from ingestion.demo.telemetry import DemoTelemetry
from tests.conftest import damaged_gzip, query, table_exists

DAY = dt.date(2026, 11, 10)
DAY_NS = 86_400 * 10**9
DAY_START_NS = (DAY - dt.date(1970, 1, 1)).days * DAY_NS  # 1794268800 s: 2026-11-10T00:00Z


# ------------------------------------------------------------------------------------------------- OTLP helpers

def kv(values: dict[str, Any], strings: bool = True) -> list[dict[str, Any]]:
    """Attributes as OTLP JSON; numbers as `stringValue` (Claude Code) or typed (`intValue` as a JSON string)."""
    out = []
    for k, v in values.items():
        if isinstance(v, bool):
            value = {"boolValue": v}
        elif isinstance(v, int):
            value = {"stringValue": str(v)} if strings else {"intValue": str(v)}
        elif isinstance(v, float):
            value = {"stringValue": repr(v)} if strings else {"doubleValue": v}
        else:
            value = {"stringValue": v}
        out.append({"key": k, "value": value})
    return out


def claude_record(ns: int, *, name: str = "api_request", strings: bool = True, **attrs: Any) -> dict[str, Any]:
    base = {"session.id": "sess-1", "user.email": "Ana.Silva@northwind.example", "user.account_uuid": "acct-1",
            "user.id": "install-1", "event.name": name, "model": "claude-sonnet-4-5-20250929", "input_tokens": 10,
            "output_tokens": 20, "cache_read_tokens": 300, "cache_creation_tokens": 40, "cost_usd": 0.0012,
            "duration_ms": 1000, "event.sequence": 1}
    if name != "api_request":
        for k in ("input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens", "cost_usd"):
            base.pop(k)
    base.update(attrs)
    values = {k: v for k, v in base.items() if v is not None}
    return {"timeUnixNano": str(ns), "observedTimeUnixNano": str(ns + 5),
            "body": {"stringValue": f"claude_code.{name}"}, "attributes": kv(values, strings)}


def logs_line(records: list[dict[str, Any]], service: str = "claude-code", **resource: Any) -> dict[str, Any]:
    return {"resourceLogs": [{"resource": {"attributes": kv({"service.name": service, **resource})},
                              "scopeLogs": [{"scope": {"name": "com.anthropic.claude_code.events"},
                                             "logRecords": records}]}]}


def spans_line(spans: list[dict[str, Any]], service: str = "review-bot") -> dict[str, Any]:
    return {"resourceSpans": [{"resource": {"attributes": kv({"service.name": service})},
                               "scopeSpans": [{"scope": {"name": "genai"}, "spans": spans}]}]}


def write(path: Path, lines: list[Any], mtime: Optional[float] = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = b"".join((line if isinstance(line, bytes) else json.dumps(line).encode()) + b"\n" for line in lines)
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def run(pipeline, folder: Path, start: Optional[dt.date] = DAY, end: Optional[dt.date] = DAY + dt.timedelta(days=1),
        lookback: int = 0, **kwargs):
    pipe = pipeline("agent_telemetry", "raw_agent_telemetry")
    pipe.run(agent_telemetry_source(str(folder), start.isoformat() if start else None,
                                    end.isoformat() if end else None, lookback_days=lookback, **kwargs))
    return pipe


def rows(pipe, columns: str, where: str = "true") -> list[tuple]:
    return query(pipe, f"select {columns} from agent_requests where {where} order by event_time_unix_nano, event_key")


def quarantine(pipe) -> list[tuple]:
    return query(pipe, "select action, reason from agent_requests_quarantine order by reason")


def loaded_rows(pipe, table: str = "agent_requests") -> int:
    info = pipe.last_trace.last_normalize_info
    return info.row_counts.get(table, 0) if info else 0


# ------------------------------------------------------------------------------------------------- value parsing

def test_numbers_arrive_as_strings_ints_or_doubles():
    assert count("372", "x") == count(372, "x") == count("372.0", "x") == count(372.0, "x") == 372
    assert count(None, "x") is None
    for bad in ("abc", "1.5", True, 1.5):
        with pytest.raises(Refused):
            count(bad, "input_tokens")
    # the float Claude Code printed, rounded half-even to the warehouse's 12 places
    assert money("0.0005319999999999999", "cost_usd") == Decimal("0.000532000000")
    assert money(0.1, "cost_usd") == Decimal("0.100000000000")  # a double read from its shortest repr
    assert money("5.3e-05", "cost_usd") == Decimal("0.000053000000")
    for bad in ("NaN", "1,5", "x"):
        with pytest.raises(Refused):
            money(bad, "cost_usd")


def test_timestamps_are_nanoseconds_and_other_units_are_repaired():
    assert unix_nanos("1765308150324000000", "t") == (1765308150324000000, None)
    assert unix_nanos("1765308150324", "t") == (1765308150324000000, "milliseconds")
    assert unix_nanos(1765308150, "t") == (1765308150000000000, "seconds")
    assert unix_nanos("1765308150324000", "t") == (1765308150324000000, "microseconds")
    assert unix_nanos("0", "t") == (0, None) and unix_nanos(None, "t") == (0, None)
    with pytest.raises(Refused):
        unix_nanos("yesterday", "timeUnixNano")


# ------------------------------------------------------------------------------------------------- vocabularies

def test_a_claude_code_api_request_as_captured(tmp_path, pipeline):
    """The captured Claude Code 2.0.62 record (numbers as strings), in a collector's export line."""
    record = {
        "timeUnixNano": "1765308150324000000", "observedTimeUnixNano": "1765308150324000000",
        "body": {"stringValue": "claude_code.api_request"},
        "attributes": kv({"user.id": "d05889...", "session.id": "53a31003-709a-4a68-b3ea-92f0f26e0bb6",
                          "organization.id": "a3ac161e-b4c2-447d-989c-7db8462305a0", "user.email": "user@example.com",
                          "event.name": "api_request", "event.timestamp": "2025-12-09T19:22:30.324Z",
                          "model": "claude-haiku-4-5-20251001", "input_tokens": "372", "output_tokens": "32",
                          "cache_read_tokens": "0", "cache_creation_tokens": "0",
                          "cost_usd": "0.0005319999999999999", "duration_ms": "845"})}
    line = logs_line([record], "claude-code", **{"service.version": "2.0.62", "os.type": "darwin"})
    write(tmp_path / "otel" / "logs.jsonl", [line])
    pipe = run(pipeline, tmp_path / "otel", dt.date(2025, 12, 9), dt.date(2025, 12, 10))
    got = rows(pipe, "usage_date, event_at, event_time_unix_nano, event_name, tool, service_version, provider, "
                     "session_id, user_email, user_id, install_id, organization_id, model, input_tokens, "
                     "output_tokens, cache_read_tokens, cache_write_tokens, cost_usd, duration_ms, is_error, "
                     "source_line, resource_attributes")
    # 1765308150324000000 ns = 1765308150.324 s; 1765308150 // 86400 = 20431 days after 1970-01-01 = 2025-12-09,
    # 1765308150 - 20431 * 86400 = 69750 s = 19:22:30 (the record's own event.timestamp says the same)
    assert got == [(dt.date(2025, 12, 9), dt.datetime(2025, 12, 9, 19, 22, 30, 324000, tzinfo=dt.timezone.utc),
                    1765308150324000000, "api_request", "claude_code", "2.0.62", "anthropic",
                    "53a31003-709a-4a68-b3ea-92f0f26e0bb6", "user@example.com", None, "d05889...",
                    "a3ac161e-b4c2-447d-989c-7db8462305a0", "claude-haiku-4-5-20251001", 372, 32, 0, 0,
                    Decimal("0.000532000000"), 845, False, 1,
                    '{"os.type": "darwin", "service.name": "claude-code", "service.version": "2.0.62"}')]
    assert quarantine(pipe) == []


def test_genai_semantic_convention_spans_and_events(tmp_path, pipeline):
    chat = {"traceId": "t1", "spanId": "s2", "parentSpanId": "s1", "name": "chat claude-sonnet-4-6", "kind": 3,
            "startTimeUnixNano": str(DAY_START_NS + 3_600 * 10**9),
            "endTimeUnixNano": str(DAY_START_NS + 3_600 * 10**9 + 1_534_000_000),
            "attributes": kv({"gen_ai.operation.name": "chat", "gen_ai.provider.name": "anthropic",
                              "gen_ai.request.model": "claude-sonnet-4-6", "gen_ai.response.model": "claude-sonnet-4-6",
                              "gen_ai.response.id": "msg_01XFDUDYJgAACzvnptvVoYEL",
                              "gen_ai.usage.input_tokens": 31661, "gen_ai.usage.cache_read.input_tokens": 31133,
                              "gen_ai.usage.cache_creation.input_tokens": 156, "gen_ai.usage.output_tokens": 87,
                              "gen_ai.conversation.id": "53a31003-709a-4a68-b3ea-92f0f26e0bb6",
                              "server.address": "api.anthropic.com", "server.port": 443}, strings=False)}
    # the agent's span sums its calls and a tool span has no model: neither is a request
    agent = {"traceId": "t1", "spanId": "s1", "name": "invoke_agent reviewer", "kind": 1,
             "startTimeUnixNano": str(DAY_START_NS + 3_599 * 10**9),
             "endTimeUnixNano": str(DAY_START_NS + 3_700 * 10**9),
             "attributes": kv({"gen_ai.operation.name": "invoke_agent", "gen_ai.usage.input_tokens": 31661,
                               "gen_ai.usage.output_tokens": 87}, strings=False)}
    tool = {"traceId": "t1", "spanId": "s3", "name": "execute_tool grep", "kind": 1,
            "startTimeUnixNano": str(DAY_START_NS + 3_650 * 10**9),
            "endTimeUnixNano": str(DAY_START_NS + 3_651 * 10**9),
            "attributes": kv({"gen_ai.operation.name": "execute_tool"}, strings=False)}
    failed = {"traceId": "t2", "spanId": "s4", "name": "chat gpt-5", "kind": 3,
              "startTimeUnixNano": str(DAY_START_NS + 7_200 * 10**9),
              "endTimeUnixNano": str(DAY_START_NS + 7_200 * 10**9 + 250_000_000),
              "attributes": kv({"gen_ai.operation.name": "chat", "gen_ai.provider.name": "openai",
                                "gen_ai.request.model": "gpt-5", "error.type": "rate_limit"}, strings=False),
              "status": {"code": 2, "message": "429"}}
    # a GenAI event in the older vocabulary: gen_ai.system, prompt/completion tokens as JSON numbers
    event = {"timeUnixNano": DAY_START_NS + 10_800 * 10**9, "eventName": "gen_ai.client.inference.operation.details",
             "attributes": [{"key": "gen_ai.system", "value": {"stringValue": "openai"}},
                            {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4.1-nano"}},
                            {"key": "gen_ai.usage.prompt_tokens", "value": {"intValue": 1200}},
                            {"key": "gen_ai.usage.completion_tokens", "value": {"doubleValue": 300.0}},
                            {"key": "enduser.id", "value": {"stringValue": "svc-batch"}}]}
    write(tmp_path / "otel" / "traces.jsonl", [spans_line([agent, chat, tool, failed], "review-bot"),
                                               logs_line([event], "batch-summariser")])
    pipe = run(pipeline, tmp_path / "otel")
    got = rows(pipe, "event_name, tool, provider, model, request_model, session_id, request_id, input_tokens, "
                     "cache_read_tokens, cache_write_tokens, output_tokens, cost_usd, duration_ms, is_error, "
                     "error_type, user_id, extra_fields")
    assert got == [
        # 31661 input tokens include 31133 cache reads and 156 cache writes: 372 uncached
        ("chat", "review_bot", "anthropic", "claude-sonnet-4-6", "claude-sonnet-4-6",
         "53a31003-709a-4a68-b3ea-92f0f26e0bb6", "msg_01XFDUDYJgAACzvnptvVoYEL", 372, 31133, 156, 87, None, 1534,
         False, None, None, '{"server.address":"api.anthropic.com","server.port":"443"}'),
        ("chat", "review_bot", "openai", "gpt-5", "gpt-5", None, None, None, None, None, None, None, 250, True,
         "rate_limit", None, None),
        ("gen_ai.client.inference.operation.details", "batch_summariser", "openai", "gpt-4.1-nano",
         "gpt-4.1-nano", None, None, 1200, None, None, 300, None, None, False, None, "svc-batch", None),
    ]


def test_api_errors_are_failed_requests_with_their_attempt(tmp_path, pipeline):
    t = DAY_START_NS + 9 * 3_600 * 10**9
    write(tmp_path / "otel" / "a.jsonl", [logs_line([
        claude_record(t, name="api_error", error="Overloaded", status_code=529, attempt=1, duration_ms=700),
        claude_record(t + 10**9, name="api_error", error="Overloaded", status_code=529, attempt=2, duration_ms=650),
        claude_record(t + 4 * 10**9, **{"event.sequence": 3}),
    ])])
    pipe = run(pipeline, tmp_path / "otel")
    assert rows(pipe, "event_name, is_error, status_code, attempt, error_type, input_tokens, cost_usd") == [
        ("api_error", True, 529, 1, "Overloaded", None, None),
        ("api_error", True, 529, 2, "Overloaded", None, None),
        ("api_request", False, None, None, None, 10, Decimal("0.001200000000")),
    ]


def test_unknown_models_and_tools_are_kept(tmp_path, pipeline):
    t = DAY_START_NS + 3_600 * 10**9
    write(tmp_path / "otel" / "a.jsonl", [logs_line([claude_record(t, model="claude-nebula-preview")]),
                                          logs_line([claude_record(t + 1, model="gpt-99-experimental")],
                                                    "my-own-agent")])
    pipe = run(pipeline, tmp_path / "otel")
    assert rows(pipe, "tool, model, input_tokens") == [("claude_code", "claude-nebula-preview", 10),
                                                       ("my_own_agent", "gpt-99-experimental", 10)]


# ------------------------------------------------------------------------------------------------- idempotency

def test_rereading_files_and_overlapping_windows_add_nothing(tmp_path, pipeline):
    folder = tmp_path / "otel"
    records = [claude_record(DAY_START_NS + i * 3_600 * 10**9 + 7, **{"event.sequence": i}) for i in range(30)]
    write(folder / "day.jsonl", [logs_line(records[:15]), logs_line(records[15:])])  # 30 hours: two days
    pipe = run(pipeline, folder, DAY, DAY + dt.timedelta(days=2))
    assert query(pipe, "select count(*), sum(input_tokens) from agent_requests")[0] == (30, 300)
    run(pipeline, folder, DAY, DAY + dt.timedelta(days=2))
    run(pipeline, folder, DAY + dt.timedelta(days=1), DAY + dt.timedelta(days=2), lookback=1)  # overlapping
    # the collector re-exports the same events into another file, numbers typed instead of strings, in other lines
    typed = [claude_record(DAY_START_NS + i * 3_600 * 10**9 + 7, strings=False, **{"event.sequence": i})
             for i in range(30)]
    write(folder / "re-exported.jsonl", [logs_line(typed[:7]), logs_line(typed[7:])])
    run(pipeline, folder, DAY, DAY + dt.timedelta(days=2))
    assert query(pipe, "select count(*), count(distinct event_key), sum(input_tokens), sum(cost_usd) "
                       "from agent_requests")[0] == (30, 30, 300, Decimal("0.036000000000"))
    by_day = dict(query(pipe, "select usage_date, count(*) from agent_requests group by 1"))
    assert by_day == {DAY: 24, DAY + dt.timedelta(days=1): 6}
    # the merge's delete is bounded by the load's days (the same rows either way: checked by the counts above with
    # the bound off by a day, and with the key left out of it); the bound is what keeps it off a year of keys
    scope = pipe.default_schema.get_table("agent_requests")["x-merge-destination-scope"]
    assert "usage_date >=" in scope and "event_key in" in scope


def test_the_window_bounds_what_a_partition_run_loads(tmp_path, pipeline):
    folder = tmp_path / "otel"
    write(folder / "a.jsonl", [logs_line([claude_record(DAY_START_NS - 1), claude_record(DAY_START_NS),
                                          claude_record(DAY_START_NS + DAY_NS - 1),
                                          claude_record(DAY_START_NS + DAY_NS)])])
    pipe = run(pipeline, folder)
    assert [r[0] for r in rows(pipe, "event_time_unix_nano")] == [DAY_START_NS, DAY_START_NS + DAY_NS - 1]
    run(pipeline, folder, lookback=1)  # the lookback reaches the day before
    assert [r[0] for r in rows(pipe, "event_time_unix_nano")] == [DAY_START_NS - 1, DAY_START_NS,
                                                                 DAY_START_NS + DAY_NS - 1]


def test_files_are_read_incrementally_by_modification_date(tmp_path, pipeline):
    folder = tmp_path / "otel"
    now = time.time()
    hour = 3_600 * 10**9
    write(folder / "a.jsonl", [logs_line([claude_record(DAY_START_NS + hour)])], mtime=now - 600)
    write(folder / "b.jsonl", [logs_line([claude_record(DAY_START_NS + 2 * hour)])], mtime=now - 600)
    pipe = run(pipeline, folder, start=None, end=None)  # unbounded: dlt's state follows modification dates
    assert loaded_rows(pipe) == 2
    pipe = run(pipeline, folder, start=None, end=None)
    assert loaded_rows(pipe) == 0  # nothing changed, nothing read
    # the collector appends to b and opens c
    write(folder / "b.jsonl", [logs_line([claude_record(DAY_START_NS + 2 * hour)]),
                               logs_line([claude_record(DAY_START_NS + 3 * hour)])], mtime=now - 60)
    write(folder / "c.jsonl", [logs_line([claude_record(DAY_START_NS + 4 * hour)])], mtime=now - 60)
    pipe = run(pipeline, folder, start=None, end=None)
    assert loaded_rows(pipe) == 3  # b read again (2 events, one of them already loaded) and c; a not read
    assert query(pipe, "select count(*) from agent_requests")[0][0] == 4
    assert {r[0].rsplit("/", 1)[1] for r in query(pipe, "select source_file from agent_requests")} == {
        "a.jsonl", "b.jsonl", "c.jsonl"}


def test_a_file_read_in_full_is_not_read_again(tmp_path, pipeline):
    """A partition run lists every file modified since its window's first day; a file the warehouse holds in full
    (same url, modification date and size, nothing of it outside the window it was read for) is skipped, and so is
    one whose requests outside the window it was read for are outside this run's window too."""
    folder = tmp_path / "otel"
    hour = 3_600 * 10**9
    mtime = time.time() - 600
    a = write(folder / "a.jsonl", [logs_line([claude_record(DAY_START_NS + hour), claude_record(DAY_START_NS + 2 * hour)])],
              mtime=mtime)
    # b holds one event of DAY and one of the next day, outside a window of DAY alone
    write(folder / "b.jsonl", [logs_line([claude_record(DAY_START_NS + 3 * hour), claude_record(DAY_START_NS + DAY_NS)])],
          mtime=mtime)
    pipe = run(pipeline, folder)
    assert loaded_rows(pipe) == 3
    assert {r[0].rsplit("/", 1)[1]: r[1:] for r in query(
        pipe, "select file_url, lines, requests, outside_window, quarantined from agent_requests_files")} == {
        "a.jsonl": (1, 2, 0, 0), "b.jsonl": (1, 1, 1, 0)}  # requests: those in the window
    totals = "select count(*), sum(input_tokens) from agent_requests"
    assert query(pipe, totals)[0] == (3, 30)

    # b's request outside the window, on its own side (after the window), nearest the window
    assert query(pipe, "select requests_before_window, last_before_window_unix_nano, requests_after_window, "
                       "first_after_window_unix_nano from agent_requests_files where file_url like '%b.jsonl'") == [
        (0, None, 1, DAY_START_NS + DAY_NS)]

    pipe = run(pipeline, folder)  # the next daily run's lookback over the same day
    assert loaded_rows(pipe) == 0  # b's other event is still outside this window: nothing to read
    assert query(pipe, totals)[0] == (3, 30)
    pipe = run(pipeline, folder, end=DAY + dt.timedelta(days=2))  # a window reaching b's second day takes it
    assert loaded_rows(pipe) == 2  # b, now in full; a is skipped
    assert query(pipe, totals)[0] == (4, 40)
    pipe = run(pipeline, folder)
    assert loaded_rows(pipe) == 0  # both held in full

    # the collector appends to a without the modification date moving (the size tells): read again
    write(a, [logs_line([claude_record(DAY_START_NS + hour), claude_record(DAY_START_NS + 2 * hour)]),
              logs_line([claude_record(DAY_START_NS + 4 * hour)])], mtime=mtime)
    pipe = run(pipeline, folder)
    assert loaded_rows(pipe) == 3
    assert query(pipe, totals)[0] == (5, 50)
    # the same bytes touched: read again (a new modification date), nothing added
    os.utime(a, (mtime + 60, mtime + 60))
    pipe = run(pipeline, folder)
    assert loaded_rows(pipe) == 3
    pipe = run(pipeline, folder)
    assert loaded_rows(pipe) == 0
    # a warehouse that lost the log's rows reads every file again
    with pipe.sql_client() as client:
        client.execute_sql(f"delete from {client.make_qualified_table_name('agent_requests_files')}")
    pipe = run(pipeline, folder)
    assert loaded_rows(pipe) == 3 + 1
    assert query(pipe, totals)[0] == (5, 50)


def test_a_file_whose_requests_lie_before_the_window_is_not_read_again_until_a_window_reaches_them(tmp_path,
                                                                                                    pipeline):
    """A file of earlier days listed under a later window (written or touched late) is read once; its requests
    before the window are remembered by the latest of them, so later runs skip it until a window reaches back to
    that request, and then take what it holds for them."""
    folder = tmp_path / "otel"
    hour = 3_600 * 10**9
    mtime = time.time() - 600
    # DAY-2 10:00 and DAY-1 22:00: both before a window of DAY
    write(folder / "c.jsonl", [logs_line([claude_record(DAY_START_NS - 2 * DAY_NS + 10 * hour),
                                          claude_record(DAY_START_NS - 2 * hour)])], mtime=mtime)
    files = "select requests, outside_window, requests_before_window, last_before_window_unix_nano, " \
            "requests_after_window, first_after_window_unix_nano from agent_requests_files"
    totals = "select count(*), sum(input_tokens) from agent_requests"
    pipe = run(pipeline, folder)
    assert (loaded_rows(pipe), loaded_rows(pipe, "agent_requests_files")) == (0, 1)  # read, nothing taken
    assert query(pipe, files) == [(0, 2, 2, DAY_START_NS - 2 * hour, 0, None)]
    pipe = run(pipeline, folder)
    assert loaded_rows(pipe, "agent_requests_files") == 0  # not read again
    pipe = run(pipeline, folder, start=DAY - dt.timedelta(days=1))  # reaches DAY-1 22:00, not DAY-2 10:00
    assert (loaded_rows(pipe), loaded_rows(pipe, "agent_requests_files")) == (1, 1)
    assert query(pipe, files) == [(1, 1, 1, DAY_START_NS - 2 * DAY_NS + 10 * hour, 0, None)]
    assert query(pipe, totals)[0] == (1, 10)
    pipe = run(pipeline, folder, start=DAY - dt.timedelta(days=1))
    assert loaded_rows(pipe, "agent_requests_files") == 0
    pipe = run(pipeline, folder)  # a window that starts later: nothing of c in it, nothing new
    assert loaded_rows(pipe, "agent_requests_files") == 0

    # a files row logged before the sides were counted (nulls) is trusted only when read in full: c is read again,
    # and its request already held is replaced, not added
    with pipe.sql_client() as client:
        client.execute_sql(f"update {client.make_qualified_table_name('agent_requests_files')} set "
                           "requests_before_window = null, last_before_window_unix_nano = null, "
                           "requests_after_window = null, first_after_window_unix_nano = null")
    pipe = run(pipeline, folder, start=DAY - dt.timedelta(days=1))
    assert (loaded_rows(pipe), loaded_rows(pipe, "agent_requests_files")) == (1, 1)
    assert query(pipe, totals)[0] == (1, 10)

    # a window reaching DAY-2 10:00 takes it: c is read, now in full, and then skipped
    pipe = run(pipeline, folder, start=DAY - dt.timedelta(days=3))
    assert (loaded_rows(pipe), loaded_rows(pipe, "agent_requests_files")) == (2, 1)
    assert query(pipe, totals)[0] == (2, 20)
    assert query(pipe, files) == [(2, 0, 0, None, 0, None)]
    pipe = run(pipeline, folder, start=DAY - dt.timedelta(days=3))
    assert loaded_rows(pipe, "agent_requests_files") == 0

    # a run without dates (every event) holds nothing outside; an unchanged file read in full stays skipped, and a
    # file with requests before an earlier window is read (the window now reaches every request)
    write(folder / "d.jsonl", [logs_line([claude_record(DAY_START_NS - 5 * DAY_NS)])], mtime=mtime)
    pipe = run(pipeline, folder)
    assert query(pipe, files + " where file_url like '%d.jsonl'") == [(0, 1, 1, DAY_START_NS - 5 * DAY_NS, 0, None)]
    pipe = run(pipeline, folder, start=None, end=None)
    assert (loaded_rows(pipe), loaded_rows(pipe, "agent_requests_files")) == (1, 1)  # d only
    assert query(pipe, totals)[0] == (3, 30)


def test_a_files_log_from_before_the_sides_were_counted_still_skips_files_read_in_full(tmp_path, pipeline):
    """A warehouse whose agent_requests_files has no columns for the requests on each side of the window (loaded by
    an earlier version): files read in full are still skipped, and the next load adds the columns."""
    folder = tmp_path / "otel"
    write(folder / "e.jsonl", [logs_line([claude_record(DAY_START_NS + 3_600 * 10**9)])], mtime=time.time() - 600)
    pipe = run(pipeline, folder)
    assert loaded_rows(pipe, "agent_requests_files") == 1
    sides = ["requests_before_window", "last_before_window_unix_nano", "requests_after_window",
             "first_after_window_unix_nano"]
    with pipe.sql_client() as client:  # the table as that version left it, and no stored schema to trust
        files = client.make_qualified_table_name("agent_requests_files")
        for column in sides:
            client.execute_sql(f"alter table {files} drop column {column}")
        client.execute_sql(f"delete from {client.make_qualified_table_name('_dlt_version')}")
    pipe = run(pipeline, folder)
    assert loaded_rows(pipe, "agent_requests_files") == 0  # e: read in full before, not read again
    assert query(pipe, f"select {', '.join(sides)} from agent_requests_files") == [(None, None, None, None)]
    pipe = run(pipeline, folder)
    assert loaded_rows(pipe, "agent_requests_files") == 0
    assert query(pipe, "select count(*) from agent_requests")[0][0] == 1


# ------------------------------------------------------------------------------------------------- bad input

def test_bad_lines_and_records_are_quarantined_with_reasons(tmp_path, pipeline):
    t = DAY_START_NS + 3_600 * 10**9
    no_time = claude_record(0)
    no_time["timeUnixNano"] = "0"
    lines = [
        logs_line([claude_record(t), claude_record(t + 1, input_tokens=-5), claude_record(t + 2, cost_usd=-0.5),
                   claude_record(t + 3, output_tokens="lots"), no_time, claude_record(t + 4, duration_ms=-3)]),
        b"this is not json",
        b'{"resourceLogs": [{"resource": {"attributes": []}, "scopeLogs": [{"logRecords": [',  # truncated
        {"hello": "world"},
        {"resourceLogs": "not a list of resources"},
        {"resourceMetrics": []},  # a metrics export beside the logs: read past, not an error
        b"",
        logs_line([{"body": {"stringValue": "claude_code.user_prompt"}, "timeUnixNano": str(t),
                    "attributes": kv({"event.name": "user_prompt", "prompt_length": 12})}]),
        logs_line([claude_record(t + 5, model="claude-nebula-preview")]),
    ]
    write(tmp_path / "otel" / "bad.jsonl", lines)
    pipe = run(pipeline, tmp_path / "otel")
    assert rows(pipe, "event_time_unix_nano, model") == [(t, "claude-sonnet-4-5-20250929"),
                                                         (t + 5, "claude-nebula-preview")]
    reasons = [r for _, r in quarantine(pipe)]
    assert len(reasons) == 9
    assert {r.split(" (")[0] for r in reasons} == {
        "line is not JSON", "line is not a well-formed OTLP export", "negative amount in cost_usd",
        "negative count in input_tokens", "negative duration_ms", "no timestamp",
        "output_tokens is not a number: 'lots'"}
    assert sum(r.startswith("line is not JSON") for r in reasons) == 2
    assert sum(r.startswith("line is not a well-formed OTLP export") for r in reasons) == 2
    assert {a for a, _ in quarantine(pipe)} == {"quarantined"}
    days = dict(query(pipe, "select reason, bucket_date from agent_requests_quarantine"))
    assert days["negative count in input_tokens"] == DAY  # the record's day; undated lines: the file's day
    records = query(pipe, "select record from agent_requests_quarantine where reason like 'line is not JSON%'")
    assert ("this is not json",) in records
    run(pipeline, tmp_path / "otel")  # read again: the same issues, not twice
    assert len(quarantine(pipe)) == 9


@pytest.mark.parametrize("breakage, expected", [
    (damaged_gzip, "(error: Error -3 while decompressing data"),  # zlib's own error
    (lambda data: data[:-30], "(EOFError: Compressed file ended before the end-of-stream marker was reached)"),
    (gzip.decompress, "(BadGzipFile: Not a gzipped file"),  # plain text under a .gz name
])
def test_a_broken_gzip_file_fails_the_run_naming_it_and_loads_nothing(tmp_path, pipeline, breakage, expected):
    folder = tmp_path / "otel"
    records = [claude_record(DAY_START_NS + i * 10**9, **{"event.sequence": i}) for i in range(200)]
    others = [claude_record(DAY_START_NS + 7_200 * 10**9 + i, **{"event.sequence": 1_000 + i}) for i in range(3)]
    write(folder / "a-good.jsonl", [logs_line(others)])
    broken = write(folder / "b-broken.jsonl.gz", [logs_line(records[i:i + 5]) for i in range(0, 200, 5)])
    whole = broken.read_bytes()
    broken.write_bytes(breakage(whole))
    with pytest.raises(Exception) as raised:
        run(pipeline, folder)
    message = str(raised.value)
    assert f"agent_telemetry: {broken.as_uri()} cannot be read {expected}" in message, message
    assert "nothing from this run was loaded" in message
    pipe = pipeline("agent_telemetry", "raw_agent_telemetry")
    assert not table_exists(pipe, "agent_requests")  # not even the good file's rows, nor the broken one's first
    broken.write_bytes(whole)  # the file is written again, whole
    run(pipeline, folder)
    assert query(pipe, "select count(*), sum(input_tokens) from agent_requests")[0] == (203, 10 * 203)


def test_timestamps_in_milliseconds_are_repaired_and_noted(tmp_path, pipeline):
    ms = DAY_START_NS // 10**6 + 1234
    write(tmp_path / "otel" / "a.jsonl", [logs_line([claude_record(ms), claude_record(ms + 1)])])
    pipe = run(pipeline, tmp_path / "otel")
    assert [r[0] for r in rows(pipe, "event_at")] == [
        dt.datetime(2026, 11, 10, 0, 0, 1, 234000, tzinfo=dt.timezone.utc),
        dt.datetime(2026, 11, 10, 0, 0, 1, 235000, tzinfo=dt.timezone.utc)]
    assert quarantine(pipe) == [("normalized", "timestamps in milliseconds where nanoseconds are documented, "
                                               "read as milliseconds")]


def test_large_files_come_in_several_arrow_tables_with_the_same_result(tmp_path, pipeline):
    records = [claude_record(DAY_START_NS + i * 10**9, **{"event.sequence": i, "input_tokens": i}) for i in range(50)]
    path = write(tmp_path / "otel" / "a.jsonl.gz", [logs_line(records[i:i + 3]) for i in range(0, 50, 3)])
    reader = TelemetryFile("f", (None, None), DAY, batch_rows=7, columnar=False)
    with gzip.open(path, "rb") as handle:
        tables = list(reader.read(handle))
    assert len(tables) > 5 and all(t.num_rows <= 9 for t in tables)  # 7 rows, or the line that passed them
    assert sum(t.num_rows for t in tables) == 50
    pipe = run(pipeline, tmp_path / "otel", batch_rows=7)
    assert query(pipe, "select count(*), sum(input_tokens) from agent_requests")[0] == (50, sum(range(50)))


def test_an_object_store_url_through_fsspec(tmp_path, pipeline):
    import fsspec

    fs = fsspec.filesystem("memory")
    try:
        fs.pipe("/otel-bucket/2026/11/10/logs.jsonl",
                json.dumps(logs_line([claude_record(DAY_START_NS + 5)])).encode() + b"\n")
        pipe = run(pipeline, "memory://otel-bucket")
        assert rows(pipe, "source_file, input_tokens") == [("memory:///otel-bucket/2026/11/10/logs.jsonl", 10)]
    finally:
        fs.rm("/otel-bucket", recursive=True)


# ------------------------------------------------------------------------------------------------- two paths

def parsed(path: Path, columnar: bool, window=(None, None)) -> tuple[Optional[pa.Table], dict, list]:
    reader = TelemetryFile(path.as_uri(), window, DAY, columnar=columnar)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        tables = list(reader.read(handle))
    table = pa.concat_tables(tables).sort_by("event_key") if tables else None
    counts = {**{k: v for k, v in reader.counts.items() if k != "columnar_lines"}, **reader.outside_rows()}
    return table, counts, reader.issue_rows()


def test_the_columnar_path_gives_exactly_the_record_by_record_rows(world, tmp_path):
    telemetry = DemoTelemetry(world)
    telemetry.write_telemetry(tmp_path, dt.date(2026, 11, 11), dt.date(2026, 11, 14))  # Wednesday to Friday
    files = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    assert len(files) == 6
    window = (DAY_START_NS + 3 * DAY_NS, DAY_START_NS + 4 * DAY_NS)  # 2026-11-13 only: some rows outside
    for path in files:
        for bounds in ((None, None), window):
            fast, fast_counts, fast_issues = parsed(path, True, bounds)
            careful, careful_counts, careful_issues = parsed(path, False, bounds)
            assert fast_counts == careful_counts and fast_issues == careful_issues == []
            assert (fast is None and careful is None) or fast.equals(careful), path.name
    reader = TelemetryFile("f", (None, None), DAY)
    with gzip.open(files[0], "rb") as handle:
        list(reader.read(handle))
    assert reader.counts["columnar_lines"] == reader.counts["lines"] > 0  # regular OTLP: all of it columnar



def test_a_request_timed_past_int64_counts_after_the_window(tmp_path):
    """A timestamp too large for 64 bits (a broken exporter) is a request after any bounded window: counted there,
    its time kept as the largest int64, and the file read on (both paths)."""
    path = write(tmp_path / "h.jsonl", [logs_line([claude_record(DAY_START_NS + 10), claude_record(10**20)])])
    for columnar in (True, False):
        table, counts, issues = parsed(path, columnar, (DAY_START_NS, DAY_START_NS + DAY_NS))
        assert table.num_rows == 1 and issues == []
        assert (counts["outside_window"], counts["requests_before_window"], counts["requests_after_window"],
                counts["first_after_window_unix_nano"]) == (1, 0, 1, 2**63 - 1)

def test_an_irregular_block_is_read_record_by_record(tmp_path):
    t = DAY_START_NS + 3_600 * 10**9
    regular = logs_line([claude_record(t + i, **{"event.sequence": i}) for i in range(5)])
    typed = logs_line([claude_record(t + 10, strings=False)])
    typed["resourceLogs"][0]["scopeLogs"][0]["logRecords"][0]["attributes"].append(
        {"key": "retries", "value": {"intValue": 3}})  # an int64 as a JSON number: not what OTLP JSON writes
    path = write(tmp_path / "a.jsonl", [regular, typed, b"{not json"])
    fast, fast_counts, fast_issues = parsed(path, True)
    careful, careful_counts, careful_issues = parsed(path, False)
    assert fast.equals(careful) and fast.num_rows == 6
    assert fast_counts == careful_counts and [i["reason"] for i in fast_issues] == [
        i["reason"] for i in careful_issues] and len(fast_issues) == 1
    assert fast.filter(pa.compute.equal(fast["event_time_unix_nano"], t + 10))["extra_fields"].to_pylist() == [
        '{"retries":3}']


# ------------------------------------------------------------------------------------------------- demo and modes

def demo_truth(telemetry: DemoTelemetry, days: list[dt.date]) -> dict[str, Any]:
    claude = [r for d in days for r in telemetry.claude_code_requests(d)]
    requests = [r["attributes"] for r in claude if r["name"] == "api_request"]
    calls = [c for d in days for c in telemetry.review_calls(d)]
    ok = [c for c in calls if not c["error"]]
    return {
        "claude_requests": len(requests),
        "claude_errors": len(claude) - len(requests),
        "input": sum(a["input_tokens"] for a in requests),
        "output": sum(a["output_tokens"] for a in requests),
        "cache_read": sum(a["cache_read_tokens"] for a in requests),
        "cache_write": sum(a["cache_creation_tokens"] for a in requests),
        "cost": sum(Decimal(repr(a["cost_usd"])).quantize(Decimal("1e-12")) for a in requests),
        "sessions": len({a["session.id"] for a in requests}),
        "review_calls": len(calls),
        "review_errors": len(calls) - len(ok),
        "review_input": sum(c["uncached"] for c in ok),
        "review_cache_read": sum(c["cache_read"] for c in ok),
        "review_cache_write": sum(c["cache_write"] for c in ok if c["provider"] == "anthropic"),
        "review_output": sum(c["output"] for c in ok),
    }


def demo_loaded(pipe) -> dict[str, Any]:
    (requests, errors, tin, tout, cr, cw, cost, sessions), = query(pipe, """
        select count(*) filter (where not is_error), count(*) filter (where is_error), sum(input_tokens),
               sum(output_tokens), sum(cache_read_tokens), sum(cache_write_tokens), sum(cost_usd),
               count(distinct session_id) filter (where not is_error)
        from agent_requests where tool = 'claude_code'""")
    (calls, failed, rin, rcr, rcw, rout), = query(pipe, """
        select count(*), count(*) filter (where is_error), sum(input_tokens), sum(cache_read_tokens),
               sum(cache_write_tokens), sum(output_tokens)
        from agent_requests where tool = 'pr_review_agent'""")
    return {"claude_requests": requests, "claude_errors": errors, "input": tin, "output": tout, "cache_read": cr,
            "cache_write": cw, "cost": cost, "sessions": sessions, "review_calls": calls, "review_errors": failed,
            "review_input": rin, "review_cache_read": rcr, "review_cache_write": rcw, "review_output": rout}


def test_demo_files_load_exactly_the_generators_numbers(world, tmp_path, pipeline):
    telemetry = DemoTelemetry(world)
    friday, saturday = dt.date(2026, 11, 13), dt.date(2026, 11, 14)  # the overnight session crosses midnight
    telemetry.write_telemetry(tmp_path / "demo", friday - dt.timedelta(days=1), saturday + dt.timedelta(days=1))
    pipe = run(pipeline, tmp_path / "demo", friday, saturday + dt.timedelta(days=1))
    expected = demo_truth(telemetry, [friday, saturday])
    assert demo_loaded(pipe) == expected
    assert expected["claude_errors"] > 0 and expected["review_errors"] >= 0 and expected["sessions"] > 10
    overnight = query(pipe, """select count(*) from agent_requests
                               where usage_date = '2026-11-14' and extract(hour from event_at) < 6""")[0][0]
    assert overnight > 0  # Friday's agent left running: Saturday's requests from Friday's file
    assert quarantine(pipe) == []


def test_demo_mode_generates_the_files_where_the_source_reads(world, tmp_path, pipeline, monkeypatch):
    monkeypatch.setenv("FINOPS_MODE", "demo")
    monkeypatch.setenv("FINOPS_DEMO_FILES_DIR", str(tmp_path / "demo_files"))
    monkeypatch.setattr(settings, "demo_world", lambda: world)
    day = dt.date(2026, 11, 17)
    pipe = pipeline("agent_telemetry", "raw_agent_telemetry")
    pipe.run(agent_telemetry_source(start_date=day.isoformat(), end_date=(day + dt.timedelta(days=1)).isoformat(),
                                    lookback_days=0))
    folder = tmp_path / "demo_files" / "agent_telemetry"
    files = sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())
    assert files == ["claude-code/claude-code-2026-11-16.jsonl.gz", "claude-code/claude-code-2026-11-17.jsonl.gz",
                     "pr-review-agent/traces-2026-11-16.jsonl", "pr-review-agent/traces-2026-11-17.jsonl"]
    assert demo_loaded(pipe) == demo_truth(DemoTelemetry(world), [day])
    stamps = {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}
    pipe.run(agent_telemetry_source(start_date=day.isoformat(), end_date=(day + dt.timedelta(days=1)).isoformat(),
                                    lookback_days=0))
    assert {p: p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()} == stamps  # not rewritten


def test_live_mode_without_a_path_reads_nothing_but_creates_the_tables(tmp_path, pipeline, monkeypatch):
    monkeypatch.setenv("FINOPS_MODE", "live")
    monkeypatch.delenv("SOURCES__AGENT_TELEMETRY__PATH", raising=False)
    pipe = pipeline("agent_telemetry", "raw_agent_telemetry")
    pipe.run(agent_telemetry_source(start_date=DAY.isoformat(), end_date=(DAY + dt.timedelta(days=1)).isoformat()))
    assert table_exists(pipe, "agent_requests") and table_exists(pipe, "agent_requests_quarantine")
    assert query(pipe, "select count(*) from agent_requests")[0][0] == 0


def test_the_configured_path_is_read(tmp_path, pipeline, monkeypatch):
    monkeypatch.delenv("FINOPS_MODE", raising=False)
    write(tmp_path / "configured" / "a.jsonl", [logs_line([claude_record(DAY_START_NS + 1)])])
    monkeypatch.setenv("SOURCES__AGENT_TELEMETRY__PATH", str(tmp_path / "configured"))
    pipe = pipeline("agent_telemetry", "raw_agent_telemetry")
    pipe.run(agent_telemetry_source(start_date=DAY.isoformat(), end_date=(DAY + dt.timedelta(days=1)).isoformat()))
    assert query(pipe, "select count(*) from agent_requests")[0][0] == 1
    shutil.rmtree(tmp_path / "configured")
