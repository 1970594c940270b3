"""Cursor Admin API: team members, daily usage, per-request usage events and the cycle's spend, into `raw_cursor`.

API facts (docs/sources.md): HTTP Basic auth with the admin key as username and an empty password; base URL
`https://api.cursor.com`. The usage endpoints are `POST` with a JSON body whose `startDate` / `endDate` are epoch
**milliseconds**, at most 30 days a request, so longer windows are asked for in 30-day chunks. Usage events are paged
with a 1-indexed `page` and `pageSize` while `pagination.hasNextPage`, list newest first, carry `timestamp` as an
epoch-millisecond **string**, `tokenUsage` only on token-based calls and `totalCents` as float cents. Spend is the
current billing cycle, paged until `totalPages`. Rate limits are per team and endpoint (20 requests a minute for the
usage endpoints): the source spaces its own requests to stay under them, and a 429 with `Retry-After` is waited out
by the shared retrying session.

`daily_usage` and `usage_events` are merged by day (`delete-insert` on `bucket_date`) like every provider usage
table: a re-fetched day replaces itself, so re-running a window never double counts. Events are the bulk of the
requests (500 a page, 20 pages a minute), so a day's events are not paged through again when the warehouse holds
them beside the very daily usage report the API gives for that day now (`daily_usage_md5`, an md5 of every
member's counts that day): the restatement lookback re-reads only the days whose report changed.
`team_members` is replaced on every run; `spend` is a snapshot per run day (`snapshot_date`), a re-run on the same
day replaces that day's.
"""

from __future__ import annotations

import collections
import datetime as dt
import hashlib
import json
import re
import time
from decimal import Decimal
from functools import lru_cache
from typing import Any, Callable, Iterable, Iterator, Mapping, Optional

import dlt
import pyarrow as pa
import requests
from dlt.common import logger
from dlt.sources.helpers.rest_client.auth import HttpBasicAuth
from dlt.sources.helpers.rest_client.paginators import BasePaginator

from ingestion import _common, settings
from ingestion._common import (
    MERGE_BY_DAY, MONEY, QUARANTINE_SCHEMA, SCHEMA_CONTRACT, TIMESTAMP,
    Issues, RowKeys, SourceWindow, accept, bucket_schema, daily_bucket_resource, days_between, decimal_field, int_field,
    loaded_day_md5s, str_field, to_table,
)
from ingestion.http import (
    Endpoint, MalformedResponseError, PaginationLoopError, _shape, data_envelope, get_json, iter_pages,
    json_object, make_rest_client,
)
from ingestion.pricing import MODEL_REFS_SCHEMA

PROVIDER = "cursor"
MEMBERS_PATH = "/teams/members"
DAILY_USAGE_PATH = "/teams/daily-usage-data"
EVENTS_PATH = "/teams/filtered-usage-events"
SPEND_PATH = "/teams/spend"
MAX_RANGE_DAYS = 30  # "Date range cannot exceed 30 days" (an older docs snapshot said 90)
DEFAULT_EVENTS_PAGE_SIZE = 500  # documented default is 10; the documented maximum is not known (the demo allows 500)
DEFAULT_SPEND_PAGE_SIZE = 100
REQUESTS_PER_MINUTE = 20  # the documented limit of the usage endpoints, per team and endpoint
MAX_PAGES = 100_000  # a listing longer than this is a paging loop, not data
DAY_MS = 86_400_000
SECONDS_BELOW = 10**11  # an epoch below this is seconds (10**11 ms is 1973)
MICROSECONDS_FROM = 10**14  # an epoch from this up is microseconds (10**14 ms is the year 5138)
CENT_PLACES = Decimal("1e-12")  # MONEY's scale

DAILY_USAGE_COUNTS = (
    "total_lines_added", "total_lines_deleted", "accepted_lines_added", "accepted_lines_deleted", "total_applies",
    "total_accepts", "total_rejects", "total_tabs_shown", "total_tabs_accepted", "composer_requests", "chat_requests",
    "agent_requests", "cmdk_usages", "subscription_included_reqs", "api_key_reqs", "usage_based_reqs", "bugbot_usages",
)
_DAILY_USAGE_API = {  # our column -> the API's field
    "total_lines_added": "totalLinesAdded", "total_lines_deleted": "totalLinesDeleted",
    "accepted_lines_added": "acceptedLinesAdded", "accepted_lines_deleted": "acceptedLinesDeleted",
    "total_applies": "totalApplies", "total_accepts": "totalAccepts", "total_rejects": "totalRejects",
    "total_tabs_shown": "totalTabsShown", "total_tabs_accepted": "totalTabsAccepted",
    "composer_requests": "composerRequests", "chat_requests": "chatRequests", "agent_requests": "agentRequests",
    "cmdk_usages": "cmdkUsages", "subscription_included_reqs": "subscriptionIncludedReqs",
    "api_key_reqs": "apiKeyReqs", "usage_based_reqs": "usageBasedReqs", "bugbot_usages": "bugbotUsages",
}
_DAILY_USAGE_TEXT = {"most_used_model": "mostUsedModel", "apply_most_used_extension": "applyMostUsedExtension",
                     "tab_most_used_extension": "tabMostUsedExtension", "client_version": "clientVersion"}
