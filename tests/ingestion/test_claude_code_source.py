"""The Claude Code Analytics report (`claude_code_usage` of the anthropic source), through the real client.

Most tests serve hand-written records from a small fake of the endpoint (expectations computed by hand in the
comments); the last ones run the demo organisation's report and check it against the demo's own telemetry.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import time
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from dlt.pipeline.exceptions import PipelineStepFailed
from requests.adapters import BaseAdapter

from ingestion.anthropic import CLAUDE_CODE_PATH, anthropic_source, claude_code_days
from ingestion.demo.telemetry import DAY_MS, DemoTelemetry, day_start_ms
from ingestion.http import make_session
from ingestion.settings import ProviderConnection
from tests.conftest import ScriptedTransport, query, table_exists

URL = "https://claude-code.test"
KEY = "sk-ant-admin01-claude-code-test"
D1, D2, D3 = dt.date(2026, 11, 2), dt.date(2026, 11, 3), dt.date(2026, 11, 4)
SONNET, HAIKU, OPUS = "claude-sonnet-4-5-20250929", "claude-haiku-4-5-20251001", "claude-opus-4-1-20250805"
ORG = "12345678-1234-5678-1234-567812345678"


def model(name: str, cents: Any, input: int = 1000, output: int = 500, cache_read: int = 20_000,
          cache_creation: int = 3_000, currency: str = "USD") -> dict[str, Any]:
    return {"estimated_cost": {"amount": cents, "currency": currency}, "model": name,
            "tokens": {"cache_creation": cache_creation, "cache_read": cache_read, "input": input, "output": output}}


def record(date: str, actor: Any, terminal: str = "vscode", sessions: int = 1, added: int = 0, removed: int = 0,
           commits: int = 0, prs: int = 0, tools: Any = None, models: Any = None, customer: str = "api",
           subscription: Any = None) -> dict[str, Any]:
    r = {"actor": actor,
         "core_metrics": {"commits_by_claude_code": commits, "lines_of_code": {"added": added, "removed": removed},
                          "num_sessions": sessions, "pull_requests_by_claude_code": prs},
         "customer_type": customer, "date": date, "organization_id": ORG, "subscription_type": subscription,
         "terminal_type": terminal, "tool_actions": tools if tools is not None else {}}
    if models is not None:
        r["model_breakdown"] = models
    return r


def user(email: str) -> dict[str, str]:
    return {"email_address": email, "type": "user_actor"}


def api_key(name: str) -> dict[str, str]:
    return {"api_key_name": name, "type": "api_actor"}


def hand_days() -> dict[str, list[dict[str, Any]]]:
    """Three days: D1 in the documented `YYYY-MM-DD`, D2 in the example's timestamp form, D3 empty."""
    d1, d2 = D1.isoformat(), f"{D2.isoformat()}T00:00:00Z"
    return {
        d1: [
            record(d1, user("Ana.Silva@Example.com"), "vscode", sessions=3, added=120, removed=30, commits=2, prs=1,
                   tools={"edit_tool": {"accepted": 5, "rejected": 1}, "write_tool": {"accepted": 2, "rejected": 0}},
                   models=[model(SONNET, 186), model(HAIKU, 0.0425, input=200, output=50, cache_read=0,
                                                     cache_creation=0)]),
            record(d1, api_key("ci-bot"), "non-interactive", sessions=4, added=60, commits=3, prs=2,
                   tools={"edit_tool": {"accepted": 9, "rejected": 0}},
                   models=[model(SONNET, 0.1, input=10, output=20, cache_read=30, cache_creation=40)]),
            # no model_breakdown at all: activity only
            record(d1, user("bo@example.com"), "iTerm.app", sessions=1, added=5, removed=1,
                   customer="subscription", subscription="enterprise"),
        ],
        D2.isoformat(): [
            record(d2, user("ana.silva@example.com"), "vscode", sessions=2, added=40, removed=4,
                   tools={"multi_edit_tool": {"accepted": 3, "rejected": 2}},
                   models=[model(SONNET, 0.2, input=7, output=8, cache_read=9, cache_creation=10)]),
        ],
        D3.isoformat(): [],
    }


