"""The demo organisation's planted anomalies (ingestion/demo/scenarios.py).

Fast tests (no pipeline): each planted day has the scenario's properties, computed here from the generators' own
output (usage rows, telemetry records), independently of the generators' internals; the consumers derived from
that output (the cost report, the Claude Code analytics records, the telemetry files) stay consistent with it.

End to end (`e2e`): `python -m orchestration.run` over the last 90 days (a backfill, then the last two days one
daily partition at a time) into a temporary warehouse; it equals a full rebuild table for table; the anomaly mart
(marts.fct_cost_anomalies) finds every planted scenario (rule, entity, a period covering the planted day, team), and
the other findings of the 90 days are counted per rule, printed, and bounded, so a change that floods analysts with
findings fails.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from ingestion.demo.claude_code import DemoClaudeCodeAnalytics
from ingestion.demo.generator import DemoWorld
from ingestion.demo.scenarios import (CONTEXT_BLOAT, FORGOTTEN_AGENT, RUNAWAY_RETRIES, SILENT_MODEL_UPGRADE,
                                      planted_scenarios, scenario_days)
from ingestion.demo.telemetry import DemoTelemetry
from ingestion.org_directory import DEMO_ORG_DIRECTORY, load_org_directory

ROOT = Path(__file__).resolve().parent.parent
HOUR_MS, DAY_MS = 3_600_000, 86_400_000
EPOCH = dt.date(1970, 1, 1)
RUN_DAYS = 90
# two demo 'today's: the real one (what the e2e run uses) and a fixed Friday (the ingestion tests' demo today)
TODAYS = [dt.datetime.now(dt.timezone.utc).date(), dt.date(2026, 11, 20)]
# list prices, USD per million tokens (input, output, cache write 5m, cache write 1h, cache read), written out here
PRICES = {
    "claude-opus-4-1-20250805": (15.0, 75.0, 18.75, 30.0, 1.5),
    "claude-sonnet-4-5-20250929": (3.0, 15.0, 3.75, 6.0, 0.3),
    "claude-haiku-4-5-20251001": (1.0, 5.0, 1.25, 2.0, 0.1),
}
OPUS, SONNET = "claude-opus-4-1-20250805", "claude-sonnet-4-5-20250929"


def day_of(ms: int) -> dt.date:
    return EPOCH + dt.timedelta(days=ms // DAY_MS)


def last_days(today: dt.date, n: int = RUN_DAYS) -> list[dt.date]:
    return [today - dt.timedelta(days=i) for i in range(n, 0, -1)]


@pytest.fixture(scope="module", params=TODAYS, ids=lambda d: f"today={d}")
def demo(request):
    world = DemoWorld(load_org_directory(DEMO_ORG_DIRECTORY), seed=42, today=request.param)
    telemetry = DemoTelemetry(world)
    return world, telemetry, {s.name: s for s in planted_scenarios(world)}


def session_of(telemetry: DemoTelemetry, scenario) -> tuple:
    [(user, records)] = [(u, r) for u, r in telemetry.sessions(scenario.day)
                         if r[0]["attributes"]["session.id"] == scenario.entity_id]
    return user, records


def turn_costs(records) -> list[float]:
    """Cost per turn (prompt id), turns in the order of their first event."""
    costs: dict[str, float] = {}
    for r in records:
        if r["name"] in ("user_prompt", "api_request"):
            a = r["attributes"]
            cost = a["cost_usd"] if r["name"] == "api_request" else 0.0
            costs[a["prompt.id"]] = costs.get(a["prompt.id"], 0.0) + cost
    return list(costs.values())


def is_overnight_or_weekend(records) -> bool:
    start, end = records[0]["time_ms"], records[-1]["time_ms"]
    overnight = day_of(end) > day_of(start) or start % DAY_MS < 6 * HOUR_MS
    return overnight or day_of(start).weekday() >= 5 or day_of(end).weekday() >= 5


def near_identical_burst(records, tolerance: float) -> int:
    """The most answered requests within 10 minutes whose input tokens are within `tolerance` of each other."""
    requests = [r for r in records if r["name"] == "api_request"]
    best = 0
    for i, first in enumerate(requests):
        window = [r["attributes"]["input_tokens"] for r in requests[i:] if r["time_ms"] - first["time_ms"] <= 600_000]
        low = first["attributes"]["input_tokens"]
        best = max(best, sum(1 for v in window if low <= v <= low * (1 + tolerance)))
    return best


# ------------------------------------------------------------------------------------------------ the days


@pytest.mark.parametrize("today", [dt.date(2026, 11, 16) + dt.timedelta(days=i) for i in range(7)],
                         ids=lambda d: d.strftime("%a"))
def test_every_scenario_has_a_known_day_in_the_last_35_days_after_28_ordinary_ones(today):
    days = scenario_days(today)
    planted = {SILENT_MODEL_UPGRADE: days.model_upgrade, RUNAWAY_RETRIES: days.retry_storm,
               FORGOTTEN_AGENT: days.forgotten_agent, CONTEXT_BLOAT: days.context_bloat}
    first_of_run = today - dt.timedelta(days=RUN_DAYS)
    for name, day in planted.items():
        assert today - dt.timedelta(days=35) <= day < today, name
        assert (day - first_of_run).days >= 28, name
    assert [d.weekday() for d in planted.values()] == [1, 3, 4, 2]  # Tuesday, Thursday, Friday, Wednesday
    assert len(set(planted.values())) == 4
    # the forgotten agent's Sunday is before today too
    assert days.forgotten_agent + dt.timedelta(days=2) < today


def test_planted_scenarios_name_their_entities_as_the_mart_does(demo):
    world, telemetry, planted = demo
    assert set(planted) == {SILENT_MODEL_UPGRADE, RUNAWAY_RETRIES, FORGOTTEN_AGENT, CONTEXT_BLOAT}
    teams = {p.email: p.team for p in world.org.people}
    for name in (RUNAWAY_RETRIES, FORGOTTEN_AGENT, CONTEXT_BLOAT):
        s = planted[name]
        user, records = session_of(telemetry, s)
        assert s.entity_type == "session" and s.person_email == user.email
        assert s.team_id == teams[user.email] and s.day == day_of(records[0]["time_ms"])
    # three different people on three different teams
    assert len({planted[n].person_email for n in (RUNAWAY_RETRIES, FORGOTTEN_AGENT, CONTEXT_BLOAT)}) == 3
    upgrade = planted[SILENT_MODEL_UPGRADE]
    [key] = [a for a in world.org.accounts("anthropic", "api_key") if a.id == upgrade.entity_id]
    assert key.project and upgrade.entity_type == "api_key"
    assert upgrade.team_id == next(p.team for p in world.org.projects if p.id == key.project)


# --------------------------------------------------------------------------------------- forgotten agent


def test_the_forgotten_friday_agent_runs_from_friday_evening_into_sunday(demo):
    world, telemetry, planted = demo
    s = planted[FORGOTTEN_AGENT]
    user, records = session_of(telemetry, s)
    start, end = records[0]["time_ms"], records[-1]["time_ms"]
    assert day_of(start).weekday() == 4 and start % DAY_MS >= 17 * HOUR_MS  # Friday evening
    assert day_of(end) == s.day + dt.timedelta(days=2)  # Sunday
    assert (end - start) / HOUR_MS > 20
    requests = [r["attributes"] for r in records if r["name"] == "api_request"]
    assert len(requests) > 300 and sum(a["cost_usd"] for a in requests) > 50
    assert user.email in world.power_users
    # every hour of the Saturday has requests: it really kept running
    saturday = s.day + dt.timedelta(days=1)
    hours = {(r["time_ms"] % DAY_MS) // HOUR_MS for r in records if day_of(r["time_ms"]) == saturday}
    assert hours == set(range(24))


def test_no_other_session_runs_overnight_or_at_a_weekend_for_more_than_4_hours(demo):
    """The rule's default (overnight or weekend, > 4 h) matches the planted session only: on every other Friday the
    same person's late session stays under 4 hours."""
    world, telemetry, planted = demo
    s = planted[FORGOTTEN_AGENT]
    long_ones = []
    fridays = 0
    for day in last_days(world.today):
        for user, records in telemetry.sessions(day):
            hours = (records[-1]["time_ms"] - records[0]["time_ms"]) / HOUR_MS
            if day.weekday() == 4 and user.email == s.person_email and records[0]["time_ms"] % DAY_MS >= 20 * HOUR_MS:
                fridays += 1
                assert 2 < hours < 4 and day_of(records[-1]["time_ms"]) > day, day  # late, into Saturday, short
            if is_overnight_or_weekend(records) and hours > 4:
                long_ones.append(records[0]["attributes"]["session.id"])
    assert long_ones == [s.entity_id]
    assert fridays >= 11