DAILY_USAGE_SCHEMA = bucket_schema(
    ("email", pa.string()),
    ("is_active", pa.bool_()),
    *[(name, pa.int64()) for name in DAILY_USAGE_COUNTS],
    *[(name, pa.string()) for name in _DAILY_USAGE_TEXT],
)
DAILY_USAGE_KNOWN = {"date", "email", "isActive", *_DAILY_USAGE_API.values(), *_DAILY_USAGE_TEXT.values()}

EVENT_SCHEMA = pa.schema([
    pa.field("bucket_date", pa.date32(), nullable=False),  # the event's UTC day
    ("event_at", TIMESTAMP),
    ("user_email", pa.string()),
    ("model", pa.string()),
    ("kind", pa.string()),
    ("max_mode", pa.bool_()),
    ("is_token_based_call", pa.bool_()),
    ("is_chargeable", pa.bool_()),
    ("is_headless", pa.bool_()),
    ("is_free_bugbot", pa.bool_()),
    ("requests_costs", pa.float64()),  # request units, not money
    ("input_tokens", pa.int64()),  # uncached input; null on calls that are not token based
    ("output_tokens", pa.int64()),
    ("cache_write_tokens", pa.int64()),
    ("cache_read_tokens", pa.int64()),
    ("total_cents", MONEY),  # tokenUsage.totalCents: the calls' token cost in cents
    ("charged_cents", MONEY),  # newer, unverified fields: null where the API does not send them
    ("cursor_token_fee_cents", MONEY),
    ("discount_percent_off", pa.float64()),
    ("conversation_id", pa.string()),
    ("service_account_id", pa.string()),
    ("service_account_name", pa.string()),
    ("cloud_agent_id", pa.string()),
    ("automation_id", pa.string()),
    ("extra_fields", pa.string()),
    pa.field("row_key", pa.string(), nullable=False),
])
EVENT_COUNTS = ("input_tokens", "output_tokens", "cache_write_tokens", "cache_read_tokens", "requests_costs")
EVENT_MONEY = ("total_cents", "charged_cents", "cursor_token_fee_cents")
_EVENT_TEXT = {"user_email": "userEmail", "model": "model", "kind": "kind", "conversation_id": "conversationId",
               "service_account_id": "serviceAccountId", "service_account_name": "serviceAccountName",
               "cloud_agent_id": "cloudAgentId", "automation_id": "automationId"}
_EVENT_BOOLS = {"max_mode": "maxMode", "is_token_based_call": "isTokenBasedCall", "is_chargeable": "isChargeable",
                "is_headless": "isHeadless", "is_free_bugbot": "isFreeBugbot"}
_EVENT_TOKENS = {"input_tokens": "inputTokens", "output_tokens": "outputTokens",
                 "cache_write_tokens": "cacheWriteTokens", "cache_read_tokens": "cacheReadTokens"}
EVENT_KNOWN = {"timestamp", "tokenUsage", "requestsCosts", "chargedCents", "cursorTokenFee",
               *_EVENT_TEXT.values(), *_EVENT_BOOLS.values()}
TOKEN_USAGE_KNOWN = {*_EVENT_TOKENS.values(), "totalCents", "discountPercentOff"}
_EVENT_KEY_FIELDS = ("user_email", "model", "kind", "max_mode", "is_token_based_call", *_EVENT_TOKENS,
                     "total_cents", "requests_costs", "conversation_id")

MEMBER_SCHEMA = pa.schema([
    ("member_id", pa.int64()),
    pa.field("email", pa.string(), nullable=False),
    ("name", pa.string()),
    ("role", pa.string()),
    ("is_removed", pa.bool_()),
    ("extra_fields", pa.string()),
    ("observed_at", TIMESTAMP),
])
MEMBER_KNOWN = {"id", "email", "name", "role", "isRemoved"}

SPEND_SCHEMA = pa.schema([
    pa.field("snapshot_date", pa.date32(), nullable=False),
    ("observed_at", TIMESTAMP),
    ("subscription_cycle_start", TIMESTAMP),
    ("email", pa.string()),
    ("name", pa.string()),
    ("role", pa.string()),
    ("spend_cents", pa.int64()),
    ("fast_premium_requests", pa.int64()),
    ("hard_limit_override_dollars", MONEY),
    ("included_spend_cents", pa.int64()),
    ("extra_fields", pa.string()),
    pa.field("row_key", pa.string(), nullable=False),
])
SPEND_KNOWN = {"spendCents", "fastPremiumRequests", "name", "email", "role", "hardLimitOverrideDollars",
               "includedSpendCents"}