class FakeClaudeCodeAPI(BaseAdapter):
    """The endpoint's documented protocol: `starting_at` (one day), `limit` records a page, `page=<next_page>`."""

    def __init__(self, days: dict[str, list[dict[str, Any]]]) -> None:
        super().__init__()
        self.days = days

    def send(self, request, **kwargs):
        url = urlparse(request.url)
        params = parse_qs(url.query)
        if url.path != CLAUDE_CODE_PATH or request.headers.get("x-api-key") != KEY:
            return self._answer(request, 404 if url.path != CLAUDE_CODE_PATH else 401, {"type": "error"})
        day, limit = params["starting_at"][0], int(params.get("limit", ["20"])[0])
        offset = int(params["page"][0].split(":")[1]) if "page" in params else 0
        records = self.days.get(day, [])
        more = offset + limit < len(records)
        return self._answer(request, 200, {"data": copy.deepcopy(records[offset:offset + limit]), "has_more": more,
                                           "next_page": f"cursor:{offset + limit}:{day}" if more else None})

    @staticmethod
    def _answer(request, status: int, body: Any) -> requests.Response:
        response = requests.Response()
        response.status_code, response.reason = status, "OK" if status == 200 else "ERROR"
        response._content = json.dumps(body).encode()
        response.headers["Content-Type"] = "application/json"
        response.url, response.request, response.encoding = request.url, request, "utf-8"
        return response

    def close(self) -> None:
        pass


def run_fake(pipeline, days, start=D1, end=D3 + dt.timedelta(days=1), faults=None, page_size=1000,
             lookback_days=0, pipe=None):
    scripted = ScriptedTransport(FakeClaudeCodeAPI(days), faults or {})
    connection = ProviderConnection("anthropic", URL, KEY, demo=False)
    pipe = pipe or pipeline("claude_code", "raw_anthropic")
    source = anthropic_source(start_date=start.isoformat(), end_date=end.isoformat(), lookback_days=lookback_days,
                              connection=connection, session=make_session(scripted, URL),
                              claude_code_page_size=page_size)
    pipe.run(source.with_resources("claude_code_usage"))
    return pipe, scripted


def rows(pipe, sql: str) -> list[tuple]:
    return query(pipe, sql)


# ------------------------------------------------------------------------------------------------ requests

def test_one_call_per_day_over_a_three_day_window(pipeline):
    _, scripted = run_fake(pipeline, hand_days())
    assert [c.params["starting_at"] for c in scripted.calls] == [["2026-11-02"], ["2026-11-03"], ["2026-11-04"]]
    assert all(c.params["limit"] == ["1000"] and "ending_at" not in c.params and "page" not in c.params
               for c in scripted.calls)
    assert all(c.path == CLAUDE_CODE_PATH and c.headers["x-api-key"] == KEY
               and c.headers["anthropic-version"] == "2023-06-01" for c in scripted.calls)


def test_the_lookback_widens_the_days_asked_for(pipeline):
    # window [D2, D3) with one lookback day: D1 and D2, one call each
    _, scripted = run_fake(pipeline, hand_days(), start=D2, end=D3, lookback_days=1)
    assert [c.params["starting_at"] for c in scripted.calls] == [["2026-11-02"], ["2026-11-03"]]


def test_paging_follows_next_page_within_a_day(pipeline):
    # limit 2: D1's three records are two pages, D2 one page, D3 (empty) one page
    pipe, scripted = run_fake(pipeline, hand_days(), page_size=2)
    asked = [(c.params["starting_at"][0], c.params.get("page", [None])[0]) for c in scripted.calls]
    assert asked == [("2026-11-02", None), ("2026-11-02", "cursor:2:2026-11-02"), ("2026-11-03", None),
                     ("2026-11-04", None)]
    assert all(c.params["limit"] == ["2"] for c in scripted.calls)
    # every record of both pages landed: D1 three actors, D2 one
    assert rows(pipe, "select bucket_date, count(*) from claude_code_activity group by 1 order by 1") == [
        (D1, 3), (D2, 1)]


def test_the_window_never_asks_for_a_day_after_today(monkeypatch):
    import ingestion.anthropic as anthropic

    monkeypatch.setattr(anthropic, "today_utc", lambda: D2)
    # today's (partial) day is asked for, tomorrow is not
    assert claude_code_days(D1, D3 + dt.timedelta(days=5)) == [D1, D2]


# ------------------------------------------------------------------------------------------------ landing