def test_the_forgotten_agent_is_in_fridays_file_and_in_the_analytics_of_each_day_it_touches(demo):
    world, telemetry, planted = demo
    s = planted[FORGOTTEN_AGENT]
    _, records = session_of(telemetry, s)
    # the OTLP file of Friday holds every record of it, Sunday's included
    lines = [json.loads(line) for line in telemetry.render_claude_code(s.day).splitlines()]
    ids = [next(a["value"]["stringValue"] for a in log["attributes"] if a["key"] == "session.id")
           for line in lines for rl in line["resourceLogs"] for sl in rl["scopeLogs"] for log in sl["logRecords"]]
    assert ids.count(s.entity_id) == len(records)
    # the Claude Code analytics record of the person, each day: every api_request of that day, whichever session
    analytics = DemoClaudeCodeAnalytics(world, telemetry)
    for day in (s.day, s.day + dt.timedelta(days=1), s.day + dt.timedelta(days=2)):
        lo, hi = (day - EPOCH).days * DAY_MS, (day - EPOCH).days * DAY_MS + DAY_MS
        mine = [r for back in range(3) for u, rs in telemetry.sessions(day - dt.timedelta(days=back))
                if u.email == s.person_email for r in rs if lo <= r["time_ms"] < hi]
        assert any(r["attributes"]["session.id"] == s.entity_id for r in mine)
        [record] = [r for r in analytics.records(day) if r["actor"].get("email_address") == s.person_email]
        assert record["core_metrics"]["num_sessions"] == len({r["attributes"]["session.id"] for r in mine})
        opus = [r["attributes"] for r in mine if r["name"] == "api_request" and r["attributes"]["model"] == OPUS]
        [breakdown] = [m for m in record["model_breakdown"] if m["model"] == OPUS]
        assert breakdown["tokens"]["cache_read"] == sum(a["cache_read_tokens"] for a in opus)
        assert abs(Decimal(repr(breakdown["estimated_cost"]["amount"]))
                   - sum(Decimal(repr(a["cost_usd"])) for a in opus) * 100) < Decimal("0.0001")
        # and the telemetry's own per-day view agrees
        assert sorted(r["time_ms"] for r in telemetry.claude_code_requests(day) if r["user_email"] == s.person_email) \
            == sorted(r["time_ms"] for r in mine if r["name"] in ("api_request", "api_error"))


