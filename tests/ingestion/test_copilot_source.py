"""The GitHub Copilot source against the demo Copilot organisation's API, through the real client, with scripted faults.

Ground truth is the demo generator's own records for the same days (`DemoCopilotOrg.user_records` /
`organization_record` / `premium_usage_items` / `premium_usage` / `billing_usage` / `seat_records`), summed here in
plain Python, never through the source's parsing code.
"""

from __future__ import annotations

import copy
import datetime as dt
import gzip
import hashlib
import json
import time
from decimal import Decimal
from typing import Any, Callable, Optional

import pytest
import requests
from dlt.pipeline.exceptions import PipelineStepFailed

from ingestion import settings
from ingestion.copilot import (
    METRIC_COUNTS, USAGE_METRICS_SCHEMA, copilot_source, parse_report_file, rate_limit_wait, report_rows,
    respect_rate_limits, users_report_table,
)
from ingestion._common import Issues, RowKeys, to_table
from ingestion.demo.copilot import DemoCopilotOrg
from ingestion.demo.copilot_server import USERS_PER_FILE, CopilotDemoAdapter
from ingestion.demo.server import DEMO_API_KEY
from ingestion.http import MalformedResponseError, make_session
from tests.conftest import TODAY, damaged_gzip, query, recorded_provider, table_exists

URL = "https://copilot.test"
ORG = "northwind"
SEATS = f"/orgs/{ORG}/copilot/billing/seats"
ORG_REPORT = f"/orgs/{ORG}/copilot/metrics/reports/organization-1-day"
USERS_REPORT = f"/orgs/{ORG}/copilot/metrics/reports/users-1-day"
PREMIUM = f"/organizations/{ORG}/settings/billing/premium_request/usage"
USAGE = f"/organizations/{ORG}/settings/billing/usage"
DOWNLOADS = "/_reports/"
DAY = dt.date(2026, 11, 10)  # a Tuesday
START, END = DAY, DAY + dt.timedelta(days=1)
TABLES = ("seats", "usage_metrics", "premium_requests", "billing_usage")
QUARANTINES = tuple(f"{t}_quarantine" for t in TABLES)


@pytest.fixture(scope="session")
def org(world) -> DemoCopilotOrg:
    return DemoCopilotOrg(world)


@pytest.fixture
def copilot(org):
    def build(faults=None, tamper=None, api_key: Optional[str] = DEMO_API_KEY):
        return recorded_provider("copilot", URL, CopilotDemoAdapter(org, URL), faults, tamper, api_key)

    return build


def run(copilot, pipeline, faults=None, tamper=None, start=START, end=END, resources=(), api_key=DEMO_API_KEY,
        **kwargs):
    connection, session, recorder = copilot(faults, tamper, api_key)
    pipe = pipeline("copilot", "raw_copilot")
    source = copilot_source(start_date=start.isoformat(), end_date=end.isoformat(), lookback_days=0,
                            organization=ORG, connection=connection, session=session, **kwargs)
    pipe.run(source.with_resources(*resources) if resources else source)
    return pipe, recorder


def days(start=START, end=END):
    return [start + dt.timedelta(days=i) for i in range((end - start).days)]


def dec(value) -> Decimal:
    return Decimal(str(value))


def truth(org: DemoCopilotOrg, start=START, end=END) -> dict[str, Any]:
    users = [r for d in days(start, end) for r in org.user_records(d)]
    orgs = [org.organization_record(d) for d in days(start, end)]
    premium_users = [i for d in days(start, end) for i in org.premium_usage_items(d)]
    premium_org = [i for d in days(start, end) for i in org.premium_usage(d)]
    usage = [i for d in days(start, end) for i in org.billing_usage(d)]
    return {
        "user_records": len(users),
        "user_metrics": {m: sum(r[m] for r in users) for m in METRIC_COUNTS},
        "org_metrics": {m: sum(r[m] for r in orgs) for m in METRIC_COUNTS},
        "daily_active_users": sum(r["daily_active_users"] for r in orgs),
        "premium_user_rows": len(premium_users),
        "premium_user": [sum(dec(i[k]) for i in premium_users) for k in ("grossQuantity", "grossAmount",
                                                                         "discountAmount", "netAmount")],
        "premium_org": [sum(dec(i[k]) for i in premium_org) for k in ("grossQuantity", "grossAmount",
                                                                      "discountAmount", "netAmount")],
        "usage_rows": len(usage),
        "usage": [sum(dec(i[k]) for i in usage) for k in ("quantity", "grossAmount", "discountAmount", "netAmount")],
    }


def loaded(pipe) -> dict[str, Any]:
    metrics = ", ".join(f"sum({m})" for m in METRIC_COUNTS)
    user = query(pipe, f"select count(*), {metrics} from usage_metrics where scope = 'user' and breakdown = 'total'")[0]
    orgs = query(pipe, f"select sum(daily_active_users), {metrics} from usage_metrics "
                       "where scope = 'organization' and breakdown = 'total'")[0]
    sums = "sum(gross_quantity), sum(gross_amount), sum(discount_amount), sum(net_amount)"
    premium_user = query(pipe, f"select count(*), {sums} from premium_requests where scope = 'user'")[0]
    premium_org = query(pipe, f"select {sums} from premium_requests where scope = 'organization'")[0]
    usage = query(pipe, "select count(*), sum(quantity), sum(gross_amount), sum(discount_amount), sum(net_amount) "
                        "from billing_usage")[0]
    return {
        "user_records": user[0],
        "user_metrics": dict(zip(METRIC_COUNTS, user[1:])),
        "org_metrics": dict(zip(METRIC_COUNTS, orgs[1:])),
        "daily_active_users": orgs[0],
        "premium_user_rows": premium_user[0],
        "premium_user": [Decimal(v or 0) for v in premium_user[1:]],
        "premium_org": [Decimal(v or 0) for v in premium_org],
        "usage_rows": usage[0],
        "usage": [Decimal(v or 0) for v in usage[1:]],
    }


def quarantine(pipe, table):
    if not table_exists(pipe, f"{table}_quarantine"):
        return []
    return query(pipe, f"select action, reason, record from {table}_quarantine order by action, reason")


def nothing_loaded(pipe) -> bool:
    return all(not table_exists(pipe, t) or query(pipe, f"select count(*) from {t}")[0][0] == 0
               for t in (*TABLES, *QUARANTINES))


def edit_json(response: requests.Response, change: Callable[[Any], Any]) -> None:
    """`change(body)` edits the JSON body in place."""
    body = json.loads(response._content)
    change(body)
    response._content = json.dumps(body).encode()