def test_both_date_formats_and_the_rows_of_each_table(pipeline):
    pipe, _ = run_fake(pipeline, hand_days())
    activity = rows(pipe, """
        select bucket_date, actor_type, actor_email, api_key_name, terminal_type, customer_type, subscription_type,
               num_sessions, lines_of_code_added, lines_of_code_removed, commits_by_claude_code,
               pull_requests_by_claude_code, tool_actions_accepted, tool_actions_rejected
        from claude_code_activity order by bucket_date, actor_type, actor_email""")
    assert activity == [
        # api actor: key name, no email; tool totals = the one tool's counts
        (D1, "api_actor", None, "ci-bot", "non-interactive", "api", None, 4, 60, 0, 3, 2, 9, 0),
        # lower-cased email; tools 5 + 2 accepted, 1 + 0 rejected
        (D1, "user_actor", "ana.silva@example.com", None, "vscode", "api", None, 3, 120, 30, 2, 1, 7, 1),
        # no model_breakdown: an activity row all the same
        (D1, "user_actor", "bo@example.com", None, "iTerm.app", "subscription", "enterprise", 1, 5, 1, 0, 0, 0, 0),
        # "2026-11-03T00:00:00Z" is the day 2026-11-03
        (D2, "user_actor", "ana.silva@example.com", None, "vscode", "api", None, 2, 40, 4, 0, 0, 3, 2),
    ]
    usage = rows(pipe, """
        select bucket_date, actor_type, coalesce(actor_email, api_key_name), model, input_tokens, output_tokens,
               cache_read_tokens, cache_creation_tokens, currency
        from claude_code_usage order by bucket_date, actor_type, model""")
    assert usage == [
        (D1, "api_actor", "ci-bot", SONNET, 10, 20, 30, 40, "USD"),
        (D1, "user_actor", "ana.silva@example.com", HAIKU, 200, 50, 0, 0, "USD"),
        (D1, "user_actor", "ana.silva@example.com", SONNET, 1000, 500, 20_000, 3_000, "USD"),
        (D2, "user_actor", "ana.silva@example.com", SONNET, 7, 8, 9, 10, "USD"),
    ]
    # the map as the API sent it
    tools = rows(pipe, "select tool_actions from claude_code_activity where bucket_date = '2026-11-02' "
                       "and actor_email = 'ana.silva@example.com'")[0][0]
    assert json.loads(tools) == {"edit_tool": {"accepted": 5, "rejected": 1}, "write_tool": {"accepted": 2, "rejected": 0}}
    # each usage row points at its activity row
    assert rows(pipe, """select count(*) from claude_code_usage u
                         join claude_code_activity a on a.row_key = u.activity_key
                          and a.actor_type = u.actor_type and a.bucket_date = u.bucket_date""") == [(4,)]
    # daily buckets, like the other tables of the source
    assert rows(pipe, "select distinct bucket_end - bucket_start from claude_code_usage") == [(dt.timedelta(days=1),)]


def test_cents_become_exact_dollars(pipeline):
    pipe, _ = run_fake(pipeline, hand_days())
    cost = dict(((d, m, a), c) for d, m, a, c in rows(pipe, """
        select bucket_date, model, coalesce(actor_email, api_key_name), estimated_cost_usd from claude_code_usage"""))
    assert cost[(D1, SONNET, "ana.silva@example.com")] == Decimal("1.86")  # 186 cents
    assert cost[(D1, HAIKU, "ana.silva@example.com")] == Decimal("0.000425")  # 0.0425 cents
    assert cost[(D1, SONNET, "ci-bot")] == Decimal("0.001")  # 0.1 cents, not 0.0010000000000000000208...
    # 0.1 + 0.2 cents: exactly 0.003 dollars (floats would give 0.0030000000000000004)
    assert rows(pipe, "select sum(estimated_cost_usd) from claude_code_usage where model = 'claude-sonnet-4-5-20250929' "
                      "and estimated_cost_usd < 0.01") == [(Decimal("0.003"),)]
    assert rows(pipe, "select sum(estimated_cost_usd) from claude_code_usage") == [(Decimal("1.863425"),)]
    # nothing needed rounding (a float on the way would have: 0.1 / 100 is not 0.001 in binary)
    assert rows(pipe, "select count(*) from claude_code_usage_quarantine") == [(0,)]


@pytest.mark.parametrize("cents, usd", [(186, "1.86"), (1234567891.23, "12345678.9123"), ("0.0425", "0.000425"),
                                        (0, "0"), (7.0, "0.07")])