# ------------------------------------------------------------------------------------ silent model upgrade


def spend(row: dict) -> float:
    p = PRICES[row["model"]]
    cache = row["cache_creation"]
    return (row["uncached_input_tokens"] * p[0] + row["output_tokens"] * p[1]
            + cache["ephemeral_5m_input_tokens"] * p[2] + cache["ephemeral_1h_input_tokens"] * p[3]
            + row["cache_read_input_tokens"] * p[4]) / 1e6


def test_the_upgraded_key_moves_from_sonnet_to_opus_on_the_day_and_its_spend_jumps(demo):
    world, _, planted = demo
    s = planted[SILENT_MODEL_UPGRADE]
    by_day = {}
    for day in last_days(world.today):
        rows = [r for r in world.anthropic_usage(day) if r["api_key_id"] == s.entity_id]
        total = sum(spend(r) for r in rows)
        opus = sum(spend(r) for r in rows if r["model"] == OPUS)
        sonnet_tokens = sum(r["uncached_input_tokens"] + r["output_tokens"] for r in rows if r["model"] == SONNET)
        opus_tokens = sum(r["uncached_input_tokens"] + r["output_tokens"] for r in rows if r["model"] == OPUS)
        by_day[day] = (total, opus / total, sonnet_tokens, opus_tokens)
    before = [d for d in by_day if d < s.day]
    after = [d for d in by_day if d >= s.day]
    assert len(before) >= 28 and after
    # the key's Sonnet traffic is all Opus from the day on: opus share of its spend 0% -> ~90% (Haiku stays)
    assert all(by_day[d][1] == 0 and by_day[d][3] == 0 and by_day[d][2] > 0 for d in before)
    assert all(by_day[d][1] > 0.8 and by_day[d][2] == 0 and by_day[d][3] > 0 for d in after)
    # its spend jumps several-fold against the 28 days before
    baseline = statistics.median(by_day[d][0] for d in before[-28:])
    assert by_day[s.day][0] > 3 * baseline
    # week over week (ISO weeks), Opus's share of the key's spend jumps by far more than 30 points
    week = s.day - dt.timedelta(days=s.day.weekday())

    def share(first: dt.date) -> float:
        days = [first + dt.timedelta(days=i) for i in range(7)]
        return sum(by_day[d][0] * by_day[d][1] for d in days) / sum(by_day[d][0] for d in days)

    assert share(week - dt.timedelta(days=7)) == 0 and share(week) > 0.7


