"""The column-wise reading of daily-bucket reports (`results_table`): the rows it makes are the ones written out by
hand here, and whatever it cannot read exactly as the row-by-row parser does, it leaves to that parser."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import re

import pyarrow as pa
import pytest

from ingestion import anthropic, openai
from ingestion._common import Issues, StepAside, to_table
from ingestion.http import MalformedResponseError

UTC = dt.timezone.utc
DAY1, DAY2 = dt.datetime(2026, 11, 2, tzinfo=UTC), dt.datetime(2026, 11, 3, tzinfo=UTC)


def md5(*parts: str) -> str:
    return hashlib.md5("\x1f".join(parts).encode()).hexdigest()


def anthropic_body() -> dict:
    return {"data": [
        {"starting_at": "2026-11-02T00:00:00Z", "ending_at": "2026-11-03T00:00:00Z", "results": [
            {"api_key_id": "k1", "workspace_id": "w1", "model": "claude-sonnet-4-5", "service_tier": "standard",
             "context_window": "0-200k", "uncached_input_tokens": 100, "output_tokens": 20,
             "cache_creation": {"ephemeral_5m_input_tokens": 7, "ephemeral_1h_input_tokens": 3},
             "cache_read_input_tokens": 50, "server_tool_use": {"web_search_requests": 2}},
            # no cache or tool objects at all, a null workspace, a region: counts 0, key parts "" for nulls
            {"api_key_id": "k1", "workspace_id": None, "model": "claude-haiku-4-5", "service_tier": "batch",
             "context_window": "0-200k", "inference_geo": "us", "uncached_input_tokens": 5, "output_tokens": 1},
        ]},
        {"starting_at": "2026-11-03T00:00:00Z", "ending_at": "2026-11-04T00:00:00Z", "results": [
            # the same group as the first result, on another day: not a repeat
            {"api_key_id": "k1", "workspace_id": "w1", "model": "claude-sonnet-4-5", "service_tier": "standard",
             "context_window": "0-200k", "uncached_input_tokens": 9, "output_tokens": 4,
             "cache_creation": None, "cache_read_input_tokens": None, "server_tool_use": {}},
        ]},
        {"starting_at": "2026-11-04T00:00:00Z", "ending_at": "2026-11-05T00:00:00Z", "results": []},
    ]}


def test_anthropic_usage_reads_column_wise_into_the_rows_written_out_here():
    issues = Issues("usage_messages")
    table = anthropic.usage_rows(anthropic_body(), "test", issues)
    assert isinstance(table, pa.Table)
    assert table.schema.equals(anthropic.USAGE_SCHEMA)
    bucket = lambda day: {"bucket_date": day.date(), "bucket_start": day, "bucket_end": day + dt.timedelta(days=1)}
    assert table.to_pylist() == [
        {**bucket(DAY1), "api_key_id": "k1", "workspace_id": "w1", "model": "claude-sonnet-4-5",
         "service_tier": "standard", "context_window": "0-200k", "inference_geo": None, "uncached_input_tokens": 100,
         "cache_creation_5m_input_tokens": 7, "cache_creation_1h_input_tokens": 3, "cache_read_input_tokens": 50,
         "output_tokens": 20, "web_search_requests": 2, "extra_fields": None,
         "row_key": md5("2026-11-02", "k1", "w1", "claude-sonnet-4-5", "standard", "0-200k", "")},
        {**bucket(DAY1), "api_key_id": "k1", "workspace_id": None, "model": "claude-haiku-4-5",
         "service_tier": "batch", "context_window": "0-200k", "inference_geo": "us", "uncached_input_tokens": 5,
         "cache_creation_5m_input_tokens": 0, "cache_creation_1h_input_tokens": 0, "cache_read_input_tokens": 0,
         "output_tokens": 1, "web_search_requests": 0, "extra_fields": None,
         "row_key": md5("2026-11-02", "k1", "", "claude-haiku-4-5", "batch", "0-200k", "us")},
        {**bucket(DAY2), "api_key_id": "k1", "workspace_id": "w1", "model": "claude-sonnet-4-5",
         "service_tier": "standard", "context_window": "0-200k", "inference_geo": None, "uncached_input_tokens": 9,
         "cache_creation_5m_input_tokens": 0, "cache_creation_1h_input_tokens": 0, "cache_read_input_tokens": 0,
         "output_tokens": 4, "web_search_requests": 0, "extra_fields": None,
         "row_key": md5("2026-11-03", "k1", "w1", "claude-sonnet-4-5", "standard", "0-200k", "")},
    ]
    assert issues.rows == []
    assert issues.days_seen == {dt.date(2026, 11, 2), dt.date(2026, 11, 3), dt.date(2026, 11, 4)}


def first(body: dict) -> dict:
    return body["data"][0]["results"][0]


def change(**fields):
    def apply(body):
        first(body).update(fields)
    return apply


def repeat_first(body):
    body["data"][0]["results"].append(copy.deepcopy(first(body)))


def nested(key, value):
    def apply(body):
        first(body)["cache_creation"][key] = value
    return apply


# what the column-wise reading leaves to the row-by-row parser: each case, the parser's own rows (or error) result
STEP_ASIDE = {
    "an integral float": change(output_tokens=20.0),
    "a count as text": change(output_tokens="20"),
    "a fraction": change(output_tokens=20.5),
    "a bool": change(cache_read_input_tokens=True),
    "a number as a dimension": change(api_key_id=12345),
    "a field not modelled": change(brand_new_field={"x": 1}),
    "a negative count": change(uncached_input_tokens=-1),
    "a negative nested count": nested("ephemeral_1h_input_tokens", -3),
    "a group listed twice": repeat_first,
    "a missing required count": change(output_tokens=None),
    "a nested object that is a list": change(server_tool_use=[1]),
    "a count beyond int64": change(cache_read_input_tokens=2 ** 64),
}


def row_by_row(body: dict, issues: Issues):
    buckets = list(anthropic._buckets(body, "test", issues))
    return anthropic.usage_rows_one_by_one(buckets, "test", issues)


@pytest.mark.parametrize("case", STEP_ASIDE)
def test_whatever_the_row_parser_reads_differently_is_left_to_it(case):
    body = anthropic_body()
    STEP_ASIDE[case](body)
    buckets = list(anthropic._buckets(copy.deepcopy(body), "test", Issues("usage_messages")))
    with pytest.raises(StepAside):
        anthropic.usage_table(buckets)
    expected_issues, got_issues = Issues("usage_messages"), Issues("usage_messages")
    try:
        expected = row_by_row(copy.deepcopy(body), expected_issues)
    except (MalformedResponseError, OverflowError) as failure:  # the parser refuses the page: so does the source
        with pytest.raises(type(failure), match=re.escape(str(failure))):
            anthropic.usage_rows(body, "test", got_issues)
        return
    got = anthropic.usage_rows(body, "test", got_issues)
    assert isinstance(got, list) and got == expected
    assert got_issues.rows == expected_issues.rows


def test_the_row_parser_still_quarantines_what_the_column_reading_stepped_aside_for():
    body = anthropic_body()
    first(body)["uncached_input_tokens"] = -1
    issues = Issues("usage_messages")
    rows = anthropic.usage_rows(body, "test", issues)
    assert [r["uncached_input_tokens"] for r in rows] == [5, 9]  # the two others, loaded
    assert [(q["action"], q["reason"]) for q in issues.rows] == [
        ("quarantined", "negative count in uncached_input_tokens")]


def openai_body() -> dict:
    result = {"object": "organization.usage.completions.result", "project_id": "p1", "user_id": "u1",
              "api_key_id": "k1", "model": "gpt-5", "service_tier": "default", "input_tokens": 10,
              "output_tokens": 2}
    return {"data": [{"start_time": 1793577600, "end_time": 1793664000, "results": [
        {**result, "batch": True, "input_cached_tokens": 4, "num_model_requests": 1},
        {**result, "batch": False, "input_audio_tokens": 0},
        {**result, "batch": None, "user_id": None},
    ]}]}


def test_openai_usage_keeps_missing_counts_null_and_spells_batch_as_python_does_in_the_key():
    table = openai.usage_rows(openai_body(), "test", Issues("usage_completions"))
    assert isinstance(table, pa.Table)
    rows = table.to_pylist()
    assert [r["batch"] for r in rows] == [True, False, None]
    assert [r["input_cached_tokens"] for r in rows] == [4, None, None]  # absent is null here, not 0
    assert [r["input_audio_tokens"] for r in rows] == [None, 0, None]
    assert [r["num_model_requests"] for r in rows] == [1, None, None]
    assert {r["bucket_date"] for r in rows} == {dt.date(2026, 11, 2)}  # 1793577600 = 2026-11-02T00:00Z
    assert [r["row_key"] for r in rows] == [
        md5("2026-11-02", "p1", "u1", "k1", "gpt-5", "default", "True"),
        md5("2026-11-02", "p1", "u1", "k1", "gpt-5", "default", "False"),
        md5("2026-11-02", "p1", "", "k1", "gpt-5", "default", ""),
    ]
    buckets = list(openai._buckets(openai_body(), "test", Issues("usage_completions")))
    by_rows = to_table(openai.usage_rows_one_by_one(buckets, "test", Issues("usage_completions")),
                       openai.USAGE_SCHEMA)
    assert table.equals(by_rows)


def test_openai_batch_that_is_not_a_boolean_goes_to_the_row_parser_which_refuses_it():
    body = openai_body()
    first(body)["batch"] = "yes"
    with pytest.raises(MalformedResponseError, match="'batch' must be a boolean"):
        openai.usage_rows(body, "test", Issues("usage_completions"))


def test_a_page_without_results_is_an_empty_table():
    body = {"data": [{"starting_at": "2026-11-02T00:00:00Z", "ending_at": "2026-11-03T00:00:00Z", "results": []}]}
    table = anthropic.usage_rows(body, "test", Issues("usage_messages"))
    assert table.num_rows == 0 and table.schema.equals(anthropic.USAGE_SCHEMA)
