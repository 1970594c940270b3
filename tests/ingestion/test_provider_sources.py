"""The Anthropic and OpenAI sources against the demo organisation's API, through the real client.

Ground truth is the generator's own output for the same days, summed here in plain Python.
"""

from __future__ import annotations

import datetime as dt
import re
import time
from decimal import Decimal

import pytest
from dlt.pipeline.exceptions import PipelineStepFailed

from ingestion.anthropic import anthropic_source
from ingestion.openai import openai_source
from tests.conftest import TODAY, query, table_exists

START, END = dt.date(2026, 11, 1), dt.date(2026, 11, 8)  # 7 days, END exclusive
DAYS = [START + dt.timedelta(days=i) for i in range((END - START).days)]


def truth(world, provider: str) -> dict[str, object]:
    if provider == "anthropic":
        usage = [r for d in DAYS for r in world.anthropic_usage(d)]
        costs = [r for d in DAYS for r in world.anthropic_costs(d)]
        return {
            "usage_rows": len(usage),
            "output_tokens": sum(r["output_tokens"] for r in usage),
            "cache_1h_tokens": sum(r["cache_creation"]["ephemeral_1h_input_tokens"] for r in usage),
            "cost_rows": len(costs),
            "billed_usd": sum(Decimal(r["amount"]) for r in costs) / 100,
        }
    usage = [r for d in DAYS for r in world.openai_usage(d)]
    costs = [r for d in DAYS for r in world.openai_costs(d)]
    return {
        "usage_rows": len(usage),
        "output_tokens": sum(r["output_tokens"] for r in usage),
        "cache_1h_tokens": sum(r["input_cached_tokens"] for r in usage),
        "cost_rows": len(costs),
        "billed_usd": sum(Decimal(r["amount"]["value"]) for r in costs),
    }


SOURCES = {
    "anthropic": (anthropic_source, "raw_anthropic", "usage_messages", "cost_report",
                  "sum(cache_creation_1h_input_tokens)", "sum(amount_cents)", Decimal(100)),
    "openai": (openai_source, "raw_openai", "usage_completions", "costs",
               "sum(input_cached_tokens)", "sum(amount_usd)", Decimal(1)),
}


def loaded(pipe, provider: str) -> dict[str, object]:
    _, _, usage_table, cost_table, cache_expr, billed_expr, unit = SOURCES[provider]
    usage_rows, output_tokens, cache_tokens = query(
        pipe, f"select count(*), sum(output_tokens), {cache_expr} from {usage_table}")[0]
    cost_rows, billed = query(pipe, f"select count(*), {billed_expr} from {cost_table}")[0]
    return {"usage_rows": usage_rows, "output_tokens": output_tokens, "cache_1h_tokens": cache_tokens,
            "cost_rows": cost_rows, "billed_usd": Decimal(billed) / unit}


def run(provider, transport, pipeline, faults=None, page_size_days=2, start=START, end=END):
    make_source, dataset, *_ = SOURCES[provider]
    connection, session, scripted = transport(provider, faults)
    pipe = pipeline(provider, dataset)
    pipe.run(make_source(start_date=start.isoformat(), end_date=end.isoformat(), lookback_days=0,
                         page_size_days=page_size_days, connection=connection, session=session))
    return pipe, scripted


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_pages_through_the_window_and_lands_exactly_the_api_numbers(provider, world, transport, pipeline):
    pipe, scripted = run(provider, transport, pipeline, page_size_days=2)
    expected = truth(world, provider)
    assert loaded(pipe, provider) == expected
    # 7 days at 2 buckets a page = 4 pages for each of the two endpoints, each following the previous next_page
    assert len(scripted.calls) == 8
    pages_with_cursor = [c for c in scripted.calls if "page" in c.params]
    assert len(pages_with_cursor) == 6


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_running_the_same_window_again_adds_nothing(provider, world, transport, pipeline):
    pipe, _ = run(provider, transport, pipeline)
    first = loaded(pipe, provider)
    run(provider, transport, pipeline)
    assert loaded(pipe, provider) == first == truth(world, provider)


def test_requests_carry_each_apis_auth_time_units_and_grouping(transport, pipeline):
    _, anthropic_calls = run("anthropic", transport, pipeline, page_size_days=7)
    first = anthropic_calls.calls[0]
    assert first.headers["x-api-key"] == "demo-admin-key"
    assert first.headers["anthropic-version"] == "2023-06-01"
    assert first.params["starting_at"] == ["2026-11-01T00:00:00Z"]
    assert first.params["ending_at"] == ["2026-11-08T00:00:00Z"]
    assert first.params["group_by[]"] == ["api_key_id", "workspace_id", "model", "service_tier", "context_window"]

    _, openai_calls = run("openai", transport, pipeline, page_size_days=7)
    first = openai_calls.calls[0]
    assert first.headers["Authorization"] == "Bearer demo-admin-key"
    # 2026-01-01 is 1767225600; + 304 days (Jan..Oct) = 2026-11-01; + 7 days = 2026-11-08
    assert first.params["start_time"] == ["1793491200"]
    assert first.params["end_time"] == ["1794096000"]
    assert first.params["group_by"] == ["project_id", "user_id", "api_key_id", "model", "batch", "service_tier"]


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_429_with_retry_after_is_waited_out_then_succeeds(provider, world, transport, pipeline):
    began = time.monotonic()
    pipe, scripted = run(provider, transport, pipeline, faults={2: 429})
    assert time.monotonic() - began >= 1.0  # Retry-After: 1 was honoured
    assert loaded(pipe, provider) == truth(world, provider)
    assert scripted.calls[1].params == scripted.calls[2].params  # the same page was asked again