# ------------------------------------------------------------------------------------------------- parsing

def epoch_ms(value: Any, where: str) -> tuple[int, Optional[str]]:
    """An epoch in milliseconds from a number or a digit string, and the unit it was repaired from, if any.

    Seconds (below 10**11) and microseconds (from 10**14) cannot be meant as milliseconds of this century: they are
    converted and the caller records the repair."""
    number: Any = value
    if isinstance(value, str) and re.fullmatch(r"\s*\d+(\.\d+)?\s*", value):
        number = float(value) if "." in value else int(value)
    if isinstance(number, bool) or not isinstance(number, (int, float)) or number != number or number <= 0:
        raise MalformedResponseError(f"{where}: expected epoch milliseconds, got {value!r}")
    number = int(number)
    if number < SECONDS_BELOW:
        return number * 1000, "seconds"
    if number >= MICROSECONDS_FROM:
        return number // 1000, "microseconds"
    return number, None


def utc_day(ms: int) -> dt.date:
    return dt.date(1970, 1, 1) + dt.timedelta(days=ms // DAY_MS)


def as_timestamp(ms: int) -> dt.datetime:
    return dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(milliseconds=ms)


def day_ms(day: dt.date) -> int:
    return _common.unix_seconds(day) * 1000


def bool_field(row: Mapping[str, Any], key: str, where: str) -> Optional[bool]:
    value = row.get(key)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise MalformedResponseError(f"{where}: '{key}' must be a boolean, got {value!r}")


def float_field(row: Mapping[str, Any], key: str, where: str) -> Optional[float]:
    value = row.get(key)
    if value is None:
        return None
    amount = decimal_field(value, f"{where} '{key}'")
    if not amount.is_finite():
        raise MalformedResponseError(f"{where}: '{key}' must be a number, got {value!r}")
    return float(amount)


def cents_field(row: Mapping[str, Any], key: str, where: str) -> Optional[Decimal]:
    """Cents as numbers or decimal strings, to MONEY's 12 places (floats like 40.16699999999999 carry 14)."""
    value = row.get(key)
    if value is None:
        return None
    amount = decimal_field(value, f"{where} '{key}'")
    if not amount.is_finite():
        raise MalformedResponseError(f"{where}: '{key}' must be a number, got {value!r}")
    return amount.quantize(CENT_PLACES)


def _email(value: Optional[str]) -> Optional[str]:
    return value.strip().lower() or None if value is not None else None


def _extras(row: Mapping[str, Any], known: set[str], nested: Optional[Mapping[str, Any]] = None,
            nested_name: str = "", nested_known: frozenset[str] = frozenset()) -> Optional[str]:
    extra = {k: v for k, v in row.items() if k not in known}
    if nested:
        extra.update({f"{nested_name}.{k}": v for k, v in nested.items() if k not in nested_known})
    return json.dumps(extra, sort_keys=True, default=str) if extra else None


def _key(*parts: Any) -> str:
    return hashlib.md5("\x1f".join("" if p is None else str(p) for p in parts).encode()).hexdigest()


def members_table(body: Mapping[str, Any], where: str, observed_at: dt.datetime) -> pa.Table:
    rows = []
    for i, m in enumerate(body["teamMembers"]):
        here = f"{where} member {i}"
        if not isinstance(m, Mapping):
            raise MalformedResponseError(f"{here}: expected an object, got {type(m).__name__}")
        email = _email(str_field(m, "email", here))
        if not email:
            raise MalformedResponseError(f"{here}: 'email' is missing")
        rows.append({"member_id": int_field(m, "id", here), "email": email, "name": str_field(m, "name", here),
                     "role": str_field(m, "role", here), "is_removed": bool_field(m, "isRemoved", here),
                     "extra_fields": _extras(m, MEMBER_KNOWN), "observed_at": observed_at})
    return to_table(rows, MEMBER_SCHEMA)


def daily_usage_rows(body: Mapping[str, Any], where: str, issues: Issues, keys: RowKeys) -> list[dict[str, Any]]:
    """One row per member and day; negative counts and a (day, member) listed twice go to quarantine."""
    rows = []
    normalized: dict[tuple[dt.date, str], list] = {}
    for i, r in enumerate(body["data"]):
        here = f"{where} row {i}"
        if not isinstance(r, Mapping):
            raise MalformedResponseError(f"{here}: expected an object, got {type(r).__name__}")
        ms, unit = epoch_ms(r.get("date"), f"{here} 'date'")
        day = utc_day(ms)
        start = as_timestamp(ms)
        row: dict[str, Any] = {
            "bucket_date": day,
            "bucket_start": start,
            "bucket_end": start + dt.timedelta(days=1),
            "email": _email(str_field(r, "email", here)),
            "is_active": bool_field(r, "isActive", here),
            **{col: int_field(r, api, here) for col, api in _DAILY_USAGE_API.items()},
            **{col: str_field(r, api, here) for col, api in _DAILY_USAGE_TEXT.items()},
            "extra_fields": _extras(r, DAILY_USAGE_KNOWN),
        }
        row["row_key"], duplicate = keys(day, row["email"])
        if accept(row, r, DAILY_USAGE_COUNTS, duplicate, issues):
            rows.append(row)
            if unit:
                normalized.setdefault((day, unit), [0, r])[0] += 1
    for (day, unit), (count, example) in normalized.items():
        issues.normalized(day, f"daily usage dates in {unit} where milliseconds are documented, read as {unit}",
                          {"rows": count, "example": example})
    return rows


def daily_report_records(body: Mapping[str, Any], where: str) -> Iterator[tuple[dt.date, str]]:
    """Each record of a daily usage page as (its UTC day, the record as canonical JSON), for `daily_report_md5s`.
    A record `daily_usage_rows` would refuse loudly (not an object, no readable date) fails here the same way."""
    for i, r in enumerate(body["data"]):
        here = f"{where} row {i}"
        if not isinstance(r, Mapping):
            raise MalformedResponseError(f"{here}: expected an object, got {type(r).__name__}")
        ms, _ = epoch_ms(r.get("date"), f"{here} 'date'")
        yield utc_day(ms), json.dumps(r, sort_keys=True, default=str)


def daily_report_md5s(records: Iterable[tuple[dt.date, str]]) -> dict[dt.date, str]:
    """Identifies each day's daily usage report (every member's counts that day, in any order or page): the usage
    events of a day are stored with the md5 of the report they were read beside, and a later run whose report for
    that day is the same one does not page through the day's events again (see `cursor_source`).

    Order-independent without holding the records: a day's records' md5s summed (mod 2**128) with their count,
    hashed once more; a year at 10,000 members is 3.65M records."""
    sums: dict[dt.date, list[int]] = {}
    for day, record in records:
        total = sums.setdefault(day, [0, 0])
        total[0] = (total[0] + int.from_bytes(hashlib.md5(record.encode()).digest(), "big")) % (1 << 128)
        total[1] += 1
    return {day: hashlib.md5(f"{total:032x}:{n}".encode()).hexdigest() for day, (total, n) in sums.items()}


def with_report_md5(table: pa.Table, reports: Mapping[dt.date, str]) -> pa.Table:
    """The events with `daily_usage_md5`: the md5 of their day's daily usage report as read in the same run (null
    for a day the report does not list: such a day is read again by every run that covers it)."""
    days = table.column("bucket_date").to_pylist()
    return table.append_column("daily_usage_md5", pa.array([reports.get(day) for day in days], pa.string()))


def contiguous_ranges(days: list[dt.date]) -> list[tuple[dt.date, dt.date]]:
    """Sorted days as [first, end) runs of consecutive days."""
    ranges: list[tuple[dt.date, dt.date]] = []
    for day in days:
        if ranges and ranges[-1][1] == day:
            ranges[-1] = (ranges[-1][0], day + dt.timedelta(days=1))
        else:
            ranges.append((day, day + dt.timedelta(days=1)))
    return ranges


def _refusal(row: Mapping[str, Any], duplicate: bool) -> Optional[str]:
    negative = [f for f in EVENT_COUNTS if row.get(f) is not None and row[f] < 0]
    if negative:
        return f"negative count in {', '.join(negative)}"
    negative = [f for f in EVENT_MONEY if row.get(f) is not None and row[f] < 0]
    if negative:
        return f"negative amount in {', '.join(negative)}"
    if duplicate:
        return "the same event appears twice in the API's answer"
    return None


def events_table(events: list[Any], where: str, issues: Issues, seen: set[bytes]) -> Optional[pa.Table]:
    """A page of usage events as one Arrow table, built column by column (pages are large).

    Quarantined instead of loaded: negative tokens, request units or cents, and an event seen earlier in the run
    (`seen` holds the digests of every event so far; a listing that shifts while it is paged repeats events).
    Timestamps in seconds or microseconds are repaired and recorded as normalized, once per day and unit."""
    columns: dict[str, list[Any]] = {name: [] for name in EVENT_SCHEMA.names if name not in ("bucket_date", "event_at")}
    stamps: list[int] = []
    normalized: dict[tuple[dt.date, str], list] = {}
    for i, e in enumerate(events):
        here = f"{where} event {i}"
        if not isinstance(e, Mapping):
            raise MalformedResponseError(f"{here}: expected an object, got {type(e).__name__}")
        ms, unit = epoch_ms(e.get("timestamp"), f"{here} 'timestamp'")
        day = utc_day(ms)
        usage = e.get("tokenUsage")
        if usage is None:
            usage = {}
        elif not isinstance(usage, Mapping):
            raise MalformedResponseError(f"{here}: 'tokenUsage' must be an object, got {type(usage).__name__}")
        row: dict[str, Any] = {col: str_field(e, api, here) for col, api in _EVENT_TEXT.items()}
        row["user_email"] = _email(row["user_email"])
        row.update({col: bool_field(e, api, here) for col, api in _EVENT_BOOLS.items()})
        row.update({col: int_field(usage, api, f"{here} tokenUsage") for col, api in _EVENT_TOKENS.items()})
        row["requests_costs"] = float_field(e, "requestsCosts", here)
        row["total_cents"] = cents_field(usage, "totalCents", f"{here} tokenUsage")
        row["charged_cents"] = cents_field(e, "chargedCents", here)
        row["cursor_token_fee_cents"] = cents_field(e, "cursorTokenFee", here)
        row["discount_percent_off"] = float_field(usage, "discountPercentOff", f"{here} tokenUsage")
        row["extra_fields"] = _extras(e, EVENT_KNOWN, usage, "tokenUsage", frozenset(TOKEN_USAGE_KNOWN))
        row["row_key"] = _key(ms, *(row[f] for f in _EVENT_KEY_FIELDS))
        digest = bytes.fromhex(row["row_key"])
        reason = _refusal(row, digest in seen)
        seen.add(digest)
        if reason:
            issues.quarantine(day, reason, e)
            continue
        if unit:
            normalized.setdefault((day, unit), [0, e])[0] += 1
        stamps.append(ms)
        for name, values in columns.items():
            values.append(row[name])
    for (day, unit), (count, example) in normalized.items():
        issues.normalized(day, f"event timestamps in {unit} where milliseconds are documented, read as {unit}",
                          {"events": count, "example": example})
    if not stamps:
        return None
    arrays = {
        "bucket_date": pa.array([ms // DAY_MS for ms in stamps], pa.int32()).cast(pa.date32()),
        "event_at": pa.array(stamps, pa.int64()).cast(pa.timestamp("ms", tz="UTC")).cast(TIMESTAMP),
        **{name: pa.array(values, EVENT_SCHEMA.field(name).type) for name, values in columns.items()},
    }
    return pa.Table.from_arrays([arrays[name] for name in EVENT_SCHEMA.names], schema=EVENT_SCHEMA)


def spend_rows(body: Mapping[str, Any], where: str, issues: Issues, snapshot: dt.date, observed_at: dt.datetime,
               seen: set[str]) -> list[dict[str, Any]]:
    cycle = body.get("subscriptionCycleStart")
    cycle_at = None
    if cycle is not None:
        cycle_ms, unit = epoch_ms(cycle, f"{where} 'subscriptionCycleStart'")
        cycle_at = as_timestamp(cycle_ms)
        if unit:
            issues.normalized(snapshot, f"subscriptionCycleStart in {unit}, read as {unit}", {"value": cycle})
    rows = []
    for i, r in enumerate(body["teamMemberSpend"]):
        here = f"{where} member {i}"
        if not isinstance(r, Mapping):
            raise MalformedResponseError(f"{here}: expected an object, got {type(r).__name__}")
        email = _email(str_field(r, "email", here))
        limit = decimal_field(r.get("hardLimitOverrideDollars"), f"{here} 'hardLimitOverrideDollars'")
        row = {
            "snapshot_date": snapshot,
            "observed_at": observed_at,
            "subscription_cycle_start": cycle_at,
            "email": email,
            "name": str_field(r, "name", here),
            "role": str_field(r, "role", here),
            "spend_cents": int_field(r, "spendCents", here, required=True),
            "fast_premium_requests": int_field(r, "fastPremiumRequests", here),
            "hard_limit_override_dollars": limit.quantize(CENT_PLACES) if limit is not None else None,
            "included_spend_cents": int_field(r, "includedSpendCents", here),
            "extra_fields": _extras(r, SPEND_KNOWN),
            "row_key": _key(snapshot, email),
        }
        if row["row_key"] in seen:
            issues.quarantine(snapshot, "the same member appears twice in the spend listing", r)
            continue
        seen.add(row["row_key"])
        rows.append(row)
    return rows


def events_envelope(body: Any) -> Optional[str]:
    """Usage event pages: an object with a `usageEvents` list and a `pagination` object. Returns what is wrong."""
    if not isinstance(body, Mapping):
        return f"expected an object with a 'usageEvents' list and a 'pagination' object, got {_shape(body)}"
    for key, kind in (("usageEvents", list), ("pagination", Mapping)):
        if not isinstance(body.get(key), kind):
            value = body.get(key)
            return f"'{key}' must be {'a list' if kind is list else 'an object'}, got " + (
                "nothing" if value is None else type(value).__name__)
    return None


# ------------------------------------------------------------------------------------------------- paging

class RateLimiter:
    """At most `per_minute` requests in any 60 seconds; a request over the budget waits for the oldest to age out.

    Cursor limits each team per endpoint; a source keeps one limiter per endpoint. Bursts below the limit never
    wait, so small runs are not slowed down; a 429 that still happens is retried by the session (`Retry-After`)."""

    def __init__(self, per_minute: Optional[int], clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.per_minute = per_minute
        self.clock, self.sleep = clock, sleep
        self.sent: collections.deque[float] = collections.deque()

    def wait(self) -> None:
        if not self.per_minute:
            return
        now = self.clock()
        while self.sent and now - self.sent[0] >= 60:
            self.sent.popleft()
        if len(self.sent) >= self.per_minute:
            pause = 60 - (now - self.sent[0])
            logger.info(f"cursor: {self.per_minute} requests in the last minute, waiting {pause:.1f}s")
            self.sleep(pause)
            now = self.clock()
            self.sent.popleft()
        self.sent.append(now)


class BodyPagePaginator(BasePaginator):
    """A 1-indexed `page` in the JSON body. More pages while `pagination.hasNextPage` (usage events; daily usage
    if it ever pages) or while `page < totalPages` (spend)."""

    def __init__(self) -> None:
        super().__init__()
        self.page = 1

    def update_state(self, response: requests.Response, data: Optional[list[Any]] = None) -> None:
        body = data[0] if data else None
        more = False
        if isinstance(body, Mapping):
            pagination = body.get("pagination")
            if isinstance(pagination, Mapping) and "hasNextPage" in pagination:
                more = pagination["hasNextPage"] is True
            elif isinstance(body.get("totalPages"), int) and not isinstance(body.get("totalPages"), bool):
                more = self.page < body["totalPages"]
        if more:
            self.page += 1
        self._has_next_page = more

    def update_request(self, request: Any) -> None:
        request.json = {**(request.json or {}), "page": self.page}

    def __str__(self) -> str:
        return "BodyPagePaginator(page in the JSON body)"


def request_windows(start: dt.date, end: dt.date, days: int) -> Iterator[tuple[dt.date, dt.date, int, int]]:
    """[start, end) in chunks of at most `days` days, as (first day, end day, startDate ms, endDate ms).

    `endDate` is the chunk's last millisecond, so the range is right whether the API reads it inclusively or not.
    The chunk holding the present ends now: the listing cannot grow at its top while it is being paged."""
    now = int(time.time() * 1000)
    while start < end:
        stop = min(end, start + dt.timedelta(days=days))
        first_ms, end_ms = day_ms(start), day_ms(stop) - 1
        if first_ms <= now < end_ms:
            end_ms = now
        yield start, stop, first_ms, end_ms
        start = stop


# ------------------------------------------------------------------------------------------------- models

_CLAUDE_CURSOR_NAME = re.compile(r"^claude-(\d+(?:\.\d+)?)-(opus|sonnet|haiku)(?:-(?:thinking|max))*$")


@lru_cache(maxsize=256)
def resolve_cursor_model(model_ref: str) -> dict[str, Optional[str]]:
    """Cursor names models its own way (`claude-4.5-sonnet`, `-thinking` variants, `auto`, `composer-1`): the name
    as given, then the vendor's spelling, against every provider the price package knows; unknown stays null."""
    from genai_prices import data_snapshot

    candidates = [model_ref]
    match = _CLAUDE_CURSOR_NAME.match(model_ref)
    if match:
        candidates.append(f"claude-{match[2]}-{match[1]}")
    for candidate in candidates:
        try:
            provider, model = data_snapshot.get_snapshot().find_provider_model(candidate, None, None, None)
        except LookupError:
            continue
        return {"price_provider": provider.id, "price_model_id": model.id, "price_model_name": model.name}
    return {"price_provider": None, "price_model_id": None, "price_model_name": None}


# ------------------------------------------------------------------------------------------------- source

def cursor_source(
    start_date: Optional[str] = None,
    end_date: Optional[str] = None,
    lookback_days: int = settings.DEFAULT_LOOKBACK_DAYS,
    days_per_request: int = MAX_RANGE_DAYS,
    events_page_size: int = DEFAULT_EVENTS_PAGE_SIZE,
    spend_page_size: int = DEFAULT_SPEND_PAGE_SIZE,
    requests_per_minute: Optional[int] = REQUESTS_PER_MINUTE,
    connection: Optional[settings.ProviderConnection] = None,
    session: Optional[requests.Session] = None,
):
    """Daily usage and usage events for [start_date - lookback_days, end_date), the team's members and the current
    billing cycle's spend. Key: `SOURCES__CURSOR__ADMIN_API_KEY`, base URL: `SOURCES__CURSOR__BASE_URL` (default
    https://api.cursor.com), or the demo. Arguments as `anthropic_source`; `requests_per_minute=None` turns the
    source's own pacing off (the demo's pacing is always off)."""
    window = SourceWindow(start_date, end_date, lookback_days, max(1, min(int(days_per_request), MAX_RANGE_DAYS)))
    conn = connection or settings.connection(PROVIDER)
    pace = None if conn.demo else requests_per_minute
    return _cursor(window, int(events_page_size), int(spend_page_size), pace, conn, session)


@dlt.source(name="cursor", max_table_nesting=0, schema_contract=SCHEMA_CONTRACT)
def _cursor(window: SourceWindow, events_page_size: int, spend_page_size: int, requests_per_minute: Optional[int],
            conn: settings.ProviderConnection, session: Optional[requests.Session]):
    limiters = {path: RateLimiter(requests_per_minute)
                for path in (MEMBERS_PATH, DAILY_USAGE_PATH, EVENTS_PATH, SPEND_PATH)}

    def client():
        return make_rest_client(conn.base_url, auth=HttpBasicAuth(conn.api_key or "", ""),
                                session=session or conn.session())

    def skipped(path: str) -> bool:
        if not conn.enabled:
            logger.warning(f"{PROVIDER}: no admin key configured, skipping {path}")
        return not conn.enabled

    def post_pages(api: Any, endpoint: Endpoint, request: dict[str, Any], expect: Callable[[Any], Optional[str]],
                   context: str = "") -> Iterator[tuple[int, Any]]:
        """`http.iter_pages` for a usage endpoint: POST, the page in the JSON body, paced by the endpoint's limiter;
        messages name the provider, endpoint and page, then `context` (the date window asked for)."""
        return iter_pages(api, endpoint, expect=expect, paginator=BodyPagePaginator(), method="POST", json=request,
                          context=context, before_page=limiters[endpoint.path].wait, max_pages=MAX_PAGES)

    def daily_usage_bodies(api: Any, start: dt.date, end: dt.date) -> Iterator[tuple[str, Any]]:
        """Each page of the daily usage report for [start, end), with where it came from (for messages)."""
        endpoint = Endpoint(PROVIDER, DAILY_USAGE_PATH)
        for first, stop, start_ms, end_ms in request_windows(start, end, window.page_size_days):
            for page_number, body in post_pages(api, endpoint, {"startDate": start_ms, "endDate": end_ms},
                                                data_envelope, f" for {first}..{stop}"):
                yield f"{endpoint.describe(page_number)} for {first}..{stop}", body

    def daily_usage_pages(start: dt.date, end: dt.date) -> Iterator[Any]:
        if skipped(DAILY_USAGE_PATH):
            return
        keys = RowKeys()
        for where, body in daily_usage_bodies(client(), start, end):
            issues = Issues("daily_usage")
            rows = daily_usage_rows(body, where, issues, keys)
            if rows:
                yield to_table(rows, DAILY_USAGE_SCHEMA)
            if issues.rows:
                yield dlt.mark.with_table_name(to_table(issues.rows, QUARANTINE_SCHEMA), "daily_usage_quarantine")

    def daily_report_md5s_of(api: Any, start: dt.date, end: dt.date) -> dict[dt.date, str]:
        """The md5 of each day's daily usage report in [start, end): asked for here as well as by the daily_usage
        resource (one more request per 30 days, under the same pacing), since dlt may extract either first."""
        return daily_report_md5s(record for where, body in daily_usage_bodies(api, start, end)
                                 for record in daily_report_records(body, where))

    def event_pages(start: dt.date, end: dt.date) -> Iterator[Any]:
        if skipped(EVENTS_PATH):
            return
        api, endpoint, seen = client(), Endpoint(PROVIDER, EVENTS_PATH), set()
        # a day whose events the warehouse holds beside the very daily usage report the API gives for it now is not
        # paged through again: at 20 requests a minute the lookback's days would otherwise cost three times the
        # new day's pages on every daily run (a day of 290,000 events is ~580 pages, ~29 minutes)
        reports = daily_report_md5s_of(api, start, end)
        loaded = loaded_day_md5s("usage_events", "daily_usage_md5", start, end)
        kept = {day for day in days_between(start, end) if day in reports and loaded.get(day) == reports[day]}
        if kept:
            logger.info(f"{PROVIDER} {EVENTS_PATH}: {len(kept)} day(s) kept as loaded ({min(kept)}..{max(kept)}): "
                        "their daily usage report is unchanged")
        asked = contiguous_ranges([day for day in days_between(start, end) if day not in kept])
        for first, stop, start_ms, end_ms in (w for a, b in asked
                                              for w in request_windows(a, b, window.page_size_days)):
            request = {"startDate": start_ms, "endDate": end_ms, "page": 1, "pageSize": events_page_size}
            reported: Optional[int] = None
            received = 0
            for page_number, body in post_pages(api, endpoint, request, events_envelope, f" for {first}..{stop}"):
                where = f"{endpoint.describe(page_number)} for {first}..{stop}"
                pagination, events = body["pagination"], body["usageEvents"]
                current = pagination.get("currentPage")
                if current is not None and current != page_number:
                    raise MalformedResponseError(f"{where}: asked for page {page_number}, the API answered page "
                                                 f"{current}; nothing from this run was loaded")
                if not events and pagination.get("hasNextPage"):
                    raise PaginationLoopError(f"{where}: an empty page says more pages follow; refusing to loop")
                if reported is None:
                    reported = int_field(body, "totalUsageEventsCount", where)
                received += len(events)
                issues = Issues("usage_events")
                table = events_table(events, where, issues, seen)
                if table is not None:
                    yield with_report_md5(table, reports)
                if issues.rows:
                    yield dlt.mark.with_table_name(to_table(issues.rows, QUARANTINE_SCHEMA), "usage_events_quarantine")
            if reported is not None and received < reported:
                raise MalformedResponseError(
                    f"{PROVIDER} {EVENTS_PATH} for {first}..{stop}: the API counted {reported} events but its pages "
                    f"held {received}; refusing to load a window with missing events "
                    "(nothing from this run was loaded)")

    daily_usage = daily_bucket_resource("daily_usage", window, DAILY_USAGE_SCHEMA, daily_usage_pages)
    usage_events = daily_bucket_resource("usage_events", window, EVENT_SCHEMA, event_pages)

    @dlt.transformer(data_from=usage_events, name="model_refs", write_disposition="merge",
                     primary_key=("provider", "model_ref"))
    def model_refs(page: pa.Table):
        if "model" not in page.column_names:  # the quarantine tables pass through here too
            return
        refs = sorted({m for m in page.column("model").to_pylist() if m})
        yield pa.Table.from_pylist([{"provider": PROVIDER, "model_ref": ref, **resolve_cursor_model(ref)}
                                    for ref in refs], schema=MODEL_REFS_SCHEMA)

    @dlt.resource(name="team_members", write_disposition="replace" if conn.enabled else "append")
    def team_members() -> Iterator[pa.Table]:
        # without a key, nothing is fetched and nothing may be truncated: the table is created empty ("append")
        if skipped(MEMBERS_PATH):
            yield MEMBER_SCHEMA.empty_table()
            return
        endpoint = Endpoint(PROVIDER, MEMBERS_PATH)
        limiters[MEMBERS_PATH].wait()
        body = get_json(client(), endpoint, expect=json_object("teamMembers"))
        yield members_table(body, endpoint.describe(1), dt.datetime.now(dt.timezone.utc))

    @dlt.resource(name="spend", merge_key="snapshot_date", write_disposition=MERGE_BY_DAY)
    def spend() -> Iterator[Any]:
        """The current billing cycle per member, as of the run day (`snapshot_date`, UTC)."""
        if skipped(SPEND_PATH):
            yield SPEND_SCHEMA.empty_table()
            return
        api, endpoint, seen = client(), Endpoint(PROVIDER, SPEND_PATH), set()
        snapshot, observed_at = _common.today_utc(), dt.datetime.now(dt.timezone.utc)
        request = {"page": 1, "pageSize": spend_page_size, "sortBy": "user", "sortDirection": "asc"}
        loaded = False
        for page_number, body in post_pages(api, endpoint, request, json_object("teamMemberSpend")):
            issues = Issues("spend")
            rows = spend_rows(body, endpoint.describe(page_number), issues, snapshot, observed_at, seen)
            if rows:
                loaded = True
                yield to_table(rows, SPEND_SCHEMA)
            if issues.rows:
                yield dlt.mark.with_hints(
                    to_table(issues.rows, QUARANTINE_SCHEMA),
                    dlt.mark.make_hints(table_name="spend_quarantine", merge_key="bucket_date",
                                        write_disposition=MERGE_BY_DAY),
                    create_table_variant=True)
        if not loaded:
            yield SPEND_SCHEMA.empty_table()

    return team_members, daily_usage, usage_events, model_refs, spend


__all__ = ["cursor_source", "epoch_ms", "events_table", "RateLimiter", "resolve_cursor_model"]