def test_cents_as_numbers_or_strings_divide_exactly(cents, usd):
    from ingestion.anthropic import _model_entry

    parsed = _model_entry(model(SONNET, cents), "test")
    assert parsed["row"]["estimated_cost_usd"] == Decimal(usd) and not parsed["rounded"]


def test_running_the_same_days_again_replaces_them_and_adds_nothing(pipeline):
    days = hand_days()
    pipe, _ = run_fake(pipeline, days)
    counts = "select (select count(*) from claude_code_activity), (select count(*) from claude_code_usage)"
    assert rows(pipe, counts) == [(4, 4)]
    # the provider restates D1: Ana's sessions and Sonnet cost change, the haiku line disappears
    ana = days[D1.isoformat()][0]
    ana["core_metrics"]["num_sessions"] = 4
    ana["model_breakdown"] = [model(SONNET, 250)]
    run_fake(pipeline, days, pipe=pipe)
    assert rows(pipe, counts) == [(4, 3)]
    assert rows(pipe, "select num_sessions from claude_code_activity where bucket_date = '2026-11-02' "
                      "and actor_email = 'ana.silva@example.com'") == [(4,)]
    assert rows(pipe, "select model, estimated_cost_usd from claude_code_usage where bucket_date = '2026-11-02' "
                      "and actor_email = 'ana.silva@example.com'") == [(SONNET, Decimal("2.5"))]
    # unchanged data, a third time: still the same rows
    run_fake(pipeline, days, pipe=pipe)
    assert rows(pipe, counts) == [(4, 3)]
    assert rows(pipe, "select sum(estimated_cost_usd) from claude_code_usage") == [(Decimal("2.503"),)]


def test_unknown_fields_are_kept_as_json(pipeline):
    days = hand_days()
    ana = days[D1.isoformat()][0]
    ana["new_field"] = "x"
    ana["core_metrics"]["new_metric"] = 5
    ana["model_breakdown"][0]["tokens"]["cache_creation_1h"] = 7
    pipe, _ = run_fake(pipeline, days)
    extras = rows(pipe, "select extra_fields from claude_code_activity where extra_fields is not null")
    assert [json.loads(e) for (e,) in extras] == [{"new_field": "x", "core_metrics.new_metric": 5}]
    extras = rows(pipe, "select model, extra_fields from claude_code_usage where extra_fields is not null")
    assert [(m, json.loads(e)) for m, e in extras] == [(SONNET, {"tokens.cache_creation_1h": 7})]


def test_more_precision_than_money_holds_is_rounded_and_recorded():
    from ingestion.anthropic import _model_entry

    # 1.23456789012345 cents = 0.0123456789012345 USD; MONEY keeps 12 places
    parsed = _model_entry(model(SONNET, "1.23456789012345"), "test")
    assert parsed["row"]["estimated_cost_usd"] == Decimal("0.012345678901") and parsed["rounded"]


# ------------------------------------------------------------------------------------------------ faults

def test_429_with_retry_after_is_waited_out_then_succeeds(pipeline):
    began = time.monotonic()
    pipe, scripted = run_fake(pipeline, hand_days(), faults={2: 429})
    assert time.monotonic() - began >= 1.0  # Retry-After: 1 was honoured
    assert len(scripted.calls) == 4  # three days + the repeated one
    assert scripted.calls[1].params == scripted.calls[2].params == {"starting_at": ["2026-11-03"], "limit": ["1000"]}
    assert rows(pipe, "select (select count(*) from claude_code_activity), (select count(*) from claude_code_usage)"
                ) == [(4, 4)]