def edit_ndjson(response: requests.Response, change: Callable[[list[dict]], Any]) -> None:
    """`change(records)` edits an NDJSON file's records in place."""
    records = [json.loads(line) for line in response._content.decode().splitlines() if line.strip()]
    change(records)
    response._content = "".join(json.dumps(r) + "\n" for r in records).encode()


def users_file(n: int):
    return lambda call: call.path.endswith(f"/users-{n}.ndjson")


# ------------------------------------------------------------------------------------------------ happy path

def test_pages_and_downloads_through_the_window_and_lands_exactly_the_generators_numbers(org, copilot, pipeline):
    start, end = DAY - dt.timedelta(days=1), DAY + dt.timedelta(days=1)  # Monday and Tuesday
    pipe, recorder = run(copilot, pipeline, start=start, end=end, per_page=10)
    expected = truth(org, start, end)
    assert loaded(pipe) == expected
    assert expected["user_metrics"] == expected["org_metrics"]  # the demo's two reports agree with each other
    assert expected["premium_user"] == expected["premium_org"]
    assert expected["premium_user"][0] > 0 and expected["premium_user"][3] >= 0
    # seats: every seat, paged 10 a page along the Link header
    seats = org.seat_records()
    assert [c.params.get("page", ["1"])[0] for c in recorder.to(SEATS)] == [
        str(p) for p in range(1, -(-len(seats) // 10) + 1)]
    assert {c.params["per_page"][0] for c in recorder.to(SEATS)} == {"10"}
    assert query(pipe, "select count(*), count(distinct assignee_login) from seats") == [(len(seats), len(seats))]
    # the user report's breakdowns each add up to the record's totals
    per_breakdown = query(pipe, """
        select breakdown, sum(code_generation_activity_count), sum(loc_added_sum) from usage_metrics
        where scope = 'user' and breakdown in ('total', 'ide', 'feature', 'language_model', 'model_feature')
        group by 1""")
    assert len({(g, loc) for _, g, loc in per_breakdown}) == 1 and len(per_breakdown) == 5
    # billing usage by sku as the generator bills it
    by_sku = dict(query(pipe, "select sku, sum(gross_amount) from billing_usage group by 1"))
    want: dict[str, Decimal] = {}
    for d in days(start, end):
        for item in org.billing_usage(d):
            want[item["sku"]] = want.get(item["sku"], Decimal(0)) + dec(item["grossAmount"])
    assert by_sku == want and {"Copilot Business", "Copilot Enterprise", "Copilot Premium Request"} <= set(want)


def test_idle_seats_and_seat_fields_are_kept(org, copilot, pipeline, monkeypatch):
    import ingestion._common as common

    monkeypatch.setattr(common, "today_utc", lambda: TODAY)
    pipe, _ = run(copilot, pipeline, resources=("seats",))
    idle = query(pipe, f"""
        select assignee_login from seats
        where last_activity_at is null or last_activity_at < timestamp '{TODAY - dt.timedelta(days=30)}'
        order by 1""")
    assert [login for (login,) in idle] == sorted(org.idle_logins)
    plans = dict(query(pipe, "select plan_type, count(*) from seats group by 1"))
    assert plans == {"business": sum(s.plan == "business" for s in org.seats),
                     "enterprise": sum(s.plan == "enterprise" for s in org.seats)}
    assert query(pipe, "select distinct snapshot_date from seats") == [(TODAY,)]
    assert query(pipe, "select count(*) from seats where pending_cancellation_date is not null") == [(1,)]
    editor = query(pipe, "select last_activity_editor from seats where last_activity_editor is not null limit 1")
    assert editor[0][0].count("/") == 3  # "vscode/1.105.1/copilot-chat/0.32.4"


def test_running_the_same_window_again_adds_nothing(org, copilot, pipeline):
    pipe, _ = run(copilot, pipeline)
    first = loaded(pipe)
    counts = [query(pipe, f"select count(*) from {t}")[0][0] for t in TABLES]
    run(copilot, pipeline)
    assert loaded(pipe) == first == truth(org)
    assert [query(pipe, f"select count(*) from {t}")[0][0] for t in TABLES] == counts


def premium_user_loaded(pipe) -> tuple[int, list[Decimal]]:
    row = query(pipe, "select count(*), sum(gross_quantity), sum(gross_amount), sum(discount_amount), "
                      "sum(net_amount) from premium_requests where scope = 'user'")[0]
    return row[0], [Decimal(v or 0) for v in row[1:]]


def per_user_calls(recorder) -> list[str]:
    return [c.params["user"][0] for c in recorder.to(PREMIUM) if "user" in c.params]


def test_a_restated_day_with_an_unchanged_organization_report_is_not_asked_again_per_user(org, copilot, pipeline):
    seat_holders = sorted(s.login for s in org.seats)
    # the first load of Monday asks every seat holder; Tuesday is new in the second run, Monday is its lookback
    pipe, first = run(copilot, pipeline, start=DAY - dt.timedelta(days=1), end=DAY, resources=("premium_requests",))
    assert sorted(per_user_calls(first)) == seat_holders
    pipe, second = run(copilot, pipeline, start=DAY - dt.timedelta(days=1), end=DAY + dt.timedelta(days=1),
                       resources=("premium_requests",))
    asked_days = {c.params["day"][0] for c in second.to(PREMIUM) if "user" in c.params}
    assert asked_days == {"10"} and sorted(per_user_calls(second)) == seat_holders  # Tuesday only
    assert len(second.to(PREMIUM)) == 2 + len(seat_holders)  # both days' organization reports are still read
    expected = truth(org, DAY - dt.timedelta(days=1), DAY + dt.timedelta(days=1))
    assert premium_user_loaded(pipe) == (expected["premium_user_rows"], expected["premium_user"])

    # GitHub restates Tuesday's organization report (one more request on its first item): asked again per user
    def restate(call, response):
        if call.path == PREMIUM and "user" not in call.params and call.params["day"] == ["10"]:
            edit_json(response, lambda body: body["usageItems"][0].update(
                grossQuantity=body["usageItems"][0]["grossQuantity"] + 1))
    pipe, third = run(copilot, pipeline, tamper=restate, resources=("premium_requests",))
    assert sorted(per_user_calls(third)) == seat_holders
    first_item = org.premium_usage(DAY)[0]
    assert query(pipe, f"""select gross_quantity from premium_requests where scope = 'organization'
                           and bucket_date = date '{DAY}' and model = '{first_item["model"]}'""") == [
        (dec(first_item["grossQuantity"]) + 1,)]


def test_a_day_loaded_for_the_organization_only_is_asked_per_user_later(org, copilot, pipeline):
    """The day's organization report is the same, but its users were never asked."""
    run(copilot, pipeline, premium_requests_by_user=False, resources=("premium_requests",))
    pipe, recorder = run(copilot, pipeline, resources=("premium_requests",))
    assert sorted(per_user_calls(recorder)) == sorted(s.login for s in org.seats)
    assert premium_user_loaded(pipe) == (truth(org)["premium_user_rows"], truth(org)["premium_user"])


def test_a_restated_day_whose_report_files_are_unchanged_is_kept_as_loaded(org, copilot, pipeline):
    def load_ids(pipe) -> set[str]:
        return {load_id for (load_id,) in query(pipe, "select distinct _dlt_load_id from usage_metrics")}

    pipe, _ = run(copilot, pipeline, resources=("usage_metrics",))
    first_ids, first = load_ids(pipe), loaded_metrics(pipe)
    pipe, again = run(copilot, pipeline, resources=("usage_metrics",))
    files = 1 + -(-len(org.user_records(DAY)) // USERS_PER_FILE)  # the organization's and the users' files
    assert len(again.under(DOWNLOADS)) == files > 2  # every file is still fetched (and compared) ...
    assert load_ids(pipe) == first_ids and loaded_metrics(pipe) == first  # ... but nothing was reloaded

    # GitHub regenerates the day's users report with one more interaction for one user: the whole day is reloaded
    def regenerated(records):
        records[0]["user_initiated_interaction_count"] += 1

    pipe, _ = run(copilot, pipeline, tamper=tamper_first_users_file(regenerated), resources=("usage_metrics",))
    assert load_ids(pipe) - first_ids  # a new load wrote the day
    total = query(pipe, "select sum(user_initiated_interaction_count) from usage_metrics "
                        "where scope = 'user' and breakdown = 'total'")[0][0]
    assert total == sum(r["user_initiated_interaction_count"] for r in org.user_records(DAY)) + 1
    assert query(pipe, "select count(distinct scope) from usage_metrics")[0][0] == 2  # the organization's kept too


def test_a_wiped_warehouse_is_asked_again_per_user(org, copilot, pipeline, tmp_path):
    """The decision reads the warehouse, not dlt's local state: a warehouse file deleted under a kept pipeline
    folder is loaded in full again."""
    run(copilot, pipeline, resources=("premium_requests",))
    (tmp_path / "warehouse.duckdb").unlink()
    pipe, again = run(copilot, pipeline, resources=("premium_requests",))
    assert sorted(per_user_calls(again)) == sorted(s.login for s in org.seats)
    assert premium_user_loaded(pipe) == (truth(org)["premium_user_rows"], truth(org)["premium_user"])


def test_api_calls_carry_the_bearer_token_and_the_pinned_version_and_downloads_do_not(org, copilot, pipeline):
    _, recorder = run(copilot, pipeline)
    api = [c for c in recorder.calls if not c.path.startswith(DOWNLOADS)]
    downloads = recorder.under(DOWNLOADS)
    assert {c.headers.get("Authorization") for c in api} == {f"Bearer {DEMO_API_KEY}"}
    assert {c.headers.get("X-GitHub-Api-Version") for c in api} == {"2022-11-28"}
    assert {c.headers.get("Accept") for c in api} == {"application/vnd.github+json"}
    assert downloads and all("Authorization" not in c.headers for c in downloads)  # the signed URL is the credential
    assert {c.path for c in api} == {SEATS, ORG_REPORT, USERS_REPORT, PREMIUM, USAGE}
    assert {c.params["day"][0] for c in recorder.to(ORG_REPORT) + recorder.to(USERS_REPORT)} == {"2026-11-10"}
    billing = recorder.to(USAGE)[0].params
    assert (billing["year"], billing["month"], billing["day"]) == (["2026"], ["11"], ["10"])
    # premium requests: the organization once, then each seat holder (the organization used some that day)
    users = [c.params.get("user", [None])[0] for c in recorder.to(PREMIUM)]
    assert users[0] is None and sorted(users[1:]) == sorted(s.login for s in org.seats)


def test_premium_requests_for_the_organization_only_when_asked(org, copilot, pipeline):
    pipe, recorder = run(copilot, pipeline, premium_requests_by_user=False, resources=("premium_requests",))
    assert len(recorder.to(PREMIUM)) == 1 and recorder.to(SEATS) == []
    assert query(pipe, "select distinct scope from premium_requests") == [("organization",)]
    assert loaded_premium_org(pipe) == truth(org)["premium_org"]


def loaded_premium_org(pipe):
    row = query(pipe, "select sum(gross_quantity), sum(gross_amount), sum(discount_amount), sum(net_amount) "
                      "from premium_requests where scope = 'organization'")[0]
    return [Decimal(v) for v in row]


def test_the_report_is_downloaded_in_two_steps_from_json_and_ndjson_files(org, copilot, pipeline):
    pipe, recorder = run(copilot, pipeline, resources=("usage_metrics",))
    files = [c.path.rsplit("/", 1)[1] for c in recorder.under(DOWNLOADS)]
    users = len(org.user_records(DAY))
    shards = -(-users // USERS_PER_FILE)
    assert shards >= 2
    assert files == ["organization.json", *[f"users-{i}.ndjson" for i in range(1, shards + 1)]]
    # each download follows its links call
    order = [c.path for c in recorder.calls]
    assert order.index(ORG_REPORT) < order.index(recorder.under(DOWNLOADS)[0].path) < order.index(USERS_REPORT)
    assert query(pipe, "select count(*) from usage_metrics where scope = 'user' and breakdown = 'total'") == [(users,)]


def test_a_file_in_the_other_format_is_read_all_the_same(org, copilot, pipeline):
    def swap(call, response):
        if call.path.endswith(".ndjson"):  # the users file as one JSON array
            records = [json.loads(line) for line in response._content.decode().splitlines()]
            response._content = json.dumps(records, indent=2).encode()
        elif call.path.endswith("organization.json"):  # the organization file as one NDJSON line
            response._content = response._content.strip() + b"\n"

    pipe, _ = run(copilot, pipeline, tamper=swap, resources=("usage_metrics",))
    assert loaded_metrics(pipe) == (truth(org)["user_records"], truth(org)["user_metrics"])


def loaded_metrics(pipe):
    metrics = ", ".join(f"sum({m})" for m in METRIC_COUNTS)
    row = query(pipe, f"select count(*), {metrics} from usage_metrics where scope = 'user' and breakdown = 'total'")[0]
    return row[0], dict(zip(METRIC_COUNTS, row[1:]))


# ------------------------------------------------------------------------------------------------ bad input

def test_numbers_sent_as_strings_are_read_as_numbers(org, copilot, pipeline):
    def stringify(call, response):
        if call.path.endswith(".ndjson"):
            def change(records):
                for r in records:
                    for m in METRIC_COUNTS:
                        r[m] = str(r[m])
                    for item in r["totals_by_feature"]:
                        item["loc_added_sum"] = str(item["loc_added_sum"])
            edit_ndjson(response, change)
        elif call.path in (PREMIUM, USAGE):
            def amounts(body):
                for item in body["usageItems"]:
                    for key in ("grossQuantity", "grossAmount", "netAmount", "quantity", "pricePerUnit"):
                        if key in item:
                            item[key] = str(item[key])
            edit_json(response, amounts)

    pipe, _ = run(copilot, pipeline, tamper=stringify)
    assert loaded(pipe) == truth(org)


def tamper_first_users_file(change):
    def tamper(call, response):
        if users_file(1)(call):
            edit_ndjson(response, change)
    return tamper


def negative_feature_count(records):
    records[0]["totals_by_feature"][0]["code_generation_activity_count"] = -5


def user_listed_twice(records):
    records.append(copy.deepcopy(records[0]))


def feature_listed_twice(records):
    records[0]["totals_by_feature"].append(copy.deepcopy(records[0]["totals_by_feature"][0]))


METRIC_QUARANTINE = [
    (negative_feature_count, "negative count in code_generation_activity_count", "feature"),
    (user_listed_twice, "the same user appears twice in the day's report", None),
    (feature_listed_twice, "the same group appears twice in one bucket", "feature"),
]


@pytest.mark.parametrize("change, reason, breakdown", METRIC_QUARANTINE, ids=[c[0].__name__ for c in METRIC_QUARANTINE])
def test_bad_report_rows_are_quarantined_with_a_reason(change, reason, breakdown, org, copilot, pipeline):
    pipe, _ = run(copilot, pipeline, tamper=tamper_first_users_file(change), resources=("usage_metrics",))
    refused = quarantine(pipe, "usage_metrics")
    assert [(a, r) for a, r, _ in refused] == [("quarantined", reason)]
    record = json.loads(refused[0][2])
    first = org.user_records(DAY)[0]
    assert record["user_login"] == first["user_login"]  # the API's own record (or item, with its context) is kept
    # every other row is loaded: the user's totals are untouched unless the whole record was the duplicate
    assert loaded_metrics(pipe) == (truth(org)["user_records"], truth(org)["user_metrics"])
    if breakdown:
        assert "totals_by_feature" in record


def premium_negative(body):
    body["usageItems"][0]["netAmount"] = -1.25


def premium_twice(body):
    body["usageItems"].append(copy.deepcopy(body["usageItems"][0]))


def usage_negative_quantity(body):
    body["usageItems"][0]["quantity"] = -3


def usage_twice(body):
    body["usageItems"].append(copy.deepcopy(body["usageItems"][0]))


BILLING_QUARANTINE = [
    (PREMIUM, "premium_requests", premium_negative, "negative amount in net_amount"),
    (PREMIUM, "premium_requests", premium_twice, "the same product, sku and model appears twice in one day's answer"),
    (USAGE, "billing_usage", usage_negative_quantity, "negative quantity in quantity"),
    (USAGE, "billing_usage", usage_twice, "the same product and sku appears twice in one day's answer"),
]


@pytest.mark.parametrize("path, table, change, reason", BILLING_QUARANTINE,
                         ids=[c[2].__name__ for c in BILLING_QUARANTINE])
def test_bad_billing_items_are_quarantined_with_a_reason(path, table, change, reason, org, copilot, pipeline):
    def tamper(call, response):
        if call.path == path and "user" not in call.params:  # the organization's answer
            edit_json(response, change)

    pipe, _ = run(copilot, pipeline, tamper=tamper, resources=(table,))
    refused = quarantine(pipe, table)
    assert [(a, r) for a, r, _ in refused] == [("quarantined", reason)]
    sent = len(org.billing_usage(DAY)) if table == "billing_usage" else (
        len(org.premium_usage(DAY)) + len(org.premium_usage_items(DAY)))
    extra = 1 if change in (premium_twice, usage_twice) else 0
    assert query(pipe, f"select count(*) from {table}")[0][0] + len(refused) == sent + extra  # nothing vanishes


def test_a_seat_listed_twice_is_quarantined(org, copilot, pipeline):
    def twice(call, response):
        if call.path == SEATS:
            edit_json(response, lambda body: body["seats"].append(copy.deepcopy(body["seats"][0])))

    pipe, _ = run(copilot, pipeline, tamper=twice, resources=("seats",))
    assert query(pipe, "select count(*) from seats")[0][0] == len(org.seat_records())
    assert [(a, r) for a, r, _ in quarantine(pipe, "seats")] == [
        ("quarantined", "the same assignee appears twice in the seats listing")]


def test_an_unknown_model_keeps_its_rows(org, copilot, pipeline):
    def future(call, response):
        if call.path == PREMIUM and "user" not in call.params:
            edit_json(response, lambda body: body["usageItems"][0].update(model="GPT-9 Hyper"))
        elif users_file(1)(call):
            edit_ndjson(response, lambda records: records[0]["totals_by_model_feature"][0].update(
                model="mystery-model-x"))

    pipe, _ = run(copilot, pipeline, tamper=future, resources=("premium_requests", "usage_metrics"))
    assert query(pipe, "select count(*) from premium_requests where model = 'GPT-9 Hyper'") == [(1,)]
    assert loaded_premium_org(pipe) == truth(org)["premium_org"]
    assert query(pipe, "select count(*) > 0 from usage_metrics where model = 'mystery-model-x'") == [(True,)]
    assert quarantine(pipe, "premium_requests") == [] and quarantine(pipe, "usage_metrics") == []


def test_fields_the_users_report_adds_are_kept_and_every_count_still_lands(org, copilot, pipeline):
    def drift(records):
        records[0]["used_copilot_spaces"] = True
        records[0]["totals_by_ide"][0]["session_minutes"] = 42

    pipe, _ = run(copilot, pipeline, tamper=tamper_first_users_file(drift), resources=("usage_metrics",))
    login = org.user_records(DAY)[0]["user_login"]
    extras = dict(query(pipe, f"select breakdown, extra_fields from usage_metrics where user_login = '{login}' "
                              "and extra_fields is not null"))
    assert {k: json.loads(v) for k, v in extras.items()} == {"total": {"used_copilot_spaces": True},
                                                            "ide": {"session_minutes": 42}}
    assert loaded_metrics(pipe) == (truth(org)["user_records"], truth(org)["user_metrics"])
    assert quarantine(pipe, "usage_metrics") == []


# ------------------------------------------------------------------------------------------------ loud failures

def on(predicate, change):
    def tamper(call, response):
        if predicate(call):
            change(response)
    return tamper


def seats_page_2_not_a_list(response):
    edit_json(response, lambda body: body.update(seats={"oops": True}))


def seats_missing(response):
    edit_json(response, lambda body: body.update(total_seats=body["total_seats"] + 3))


def links_not_json(response):
    response._content = b'{"download_links": ["https://copilot.test/_rep'


def links_not_urls(response):
    edit_json(response, lambda body: body.update(download_links=["not a url"]))


def html_file(response):
    response._content = b"<html><body>Access denied</body></html>"


def link_404(response):
    """A correctly signed link to a file that is not there."""
    from ingestion.demo.copilot_server import _signature

    path, expires = "/_reports/northwind/users/2026-11-10/users-99.ndjson", int(time.time()) + 600
    edit_json(response, lambda body: body["download_links"].append(
        f"{URL}{path}?expires={expires}&sig={_signature(path, expires)}"))


def record_for_another_day(response):
    edit_ndjson(response, lambda records: records[0].update(day="2026-11-09"))


def month_not_day(response):
    edit_json(response, lambda body: body["timePeriod"].pop("day"))


def bad_amount(response):
    edit_json(response, lambda body: body["usageItems"][0].update(grossAmount="12,50 USD"))


def item_of_another_day(response):
    edit_json(response, lambda body: body["usageItems"][0].update(date="2026-11-01"))


def is_path(path, **params):
    return lambda call: call.path == path and all(call.params.get(k, [None])[0] == v for k, v in params.items())


LOUD = [
    (is_path(SEATS, page="2"), seats_page_2_not_a_list,
     f"copilot {SEATS} (page 2): expected an object with an 'seats' list"),
    (is_path(SEATS), seats_missing, f"copilot {SEATS}: the API counted"),
    (is_path(USERS_REPORT), links_not_json,
     f"copilot {USERS_REPORT} (page 1) for 2026-11-10: response body is not valid JSON"),
    (is_path(ORG_REPORT), links_not_urls, "'download_links' must hold http(s) URLs, got 'not a url'"),
    (users_file(2), html_file,
     f"copilot {USERS_REPORT} for 2026-11-10, file 2 of 3 (https://copilot.test/_reports/northwind/users/2026-11-10/"
     "users-2.ndjson): the file is neither JSON nor NDJSON (line 1"),
    (is_path(USERS_REPORT), link_404,
     "downloading https://copilot.test/_reports/northwind/users/2026-11-10/users-99.ndjson failed: HTTP 404"),
    (users_file(1), record_for_another_day, "record 1: a record for 2026-11-09 in the report for 2026-11-10"),
    (is_path(PREMIUM), month_not_day, f"copilot {PREMIUM} (page 1) for 2026-11-10: asked for 2026-11-10, the API "
                                      "answered for the period"),
    (is_path(USAGE), bad_amount, "usageItems[0] 'grossAmount': expected a decimal amount, got '12,50 USD'"),
    (is_path(USAGE), item_of_another_day, "an item dated 2026-11-01 in the answer for 2026-11-10"),
]


@pytest.mark.parametrize("where, change, message", LOUD, ids=[c[1].__name__ for c in LOUD])
def test_a_malformed_page_or_file_fails_clearly_and_loads_nothing(where, change, message, copilot, pipeline):
    with pytest.raises(PipelineStepFailed) as failure:
        run(copilot, pipeline, tamper=on(where, change), per_page=10)
    assert message in str(failure.value)
    assert "sig=" not in str(failure.value)  # a signed link's signature never reaches a message
    assert nothing_loaded(pipeline("copilot", "raw_copilot"))


@pytest.mark.parametrize("status", [429, 403])
def test_rate_limits_with_retry_after_are_waited_out_then_succeed(status, org, copilot, pipeline):
    state = {"n": 0}

    def limited(call, response):
        state["n"] += 1
        if state["n"] in (2, 5):  # the first links call, and later a download
            response.status_code = status
            response.headers["Retry-After"] = "1"
            response._content = json.dumps({"message": "You have exceeded a secondary rate limit. Please wait a few "
                                                       "minutes before you try again."}).encode()

    began = time.monotonic()
    pipe, recorder = run(copilot, pipeline, tamper=limited, resources=("seats", "usage_metrics"))
    assert time.monotonic() - began >= 2.0  # both Retry-After: 1 were honoured
    assert loaded_metrics(pipe) == (truth(org)["user_records"], truth(org)["user_metrics"])
    second, third = recorder.calls[1], recorder.calls[2]
    assert (second.path, second.params) == (third.path, third.params)  # asked again


@pytest.mark.parametrize("fault", [500, 502, "timeout"])
def test_server_errors_and_timeouts_are_retried(fault, org, copilot, pipeline):
    pipe, recorder = run(copilot, pipeline, faults={2: fault, 4: fault}, resources=("usage_metrics",))
    assert loaded_metrics(pipe) == (truth(org)["user_records"], truth(org)["user_metrics"])
    shards = -(-len(org.user_records(DAY)) // USERS_PER_FILE)
    assert len(recorder.calls) == 3 + shards + (2 if fault != "timeout" else 0)  # a timeout never reached the API


def test_unauthorised_is_not_retried_and_says_so(copilot, pipeline):
    with pytest.raises(PipelineStepFailed) as failure:
        run(copilot, pipeline, api_key="ghp_not-the-token", resources=("billing_usage",))
    assert f"copilot {USAGE} for 2026-11-10: HTTP 401" in str(failure.value)
    assert "Bad credentials" in str(failure.value)
    assert "ghp_not-the-token" not in str(failure.value)


@pytest.mark.parametrize("day, skipped", [(TODAY - dt.timedelta(days=1), True), (TODAY - dt.timedelta(days=5), False)])
def test_a_recent_report_not_generated_yet_is_skipped_an_old_one_fails(day, skipped, copilot, pipeline, monkeypatch):
    import ingestion._common as common

    monkeypatch.setattr(common, "today_utc", lambda: TODAY)

    def missing(call, response):
        if call.path == USERS_REPORT:
            response.status_code, response._content = 404, b'{"message": "Not Found"}'

    kwargs = dict(tamper=missing, start=day, end=day + dt.timedelta(days=1), resources=("usage_metrics",))
    if skipped:
        pipe, _ = run(copilot, pipeline, **kwargs)
        assert query(pipe, "select distinct scope from usage_metrics") == [("organization",)]
    else:
        with pytest.raises(PipelineStepFailed) as failure:
            run(copilot, pipeline, **kwargs)
        assert f"copilot {USERS_REPORT} for {day}: HTTP 404" in str(failure.value)


# ------------------------------------------------------------------------------------------------ modes

def test_without_a_token_the_tables_are_created_and_nothing_is_loaded(copilot, pipeline):
    pipe, recorder = run(copilot, pipeline, api_key=None)
    assert recorder.calls == []
    for table in (*TABLES, *QUARANTINES):
        assert table_exists(pipe, table), table
        assert query(pipe, f"select count(*) from {table}")[0][0] == 0


def test_live_mode_reads_the_documented_names_and_defaults_to_github(monkeypatch):
    for name in ("SOURCES__ANTHROPIC__ADMIN_API_KEY", "SOURCES__OPENAI__ADMIN_API_KEY",
                 "SOURCES__CURSOR__ADMIN_API_KEY", "SOURCES__GITHUB__TOKEN", "SOURCES__JIRA__API_TOKEN", "SOURCES__COPILOT__TOKEN",
                 "SOURCES__COPILOT__BASE_URL", "SOURCES__COPILOT__ORGANIZATION", "FINOPS_MODE"):
        monkeypatch.delenv(name, raising=False)
    assert settings.connection("copilot").base_url.startswith("https://demo.invalid")  # no key anywhere: the demo
    monkeypatch.setenv("SOURCES__COPILOT__TOKEN", "ghp_test_token")
    assert settings.finops_mode() == "live"
    conn = settings.connection("copilot")
    assert (conn.base_url, conn.api_key, conn.demo) == ("https://api.github.com", "ghp_test_token", False)
    with pytest.raises(ValueError, match="SOURCES__COPILOT__ORGANIZATION"):
        copilot_source(connection=conn)
    monkeypatch.setenv("SOURCES__COPILOT__ORGANIZATION", "acme")
    monkeypatch.setenv("SOURCES__COPILOT__BASE_URL", "https://api.acme.ghe.com/")
    assert settings.connection("copilot").base_url == "https://api.acme.ghe.com"
    assert copilot_source(connection=settings.connection("copilot")) is not None


def test_demo_mode_serves_the_demo_org_through_the_same_code(monkeypatch, pipeline):
    monkeypatch.setenv("FINOPS_MODE", "demo")
    conn = settings.connection("copilot")
    assert conn.demo and conn.enabled
    today = dt.datetime.now(dt.timezone.utc).date()
    pipe = pipeline("copilot_demo", "raw_copilot")
    # three days hold at least one weekday, so both reports have someone in them
    pipe.run(copilot_source(start_date=(today - dt.timedelta(days=5)).isoformat(),
                            end_date=(today - dt.timedelta(days=2)).isoformat(), lookback_days=0))
    assert query(pipe, "select count(*) > 0 from seats") == [(True,)]
    assert query(pipe, "select count(distinct scope) from usage_metrics") == [(2,)]
    assert query(pipe, "select count(*) > 0 from billing_usage where product = 'Copilot'") == [(True,)]


def test_the_demo_api_refuses_what_the_real_one_refuses(org):
    session = make_session(CopilotDemoAdapter(org, URL), URL)
    auth = {"Authorization": f"Bearer {DEMO_API_KEY}"}
    assert session.get(f"{URL}{SEATS}").status_code == 401
    assert session.get(f"{URL}{SEATS}", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert session.get(f"{URL}{SEATS}", headers={**auth, "X-GitHub-Api-Version": "1999-01-01"}).status_code == 400
    assert session.get(f"{URL}{SEATS}", headers=auth, params={"per_page": 101}).status_code == 400
    assert session.get(f"{URL}/orgs/someone-else/copilot/billing/seats", headers=auth).status_code == 404
    assert session.get(f"{URL}{ORG_REPORT}", headers=auth).status_code == 422  # `day` is required
    assert session.get(f"{URL}{ORG_REPORT}", headers=auth, params={"day": TODAY.isoformat()}).status_code == 404
    links = session.get(f"{URL}{ORG_REPORT}", headers=auth, params={"day": DAY.isoformat()}).json()
    assert links["report_day"] == DAY.isoformat() and len(links["download_links"]) == 1
    link = links["download_links"][0]
    assert session.get(link).status_code == 200 and session.get(link, headers=auth).status_code == 200
    assert session.get(link.replace("sig=", "sig=0")).status_code == 403
    month = session.get(f"{URL}{PREMIUM}", headers=auth, params={"year": 2026, "month": 11}).json()
    assert month["timePeriod"] == {"year": 2026, "month": 11} and month["usageItems"]


# ------------------------------------------------------------------------------------------------ units

ORG_FILE = {  # the shape of the reference's organization-1-day file (field names from go-github's structs)
    "day": "2026-04-01", "organization_id": "123", "daily_active_cli_users": 2, "daily_active_users": 10,
    "weekly_active_users": 20, "monthly_active_users": 30, "chat_panel_ask_mode": 4,
    "totals_by_ide": [{"ide": "vscode", "user_initiated_interaction_count": 5, "loc_added_sum": 100}],
    "totals_by_feature": [{"feature": "completion", "user_initiated_interaction_count": 5},
                          {"feature": "agent_edit", "loc_added_sum": 7, "loc_deleted_sum": 2}],
    "totals_by_language_feature": [{"language": "go", "feature": "completion", "code_generation_activity_count": 3}],
    "totals_by_language_model": [{"language": "go", "model": "m1", "code_generation_activity_count": 3}],
    "totals_by_model_feature": [{"model": "m1", "feature": "completion", "user_initiated_interaction_count": 5}],
    "totals_by_cli": {"session_count": 3, "request_count": 4, "prompt_count": 2,
                      "token_usage": {"avg_tokens_per_request": 4123.5, "output_tokens_sum": 7000,
                                      "prompt_tokens_sum": 9494}},
    "totals_by_3rd_party_agent": [{"agent_name": "Claude", "agent_id": "claude", "user_initiated_interaction_count": 8,
                                   "session_count": 3}],
    "loc_added_sum": 100,
    "pull_requests": {"total_reviewed": 1, "total_created": 2, "median_minutes_to_merge": 12.5,
                      "median_minutes_to_merge_copilot_authored": 4.5, "median_minutes_to_merge_copilot_reviewed": 6.5},
}
USERS_FILE = (
    '{"user_id": 1, "user_login": "Alice", "day": "2026-04-01", "user_initiated_interaction_count": 5, '
    '"chat_panel_edit_mode": 2, "used_chat": true, "used_cli": true, "totals_by_cli": {"session_count": 2, '
    '"request_count": 2, "prompt_count": 1, "last_known_cli_version": {"sampled_at": "2006-01-02T05:00:00Z", '
    '"cli_version": "1.0.8"}}, "totals_by_ide": [{"ide": "vscode", "user_initiated_interaction_count": 5, '
    '"last_known_plugin_version": {"sampled_at": "2006-01-02T05:00:01Z", "plugin": "copilot", "plugin_version": '
    '"1.0.0"}, "last_known_ide_version": {"sampled_at": "2006-01-02T05:00:02Z", "ide_version": "1.90"}}]}\n'
    '{"user_id": 2, "user_login": "bob", "day": "2026-04-01", "used_agent": true, '
    '"used_copilot_code_review_passive": true}\n')


def parse(records, scope):
    day, issues, keys, seen = dt.date(2026, 4, 1), Issues("usage_metrics"), RowKeys(), set()
    return [row for i, r in enumerate(records) for row in report_rows(r, scope, day, f"file record {i + 1}", issues,
                                                                       keys, seen)], issues


def test_the_reference_shapes_parse_into_one_row_per_breakdown_item():
    rows, issues = parse(parse_report_file(json.dumps(ORG_FILE).encode(), "org file"), "organization")
    assert issues.rows == []
    by = {(r["breakdown"], r.get("feature"), r.get("agent_id")): r for r in rows}
    total = by[("total", None, None)]
    assert (total["daily_active_users"], total["loc_added_sum"], total["chat_panel_ask_mode"]) == (10, 100, 4)
    assert (total["pull_requests_total_created"], total["pull_requests_median_minutes_to_merge"]) == (2, 12.5)
    assert by[("feature", "agent_edit", None)]["loc_deleted_sum"] == 2
    assert by[("3rd_party_agent", None, "claude")]["session_count"] == 3
    cli = by[("cli", None, None)]
    assert (cli["request_count"], cli["prompt_tokens_sum"], cli["avg_tokens_per_request"]) == (4, 9494, 4123.5)
    assert len(rows) == 1 + 1 + 2 + 1 + 1 + 1 + 1 + 1  # total, ide, 2 features, 3 pairs, agent, cli

    rows, _ = parse(parse_report_file(USERS_FILE.encode(), "users file"), "user")
    alice = {r["breakdown"]: r for r in rows if r["user_login"] == "alice"}  # logins are stored lower case
    assert alice["total"]["used_chat"] is True and alice["total"]["chat_panel_edit_mode"] == 2
    assert (alice["ide"]["plugin_version"], alice["ide"]["ide_version"]) == ("1.0.0", "1.90")
    assert alice["cli"]["cli_version"] == "1.0.8"
    assert [r["breakdown"] for r in rows if r["user_login"] == "bob"] == ["total"]


def test_gzip_and_28_day_files_are_read():
    import gzip

    day_totals = {"report_start_day": "2026-03-05", "report_end_day": "2026-04-01", "organization_id": "123",
                  "day_totals": [{"day": "2026-03-05", "daily_active_users": 5}, {"day": "2026-03-06"}]}
    records = parse_report_file(gzip.compress(json.dumps(day_totals).encode()), "file")
    assert [(r["day"], r["organization_id"]) for r in records] == [("2026-03-05", "123"), ("2026-03-06", "123")]
    assert parse_report_file(b"", "file") == []


def test_rate_limit_waits_follow_githubs_headers():
    def response(status, headers=None, text=""):
        r = requests.Response()
        r.status_code, r._content = status, text.encode()
        r.headers.update(headers or {})
        return r

    assert rate_limit_wait(response(403, {"Retry-After": "7"})) == 7
    assert rate_limit_wait(response(403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1000"}),
                           now=lambda: 900.0) == 101
    assert rate_limit_wait(response(403, text='{"message": "You have exceeded a secondary rate limit"}')) == 60
    assert rate_limit_wait(response(403, text='{"message": "Resource not accessible by integration"}')) is None
    assert rate_limit_wait(response(429, {"Retry-After": "7"})) is None  # the shared session's to retry

    slept: list[float] = []

    class Session:
        def __init__(self, answers):
            self.answers = answers

        def send(self, request, **kwargs):
            return self.answers.pop(0)

    session = respect_rate_limits(Session([response(403, {"Retry-After": "3"}), response(200)]), sleep=slept.append)
    assert session.send(None).status_code == 200 and slept == [3.0]
    long_wait = respect_rate_limits(Session([response(403, {"Retry-After": "7200"})]), sleep=slept.append)
    assert long_wait.send(None).status_code == 403 and slept == [3.0]  # an hour's wait fails instead


# ------------------------------------------------------------------------------------------------ column-wise reading

def record_by_record(files: list[bytes], day: dt.date, scope: str = "user"):
    """The day's users files through parse_report_file and report_rows, as the loader reads a file it steps aside
    from: the reference the column-wise reading must agree with."""
    issues, keys, seen = Issues("usage_metrics"), RowKeys(), set()
    rows = [{**row, "report_md5": "md5"} for n, content in enumerate(files)
            for i, r in enumerate(parse_report_file(content, f"file {n}"))
            for row in report_rows(r, scope, day, f"file {n} record {i + 1}", issues, keys, seen)]
    return to_table(rows, USAGE_METRICS_SCHEMA), issues, keys, seen


def ndjson(records) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


def test_the_users_report_read_column_wise_gives_the_rows_read_record_by_record(org):
    users = org.user_records(DAY)
    files = [ndjson(users[i:i + USERS_PER_FILE]) for i in range(0, len(users), USERS_PER_FILE)]
    files[1] = gzip.compress(files[1])  # files may come gzipped
    files[2] = files[2].rstrip(b"\n")  # and without a last newline
    files.insert(3, b"")  # or empty
    keys, seen = RowKeys(), set()
    table = users_report_table(files, DAY, "md5", keys, seen)
    assert table is not None and table.schema == USAGE_METRICS_SCHEMA
    expected, issues, expected_keys, expected_seen = record_by_record(files, DAY)
    assert issues.rows == [] and table.num_rows == expected.num_rows > 10 * len(users)
    assert table.sort_by("row_key").equals(expected.sort_by("row_key"))
    # the keys and users are claimed as report_rows claims them: a later file repeating one is caught
    assert keys._seen == expected_keys._seen and seen == expected_seen == {("user", u["user_login"]) for u in users}


def test_the_reference_users_file_read_column_wise():
    day = dt.date(2026, 4, 1)
    table = users_report_table([USERS_FILE.encode()], day, "md5", RowKeys(), set())
    rows = {(r["user_login"], r["breakdown"]): r for r in table.to_pylist()}
    assert sorted(rows) == [("alice", "cli"), ("alice", "ide"), ("alice", "total"), ("bob", "total")]
    alice = rows[("alice", "total")]
    assert (alice["user_id"], alice["user_initiated_interaction_count"], alice["chat_panel_edit_mode"]) == (1, 5, 2)
    assert (alice["used_chat"], alice["used_cli"], alice["used_agent"], alice["code_generation_activity_count"]) == (
        True, True, None, None)
    ide = rows[("alice", "ide")]
    assert (ide["ide"], ide["plugin"], ide["plugin_version"], ide["ide_version"]) == ("vscode", "copilot", "1.0.0",
                                                                                    "1.90")
    assert (ide["user_initiated_interaction_count"], ide["feature"], ide["chat_panel_edit_mode"]) == (5, None, None)
    cli = rows[("alice", "cli")]
    assert (cli["session_count"], cli["request_count"], cli["prompt_count"], cli["cli_version"]) == (2, 2, 1, "1.0.8")
    assert (cli["output_tokens_sum"], cli["avg_tokens_per_request"]) == (None, None)
    assert rows[("bob", "total")]["used_agent"] is True and rows[("bob", "total")]["used_chat"] is None
    assert {r["bucket_date"] for r in rows.values()} == {day} and {r["scope"] for r in rows.values()} == {"user"}
    assert {r["report_md5"] for r in rows.values()} == {"md5"} and {r["extra_fields"] for r in rows.values()} == {None}
    # the key: md5 of day, scope, login, breakdown and the six dimensions, joined by the unit separator
    assert ide["row_key"] == hashlib.md5("\x1f".join(["2026-04-01", "user", "alice", "ide", "vscode", "", "", "",
                                                       "", ""]).encode()).hexdigest()


def test_floats_read_column_wise_are_rounded_as_record_by_record():
    lines = [json.loads(line) for line in USERS_FILE.splitlines()]
    lines[0]["totals_by_cli"]["token_usage"] = {"prompt_tokens_sum": 10, "avg_tokens_per_request": 0.1234567890123456}
    lines[1]["pull_requests"] = {"total_created": 3, "median_minutes_to_merge": 2}
    table = users_report_table([ndjson(lines)], dt.date(2026, 4, 1), "md5", RowKeys(), set())
    rows = {(r["user_login"], r["breakdown"]): r for r in table.to_pylist()}
    assert (rows[("alice", "cli")]["avg_tokens_per_request"], rows[("alice", "cli")]["prompt_tokens_sum"]) == (
        0.123456789012, 10)  # to MONEY's 12 places
    bob = rows[("bob", "total")]
    assert (bob["pull_requests_total_created"], bob["pull_requests_median_minutes_to_merge"]) == (3, 2.0)
    assert rows[("alice", "total")]["pull_requests_total_created"] is None


def edit_lines(change):
    def edited():
        lines = [json.loads(line) for line in USERS_FILE.splitlines()]
        change(lines)
        return ndjson(lines)
    return edited


def test_a_corrupted_gzip_file_fails_clearly():
    with pytest.raises(MalformedResponseError, match="users file: a broken gzip file"):
        parse_report_file(damaged_gzip(gzip.compress(USERS_FILE.encode())), "users file")


ALICE_SEEN = {("user", "alice")}
STEP_ASIDE = {  # what makes the column-wise reading step aside: (files, users already seen that day)
    "a count sent as a string": (edit_lines(lambda r: r[0].update(chat_panel_edit_mode="2")), set()),
    "a count sent as 2.0": (edit_lines(lambda r: r[0].update(chat_panel_edit_mode=2.0)), set()),
    "a flag sent as a string": (edit_lines(lambda r: r[1].update(used_agent="true")), set()),
    "a field not modelled": (edit_lines(lambda r: r[1].update(used_copilot_spaces=True)), set()),
    "a field not modelled, null": (edit_lines(lambda r: r[1].update(used_copilot_spaces=None)), set()),
    "an item field not modelled": (edit_lines(lambda r: r[0]["totals_by_ide"][0].update(minutes=3)), set()),
    "a token_usage field not modelled": (edit_lines(lambda r: r[0]["totals_by_cli"].update(
        token_usage={"cached_tokens_sum": 1})), set()),
    "a negative count": (edit_lines(lambda r: r[0]["totals_by_ide"][0].update(
        user_initiated_interaction_count=-1)), set()),
    "a user listed twice": (edit_lines(lambda r: r.append({**r[0], "user_login": "ALICE "})), set()),
    "a user listed in an earlier file": (lambda: USERS_FILE.encode(), ALICE_SEEN),
    "an item listed twice": (edit_lines(lambda r: r[0]["totals_by_ide"].append(r[0]["totals_by_ide"][0])), set()),
    "an item that is not an object": (edit_lines(lambda r: r[0]["totals_by_ide"].append(None)), set()),
    "a record for another day": (edit_lines(lambda r: r[1].update(day="2026-03-31")), set()),
    "a record without a day": (edit_lines(lambda r: r[1].pop("day")), set()),
    "a record without a login": (edit_lines(lambda r: r[1].pop("user_login")), set()),
    "a blank login": (edit_lines(lambda r: r[1].update(user_login="  ")), set()),
    "two objects on one line": (lambda: USERS_FILE.replace("}\n{", "}{").encode(), set()),
    "a JSON array": (lambda: json.dumps([json.loads(line) for line in USERS_FILE.splitlines()]).encode(), set()),
    # JSON allows U+2028 unescaped in a string; Python's splitlines() breaks a line at it
    "a line separator inside a value": (lambda: USERS_FILE.replace('"bob"', '"bo\u2028b"').encode(), set()),
    "a byte order mark": (lambda: b"\xef\xbb\xbf" + USERS_FILE.encode(), set()),
    "a broken gzip file": (lambda: gzip.compress(USERS_FILE.encode())[:-8], set()),
    "a corrupted gzip file": (lambda: damaged_gzip(gzip.compress(USERS_FILE.encode())), set()),
    "not UTF-8": (lambda: USERS_FILE.replace("bob", "b\xf6b").encode("latin-1"), set()),
    "no records": (lambda: b"\n\n", set()),
}


@pytest.mark.parametrize("case", STEP_ASIDE)
def test_the_column_wise_reading_steps_aside_from_what_it_would_read_otherwise_and_claims_nothing(case):
    make, seen_before = STEP_ASIDE[case]
    keys, seen = RowKeys(), set(seen_before)
    assert users_report_table([make()], dt.date(2026, 4, 1), "md5", keys, seen) is None
    assert keys._seen == set() and seen == seen_before  # record by record starts from the same state
