"""OpenAI Administration API: completions usage and costs, into `raw_openai`.

API facts (see docs/sources.md): `Authorization: Bearer <admin key>`; Unix-second `start_time` / `end_time`;
daily buckets (usage: at most 31 per page, costs: 180); `page=<next_page>` while `has_more`; `group_by` as repeated
keys; cost `amount.value` in dollars, a number per the spec and a string in live responses, both accepted.
Merged by bucket day like Anthropic, so a re-fetched day replaces itself.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Iterator, Optional

import dlt
import pyarrow as pa
import requests
from dlt.common import logger
from dlt.sources.helpers.rest_client.auth import BearerTokenAuth

from ingestion import settings
from ingestion._common import (
    SCHEMA_CONTRACT,
    MONEY, Buckets, Issues, RowKeys, SourceWindow, StepAside, accept, bucket_schema, daily_bucket_resource,
    decimal_field, extra_fields, fetch_tables, int_field, results_table, str_field, unix_seconds,
)
from ingestion.pricing import model_refs_resource
from ingestion.http import Endpoint, MalformedResponseError, make_rest_client

USAGE_PATH = "/organization/usage/completions"
COST_PATH = "/organization/costs"
USAGE_GROUP_BY = ["project_id", "user_id", "api_key_id", "model", "batch", "service_tier"]
COST_GROUP_BY = ["project_id", "line_item"]
MAX_USAGE_BUCKETS, MAX_COST_BUCKETS = 31, 180
DEFAULT_BUCKETS_PER_PAGE = 7  # the API's default; pages hold every group of every bucket

USAGE_SCHEMA = bucket_schema(
    ("project_id", pa.string()),
    ("user_id", pa.string()),
    ("api_key_id", pa.string()),
    ("model", pa.string()),
    ("batch", pa.bool_()),
    ("service_tier", pa.string()),
    ("input_tokens", pa.int64()),
    ("input_cached_tokens", pa.int64()),
    ("input_cache_write_tokens", pa.int64()),
    ("input_uncached_tokens", pa.int64()),
    ("output_tokens", pa.int64()),
    ("input_audio_tokens", pa.int64()),
    ("output_audio_tokens", pa.int64()),
    ("num_model_requests", pa.int64()),
)
_USAGE_INTS = ("input_tokens", "input_cached_tokens", "input_cache_write_tokens", "input_uncached_tokens",
               "output_tokens", "input_audio_tokens", "output_audio_tokens", "num_model_requests")
# modality breakdowns are already inside the totals above; they are known, not "extra"
USAGE_KNOWN = set(_USAGE_INTS) | set(USAGE_GROUP_BY) | {
    "object", "input_text_tokens", "output_text_tokens", "input_cached_text_tokens", "input_cached_audio_tokens",
    "input_image_tokens", "input_cached_image_tokens", "output_image_tokens"}

COST_SCHEMA = bucket_schema(
    ("project_id", pa.string()),
    ("api_key_id", pa.string()),
    ("line_item", pa.string()),
    ("currency", pa.string()),
    ("amount_usd", MONEY),
    ("quantity", pa.float64()),
    ("quantity_unit", pa.string()),
)
COST_KNOWN = {"object", "amount", "line_item", "project_id", "api_key_id", "quantity", "quantity_unit",
              "organization_id"}

def _buckets(body: dict[str, Any], where: str, issues: Issues
             ) -> Iterator[tuple[dt.datetime, dt.datetime, list[dict[str, Any]]]]:
    for i, bucket in enumerate(body["data"]):
        here = f"{where} bucket {i}"
        if not isinstance(bucket, dict) or not isinstance(bucket.get("results"), list):
            raise MalformedResponseError(f"{here}: expected an object with a 'results' list")
        start_s = int_field(bucket, "start_time", here, required=True)
        end_s = int_field(bucket, "end_time", here, required=True)
        if start_s > 10**11 and end_s > 10**11:
            # milliseconds where seconds are documented (year 50000 otherwise): unambiguous, so repaired and recorded
            start_s, end_s = start_s // 1000, end_s // 1000
            issues.normalized(dt.datetime.fromtimestamp(start_s, dt.timezone.utc).date(),
                              "bucket times in milliseconds, read as seconds",
                              {"start_time": bucket.get("start_time"), "end_time": bucket.get("end_time")})
        for j, result in enumerate(bucket["results"]):
            if not isinstance(result, dict):
                raise MalformedResponseError(f"{here} result {j}: expected an object, got {type(result).__name__}")
        issues.days_seen.add(dt.datetime.fromtimestamp(start_s, dt.timezone.utc).date())
        yield (dt.datetime.fromtimestamp(start_s, dt.timezone.utc), dt.datetime.fromtimestamp(end_s, dt.timezone.utc),
               bucket["results"])


USAGE_DIMS = ("project_id", "user_id", "api_key_id", "model", "service_tier")


def usage_rows(body: dict[str, Any], where: str, issues: Issues) -> pa.Table | list[dict[str, Any]]:
    """One row per result; negative counts and repeated groups go to quarantine instead. Read column-wise as one
    table (`results_table`), or result by result when a result needs it (the rows are the same either way)."""
    buckets = list(_buckets(body, where, issues))
    try:
        return results_table(buckets, USAGE_SCHEMA, USAGE_KNOWN, (*USAGE_DIMS, "batch"),
                             required=("input_tokens", "output_tokens"))
    except StepAside as reason:
        logger.info(f"{where}: read result by result ({reason})")
    return usage_rows_one_by_one(buckets, where, issues)


def usage_rows_one_by_one(buckets: Buckets, where: str, issues: Issues) -> list[dict[str, Any]]:
    rows = []
    for start, end, results in buckets:
        keys = RowKeys()  # a group repeats, if ever, within its bucket
        for j, r in enumerate(results):
            here = f"{where} {start.date()} result {j}"
            dims = {k: str_field(r, k, here) for k in USAGE_DIMS}
            batch = r.get("batch")
            if batch is not None and not isinstance(batch, bool):
                raise MalformedResponseError(f"{here}: 'batch' must be a boolean, got {batch!r}")
            row = {"bucket_date": start.date(), "bucket_start": start, "bucket_end": end, **dims, "batch": batch}
            for k in _USAGE_INTS:
                row[k] = int_field(r, k, here, required=k in ("input_tokens", "output_tokens"))
            row["extra_fields"] = extra_fields(r, USAGE_KNOWN)
            row["row_key"], duplicate = keys(start.date(), *dims.values(), batch)
            if accept(row, r, _USAGE_INTS, duplicate, issues):
                rows.append(row)
    return rows


def cost_rows(body: dict[str, Any], where: str, issues: Issues) -> list[dict[str, Any]]:
    """One row per cost line; lines in another currency than USD and repeated lines go to quarantine."""
    rows = []
    for start, end, results in _buckets(body, where, issues):
        keys = RowKeys()
        for j, r in enumerate(results):
            here = f"{where} {start.date()} result {j}"
            amount = r.get("amount")
            if not isinstance(amount, dict) or "value" not in amount:
                raise MalformedResponseError(f"{here}: expected 'amount' to be an object with a 'value'")
            quantity = r.get("quantity")
            dims = [str_field(r, k, here) for k in ("project_id", "api_key_id", "line_item")]
            row = {
                "bucket_date": start.date(),
                "bucket_start": start,
                "bucket_end": end,
                "project_id": dims[0],
                "api_key_id": dims[1],
                "line_item": dims[2],
                "currency": str(amount.get("currency") or "usd").upper(),
                "amount_usd": decimal_field(amount["value"], f"{here} amount.value"),
                "quantity": float(decimal_field(quantity, f"{here} quantity")) if quantity is not None else None,
                "quantity_unit": str_field(r, "quantity_unit", here),
                "extra_fields": extra_fields(r, COST_KNOWN),
            }
            row["row_key"], duplicate = keys(start.date(), *dims)
            if accept(row, r, (), duplicate, issues):
                rows.append(row)
    return rows


def openai_source(
    start_date: Optional[str] = None,
    end_date: Optional[str] = None,
    lookback_days: int = settings.DEFAULT_LOOKBACK_DAYS,
    page_size_days: int = DEFAULT_BUCKETS_PER_PAGE,
    connection: Optional[settings.ProviderConnection] = None,
    session: Optional[requests.Session] = None,
):
    """Completions usage and costs for [start_date - lookback_days, end_date). Key: `SOURCES__OPENAI__ADMIN_API_KEY`,
    base URL: `SOURCES__OPENAI__BASE_URL` (default https://api.openai.com/v1). Arguments as `anthropic_source`."""
    window = SourceWindow(start_date, end_date, lookback_days, max(1, int(page_size_days)))
    return _openai(window, connection or settings.connection("openai"), session)


@dlt.source(name="openai", max_table_nesting=0, schema_contract=SCHEMA_CONTRACT)
def _openai(window: SourceWindow, conn: settings.ProviderConnection, session: Optional[requests.Session]):
    def fetch(name: str, path: str, group_by: list[str], max_limit: int, parse, schema):
        def pages(start: dt.date, end: dt.date) -> Iterator[pa.Table]:
            client = make_rest_client(conn.base_url, auth=BearerTokenAuth(token=conn.api_key or ""),
                                      session=session or conn.session())
            params = {"start_time": unix_seconds(start), "end_time": unix_seconds(end), "bucket_width": "1d",
                      "limit": min(window.page_size_days, max_limit), "group_by": group_by}
            yield from fetch_tables(client, Endpoint("openai", path), params, parse, schema, name, (start, end),
                                    conn.enabled)

        return pages

    usage_completions = daily_bucket_resource(
        "usage_completions", window, USAGE_SCHEMA, fetch("usage_completions", USAGE_PATH, USAGE_GROUP_BY, MAX_USAGE_BUCKETS, usage_rows, USAGE_SCHEMA))
    costs = daily_bucket_resource(
        "costs", window, COST_SCHEMA, fetch("costs", COST_PATH, COST_GROUP_BY, MAX_COST_BUCKETS, cost_rows, COST_SCHEMA))
    return usage_completions, model_refs_resource("openai", usage_completions), costs