def test_the_cost_report_bills_the_upgraded_usage(demo):
    """Costs derive from usage: the upgraded key's workspace (its project's, no other key uses it) is billed for
    Opus at Opus prices from the day on, and nothing for Sonnet."""
    world, _, planted = demo
    s = planted[SILENT_MODEL_UPGRADE]
    for day in (s.day - dt.timedelta(days=1), s.day, s.day + dt.timedelta(days=3)):
        rows = [r for r in world.anthropic_usage(day) if r["api_key_id"] == s.entity_id]
        [workspace] = {r["workspace_id"] for r in rows}
        assert {r["api_key_id"] for r in world.anthropic_usage(day) if r["workspace_id"] == workspace} == {s.entity_id}
        billed = {}
        for c in world.anthropic_costs(day):
            if c["workspace_id"] == workspace and c["cost_type"] == "tokens":
                billed[c["model"]] = billed.get(c["model"], Decimal(0)) + Decimal(c["amount"]) / 100
        expected = {}
        for r in rows:
            expected[r["model"]] = expected.get(r["model"], 0.0) + spend(r)
        assert set(billed) == set(expected)
        for model, usd in expected.items():
            assert abs(float(billed[model]) - usd) < 1e-6, (day, model)
        assert (OPUS in billed) == (day >= s.day) and (SONNET in billed) == (day < s.day)


# ------------------------------------------------------------------------------------------- context bloat


def test_the_context_bloat_session_grows_every_turn_until_the_last_costs_8x_the_first(demo):
    world, telemetry, planted = demo
    s = planted[CONTEXT_BLOAT]
    _, records = session_of(telemetry, s)
    requests = [r["attributes"] for r in records if r["name"] == "api_request"]
    assert not any(a["query_source"] == "compact" for a in requests)  # nobody compacts
    prompts = [a["input_tokens"] + a["cache_read_tokens"] + a["cache_creation_tokens"] for a in requests]
    assert all(b > a for a, b in zip(prompts, prompts[1:]))  # the context grows with every request
    assert prompts[-1] > 400_000
    costs = turn_costs(records)
    assert len(costs) >= 10 and all(b > a for a, b in zip(costs[1:], costs[2:]))  # and so does each turn's cost
    assert costs[-1] >= 8 * costs[0]


