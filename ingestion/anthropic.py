"""Anthropic Admin API: the Messages usage report, the cost report and the Claude Code Analytics report, into
`raw_anthropic`.

API facts (see docs/sources.md): `x-api-key` admin key + `anthropic-version: 2023-06-01`; RFC 3339 `starting_at` /
`ending_at`; daily buckets, at most 31 per page; `page=<next_page>` while `has_more`; cost `amount` is a decimal
string in cents. Both tables are merged by bucket day (`delete-insert` on `bucket_date`): a re-fetched day
replaces the day, which is how provider restatements land without double counting.

Claude Code Analytics (`GET /v1/organizations/usage_report/claude_code`, resource `claude_code_usage`): one call
per UTC day (`starting_at=YYYY-MM-DD`, the API has no range), `limit` records a page (at most 1,000, the default
here: the fewest calls), `page=<next_page>` while `has_more`. A record is one day x actor x terminal: the actor's
activity (`core_metrics`, `tool_actions`) and, per model, tokens and an estimated cost in **cents** (a JSON
number, not a string as in the cost report). It lands as two tables, both merged by day like the reports above:

* `claude_code_activity`: one row per day x actor x terminal (and organisation / customer type / subscription type,
  which a record carries once): sessions, lines added and removed, commits and pull requests by Claude Code, tool
  actions accepted and rejected (totals, and the whole `tool_actions` map as JSON). These are per actor-day facts:
  they live here, not on the per-model rows, so that summing a column never counts them once per model.
* `claude_code_usage`: one row per day x actor x terminal x model: input, output, cache-read and cache-creation
  tokens and `estimated_cost_usd` (the API's cents divided by 100, exactly, as a decimal). `activity_key` is the
  `row_key` of the record's activity row. A record without `model_breakdown` gives an activity row only.

Actors: `actor_type` is the API's `user_actor` (`actor_email`, lower-cased) or `api_actor` (`api_key_name`). The
record's `date` comes as `YYYY-MM-DD` or as a midnight-UTC RFC 3339 timestamp; both are read, and a record for
another day than the one asked for fails the run (it would be merged into the wrong day). Refused into
`claude_code_usage_quarantine` with a reason (column `resource` says which table the row was for): a record with a
missing or unknown actor (the whole record), the same actor and terminal twice in one day (the repeat, whole),
negative activity counts (the activity row), negative tokens or cost, a currency other than USD, the same model
twice in one record (that usage row). Fields we do not model yet are kept as JSON in `extra_fields` (nested ones
under dotted names, e.g. `core_metrics.new_metric`). Structural damage (a record that is not an object, a missing
or unreadable `date`, `core_metrics`, token count or cost, a number that is not an integer) fails the run with a
message naming the endpoint, the day and the page.

Freshness: the API includes only data older than an hour, so a day is complete from 01:00 UTC the next day. The
window never asks for a day after today; today's (and, before 01:00, yesterday's) partial numbers are replaced by
the next run, whose lookback re-fetches them.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from decimal import Decimal
from typing import Any, Iterator, Mapping, Optional

import dlt
import pyarrow as pa
import requests
from dlt.common import logger
from dlt.sources.helpers.rest_client.auth import APIKeyAuth

from ingestion import settings
from ingestion._common import (
    SCHEMA_CONTRACT, QUARANTINE_SCHEMA, UTC,
    MONEY, Buckets, Issues, RowKeys, SourceWindow, StepAside, accept, bucket_schema, daily_bucket_resource,
    decimal_field, extra_fields, fetch_tables, int_field, parse_timestamp, results_table, rfc3339, str_field, to_table,
    today_utc,
)
from ingestion.pricing import model_refs_resource
from ingestion.http import (
    Endpoint, MalformedResponseError, ProviderAPIError, ProviderHTTPError, iter_pages, make_rest_client,
)

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

CLAUDE_CODE_PATH = "/v1/organizations/usage_report/claude_code"
CLAUDE_CODE_MAX_PAGE = 1000  # records per page; the API's own default is 20
CLAUDE_CODE_ACTIVITY = "claude_code_activity"  # the resource's second table
CLAUDE_CODE_QUARANTINE = "claude_code_usage_quarantine"
# what identifies an actor of each type
CLAUDE_CODE_ACTORS = {"user_actor": "email_address", "api_actor": "api_key_name"}
CLAUDE_CODE_DIMS = ("organization_id", "actor_type", "actor_email", "api_key_name", "customer_type",
                    "subscription_type", "terminal_type")
CLAUDE_CODE_ACTIVITY_SCHEMA = bucket_schema(
    *((d, pa.string()) for d in CLAUDE_CODE_DIMS),
    ("num_sessions", pa.int64()),
    ("lines_of_code_added", pa.int64()),
    ("lines_of_code_removed", pa.int64()),
    ("commits_by_claude_code", pa.int64()),
    ("pull_requests_by_claude_code", pa.int64()),
    ("tool_actions_accepted", pa.int64()),  # summed over every tool of the record
    ("tool_actions_rejected", pa.int64()),
    ("tool_actions", pa.string()),  # the API's map tool -> {accepted, rejected}, as JSON
)
CLAUDE_CODE_ACTIVITY_COUNTS = ("num_sessions", "lines_of_code_added", "lines_of_code_removed",
                               "commits_by_claude_code", "pull_requests_by_claude_code")
CLAUDE_CODE_USAGE_SCHEMA = bucket_schema(
    *((d, pa.string()) for d in CLAUDE_CODE_DIMS),
    ("model", pa.string()),
    ("input_tokens", pa.int64()),
    ("output_tokens", pa.int64()),
    ("cache_read_tokens", pa.int64()),
    ("cache_creation_tokens", pa.int64()),
    ("currency", pa.string()),
    ("estimated_cost_usd", MONEY),
    ("activity_key", pa.string()),  # row_key of the record's claude_code_activity row
)
CLAUDE_CODE_TOKENS = ("input_tokens", "output_tokens", "cache_read_tokens", "cache_creation_tokens")
CLAUDE_CODE_RECORD_KNOWN = {"date", "actor", "organization_id", "customer_type", "subscription_type",
                            "terminal_type", "core_metrics", "tool_actions", "model_breakdown"}
USD_PLACES = Decimal("1e-12")  # MONEY's scale

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


USAGE_DIMS = ("api_key_id", "workspace_id", "model", "service_tier", "context_window", "inference_geo")
USAGE_PATHS = {"cache_creation_5m_input_tokens": ("cache_creation", "ephemeral_5m_input_tokens"),
               "cache_creation_1h_input_tokens": ("cache_creation", "ephemeral_1h_input_tokens"),
               "web_search_requests": ("server_tool_use", "web_search_requests")}
USAGE_REQUIRED = ("uncached_input_tokens", "output_tokens")


def usage_rows(body: dict[str, Any], where: str, issues: Issues) -> pa.Table | list[dict[str, Any]]:
    """One row per result; negative counts and repeated groups go to quarantine instead. Read column-wise as one
    table (`results_table`), or result by result when a result needs it (the rows are the same either way)."""
    buckets = list(_buckets(body, where, issues))
    try:
        return usage_table(buckets)
    except StepAside as reason:
        logger.info(f"{where}: read result by result ({reason})")
    return usage_rows_one_by_one(buckets, where, issues)


def usage_table(buckets: Buckets) -> pa.Table:
    return results_table(buckets, USAGE_SCHEMA, USAGE_KNOWN, USAGE_DIMS, paths=USAGE_PATHS, required=USAGE_REQUIRED,
                         zero_when_missing=tuple(c for c in USAGE_COUNTS if c not in USAGE_REQUIRED))


def usage_rows_one_by_one(buckets: Buckets, where: str, issues: Issues) -> list[dict[str, Any]]:
    rows = []
    for start, end, results in buckets:
        keys = RowKeys()  # a group repeats, if ever, within its bucket
        for j, r in enumerate(results):
            here = f"{where} {start.date()} result {j}"
            cache = r.get("cache_creation") or {}
            tools = r.get("server_tool_use") or {}
            if not isinstance(cache, dict) or not isinstance(tools, dict):
                raise MalformedResponseError(f"{here}: cache_creation/server_tool_use must be objects")
            dims = [str_field(r, k, here) for k in USAGE_DIMS]
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


# ------------------------------------------------------------------------------------- Claude Code Analytics

def _record_day(value: Any, where: str) -> dt.date:
    """`date` as `YYYY-MM-DD` (the documented format) or a midnight-UTC RFC 3339 timestamp (the documented example)."""
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value.strip()):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            raise MalformedResponseError(f"{where}: date {value!r} is not a calendar day") from None
    if not isinstance(value, str) or not value.strip():
        raise MalformedResponseError(f"{where}: 'date' is missing or not a string ({value!r})")
    moment = parse_timestamp(value, f"{where} date")
    if moment.timetz().replace(tzinfo=None) != dt.time(0):
        raise MalformedResponseError(f"{where}: date {value!r} is not a UTC day (not midnight UTC)")
    return moment.date()


def _extras(*parts: tuple[str, Mapping[str, Any], set[str]]) -> Optional[str]:
    """Fields we do not model, from the record and its nested objects (dotted names: `core_metrics.new_metric`)."""
    extra = {prefix + k: v for prefix, obj, known in parts for k, v in obj.items() if k not in known}
    return json.dumps(extra, sort_keys=True, default=str) if extra else None


def _object(parent: Mapping[str, Any], key: str, where: str, default: Any = None) -> Any:
    value = parent.get(key)
    if value is None and default is not None:
        return default
    expected = list if isinstance(default, list) else dict
    if not isinstance(value, expected):
        shape = "a list" if expected is list else "an object"
        problem = "is missing" if value is None else f"must be {shape}, got {type(value).__name__}"
        raise MalformedResponseError(f"{where}: '{key}' {problem}")
    return value


def _actor(record: Mapping[str, Any]) -> tuple[Optional[tuple[str, Optional[str], Optional[str]]], Optional[str], dict]:
    """((actor_type, email, api key name), None, actor) or (None, why it cannot be attributed, {})."""
    actor = record.get("actor")
    if actor is None:
        return None, "the record has no actor", {}
    if not isinstance(actor, dict):
        return None, f"actor is not an object ({type(actor).__name__})", {}
    kind = actor.get("type")
    if kind not in CLAUDE_CODE_ACTORS:
        return None, f"unknown actor type {kind!r}", {}
    field = CLAUDE_CODE_ACTORS[kind]
    ident = actor.get(field)
    if not isinstance(ident, str) or not ident.strip():
        return None, f"{kind} without {field}", {}
    if kind == "user_actor":
        return (kind, ident.strip().lower(), None), None, actor
    return (kind, None, ident.strip()), None, actor


def claude_code_rows(body: dict[str, Any], where: str, day: dt.date, keys: tuple[RowKeys, RowKeys],
                     activity_issues: Issues, usage_issues: Issues) -> tuple[list[dict], list[dict]]:
    """One page of one day's Claude Code report -> (activity rows, usage rows); refusals go to the issues.

    `keys` (activity, usage) live for the whole day: a repeat on a later page of the same day is still a repeat."""
    activity_keys, usage_keys = keys
    start = dt.datetime(day.year, day.month, day.day, tzinfo=UTC)
    bucket = {"bucket_date": day, "bucket_start": start, "bucket_end": start + dt.timedelta(days=1)}
    activity_rows: list[dict] = []
    usage_rows: list[dict] = []
    for i, r in enumerate(body["data"]):
        here = f"{where} record {i}"
        if not isinstance(r, dict):
            raise MalformedResponseError(f"{here}: expected an object, got {type(r).__name__}")
        if "date" not in r:
            raise MalformedResponseError(f"{here}: 'date' is missing")
        record_day = _record_day(r["date"], here)
        if record_day != day:
            raise MalformedResponseError(f"{here}: date {r['date']!r} is not the day asked for ({day}); it would "
                                         "be merged into the wrong day")
        # the shape first: structural damage fails the run whatever else is wrong with the record
        core = _object(r, "core_metrics", here)
        lines = _object(core, "lines_of_code", f"{here} core_metrics")
        tools = _object(r, "tool_actions", here, default={})
        breakdown = _object(r, "model_breakdown", here, default=[])
        dims = {k: str_field(r, k, here) for k in ("organization_id", "customer_type", "subscription_type",
                                                    "terminal_type")}
        counts = {
            "num_sessions": int_field(core, "num_sessions", f"{here} core_metrics", required=True),
            "lines_of_code_added": int_field(lines, "added", f"{here} core_metrics.lines_of_code", required=True),
            "lines_of_code_removed": int_field(lines, "removed", f"{here} core_metrics.lines_of_code", required=True),
            "commits_by_claude_code": int_field(core, "commits_by_claude_code", f"{here} core_metrics", required=True),
            "pull_requests_by_claude_code": int_field(core, "pull_requests_by_claude_code", f"{here} core_metrics",
                                                      required=True),
        }
        tool_counts: dict[str, int] = {}
        for tool, actions in sorted(tools.items()):
            if not isinstance(actions, dict):
                raise MalformedResponseError(f"{here}: tool_actions.{tool} must be an object")
            for action in ("accepted", "rejected"):
                tool_counts[f"tool_actions.{tool}.{action}"] = int_field(actions, action, f"{here} tool_actions.{tool}",
                                                                          required=True)
        models = [_model_entry(m, f"{here} model_breakdown[{j}]") for j, m in enumerate(breakdown)]

        identity, problem, actor = _actor(r)
        if identity is None:  # nobody to attribute it to: the whole record waits in quarantine
            activity_issues.quarantine(day, f"{problem} (whole record, activity and model usage, not loaded)", r)
            continue
        dim_values = {"organization_id": dims["organization_id"], "actor_type": identity[0],
                      "actor_email": identity[1], "api_key_name": identity[2],
                      "customer_type": dims["customer_type"], "subscription_type": dims["subscription_type"],
                      "terminal_type": dims["terminal_type"]}
        activity_key, duplicate = activity_keys(day, *(dim_values[d] for d in CLAUDE_CODE_DIMS))
        if duplicate:  # loading it would count the actor's day twice
            activity_issues.quarantine(
                day, "the same actor and terminal appear twice in one day (whole record not loaded)", r)
            continue
        activity = {
            **bucket, **dim_values, **counts,
            "tool_actions_accepted": sum(v for k, v in tool_counts.items() if k.endswith(".accepted")),
            "tool_actions_rejected": sum(v for k, v in tool_counts.items() if k.endswith(".rejected")),
            "tool_actions": json.dumps(tools, sort_keys=True),
            "extra_fields": _extras(("", r, CLAUDE_CODE_RECORD_KNOWN),
                                    ("actor.", actor, {"type", "email_address", "api_key_name"}),
                                    ("core_metrics.", core, {"num_sessions", "lines_of_code", "commits_by_claude_code",
                                                             "pull_requests_by_claude_code"}),
                                    ("core_metrics.lines_of_code.", lines, {"added", "removed"})),
            "row_key": activity_key,
        }
        # a tool's negative count must not hide in a total: every tool's counts are checked
        if accept({**activity, **tool_counts}, r, CLAUDE_CODE_ACTIVITY_COUNTS + tuple(tool_counts), False,
                  activity_issues):
            activity_rows.append(activity)

        for j, (entry, parsed) in enumerate(zip(breakdown, models)):
            # the record as the API sent it, narrowed to this model: what a person needs to act on the refusal
            narrowed = {**r, "model_breakdown": [entry]}
            row = {**bucket, **dim_values, **parsed["row"], "activity_key": activity_key}
            row["row_key"], repeated = usage_keys(day, *(dim_values[d] for d in CLAUDE_CODE_DIMS), row["model"])
            if parsed["rounded"]:
                usage_issues.normalized(day, "estimated_cost.amount finer than 1e-10 cents: rounded to 1e-12 USD",
                                        narrowed)
            if not accept(row, narrowed, CLAUDE_CODE_TOKENS, repeated, usage_issues):
                continue
            if row["estimated_cost_usd"] < 0:  # an estimate of usage cannot be negative (credits are billing's)
                usage_issues.quarantine(day, "negative estimated_cost.amount", narrowed)
                continue
            usage_rows.append(row)
    return activity_rows, usage_rows


def _model_entry(entry: Any, where: str) -> dict[str, Any]:
    if not isinstance(entry, dict):
        raise MalformedResponseError(f"{where}: expected an object, got {type(entry).__name__}")
    model = str_field(entry, "model", where)
    if not model:
        raise MalformedResponseError(f"{where}: 'model' is missing")
    tokens = _object(entry, "tokens", where)
    cost = _object(entry, "estimated_cost", where)
    cents = decimal_field(cost.get("amount"), f"{where} estimated_cost.amount")
    if cents is None or not cents.is_finite():
        raise MalformedResponseError(f"{where}: 'estimated_cost.amount' is missing or not a number "
                                     f"({cost.get('amount')!r})")
    usd = cents / 100  # exact: a decimal shift
    rounded = usd.quantize(USD_PLACES)
    row = {
        "model": model,
        "input_tokens": int_field(tokens, "input", f"{where} tokens", required=True),
        "output_tokens": int_field(tokens, "output", f"{where} tokens", required=True),
        "cache_read_tokens": int_field(tokens, "cache_read", f"{where} tokens") or 0,
        "cache_creation_tokens": int_field(tokens, "cache_creation", f"{where} tokens") or 0,
        # minor units of the currency; only USD is loaded (others are quarantined by `accept`)
        "currency": (str_field(cost, "currency", where) or "USD").upper(),
        "estimated_cost_usd": rounded,
        "extra_fields": _extras(("", entry, {"model", "tokens", "estimated_cost"}),
                                ("tokens.", tokens, {"input", "output", "cache_read", "cache_creation"}),
                                ("estimated_cost.", cost, {"currency", "amount"})),
    }
    return {"row": row, "rounded": rounded != usd}


def claude_code_days(start: dt.date, end: dt.date) -> list[dt.date]:
    """The days [start, end) to ask for, one call each; never a day after today (today's answer is partial)."""
    last = min(end, today_utc() + dt.timedelta(days=1))
    return [start + dt.timedelta(days=i) for i in range((last - start).days)]


def _naming_the_day(exc: ProviderAPIError, day: dt.date) -> ProviderAPIError:
    """The client's error, with the day asked for in the endpoint's place (`...claude_code?starting_at=<day>`)."""
    text = str(exc)
    message = (text.replace(CLAUDE_CODE_PATH, f"{CLAUDE_CODE_PATH}?starting_at={day}", 1) if CLAUDE_CODE_PATH in text
               else f"{text} (starting_at={day})")
    if isinstance(exc, ProviderHTTPError):
        return ProviderHTTPError(message, exc.response)
    return type(exc)(message)


def fetch_claude_code(client: Any, start: dt.date, end: dt.date, limit: int, enabled: bool = True
                      ) -> Iterator[pa.Table]:
    """Every day of [start, end) from the Claude Code Analytics report, one call (and its pages) a day: usage rows
    as the resource's own tables, activity rows as `claude_code_activity` tables and each day's refusals as
    `claude_code_usage_quarantine`. The activity table is yielded (empty) even when nothing was fetched."""
    seen_activity = False
    if not enabled:
        logger.warning(f"anthropic: no admin key configured, skipping {CLAUDE_CODE_PATH}")
    endpoint = Endpoint("anthropic", CLAUDE_CODE_PATH)
    for day in claude_code_days(start, end) if enabled else ():
        keys = (RowKeys(), RowKeys())
        activity_issues, usage_issues = Issues(CLAUDE_CODE_ACTIVITY), Issues("claude_code_usage")
        usage_issues.rows = activity_issues.rows  # one list, one sequence: row keys stay unique over the day
        pages = iter_pages(client, endpoint, {"starting_at": day.isoformat(), "limit": limit})
        while True:
            try:
                page_number, body = next(pages)
            except StopIteration:
                break
            except ProviderAPIError as exc:
                raise _naming_the_day(exc, day) from None
            where = f"anthropic {CLAUDE_CODE_PATH}?starting_at={day} (page {page_number})"
            activity, usage = claude_code_rows(body, where, day, keys, activity_issues, usage_issues)
            if usage:
                yield to_table(usage, CLAUDE_CODE_USAGE_SCHEMA)
            if activity:
                seen_activity = True
                yield dlt.mark.with_table_name(to_table(activity, CLAUDE_CODE_ACTIVITY_SCHEMA), CLAUDE_CODE_ACTIVITY)
        if activity_issues.rows:
            yield dlt.mark.with_table_name(to_table(activity_issues.rows, QUARANTINE_SCHEMA), CLAUDE_CODE_QUARANTINE)
    if not seen_activity:
        yield dlt.mark.with_table_name(CLAUDE_CODE_ACTIVITY_SCHEMA.empty_table(), CLAUDE_CODE_ACTIVITY)


def anthropic_source(
    start_date: Optional[str] = None,
    end_date: Optional[str] = None,
    lookback_days: int = settings.DEFAULT_LOOKBACK_DAYS,
    page_size_days: int = DEFAULT_BUCKETS_PER_PAGE,
    connection: Optional[settings.ProviderConnection] = None,
    session: Optional[requests.Session] = None,
    claude_code_page_size: int = CLAUDE_CODE_MAX_PAGE,
):
    """Usage, cost and Claude Code analytics for [start_date - lookback_days, end_date); without an end date,
    incremental from the last loaded day (see `date_cursor`).

    `connection` defaults to the configured one (`SOURCES__ANTHROPIC__ADMIN_API_KEY`, `SOURCES__ANTHROPIC__BASE_URL`,
    or the demo); `session` lets tests put a transport of their own under the real client; `claude_code_page_size`
    is the Claude Code report's `limit` (records a page, 1..1000). A plain function on purpose: every argument
    reaches the dlt source explicitly, never through dlt's config injection.
    """
    window = SourceWindow(start_date, end_date, lookback_days, max(1, min(int(page_size_days), MAX_BUCKETS_PER_PAGE)))
    claude_code_limit = max(1, min(int(claude_code_page_size), CLAUDE_CODE_MAX_PAGE))
    return _anthropic(window, connection or settings.connection("anthropic"), session, claude_code_limit)


@dlt.source(name="anthropic", max_table_nesting=0, schema_contract=SCHEMA_CONTRACT)
def _anthropic(window: SourceWindow, conn: settings.ProviderConnection, session: Optional[requests.Session],
               claude_code_limit: int = CLAUDE_CODE_MAX_PAGE):
    def client():
        return make_rest_client(
            conn.base_url,
            auth=APIKeyAuth(name="x-api-key", api_key=conn.api_key or "", location="header"),
            headers={"anthropic-version": ANTHROPIC_VERSION},
            session=session or conn.session(),
        )

    def fetch(name: str, path: str, group_by: list[str], parse, schema):
        def pages(start: dt.date, end: dt.date) -> Iterator[pa.Table]:
            params = {"starting_at": rfc3339(start), "ending_at": rfc3339(end), "bucket_width": "1d",
                      "limit": window.page_size_days, "group_by[]": group_by}
            yield from fetch_tables(client(), Endpoint("anthropic", path), params, parse, schema, name, (start, end),
                                    conn.enabled)

        return pages

    def claude_code(start: dt.date, end: dt.date) -> Iterator[pa.Table]:
        yield from fetch_claude_code(client(), start, end, claude_code_limit, conn.enabled)

    usage_messages = daily_bucket_resource(
        "usage_messages", window, USAGE_SCHEMA, fetch("usage_messages", USAGE_PATH, USAGE_GROUP_BY, usage_rows, USAGE_SCHEMA))
    cost_report = daily_bucket_resource(
        "cost_report", window, COST_SCHEMA, fetch("cost_report", COST_PATH, COST_GROUP_BY, cost_rows, COST_SCHEMA))
    claude_code_usage = daily_bucket_resource("claude_code_usage", window, CLAUDE_CODE_USAGE_SCHEMA, claude_code)
    return usage_messages, model_refs_resource("anthropic", usage_messages), cost_report, claude_code_usage