@pytest.mark.parametrize("fault", [500, 502, 503, "timeout"])
def test_server_errors_and_timeouts_are_retried(fault, world, transport, pipeline):
    pipe, scripted = run("anthropic", transport, pipeline, faults={1: fault, 3: fault})
    assert loaded(pipe, "anthropic") == truth(world, "anthropic")
    assert len(scripted.calls) == 10  # 8 pages + 2 retries


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_a_malformed_page_fails_clearly_and_loads_nothing(provider, transport, pipeline):
    with pytest.raises(PipelineStepFailed) as failure:
        run(provider, transport, pipeline, faults={2: "bad-json"})
    message = str(failure.value)
    assert "not valid JSON" in message
    assert re.search(rf"{provider} /\S+ \(page \d+\)", message), message  # which endpoint, which page
    pipe = pipeline(provider, SOURCES[provider][1])
    usage_table = SOURCES[provider][2]
    # page 1 was fine, but nothing of a failed run may land
    assert not table_exists(pipe, usage_table) or query(pipe, f"select count(*) from {usage_table}")[0][0] == 0


def test_a_page_with_the_wrong_shape_names_the_field(transport, pipeline):
    def break_tokens(body, path):
        body["data"][0]["results"][0]["output_tokens"] = "lots"
        return body

    with pytest.raises(PipelineStepFailed) as failure:
        run("anthropic", transport, pipeline, faults={1: break_tokens})
    assert "'output_tokens' must be an integer, got 'lots'" in str(failure.value)


def test_a_repeated_cursor_is_refused_instead_of_looping(transport, pipeline):
    first_cursor = {}

    def repeat_cursor(body, path):
        # every page of an endpoint hands back the cursor its first page gave
        cursor = first_cursor.setdefault(path, body.get("next_page"))
        body["next_page"], body["has_more"] = cursor, True
        return body

    with pytest.raises(PipelineStepFailed) as failure:
        run("openai", transport, pipeline, faults={"*": repeat_cursor})
    assert "cursor repeated" in str(failure.value)


def test_unauthorised_is_not_retried_and_says_so(transport, pipeline):
    with pytest.raises(PipelineStepFailed) as failure:
        run("openai", transport, pipeline, faults={1: 401})
    assert "HTTP 401" in str(failure.value)


def test_unbounded_runs_resume_from_the_last_day_minus_the_lookback(world, transport, pipeline, monkeypatch):
    """Without an end date the cursor is dlt's incremental state: the second run re-asks the lookback days only."""
    import ingestion._common as common

    monkeypatch.setattr(common, "today_utc", lambda: TODAY)
    connection, session, scripted = transport("anthropic")
    pipe = pipeline("anthropic", "raw_anthropic")
    start = TODAY - dt.timedelta(days=6)
    pipe.run(anthropic_source(start_date=start.isoformat(), lookback_days=2, connection=connection, session=session))
    last_loaded = query(pipe, "select max(bucket_date) from usage_messages")[0][0]
    assert last_loaded == TODAY - dt.timedelta(days=1)  # the demo has whole days before today only
    first_run_calls = len(scripted.calls)
    pipe.run(anthropic_source(lookback_days=2, connection=connection, session=session))
    second = [c for c in scripted.calls[first_run_calls:] if c.path.endswith("/usage_report/messages")]
    assert second[0].params["starting_at"] == [f"{last_loaded - dt.timedelta(days=2)}T00:00:00Z"]
    assert query(pipe, "select count(*) from usage_messages")[0][0] == sum(
        len(world.anthropic_usage(start + dt.timedelta(days=i))) for i in range(6))


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_an_empty_page_in_the_middle_fails_instead_of_leaving_a_hole(provider, transport, pipeline):
    pages = {}

    def empty_second_page(body, path):
        pages[path] = pages.get(path, 0) + 1
        if pages[path] == 2:
            body["data"] = []  # has_more and next_page stay: the listing goes on past the hole
        return body

    with pytest.raises(PipelineStepFailed) as failure:
        run(provider, transport, pipeline, faults={"*": empty_second_page})
    assert "no bucket for 2026-11-03, 2026-11-04" in str(failure.value)
    pipe = pipeline(provider, SOURCES[provider][1])
    usage_table = SOURCES[provider][2]
    assert not table_exists(pipe, usage_table) or query(pipe, f"select count(*) from {usage_table}")[0][0] == 0