def test_no_other_session_has_a_late_turn_costing_5x_its_first(demo):
    world, telemetry, planted = demo
    found = []
    for day in last_days(world.today):
        for _, records in telemetry.sessions(day):
            costs = turn_costs(records)
            if len(costs) > 1 and max(costs[1:]) >= 5 * costs[0]:
                found.append(records[0]["attributes"]["session.id"])
    assert found == [planted[CONTEXT_BLOAT].entity_id]


# ----------------------------------------------------------------------------------------- runaway retries


def test_the_runaway_workflow_fires_a_burst_of_near_identical_requests_and_a_run_of_retries(demo):
    world, telemetry, planted = demo
    s = planted[RUNAWAY_RETRIES]
    _, records = session_of(telemetry, s)
    assert near_identical_burst(records, 0.02) >= 100
    errors = [r["attributes"] for r in records if r["name"] == "api_error"]
    assert len(errors) >= 5 and [e["attempt"] for e in errors] == list(range(1, len(errors) + 1))
    assert {e["status_code"] for e in errors} == {429}
    # the whole prompt (cached context included) is near-identical too, whichever input a rule compares
    prompts = [r["attributes"]["input_tokens"] + r["attributes"]["cache_read_tokens"]
               + r["attributes"]["cache_creation_tokens"] for r in records if r["name"] == "api_request"]
    assert max(prompts) <= 1.02 * min(prompts)


def test_no_other_session_has_a_retry_burst_or_five_error_retries(demo):
    world, telemetry, planted = demo
    found = set()
    for day in last_days(world.today):
        for _, records in telemetry.sessions(day):
            errors = sum(1 for r in records if r["name"] == "api_error")
            if errors >= 5 or near_identical_burst(records, 0.05) >= 10:
                found.add(records[0]["attributes"]["session.id"])
    assert found == {planted[RUNAWAY_RETRIES].entity_id}


# ---------------------------------------------------------------------------------------- deterministic


def test_each_day_is_the_same_whichever_order_or_window_asks(demo):
    world, telemetry, planted = demo
    days = sorted({s.day for s in planted.values()} | {s.day + dt.timedelta(days=d) for s in planted.values()
                                                          for d in (-1, 1, 2)})
    days = [d for d in days if d < world.today]
    again = DemoWorld(load_org_directory(DEMO_ORG_DIRECTORY), seed=42, today=world.today)
    other = DemoTelemetry(again)
    for day in reversed(days):
        assert [(u.email, r) for u, r in other.sessions(day)] == [(u.email, r) for u, r in telemetry.sessions(day)]
        assert again.anthropic_costs(day) == world.anthropic_costs(day)
        assert other.claude_code_requests(day) == telemetry.claude_code_requests(day)


# ------------------------------------------------------------------------------------------- end to end


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("planted")
    home = tmp / "dagster_home"
    home.mkdir()
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    return {
        **os.environ,
        "DAGSTER_HOME": str(home),
        "WAREHOUSE_PATH": str(tmp / "warehouse.duckdb"),
        "FINOPS_PIPELINES_DIR": str(tmp / "pipelines"),
        "FINOPS_MODE": "demo",
        # one today for every run and for the expected world below, whichever side of midnight UTC each runs on
        "FINOPS_TODAY": dt.datetime.now(dt.timezone.utc).date().isoformat(),
        "FINOPS_EXPORT_DIR": str(tmp / "exports"),
        # dagster-dbt's run folders (and the saved parse each build starts from) here, not in the project's target/
        "DBT_TARGET_PATH": str(tmp / "dbt_target"),
    }