def test_bad_records_are_quarantined_with_reasons_and_the_rest_lands(pipeline):
    d = D1.isoformat()
    ana = record(d, user("ana@example.com"), models=[
        model(SONNET, 100), model(HAIKU, 5, input=-5), model(OPUS, 50, currency="EUR")])
    bad = {d: [
        ana,
        record(d, None, models=[model(SONNET, 1)]),
        record(d, {"type": "service_actor", "id": "x"}, models=[model(SONNET, 1)]),
        record(d, user("bo@example.com"), sessions=-1, models=[model(SONNET, 10)]),
        copy.deepcopy(ana),
        record(d, user("cy@example.com"), tools={"edit_tool": {"accepted": -2, "rejected": 0}}),
        record(d, user("dee@example.com"), models=[model(SONNET, -30)]),
    ]}
    pipe, _ = run_fake(pipeline, bad, end=D2)
    assert rows(pipe, "select actor_email from claude_code_activity order by 1") == [
        ("ana@example.com",), ("dee@example.com",)]
    assert rows(pipe, "select actor_email, model, estimated_cost_usd from claude_code_usage order by 1") == [
        ("ana@example.com", SONNET, Decimal("1")), ("bo@example.com", SONNET, Decimal("0.1"))]
    refused = rows(pipe, "select resource, action, reason, record from claude_code_usage_quarantine")
    assert sorted((res, action, reason) for res, action, reason, _ in refused) == sorted([
        ("claude_code_usage", "quarantined", "negative count in input_tokens"),
        ("claude_code_usage", "quarantined", "currency EUR is not USD (no exchange rate is applied)"),
        ("claude_code_activity", "quarantined", "the record has no actor (whole record, activity and model usage, not loaded)"),
        ("claude_code_activity", "quarantined",
         "unknown actor type 'service_actor' (whole record, activity and model usage, not loaded)"),
        ("claude_code_activity", "quarantined", "negative count in num_sessions"),
        ("claude_code_activity", "quarantined", "the same actor and terminal appear twice in one day (whole record not loaded)"),
        ("claude_code_activity", "quarantined", "negative count in tool_actions.edit_tool.accepted"),
        ("claude_code_usage", "quarantined", "negative estimated_cost.amount"),
    ])
    # a refused model line keeps the API's record, narrowed to that line
    euro = next(json.loads(r) for res, _, reason, r in refused if reason.startswith("currency EUR"))
    assert euro["actor"] == user("ana@example.com") and [m["model"] for m in euro["model_breakdown"]] == [OPUS]
    # the duplicate record is refused as a whole; its quarantine row keys stay unique all the same
    assert rows(pipe, "select count(distinct row_key) = count(*) from claude_code_usage_quarantine") == [(True,)]


def date_of_another_day(days):
    days[D2.isoformat()][0]["date"] = "2026-11-05"


def tokens_as_words(days):
    days[D2.isoformat()][0]["model_breakdown"][0]["tokens"]["input"] = "lots"


def core_metrics_missing(days):
    del days[D2.isoformat()][0]["core_metrics"]


def date_not_midnight(days):
    days[D2.isoformat()][0]["date"] = "2026-11-03T05:00:00Z"


@pytest.mark.parametrize("damage, message", [
    (date_of_another_day, "record 0: date '2026-11-05' is not the day asked for (2026-11-03)"),
    (tokens_as_words, "record 0 model_breakdown[0] tokens: 'input' must be an integer, got 'lots'"),
    (core_metrics_missing, "record 0: 'core_metrics' is missing"),
    (date_not_midnight, "record 0: date '2026-11-03T05:00:00Z' is not a UTC day"),
], ids=lambda v: getattr(v, "__name__", "msg"))
def test_structural_damage_fails_naming_endpoint_and_day_and_loads_nothing(damage, message, pipeline):
    days = hand_days()
    damage(days)
    with pytest.raises(PipelineStepFailed) as failure:
        run_fake(pipeline, days)
    text = str(failure.value)
    assert f"anthropic {CLAUDE_CODE_PATH}?starting_at=2026-11-03 (page 1) {message}" in text, text
    pipe = pipeline("claude_code", "raw_anthropic")
    for table in ("claude_code_activity", "claude_code_usage"):  # D1 was fine, but nothing of a failed run lands
        assert not table_exists(pipe, table) or rows(pipe, f"select count(*) from {table}") == [(0,)]


def test_an_http_error_names_the_day(pipeline):
    with pytest.raises(PipelineStepFailed) as failure:
        run_fake(pipeline, hand_days(), faults={3: 403})
    assert f"anthropic {CLAUDE_CODE_PATH}?starting_at=2026-11-04: HTTP 403" in str(failure.value)


# ------------------------------------------------------------------------------------------------ the demo

DEMO_DAYS = [dt.date(2026, 11, 5), dt.date(2026, 11, 6), dt.date(2026, 11, 7)]  # Thu, Fri (overnight agent), Sat


