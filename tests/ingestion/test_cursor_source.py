"""The Cursor Admin API source against the demo team's API, through the real client, with scripted faults.

Ground truth is the demo generator's own records for the same days (`DemoCursorTeam.events` / `daily_usage` /
`spend` inputs), summed here in plain Python, never through the source's parsing code.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import time
from decimal import Decimal
from typing import Any, Optional

import pytest
from dlt.pipeline.exceptions import PipelineStepFailed

from ingestion import settings
from ingestion.cursor import RateLimiter, contiguous_ranges, cursor_source, daily_report_md5s, daily_report_records
from ingestion.demo.cursor import DemoCursorTeam
from ingestion.demo.cursor_server import CursorDemoAdapter
from ingestion.demo.server import DEMO_API_KEY
from ingestion.http import make_session
from tests.conftest import TODAY, query, recorded_provider, table_exists

URL = "https://cursor.test"
EVENTS = "/teams/filtered-usage-events"
DAILY = "/teams/daily-usage-data"
SPEND = "/teams/spend"
MEMBERS = "/teams/members"
DAY = dt.date(2026, 11, 10)  # a Tuesday: a full working day of events
START, END = DAY, DAY + dt.timedelta(days=1)
TABLES = ("team_members", "daily_usage", "usage_events", "spend")


@pytest.fixture(scope="session")
def team(world) -> DemoCursorTeam:
    return DemoCursorTeam(world)


@pytest.fixture
def cursor(team):
    def build(faults=None, tamper=None, api_key: Optional[str] = DEMO_API_KEY):
        return recorded_provider("cursor", URL, CursorDemoAdapter(team, URL), faults, tamper, api_key)

    return build


def run(cursor, pipeline, faults=None, tamper=None, start=START, end=END, resources=(), api_key=DEMO_API_KEY,
        **kwargs):
    connection, session, recorder = cursor(faults, tamper, api_key)
    pipe = pipeline("cursor", "raw_cursor")
    source = cursor_source(start_date=start.isoformat(), end_date=end.isoformat() if end else None, lookback_days=0,
                           connection=connection, session=session, **kwargs)
    pipe.run(source.with_resources(*resources) if resources else source)
    return pipe, recorder


def days(start=START, end=END):
    return [start + dt.timedelta(days=i) for i in range((end - start).days)]


def truth(team, start=START, end=END) -> dict[str, Any]:
    events = [e for d in days(start, end) for e in team.events(d)]
    usage = [e["tokenUsage"] for e in events if "tokenUsage" in e]
    rows = [r for d in days(start, end) for r in team.daily_usage(d)]
    return {
        "events": len(events),
        "input": sum(u["inputTokens"] for u in usage),
        "output": sum(u["outputTokens"] for u in usage),
        "cache_write": sum(u["cacheWriteTokens"] for u in usage),
        "cache_read": sum(u["cacheReadTokens"] for u in usage),
        "cents": sum(Decimal(str(u["totalCents"])) for u in usage),
        "not_token_based": len(events) - len(usage),
        "usage_based": sum(e["kind"] == "Usage-based" for e in events),
        "daily_rows": len(rows),
        "daily_requests": sum(r["agentRequests"] + r["chatRequests"] + r["composerRequests"] + r["cmdkUsages"]
                              for r in rows),
    }


def loaded(pipe) -> dict[str, Any]:
    events, tin, tout, cw, cr, cents, untokened, usage_based = query(pipe, """
        select count(*), sum(input_tokens), sum(output_tokens), sum(cache_write_tokens), sum(cache_read_tokens),
               sum(total_cents), count(*) filter (where input_tokens is null),
               count(*) filter (where kind = 'Usage-based')
        from usage_events""")[0]
    daily_rows, daily_requests = query(pipe, """
        select count(*), sum(agent_requests + chat_requests + composer_requests + cmdk_usages) from daily_usage""")[0]
    return {"events": events, "input": tin, "output": tout, "cache_write": cw, "cache_read": cr,
            "cents": Decimal(cents), "not_token_based": untokened, "usage_based": usage_based,
            "daily_rows": daily_rows, "daily_requests": daily_requests}


def on_events(change, page=1):
    """A ScriptedTransport fault applying `change(body)` to one page of the usage events."""

    def fault(body, path):
        if path.endswith(EVENTS) and body["pagination"]["currentPage"] == page:
            change(body)
        return body

    return fault


def quarantine(pipe, table):
    if not table_exists(pipe, f"{table}_quarantine"):
        return []
    return query(pipe, f"select action, reason, record from {table}_quarantine order by action, reason")


# ------------------------------------------------------------------------------------------------ happy path

def test_pages_through_the_window_and_lands_exactly_the_generators_numbers(team, cursor, pipeline):
    start, end = DAY - dt.timedelta(days=1), DAY + dt.timedelta(days=1)  # Monday and Tuesday
    pipe, recorder = run(cursor, pipeline, start=start, end=end, events_page_size=400)
    expected = truth(team, start, end)
    assert loaded(pipe) == expected
    assert expected["daily_requests"] == expected["events"]  # the demo's two endpoints agree with each other
    calls = recorder.to(EVENTS)
    pages = -(-expected["events"] // 400)
    assert pages >= 5 and [c.body["page"] for c in calls] == list(range(1, pages + 1))
    assert {(c.body["startDate"], c.body["endDate"], c.body["pageSize"]) for c in calls} == {
        (1794182400000, 1794355199999, 400)}  # 2026-11-09T00:00Z .. the last millisecond of 2026-11-10
    by_day = dict(query(pipe, "select bucket_date, count(*) from usage_events group by 1"))
    assert by_day == {d: len(team.events(d)) for d in days(start, end)}


def test_running_the_same_window_again_adds_nothing(team, cursor, pipeline):
    pipe, _ = run(cursor, pipeline)
    first = loaded(pipe)
    counts = [query(pipe, f"select count(*) from {t}")[0][0] for t in ("team_members", "spend")]
    run(cursor, pipeline)
    assert loaded(pipe) == first == truth(team)
    assert [query(pipe, f"select count(*) from {t}")[0][0] for t in ("team_members", "spend")] == counts


def day_ms(day: dt.date) -> int:
    return int(dt.datetime.combine(day, dt.time(), dt.timezone.utc).timestamp()) * 1000


def restated(day: dt.date):
    """A tamper: the daily usage report of `day` restated (one member's agent requests one higher)."""

    def tamper(call, response):
        if call.path == DAILY:
            body = json.loads(response._content)
            record = next(r for r in body["data"] if r["date"] == day_ms(day))
            record["agentRequests"] += 1
            response._content = json.dumps(body).encode()

    return tamper


def test_days_whose_daily_report_is_unchanged_are_not_paged_through_again(team, cursor, pipeline):
    """The restatement lookback costs Cursor's 20 requests a minute only for the days that changed: a re-run of a
    4-day window whose daily usage reports are the ones loaded asks for no event page; a report restated for one
    day re-reads that day alone, replacing its events (nothing doubled, nothing lost)."""
    start, end = DAY - dt.timedelta(days=3), DAY + dt.timedelta(days=1)
    pipe, first = run(cursor, pipeline, start=start, end=end)
    expected = truth(team, start, end)
    assert loaded(pipe) == expected
    assert {c.body["startDate"] for c in first.to(EVENTS)} == {day_ms(start)}  # one range, paged from its start
    md5s = dict(query(pipe, "select bucket_date, count(distinct daily_usage_md5) from usage_events group by 1"))
    assert md5s == {d: 1 for d in days(start, end)}

    pipe, again = run(cursor, pipeline, start=start, end=end)
    assert again.to(EVENTS) == [] and len(again.to(DAILY)) == 2  # the daily_usage resource's and the events' ask
    assert loaded(pipe) == expected

    changed = DAY - dt.timedelta(days=1)
    pipe, third = run(cursor, pipeline, start=start, end=end, tamper=restated(changed))
    assert {(c.body["startDate"], c.body["endDate"]) for c in third.to(EVENTS)} == {
        (day_ms(changed), day_ms(DAY) - 1)}
    assert len(third.to(EVENTS)) == -(-len(team.events(changed)) // 500)
    assert loaded(pipe)["events"] == expected["events"]
    assert dict(query(pipe, "select bucket_date, count(*) from usage_events group by 1")) == {
        d: len(team.events(d)) for d in days(start, end)}
    # the restated day is stored beside its new report: a fourth run with the same restatement asks nothing again
    _, fourth = run(cursor, pipeline, start=start, end=end, tamper=restated(changed))
    assert fourth.to(EVENTS) == []
    # README's way to read a day again regardless: its rows' md5 set to null
    query(pipe, f"update usage_events set daily_usage_md5 = null where bucket_date = '{start}'")
    pipe, fifth = run(cursor, pipeline, start=start, end=end, tamper=restated(changed))
    assert {c.body["startDate"] for c in fifth.to(EVENTS)} == {day_ms(start)}
    assert all(c.body["endDate"] == day_ms(start + dt.timedelta(days=1)) - 1 for c in fifth.to(EVENTS))
    assert loaded(pipe)["events"] == expected["events"]


def test_a_days_report_md5_ignores_order_and_paging_and_sees_any_change():
    monday, tuesday = DAY - dt.timedelta(days=1), DAY
    a = {"date": day_ms(monday), "email": "a@x.io", "agentRequests": 3}
    b = {"date": day_ms(monday), "email": "b@x.io", "agentRequests": 5}
    c = {"date": day_ms(tuesday), "email": "a@x.io", "agentRequests": 1}

    def md5s(*pages):
        return daily_report_md5s(r for page in pages for r in daily_report_records({"data": page}, "test"))

    once = md5s([a, b, c])
    assert set(once) == {monday, tuesday}
    assert md5s([c], [b, a]) == once  # another order, other pages
    assert md5s([a, {**b, "agentRequests": 6}, c])[monday] != once[monday]
    assert md5s([a, {**b, "agentRequests": 6}, c])[tuesday] == once[tuesday]
    assert md5s([a, c])[monday] != once[monday]  # a member missing
    assert md5s([a, a, b, c])[monday] != once[monday]  # a member listed twice


def test_contiguous_ranges():
    d = [dt.date(2026, 11, n) for n in (1, 2, 3, 5, 7, 8)]
    assert contiguous_ranges(d) == [(dt.date(2026, 11, 1), dt.date(2026, 11, 4)),
                                    (dt.date(2026, 11, 5), dt.date(2026, 11, 6)),
                                    (dt.date(2026, 11, 7), dt.date(2026, 11, 9))]
    assert contiguous_ranges([]) == []


def test_requests_carry_basic_auth_and_epoch_millisecond_bodies(cursor, pipeline):
    _, recorder = run(cursor, pipeline)
    # Basic base64("demo-admin-key:"): the key as username, an empty password
    assert {c.headers["Authorization"] for c in recorder.calls} == {"Basic ZGVtby1hZG1pbi1rZXk6"}
    assert {(c.method, c.path) for c in recorder.calls} == {
        ("GET", MEMBERS), ("POST", DAILY), ("POST", EVENTS), ("POST", SPEND)}
    # 2026-11-01 is 1793491200 s; + 9 days = 1794268800 s = 2026-11-10T00:00Z; the window ends a millisecond
    # before 2026-11-11T00:00Z (1794355200 s)
    assert recorder.to(DAILY)[0].body == {"startDate": 1794268800000, "endDate": 1794355199999}
    assert recorder.to(EVENTS)[0].body == {"startDate": 1794268800000, "endDate": 1794355199999, "page": 1,
                                           "pageSize": 500}


def test_long_windows_are_asked_for_in_chunks_of_at_most_30_days(team, cursor, pipeline):
    start, end = dt.date(2026, 10, 1), dt.date(2026, 11, 15)
    pipe, recorder = run(cursor, pipeline, start=start, end=end, resources=("daily_usage",))
    windows = [(c.body["startDate"], c.body["endDate"]) for c in recorder.to(DAILY)]
    assert len(windows) == 2
    assert all(e - s < 30 * 86_400_000 for s, e in windows)
    assert windows[1][0] == windows[0][1] + 1  # contiguous: no day asked twice, none skipped
    assert query(pipe, "select count(*) from daily_usage")[0][0] == truth(team, start, end)["daily_rows"]


def test_events_chunks_each_page_from_their_first_page(team, cursor, pipeline):
    start = DAY - dt.timedelta(days=1)
    pipe, recorder = run(cursor, pipeline, start=start, resources=("usage_events",), days_per_request=1,
                         events_page_size=500)
    starts = [(c.body["startDate"], c.body["page"]) for c in recorder.to(EVENTS)]
    assert [s for s, page in starts if page == 1] == [1794182400000, 1794268800000]
    assert query(pipe, "select count(*) from usage_events")[0][0] == truth(team, start, END)["events"]


def test_team_members_and_spend_snapshot(team, cursor, pipeline, monkeypatch):
    import ingestion._common as common

    monkeypatch.setattr(common, "today_utc", lambda: TODAY)
    pipe, recorder = run(cursor, pipeline, spend_page_size=10)
    members = query(pipe, "select count(*), count(*) filter (where is_removed), count(distinct email) from team_members")
    assert members == [(len(team.members), 1, len(team.members))]
    # spend: the current cycle (November to date), paged 10 a page until totalPages
    assert [c.body["page"] for c in recorder.to(SPEND)] == [1, 2, 3, 4]
    month = [e for d in days(dt.date(2026, 11, 1), TODAY) for e in team.events(d)]
    cents: dict[str, float] = {}
    for e in month:
        if e["kind"] == "Usage-based":
            cents[e["userEmail"]] = cents.get(e["userEmail"], 0.0) + e["tokenUsage"]["totalCents"]
    spend = dict(query(pipe, "select email, spend_cents from spend"))
    assert spend == {m.email: round(cents.get(m.email, 0.0)) for m in team.members if not m.is_removed}
    assert query(pipe, "select distinct snapshot_date, subscription_cycle_start from spend") == [
        (TODAY, dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc))]


# ------------------------------------------------------------------------------------------------ bad input

def test_epoch_millisecond_strings_become_utc_timestamps_and_seconds_are_normalized(cursor, pipeline):
    originals = {}

    def stamps(body):
        first, second = body["usageEvents"][0], body["usageEvents"][1]
        originals["second"] = int(second["timestamp"])
        first["timestamp"] = "1794319200123"  # 1794268800 (2026-11-10T00:00Z) + 14 h = 14:00:00.123 UTC
        second["timestamp"] = str(int(second["timestamp"]) // 1000)  # seconds where milliseconds are documented

    pipe, _ = run(cursor, pipeline, faults={"*": on_events(stamps)}, resources=("usage_events",))
    at = dt.datetime(2026, 11, 10, 14, 0, 0, 123000, tzinfo=dt.timezone.utc)
    assert query(pipe, f"select bucket_date from usage_events where event_at = '{at.isoformat()}'") == [(DAY,)]
    seconds = dt.datetime.fromtimestamp(originals["second"] // 1000, dt.timezone.utc)
    assert query(pipe, f"select count(*) from usage_events where event_at = '{seconds.isoformat()}'") == [(1,)]
    issues = quarantine(pipe, "usage_events")
    assert [(a, r) for a, r, _ in issues] == [
        ("normalized", "event timestamps in seconds where milliseconds are documented, read as seconds")]
    assert json.loads(issues[0][2])["events"] == 1


def test_numbers_sent_as_strings_are_read_as_numbers(team, cursor, pipeline):
    def stringify(body):
        for event in body["usageEvents"]:
            usage = event.get("tokenUsage")
            if usage:
                usage["outputTokens"] = str(usage["outputTokens"])
                usage["totalCents"] = str(usage["totalCents"])
            event["requestsCosts"] = str(event["requestsCosts"])

    pipe, _ = run(cursor, pipeline, faults={"*": on_events(stringify)})
    assert loaded(pipe) == truth(team)


def negative_tokens(body):
    body["usageEvents"][0]["tokenUsage"]["outputTokens"] = -450


def negative_cents(body):
    body["usageEvents"][0]["tokenUsage"]["totalCents"] = -20.18232


def duplicate_event(body):
    body["usageEvents"].append(copy.deepcopy(body["usageEvents"][0]))


QUARANTINED = [
    (negative_tokens, "negative count in output_tokens", 0),
    (negative_cents, "negative amount in total_cents", 0),
    (duplicate_event, "the same event appears twice in the API's answer", 1),
]


@pytest.mark.parametrize("change, reason, extra", QUARANTINED, ids=[c[0].__name__ for c in QUARANTINED])
def test_bad_events_are_quarantined_with_a_reason_and_nothing_else_is_lost(change, reason, extra, team, cursor,
                                                                          pipeline):
    pipe, _ = run(cursor, pipeline, faults={"*": on_events(change)}, resources=("usage_events",))
    sent = truth(team)["events"] + extra
    count = query(pipe, "select count(*) from usage_events")[0][0]
    refused = quarantine(pipe, "usage_events")
    assert [(a, r) for a, r, _ in refused] == [("quarantined", reason)]
    assert count + len(refused) == sent  # every event the API sent is either loaded or in quarantine
    assert json.loads(refused[0][2])["timestamp"]  # the API's own record is kept, whole


def test_an_unknown_model_keeps_its_tokens(team, cursor, pipeline):
    def future_model(body):
        body["usageEvents"][0]["model"] = "cursor-from-the-future-9"

    pipe, _ = run(cursor, pipeline, faults={"*": on_events(future_model)}, resources=("usage_events", "model_refs"))
    assert loaded_output(pipe) == truth(team)["output"]
    assert query(pipe, "select count(*) from usage_events where model = 'cursor-from-the-future-9'") == [(1,)]
    refs = dict(query(pipe, "select model_ref, price_model_id from model_refs"))
    assert refs["cursor-from-the-future-9"] is None  # unknown: flagged unpriced downstream, never dropped
    assert refs["claude-4.5-sonnet"] == "claude-sonnet-4-5"  # Cursor's spelling resolved to the vendor's


def loaded_output(pipe) -> int:
    return query(pipe, "select sum(output_tokens) from usage_events")[0][0]


def test_a_member_listed_twice_in_spend_is_quarantined(team, cursor, pipeline):
    def twice(body, path):
        if path.endswith(SPEND):
            body["teamMemberSpend"].append(copy.deepcopy(body["teamMemberSpend"][0]))
        return body

    pipe, _ = run(cursor, pipeline, faults={"*": twice}, resources=("spend",))
    assert query(pipe, "select count(*) from spend")[0][0] == len(team.active)
    assert [(a, r) for a, r, _ in quarantine(pipe, "spend")] == [
        ("quarantined", "the same member appears twice in the spend listing")]


# ------------------------------------------------------------------------------------------------ loud failures

def bad_json(call, response):
    if call.path == EVENTS and call.body["page"] == 2:
        response._content = response._content[: len(response._content) // 2]


def events_not_a_list(call, response):
    if call.path == EVENTS and call.body["page"] == 2:
        body = json.loads(response._content)
        body["usageEvents"] = {"oops": True}
        response._content = json.dumps(body).encode()


def events_missing(call, response):
    if call.path == EVENTS and call.body["page"] == 2:
        body = json.loads(response._content)
        body["usageEvents"] = body["usageEvents"][:-3]
        response._content = json.dumps(body).encode()


def bad_timestamp(call, response):
    if call.path == EVENTS and call.body["page"] == 2:
        body = json.loads(response._content)
        body["usageEvents"][4]["timestamp"] = "yesterday"
        response._content = json.dumps(body).encode()


LOUD = [
    (bad_json, "cursor /teams/filtered-usage-events (page 2) for 2026-11-10..2026-11-11: response body is not valid JSON"),
    (events_not_a_list, "cursor /teams/filtered-usage-events (page 2) for 2026-11-10..2026-11-11: 'usageEvents' must "
                        "be a list, got dict"),
    (events_missing, "the API counted"),
    (bad_timestamp, "(page 2) for 2026-11-10..2026-11-11 event 4 'timestamp': expected epoch milliseconds, "
                    "got 'yesterday'"),
]


@pytest.mark.parametrize("tamper, message", LOUD, ids=[c[0].__name__ for c in LOUD])
def test_a_malformed_page_fails_clearly_and_loads_nothing(tamper, message, cursor, pipeline):
    with pytest.raises(PipelineStepFailed) as failure:
        run(cursor, pipeline, tamper=tamper, events_page_size=200)
    assert message in str(failure.value)
    pipe = pipeline("cursor", "raw_cursor")
    for table in TABLES:  # page 1 and the other endpoints were fine, but nothing of a failed run may land
        assert not table_exists(pipe, table) or query(pipe, f"select count(*) from {table}")[0][0] == 0


def test_429_with_retry_after_is_waited_out_then_succeeds(team, cursor, pipeline):
    began = time.monotonic()
    pipe, recorder = run(cursor, pipeline, faults={2: 429})
    assert time.monotonic() - began >= 1.0  # Retry-After: 1 was honoured
    assert loaded(pipe) == truth(team)
    second, third = recorder.calls[1], recorder.calls[2]
    assert (second.method, second.path, second.body) == (third.method, third.path, third.body)  # asked again


@pytest.mark.parametrize("fault", [500, 503, "timeout"])
def test_server_errors_and_timeouts_are_retried(fault, team, cursor, pipeline):
    # request 1 is the day's daily usage report (read for its md5); 2 and 4 are event pages
    pipe, recorder = run(cursor, pipeline, faults={2: fault, 4: fault}, resources=("usage_events",),
                         events_page_size=400)
    assert loaded_output(pipe) == truth(team)["output"]
    pages = -(-truth(team)["events"] // 400)
    assert len(recorder.to(DAILY)) == 1
    assert len(recorder.to(EVENTS)) == pages + (2 if fault != "timeout" else 0)  # a timeout never reached the API


def test_unauthorised_is_not_retried_and_says_so(cursor, pipeline):
    with pytest.raises(PipelineStepFailed) as failure:
        run(cursor, pipeline, api_key="not-the-key", resources=("usage_events",))
    # the events' first request is their days' daily usage report (read for its md5)
    assert "cursor /teams/daily-usage-data: HTTP 401" in str(failure.value)
    assert "not-the-key" not in str(failure.value)


# ------------------------------------------------------------------------------------------------ modes, pacing

def test_without_a_key_the_tables_are_created_and_nothing_is_loaded(cursor, pipeline):
    pipe, recorder = run(cursor, pipeline, api_key=None)
    assert recorder.calls == []
    for table in (*TABLES, "daily_usage_quarantine", "usage_events_quarantine", "model_refs"):
        assert table_exists(pipe, table), table
        assert query(pipe, f"select count(*) from {table}")[0][0] == 0


def test_live_mode_reads_the_documented_names_and_defaults_to_the_vendor(monkeypatch):
    for name in ("SOURCES__ANTHROPIC__ADMIN_API_KEY", "SOURCES__OPENAI__ADMIN_API_KEY", "SOURCES__CURSOR__BASE_URL",
                 "SOURCES__CURSOR__ADMIN_API_KEY", "FINOPS_MODE"):
        monkeypatch.delenv(name, raising=False)
    assert settings.connection("cursor").base_url.startswith("https://demo.invalid")  # no key anywhere: the demo
    monkeypatch.setenv("SOURCES__CURSOR__ADMIN_API_KEY", "crsr_test_key")
    assert settings.finops_mode() == "live"
    conn = settings.connection("cursor")
    assert (conn.base_url, conn.api_key, conn.demo) == ("https://api.cursor.com", "crsr_test_key", False)
    monkeypatch.setenv("SOURCES__CURSOR__BASE_URL", "https://cursor-gw.example/")
    assert settings.connection("cursor").base_url == "https://cursor-gw.example"


def test_unbounded_runs_resume_from_the_last_day_minus_the_lookback(team, cursor, pipeline, monkeypatch):
    import ingestion._common as common

    monkeypatch.setattr(common, "today_utc", lambda: TODAY)
    connection, session, recorder = cursor()
    pipe = pipeline("cursor", "raw_cursor")
    start = TODAY - dt.timedelta(days=2)
    pipe.run(cursor_source(start_date=start.isoformat(), lookback_days=1, connection=connection, session=session)
             .with_resources("usage_events"))
    last = query(pipe, "select max(bucket_date) from usage_events")[0][0]
    assert last == TODAY - dt.timedelta(days=1)  # the demo has whole days before today only
    first_run = len(recorder.calls)
    pipe.run(cursor_source(lookback_days=1, connection=connection, session=session).with_resources("usage_events"))
    again = recorder.calls[first_run]
    assert again.body["startDate"] == int(dt.datetime.combine(last - dt.timedelta(days=1), dt.time(),
                                                              dt.timezone.utc).timestamp()) * 1000
    assert query(pipe, "select count(*) from usage_events")[0][0] == truth(team, start, TODAY)["events"]


def test_the_rate_limiter_waits_only_beyond_the_limit():
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds):
        slept.append(seconds)
        now[0] += seconds

    limiter = RateLimiter(3, clock=lambda: now[0], sleep=sleep)
    for _ in range(3):
        limiter.wait()
        now[0] += 1
    assert slept == []  # a burst within the limit is never slowed down
    limiter.wait()  # the 4th request in a minute waits until the 1st is 60 s old
    assert slept == [57.0]
    RateLimiter(None, sleep=sleep).wait()
    assert slept == [57.0]


def test_the_demo_api_refuses_what_the_real_one_refuses(team):
    session = make_session(CursorDemoAdapter(team, URL), URL)
    auth = ("demo-admin-key", "")
    start = 1794268800000
    assert session.get(f"{URL}{MEMBERS}").status_code == 401
    assert session.get(f"{URL}{MEMBERS}", auth=("wrong", "")).status_code == 401
    assert session.get(f"{URL}{MEMBERS}", auth=auth).status_code == 200
    too_long = session.post(f"{URL}{DAILY}", auth=auth, json={"startDate": start, "endDate": start + 31 * 86_400_000})
    assert too_long.status_code == 400 and "cannot exceed 30 days" in too_long.text
    seconds = session.post(f"{URL}{EVENTS}", auth=auth, json={"startDate": start // 1000, "endDate": start // 1000 + 60})
    assert seconds.status_code == 400 and "epoch milliseconds" in seconds.text
    assert session.get(f"{URL}{EVENTS}", auth=auth).status_code == 404  # the usage endpoints are POSTs
    page = session.post(f"{URL}{EVENTS}", auth=auth, json={"startDate": start, "endDate": start + 86_400_000 - 1,
                                                           "pageSize": 25}).json()
    assert page["pagination"]["pageSize"] == 25 and len(page["usageEvents"]) == 25
    assert page["totalUsageEventsCount"] == len(team.events(DAY))