DAILY_RUNS = 2  # the last days come one partition at a time, as the daily schedule runs them


@pytest.fixture(scope="module")
def run_90_days(env):
    """The last 90 days as a backfill of the first 88 (`make run START=.. END=..`) and then one daily partition at
    a time for the last two, so the incremental models (the ledger, the anomaly rules, the recommendations) build
    their latest days on top of earlier runs, as in production; returns the demo world as of the run's today."""
    today = dt.date.fromisoformat(env["FINOPS_TODAY"])
    first, last = today - dt.timedelta(days=RUN_DAYS), today - dt.timedelta(days=1)
    windows = [(first, last - dt.timedelta(days=DAILY_RUNS))]
    windows += [(day, day) for day in (last - dt.timedelta(days=n) for n in range(DAILY_RUNS - 1, -1, -1))]
    for start, end in windows:
        result = subprocess.run([sys.executable, "-m", "orchestration.run", "--start", start.isoformat(),
                                 "--end", end.isoformat()],
                                cwd=ROOT, env=env, capture_output=True, text=True, timeout=3600)
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return DemoWorld(load_org_directory(DEMO_ORG_DIRECTORY), seed=42, today=today)


@pytest.mark.e2e
def test_each_build_starts_from_the_previous_builds_parse(env, run_90_days):
    """The backfill's dbt build finds no saved parse in its (empty) target folder and parses the project; the daily
    builds after it start from the parse it left and parse nothing again (dbt's partial parsing: ~5 s of every
    build otherwise)."""
    logs = sorted(Path(env["DBT_TARGET_PATH"]).glob("ai_finops_dbt_assets-*/dbt.log"), key=lambda p: p.stat().st_mtime)
    assert len(logs) == 1 + DAILY_RUNS
    backfill, *daily = [log.read_text() for log in logs]
    assert "Unable to do partial parsing" in backfill
    for log in daily:
        assert "Unable to do partial parsing" not in log
        assert "Partial parsing enabled, no changes found, skipping parsing" in log


@pytest.mark.e2e
def test_dbt_events_are_stored_while_dbt_builds_and_each_mart_check_follows_its_mart(env, run_90_days):
    """The last daily build's models outside the marts are recorded in Dagster while dbt is still building (not all
    after it ends), and every check on a mart is tied to the mart's materialization of that same run (the marts'
    events wait for their figures; a check stored before its mart would point at yesterday's)."""
    from dagster import DagsterEventType, DagsterInstance

    newest = max(Path(env["DBT_TARGET_PATH"]).glob("ai_finops_dbt_assets-*/dbt.log"), key=lambda p: p.stat().st_mtime)
    stamps = [json.loads(line)["info"]["ts"] for line in newest.read_text().splitlines() if line.startswith("{")]
    dbt_ended = dt.datetime.fromisoformat(stamps[-1].replace("Z", "+00:00")).timestamp()
    with DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
        run = instance.get_runs(limit=1)[0]
        records = [r for r in instance.all_logs(run.run_id) if r.dagster_event
                   and r.dagster_event.step_key == "ai_finops_dbt_assets"]
    staging = [r.timestamp for r in records if r.dagster_event.event_type == DagsterEventType.ASSET_MATERIALIZATION
               and r.dagster_event.asset_key.path[0] == "staging"]
    assert staging and min(staging) < dbt_ended
    evaluations = [r.dagster_event.event_specific_data for r in records
                   if r.dagster_event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION]
    on_marts = [e for e in evaluations if e.asset_key.path[0] == "marts"]
    assert len(on_marts) > 20
    for evaluation in on_marts:
        target = evaluation.target_materialization_data
        assert target is not None and target.run_id == run.run_id, evaluation.asset_check_key


def tables(warehouse: Path, schemas: tuple[str, ...]) -> dict[str, list[tuple]]:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        names = con.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            f"where table_type = 'BASE TABLE' and table_schema in {schemas!r} order by 1").fetchall()
        return {name: con.execute(f"select * from {name} order by all").fetchall() for (name,) in names}
    finally:
        con.close()


