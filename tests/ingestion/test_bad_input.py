"""The bad-input corpus: each damaged record is quarantined with a reason, normalized, or fails the run loudly.

Nothing vanishes: for every case the loaded rows plus the quarantined rows account for every record the API sent.
The damage is done to real demo pages on their way through the real client (tests/conftest.py `ScriptedTransport`).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from decimal import Decimal

import pytest
from dlt.pipeline.exceptions import PipelineStepFailed

from ingestion.anthropic import anthropic_source
from ingestion.openai import openai_source
from tests.conftest import query, table_exists

START, END = dt.date(2026, 11, 2), dt.date(2026, 11, 4)  # two days, one page per endpoint
SOURCES = {"anthropic": (anthropic_source, "raw_anthropic"), "openai": (openai_source, "raw_openai")}


def first_result(body):
    return body["data"][0]["results"][0]


def on(path_suffix, change):
    """A fault that applies `change(body)` to pages of one endpoint only."""

    def fault(body, path):
        if path.endswith(path_suffix):
            change(body)
        return body

    return fault


def run(provider, transport, pipeline, change):
    make_source, dataset = SOURCES[provider]
    connection, session, _ = transport(provider, {"*": change})
    pipe = pipeline(provider, dataset)
    pipe.run(make_source(start_date=START.isoformat(), end_date=END.isoformat(), lookback_days=0,
                         connection=connection, session=session))
    return pipe


def quarantine(pipe, table):
    if not table_exists(pipe, f"{table}_quarantine"):
        return []
    return query(pipe, f"select action, reason, record from {table}_quarantine order by reason")


def demo_rows(world, provider, kind):
    days = [START + dt.timedelta(days=i) for i in range((END - START).days)]
    method = getattr(world, f"{provider}_{kind}")
    return [r for d in days for r in method(d)]


# ------------------------------------------------------------------------------------------------ quarantined

def negate_tokens(body):
    first_result(body)["output_tokens"] = -500


def duplicate_group(body):
    bucket = body["data"][0]
    bucket["results"].append(copy.deepcopy(bucket["results"][0]))


def euro_cost_anthropic(body):
    first_result(body)["currency"] = "EUR"


def euro_cost_openai(body):
    first_result(body)["amount"]["currency"] = "eur"


def negative_requests(body):
    first_result(body)["num_model_requests"] = -3


QUARANTINED = [
    ("anthropic", "usage_messages", "/usage_report/messages", negate_tokens, "negative count in output_tokens"),
    ("anthropic", "usage_messages", "/usage_report/messages", duplicate_group, "the same group appears twice"),
    ("anthropic", "cost_report", "/cost_report", euro_cost_anthropic, "currency EUR is not USD"),
    ("anthropic", "cost_report", "/cost_report", duplicate_group, "the same group appears twice"),
    ("openai", "usage_completions", "/usage/completions", negate_tokens, "negative count in output_tokens"),
    ("openai", "usage_completions", "/usage/completions", negative_requests, "negative count in num_model_requests"),
    ("openai", "usage_completions", "/usage/completions", duplicate_group, "the same group appears twice"),
    ("openai", "costs", "/costs", euro_cost_openai, "currency EUR is not USD"),
]


@pytest.mark.parametrize("provider, table, path, change, reason", QUARANTINED,
                         ids=[f"{c[1]}-{c[3].__name__}" for c in QUARANTINED])
def test_bad_records_are_quarantined_with_a_reason_and_nothing_else_is_lost(
        provider, table, path, change, reason, world, transport, pipeline):
    pipe = run(provider, transport, pipeline, on(path, change))
    kind = "usage" if "usage" in table else "costs"
    sent = len(demo_rows(world, provider, kind)) + (1 if change is duplicate_group else 0)
    loaded = query(pipe, f"select count(*) from {table}")[0][0]
    refused = quarantine(pipe, table)
    assert [(a, r.startswith(reason) or reason in r) for a, r, _ in refused] == [("quarantined", True)]
    assert loaded + len(refused) == sent  # every record the API sent is either loaded or in quarantine
    assert json.loads(refused[0][2])  # the API's own record is kept, whole


def test_quarantined_cost_is_not_billed_and_the_rest_is(world, transport, pipeline):
    pipe = run("anthropic", transport, pipeline, on("/cost_report", euro_cost_anthropic))
    costs = demo_rows(world, "anthropic", "costs")
    loaded_cents = Decimal(query(pipe, "select sum(amount_cents) from cost_report")[0][0])
    refused = json.loads(quarantine(pipe, "cost_report")[0][2])
    assert loaded_cents + Decimal(refused["amount"]) == sum(Decimal(r["amount"]) for r in costs)


# ------------------------------------------------------------------------------------------------ normalized

def millisecond_buckets(body):
    for bucket in body["data"]:
        bucket["start_time"] *= 1000
        bucket["end_time"] *= 1000


def test_millisecond_timestamps_are_normalized_and_recorded(world, transport, pipeline):
    pipe = run("openai", transport, pipeline, on("/usage/completions", millisecond_buckets))
    days = query(pipe, "select distinct bucket_date from usage_completions order by 1")
    assert [d for (d,) in days] == [START, START + dt.timedelta(days=1)]
    assert query(pipe, "select count(*) from usage_completions")[0][0] == len(demo_rows(world, "openai", "usage"))
    issues = quarantine(pipe, "usage_completions")
    assert [(a, r) for a, r, _ in issues] == [("normalized", "bucket times in milliseconds, read as seconds")] * 2


def numbers_as_strings(body):
    first_result(body)["output_tokens"] = str(first_result(body)["output_tokens"])


def test_numbers_sent_as_strings_are_read_as_numbers(world, transport, pipeline):
    pipe = run("anthropic", transport, pipeline, on("/usage_report/messages", numbers_as_strings))
    usage = demo_rows(world, "anthropic", "usage")
    assert query(pipe, "select sum(output_tokens) from usage_messages")[0][0] == sum(r["output_tokens"] for r in usage)


def openai_cost_as_number(body):
    for bucket in body["data"]:
        for result in bucket["results"]:
            result["amount"]["value"] = float(result["amount"]["value"])


def test_openai_amounts_as_numbers_or_strings_give_the_same_dollars(world, transport, pipeline):
    pipe = run("openai", transport, pipeline, on("/costs", openai_cost_as_number))
    expected = sum(Decimal(r["amount"]["value"]) for r in demo_rows(world, "openai", "costs"))
    assert abs(Decimal(query(pipe, "select sum(amount_usd) from costs")[0][0]) - expected) < Decimal("0.000001")


# ------------------------------------------------------------------------------------------------ kept, flagged

def null_and_unknown_models(body):
    results = body["data"][0]["results"]
    results[0]["model"] = None
    results[1]["model"] = "claude-from-the-future-9"
    results[1]["brand_new_field"] = {"x": 1}


def test_null_and_unknown_models_keep_their_tokens(world, transport, pipeline):
    pipe = run("anthropic", transport, pipeline, on("/usage_report/messages", null_and_unknown_models))
    usage = demo_rows(world, "anthropic", "usage")
    assert query(pipe, "select sum(output_tokens) from usage_messages")[0][0] == sum(r["output_tokens"] for r in usage)
    assert query(pipe, "select count(*) from usage_messages where model is null")[0][0] == 1
    refs = dict(query(pipe, "select model_ref, price_model_id from model_refs"))
    assert refs["claude-from-the-future-9"] is None  # unknown: flagged unpriced downstream, never dropped
    extra = query(pipe, "select extra_fields from usage_messages where model = 'claude-from-the-future-9'")[0][0]
    assert json.loads(extra) == {"brand_new_field": {"x": 1}}  # a field we do not model yet is kept, not lost


# ------------------------------------------------------------------------------------------------ loud failures

def missing_amount(body):
    del first_result(body)["amount"]


def results_not_a_list(body):
    body["data"][0]["results"] = {"oops": True}


def bad_bucket_time(body):
    body["data"][0]["starting_at"] = "yesterday"


LOUD = [
    ("anthropic", "/cost_report", missing_amount, "'amount' is missing"),
    ("anthropic", "/usage_report/messages", results_not_a_list, "expected an object with a 'results' list"),
    ("anthropic", "/usage_report/messages", bad_bucket_time, "bucket time 'yesterday' is not RFC 3339"),
]


@pytest.mark.parametrize("provider, path, change, message", LOUD, ids=[c[2].__name__ for c in LOUD])
def test_structural_damage_fails_the_run_and_loads_nothing(provider, path, change, message, transport, pipeline):
    with pytest.raises(PipelineStepFailed) as failure:
        run(provider, transport, pipeline, on(path, change))
    assert message in str(failure.value)
    pipe = pipeline(provider, SOURCES[provider][1])
    for table in ("usage_messages", "cost_report"):
        assert not table_exists(pipe, table) or query(pipe, f"select count(*) from {table}")[0][0] == 0


def test_mixed_case_emails_in_the_directory_are_normalized():
    from ingestion.org_directory import parse_org_directory

    org = parse_org_directory({
        "teams": [{"id": "t"}],
        "people": [{"email": "Dana.Kim@Example.COM", "team": "t"}],
        "provider_accounts": [{"provider": "anthropic", "kind": "api_key", "id": "k", "person": "DANA.KIM@example.com"}],
    })
    assert org.people[0].email == org.provider_accounts[0].person == "dana.kim@example.com"


def test_a_column_changing_type_fails_loudly_instead_of_landing(world, transport, pipeline, monkeypatch):
    """Schema contract: new columns may appear, but money or tokens turning into text must not load."""
    import pyarrow as pa

    import ingestion.anthropic as anthropic

    pipe = run("anthropic", transport, pipeline, lambda body, path: body)  # a first, normal load
    real_usage_rows = anthropic.usage_rows

    def tokens_as_text(body, where, issues):  # the usage page's table, its output_tokens turned into text
        table = real_usage_rows(body, where, issues)
        table = table if isinstance(table, pa.Table) else anthropic.to_table(table, anthropic.USAGE_SCHEMA)
        index = table.column_names.index("output_tokens")
        return table.set_column(index, pa.field("output_tokens", pa.string()),
                                table.column("output_tokens").cast(pa.string()))

    monkeypatch.setattr(anthropic, "usage_rows", tokens_as_text)
    with pytest.raises(PipelineStepFailed) as failure:
        run("anthropic", transport, pipeline, lambda body, path: body)
    assert "output_tokens" in str(failure.value) and "data_type" in str(failure.value).lower().replace(" ", "_")
    assert query(pipe, "select count(*) from usage_messages")[0][0] == len(demo_rows(world, "anthropic", "usage"))