def telemetry_truth(world) -> tuple[dict, dict]:
    """From the demo's OpenTelemetry sessions: distinct sessions per (day, user); tokens and dollars per
    (day, user, model) from the `api_request` events that happened that day."""
    telemetry = DemoTelemetry(world)
    sessions: dict[tuple, set] = {}
    usage: dict[tuple, list] = {}
    for day in DEMO_DAYS:
        lo, hi = day_start_ms(day), day_start_ms(day) + DAY_MS
        for started in (day - dt.timedelta(days=1), day):
            for user_, events in telemetry.sessions(started):
                for e in events:
                    if lo <= e["time_ms"] < hi:
                        sessions.setdefault((day, user_.email), set()).add(e["attributes"]["session.id"])
        for e in telemetry.claude_code_requests(day):
            if e["name"] == "api_request":
                a = e["attributes"]
                acc = usage.setdefault((day, e["user_email"], a["model"]), [0, 0, 0, 0, Decimal(0)])
                for i, k in enumerate(("input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens")):
                    acc[i] += a[k]
                acc[4] += Decimal(repr(a["cost_usd"]))
    return {k: len(v) for k, v in sessions.items()}, usage


def test_the_demo_report_pages_and_matches_the_demo_telemetry(world, transport, pipeline):
    connection, session, scripted = transport("anthropic", passthrough=())
    pipe = pipeline("claude_code_demo", "raw_anthropic")
    pipe.run(anthropic_source(start_date=DEMO_DAYS[0].isoformat(),
                              end_date=(DEMO_DAYS[-1] + dt.timedelta(days=1)).isoformat(), lookback_days=0,
                              connection=connection, session=session, claude_code_page_size=5)
             .with_resources("claude_code_usage"))
    # every day was asked for, and the busy weekdays needed more than one page of 5
    asked = [c.params["starting_at"][0] for c in scripted.calls]
    assert sorted(set(asked)) == [d.isoformat() for d in DEMO_DAYS]
    assert all(asked.count(d.isoformat()) >= 2 for d in DEMO_DAYS[:2])
    assert len(scripted.calls) > len(DEMO_DAYS)

    sessions, usage = telemetry_truth(world)
    loaded_sessions = dict(((d, e), n) for d, e, n in rows(pipe, """
        select bucket_date, actor_email, num_sessions from claude_code_activity where actor_type = 'user_actor'"""))
    assert loaded_sessions == sessions
    loaded_usage = {(d, e, m): [i, o, r, c, usd] for d, e, m, i, o, r, c, usd in rows(pipe, """
        select bucket_date, actor_email, model, input_tokens, output_tokens, cache_read_tokens,
               cache_creation_tokens, estimated_cost_usd
        from claude_code_usage where actor_type = 'user_actor'""")}
    assert loaded_usage.keys() == usage.keys()
    for key, (i, o, r, c, usd) in usage.items():
        assert loaded_usage[key][:4] == [i, o, r, c], key
        assert abs(loaded_usage[key][4] - usd) <= Decimal("0.0000001"), key  # cents are sent to 1e-5
    # the CI key runs headless on weekdays: an API actor is served too, and nothing was refused
    assert rows(pipe, "select count(*) from claude_code_activity where actor_type = 'api_actor'")[0][0] >= 1
    assert rows(pipe, "select count(*) from claude_code_usage_quarantine") == [(0,)]


def test_the_demo_endpoint_speaks_the_documented_protocol(world):
    from ingestion.demo.server import AnthropicDemoAdapter

    session = make_session(AnthropicDemoAdapter(world, URL, KEY), URL)
    headers = {"x-api-key": KEY, "anthropic-version": "2023-06-01"}
    get = lambda **params: session.get(URL + CLAUDE_CODE_PATH, params=params, headers=headers)  # noqa: E731
    assert get(starting_at="2026-11-05T00:00:00Z").status_code == 400  # a day, not a timestamp
    assert get(starting_at="2026-11-05", limit=1001).status_code == 400
    seen, cursor = [], None
    while True:
        page = get(starting_at="2026-11-05", limit=3, **({"page": cursor} if cursor else {})).json()
        seen += page["data"]
        if not page["has_more"]:
            break
        cursor = page["next_page"]
    assert len(seen) == len(get(starting_at="2026-11-05", limit=1000).json()["data"]) > 3
    assert get(starting_at="2026-11-06", page=cursor).status_code == 400  # a cursor of another day
    assert get(starting_at="2026-11-20").json() == {"data": [], "has_more": False, "next_page": None}  # today