@pytest.mark.e2e
def test_daily_runs_equal_a_full_rebuild(env, run_90_days, tmp_path):
    """The warehouse the backfill and the daily partitions built holds exactly what one `dbt run --full-refresh`
    over the same raw data builds: every mart and intermediate table, row for row (an incremental model that cut a
    baseline short, missed a period or kept a stale one differs). The backfill built the large facts a month at a
    time (macros/full_build_batches.sql; the 90 days span three or four months); the rebuild builds each in one
    statement (full_build_batch_months: 0), so a batch that lost or doubled a row, or split a week, differs too."""
    copy = tmp_path / "rebuilt.duckdb"
    shutil.copy(env["WAREHOUSE_PATH"], copy)
    result = subprocess.run(
        [str(Path(sys.executable).parent / "dbt"), "run", "--full-refresh", "--profiles-dir", ".", "--quiet",
         "--vars", "{full_build_batch_months: 0}",
         "--target-path", str(tmp_path / "target")],  # not the project's target/: other test files read it
        cwd=ROOT / "dbt_project", capture_output=True, text=True, timeout=1200,
        env={**env, "WAREHOUSE_PATH": str(copy)})
    assert result.returncode == 0, result.stdout[-4000:]
    schemas = ("marts", "intermediate")
    incremental, rebuilt = tables(Path(env["WAREHOUSE_PATH"]), schemas), tables(copy, schemas)
    assert "marts.fct_cost_anomalies" in incremental and "intermediate.int_anomalies__developer_daily_spike" in incremental
    assert incremental["marts.fct_cost_anomalies"], "no findings: the comparison would prove little"
    assert set(incremental) == set(rebuilt)
    differing = {name: (len(rows), len(rebuilt[name])) for name, rows in incremental.items() if rows != rebuilt[name]}
    assert not differing, differing


def findings(env) -> list[dict]:
    con = duckdb.connect(env["WAREHOUSE_PATH"], read_only=True)
    try:
        cursor = con.execute("""
            select rule, entity_type, entity_id, team_id, period_type, period_start, period_end, severity,
                   impact_usd, sentence
            from marts.fct_cost_anomalies order by rule, period_start, entity_id""")
        columns = [c[0] for c in cursor.description]
        return [dict(zip(columns, row)) for row in cursor.fetchall()]
    finally:
        con.close()


def as_date(value) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def matches(finding: dict, scenario) -> bool:
    """The finding is the planted scenario's: its rule, its entity (by id, or an API key's name), a period that
    covers the planted day."""
    return (finding["rule"] == scenario.rule
            and finding["entity_id"] in (scenario.entity_id, *scenario.entity_aliases)
            and as_date(finding["period_start"]) <= scenario.day
            <= as_date(finding["period_end"] or finding["period_start"]))


def on_planted_entity(finding: dict, scenarios) -> bool:
    """Another finding the scenario explains (its `related_entities`, or their parts such as '<key>/<model>' or
    '<email>/claude_code', between its day and `effects_until`): expensive_session on the forgotten agent's
    session, new_model on the upgraded key, verbose_prompt on the person of a planted session, the upgraded key's
    team spending more for the 28 days its baselines take to catch up. A consequence, not noise."""
    entity = finding["entity_id"] or ""
    start = as_date(finding["period_start"])
    end = as_date(finding["period_end"] or finding["period_start"])
    return any(start <= (s.effects_until or s.day) and s.day <= end
               and any(entity == e or entity.startswith(f"{e}/") for e in s.related_entities)
               for s in scenarios)


