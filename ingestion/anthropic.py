"""Anthropic Admin API: the Messages usage report and the cost report, into `raw_anthropic`.

API facts (see docs/sources.md): `x-api-key` admin key + `anthropic-version: 2023-06-01`; RFC 3339 `starting_at` /
`ending_at`; daily buckets, at most 31 per page; `page=<next_page>` while `has_more`; cost `amount` is a decimal
string in cents. Both tables are merged by bucket day (`delete-insert` on `bucket_date`): a re-fetched day
replaces the day, which is how provider restatements land without double counting.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Iterator, Optional

import dlt
import pyarrow as pa
import requests
from dlt.sources.helpers.rest_client.auth import APIKeyAuth

from ingestion import settings
from ingestion._common import (
    SCHEMA_CONTRACT,
    MONEY, Issues, RowKeys, SourceWindow, accept, bucket_schema, daily_bucket_resource, decimal_field, extra_fields,
    fetch_tables, int_field, rfc3339, str_field,
)
from ingestion.pricing import model_refs_resource
from ingestion.http import Endpoint, MalformedResponseError, make_rest_client

ANTHROPIC_VERSION = "2023-06-01"
USAGE_PATH = "/v1/organizations/usage_report/messages"
COST_PATH = "/v1/organizations/cost_report"
USAGE_GROUP_BY = ["api_key_id", "workspace_id", "model", "service_tier", "context_window"]
COST_GROUP_BY = ["workspace_id", "description"]
MAX_BUCKETS_PER_PAGE = 31
# the API's own default; a page holds every group of every bucket, so big organisations want small pages
DEFAULT_BUCKETS_PER_PAGE = 7

USAGE_SCHEMA = bucket_schema(
    ("api_key_id", pa.string()),
    ("workspace_id", pa.string()),
    ("model", pa.string()),
    ("service_tier", pa.string()),
    ("context_window", pa.string()),
    ("inference_geo", pa.string()),
    ("uncached_input_tokens", pa.int64()),
    ("cache_creation_5m_input_tokens", pa.int64()),
    ("cache_creation_1h_input_tokens", pa.int64()),
    ("cache_read_input_tokens", pa.int64()),
    ("output_tokens", pa.int64()),
    ("web_search_requests", pa.int64()),
)
USAGE_KNOWN = {"uncached_input_tokens", "cache_creation", "cache_read_input_tokens", "output_tokens", "server_tool_use",
               "api_key_id", "workspace_id", "model", "service_tier", "context_window", "inference_geo",
               "account_id", "service_account_id"}

COST_SCHEMA = bucket_schema(
    ("workspace_id", pa.string()),
    ("description", pa.string()),
    ("cost_type", pa.string()),
    ("model", pa.string()),
    ("token_type", pa.string()),
    ("service_tier", pa.string()),
    ("context_window", pa.string()),
    ("inference_geo", pa.string()),
    ("currency", pa.string()),
    ("amount_cents", MONEY),
)
COST_KNOWN = {"currency", "amount", "workspace_id", "description", "cost_type", "model", "token_type", "service_tier",
              "context_window", "inference_geo"}

def _timestamp(value: Any, where: str) -> dt.datetime:
    try:
        return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(dt.timezone.utc)
    except ValueError:
        raise MalformedResponseError(f"{where}: bucket time {value!r} is not RFC 3339") from None


def _buckets(body: dict[str, Any], where: str, issues: Issues
             ) -> Iterator[tuple[dt.datetime, dt.datetime, list[dict[str, Any]]]]:
    for i, bucket in enumerate(body["data"]):
        here = f"{where} bucket {i}"
        if not isinstance(bucket, dict) or not isinstance(bucket.get("results"), list):
            raise MalformedResponseError(f"{here}: expected an object with a 'results' list")
        start = _timestamp(bucket.get("starting_at"), here)
        end = _timestamp(bucket.get("ending_at"), here)
        issues.days_seen.add(start.date())
        for j, result in enumerate(bucket["results"]):
            if not isinstance(result, dict):
                raise MalformedResponseError(f"{here} result {j}: expected an object, got {type(result).__name__}")
        yield start, end, bucket["results"]


USAGE_COUNTS = ("uncached_input_tokens", "cache_creation_5m_input_tokens", "cache_creation_1h_input_tokens",
                "cache_read_input_tokens", "output_tokens", "web_search_requests")


def usage_rows(body: dict[str, Any], where: str, issues: Issues) -> list[dict[str, Any]]:
    """One row per result; negative counts and repeated groups go to quarantine instead."""
    rows = []
    for start, end, results in _buckets(body, where, issues):
        keys = RowKeys()  # a group repeats, if ever, within its bucket
        for j, r in enumerate(results):
            here = f"{where} {start.date()} result {j}"
            cache = r.get("cache_creation") or {}
            tools = r.get("server_tool_use") or {}
            if not isinstance(cache, dict) or not isinstance(tools, dict):
                raise MalformedResponseError(f"{here}: cache_creation/server_tool_use must be objects")
            dims = [str_field(r, k, here) for k in ("api_key_id", "workspace_id", "model", "service_tier",
                                                      "context_window", "inference_geo")]
            row = {
                "bucket_date": start.date(),
                "bucket_start": start,
                "bucket_end": end,
                "api_key_id": dims[0],
                "workspace_id": dims[1],
                "model": dims[2],
                "service_tier": dims[3],
                "context_window": dims[4],
                "inference_geo": dims[5],
                "uncached_input_tokens": int_field(r, "uncached_input_tokens", here, required=True),
                "cache_creation_5m_input_tokens": int_field(cache, "ephemeral_5m_input_tokens", here) or 0,
                "cache_creation_1h_input_tokens": int_field(cache, "ephemeral_1h_input_tokens", here) or 0,
                "cache_read_input_tokens": int_field(r, "cache_read_input_tokens", here) or 0,
                "output_tokens": int_field(r, "output_tokens", here, required=True),
                "web_search_requests": int_field(tools, "web_search_requests", here) or 0,
                "extra_fields": extra_fields(r, USAGE_KNOWN),
            }
            row["row_key"], duplicate = keys(start.date(), *dims)
            if accept(row, r, USAGE_COUNTS, duplicate, issues):
                rows.append(row)
    return rows


def cost_rows(body: dict[str, Any], where: str, issues: Issues) -> list[dict[str, Any]]:
    """One row per cost line; lines in another currency than USD and repeated lines go to quarantine."""
    rows = []
    for start, end, results in _buckets(body, where, issues):
        keys = RowKeys()
        for j, r in enumerate(results):
            here = f"{where} {start.date()} result {j}"
            dims = [str_field(r, k, here) for k in ("workspace_id", "description", "cost_type", "model", "token_type",
                                                      "service_tier", "context_window", "inference_geo")]
            amount = decimal_field(r.get("amount"), f"{here} amount")
            if amount is None:
                raise MalformedResponseError(f"{here}: 'amount' is missing")
            row = {
                "bucket_date": start.date(),
                "bucket_start": start,
                "bucket_end": end,
                "workspace_id": dims[0],
                "description": dims[1],
                "cost_type": dims[2],
                "model": dims[3],
                "token_type": dims[4],
                "service_tier": dims[5],
                "context_window": dims[6],
                "inference_geo": dims[7],
                "currency": (str_field(r, "currency", here) or "USD").upper(),
                "amount_cents": amount,
                "extra_fields": extra_fields(r, COST_KNOWN),
            }
            row["row_key"], duplicate = keys(start.date(), *dims)
            if accept(row, r, (), duplicate, issues):
                rows.append(row)
    return rows


def anthropic_source(
    start_date: Optional[str] = None,
    end_date: Optional[str] = None,
    lookback_days: int = settings.DEFAULT_LOOKBACK_DAYS,
    page_size_days: int = DEFAULT_BUCKETS_PER_PAGE,
    connection: Optional[settings.ProviderConnection] = None,
    session: Optional[requests.Session] = None,
):
    """Usage and cost for [start_date - lookback_days, end_date); without an end date, incremental from the last
    loaded day (see `date_cursor`).

    `connection` defaults to the configured one (`SOURCES__ANTHROPIC__ADMIN_API_KEY`, `SOURCES__ANTHROPIC__BASE_URL`,
    or the demo); `session` lets tests put a transport of their own under the real client. A plain function on
    purpose: every argument reaches the dlt source explicitly, never through dlt's config injection.
    """
    window = SourceWindow(start_date, end_date, lookback_days, max(1, min(int(page_size_days), MAX_BUCKETS_PER_PAGE)))
    return _anthropic(window, connection or settings.connection("anthropic"), session)


@dlt.source(name="anthropic", max_table_nesting=0, schema_contract=SCHEMA_CONTRACT)
def _anthropic(window: SourceWindow, conn: settings.ProviderConnection, session: Optional[requests.Session]):
    def fetch(name: str, path: str, group_by: list[str], parse, schema):
        def pages(start: dt.date, end: dt.date) -> Iterator[pa.Table]:
            client = make_rest_client(
                conn.base_url,
                auth=APIKeyAuth(name="x-api-key", api_key=conn.api_key or "", location="header"),
                headers={"anthropic-version": ANTHROPIC_VERSION},
                session=session or conn.session(),
            )
            params = {"starting_at": rfc3339(start), "ending_at": rfc3339(end), "bucket_width": "1d",
                      "limit": window.page_size_days, "group_by[]": group_by}
            yield from fetch_tables(client, Endpoint("anthropic", path), params, parse, schema, name, (start, end),
                                    conn.enabled)

        return pages

    usage_messages = daily_bucket_resource(
        "usage_messages", window, USAGE_SCHEMA, fetch("usage_messages", USAGE_PATH, USAGE_GROUP_BY, usage_rows, USAGE_SCHEMA))
    cost_report = daily_bucket_resource(
        "cost_report", window, COST_SCHEMA, fetch("cost_report", COST_PATH, COST_GROUP_BY, cost_rows, COST_SCHEMA))
    return usage_messages, model_refs_resource("anthropic", usage_messages), cost_report