@pytest.mark.e2e
def test_every_planted_scenario_is_found(env, run_90_days):
    rows = findings(env)
    scenarios = planted_scenarios(run_90_days)
    assert len(scenarios) == 4
    missing = []
    for s in scenarios:
        found = [f for f in rows if matches(f, s)]
        print(f"{s.name}: {len(found)} finding(s) of rule {s.rule} on {s.entity_type} {s.entity_id} covering {s.day}")
        for f in found:
            print(f"    {f['period_start']}..{f['period_end']} {f['severity']}: {f['sentence']}")
        if not found:
            near = [f for f in rows if f["rule"] == s.rule or f["entity_id"] in (s.entity_id, *s.entity_aliases)]
            missing.append((s.name, s.rule, s.entity_id, str(s.day),
                            [(f["rule"], f["entity_id"], str(f["period_start"]), str(f["period_end"])) for f in near]))
            continue
        assert all(f["team_id"] == s.team_id for f in found), (s.name, [f["team_id"] for f in found])
    assert not missing, missing


# What the 90 demo days produce besides the planted findings, measured on three runs (demo 'today' 2026-11-19,
# 11-24 and 11-29; the window and the planted days move with today): 18 to 23 findings in all, most of them the
# planted ones and their consequences (the upgraded key's team above its baseline for a few weeks, the sessions'
# expensive_session and new_model findings); 'other' findings (explained by no planted scenario) 2, 3 and 2 -
# developer_daily_spike 1 each time, verbose_prompt 1 or 2. The session rules (forgotten_agent, context_bloat,
# retry_loop, expensive_session) fire on planted sessions only. The bounds leave room for the window moving day by
# day; a rule or a change that floods analysts fails them.
OTHER_BOUND_PER_RULE = 5
OTHER_BOUND_SESSION_RULES = 1  # the generator plants no other session anomaly (see the tests above)
SESSION_RULES = {"forgotten_agent", "context_bloat", "retry_loop", "expensive_session"}
TOTAL_OTHER_BOUND = 10
TOTAL_BOUND = 45


@pytest.mark.e2e
def test_other_findings_over_the_90_days_stay_few(env, run_90_days, capsys):
    rows = findings(env)
    scenarios = planted_scenarios(run_90_days)
    counts: dict[str, dict[str, int]] = {}
    others = []
    for f in rows:
        kind = ("planted" if any(matches(f, s) for s in scenarios)
                else "on_planted_entity" if on_planted_entity(f, scenarios) else "other")
        counts.setdefault(f["rule"], {"planted": 0, "on_planted_entity": 0, "other": 0})[kind] += 1
        if kind == "other":
            others.append(f"{f['rule']} {f['period_start']}: {f['sentence']}")
    report = {"today": str(run_90_days.today), "days": RUN_DAYS, "findings": len(rows), "per_rule": counts,
              "other_total": sum(c["other"] for c in counts.values()), "others": others}
    bound = {rule: OTHER_BOUND_SESSION_RULES if rule in SESSION_RULES else OTHER_BOUND_PER_RULE for rule in counts}
    lines = [f"findings over the last {RUN_DAYS} days (today {run_90_days.today}), per rule: "
             "planted / on a planted entity / other (bound)"]
    lines += [f"    {rule:24s} {c['planted']:3d} {c['on_planted_entity']:3d} {c['other']:4d}  ({bound[rule]})"
              for rule, c in sorted(counts.items())]
    lines += [f"    {len(rows)} findings in all (bound {TOTAL_BOUND}), {report['other_total']} other "
              f"(bound {TOTAL_OTHER_BOUND}):"] + [f"      {o}" for o in others]
    with capsys.disabled():  # the measured counts in the test output, whatever the verbosity
        print("\n" + "\n".join(lines))
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    (artifacts / "planted_anomalies_counts.json").write_text(json.dumps(report, indent=2, default=str))
    over = {rule: c["other"] for rule, c in counts.items() if c["other"] > bound[rule]}
    assert not over, f"rules firing more than their bound: {over}; measured {report}"
    assert report["other_total"] <= TOTAL_OTHER_BOUND, report
    assert len(rows) <= TOTAL_BOUND, report
