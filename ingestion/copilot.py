"""GitHub Copilot: seats, the daily usage-metrics reports, premium request usage and billing usage, into `raw_copilot`.

API facts (GitHub's REST docs and changelog, go-github's client; unverified points are said so below):
`Authorization: Bearer <token>`, `X-GitHub-Api-Version` pinned, `Accept: application/vnd.github+json`, as
`ingestion/github.py`. The base URL defaults to https://api.github.com. Which links want the token, how the billing
reports treat a day with no usage, and the seat-cost lines' units are not confirmed by a primary source.

* Seats: `GET /orgs/{org}/copilot/billing/seats`, `{total_seats, seats: [...]}` paged with `per_page` / `page` and
  the `Link` header. A snapshot per run day (`snapshot_date`), merged by that day like Cursor's spend.
* Usage metrics (the legacy `/orgs/{org}/copilot/metrics` closed on 2026-04-02): two steps per day.
  `GET /orgs/{org}/copilot/metrics/reports/organization-1-day?day=` and `.../users-1-day?day=` answer
  `{download_links: [signed URL], report_day}`; each link is a file, the organization report one JSON object, the
  users report NDJSON (one object per user). Both formats are read whatever the link's name says. The links are
  signed: they are fetched with the same retrying session but without the GitHub token (it is a credential for
  api.github.com, not for wherever the files are stored). A restated day whose files are byte for byte the ones the
  warehouse holds (`report_md5`) is not parsed or loaded again. Reports exist for whole days from 2025-10-10 on; a
  day of the last two whose links answer 404 is taken as not generated yet and skipped (the lookback fetches it
  later).
* Premium requests: `GET /organizations/{org}/settings/billing/premium_request/usage?year&month&day[&user]`,
  `{timePeriod, organization, user?, usageItems: [{product, sku, model, unitType, pricePerUnit, grossQuantity,
  grossAmount, discountQuantity, discountAmount, netQuantity, netAmount}]}`, dollars as floats, no paging. Items
  carry no user, so the organization is asked once per day (`scope = 'organization'`) and, with
  `premium_requests_by_user` (the default), once per seat holder and day (`scope = 'user'`); a day the organization
  used none skips the per-user calls, and so does a restated day (the lookback) whose organization report is the
  one the warehouse already holds per user for that day (`org_report_md5`, read from the warehouse, not from dlt
  state): in a steady daily run only the new day is asked per seat holder. Summing both scopes double counts: dbt
  picks one.
* Billing usage: `GET /organizations/{org}/settings/billing/usage?year&month&day`, `{usageItems: [{date, product,
  sku, quantity, unitType, pricePerUnit, grossAmount, discountAmount, netAmount, organizationName?,
  repositoryName?}]}`: every metered product (Copilot seats and premium requests, Actions, ...), asked day by day.

Usage metrics, premium requests and billing usage are merged by day (`delete-insert` on `bucket_date`) like every
provider usage table; numbers sent as strings are read as numbers; negative counts or amounts and repeated rows go
to `<resource>_quarantine` with a reason; a malformed page or file fails the run naming provider, endpoint, day and
page or file, so nothing from it loads. GitHub's rate limits: 429 and 5xx are retried by the shared retrying session
(`Retry-After` honoured); a 403 that is a rate limit (`Retry-After`, or `x-ratelimit-remaining: 0` with
`x-ratelimit-reset`, or a "secondary rate limit" message) is waited out here, up to 15 minutes a wait.

Speed: the users report is most of the rows (~150,000 a day at 10,000 developers, a row per breakdown item). A day's
users files are read together by Arrow's JSON reader against the documented record schema and cut into rows column
by column (`users_report_table`, ~4x faster than a record at a time). Whatever that reading would not read exactly
as the record-by-record parser does (a number sent as a string, a field not modelled yet, a repeated user or item, a
negative count, a line that is not one object, ...) makes it step aside for that day: the files are then read record
by record (`report_rows`), which keeps new fields in `extra_fields`, quarantines or refuses, naming file and record.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import io
import json
import time
from decimal import Decimal
from typing import Any, Callable, Iterator, Mapping, Optional
from urllib.parse import urlparse

import dlt
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pa_json
import requests
from dlt.common import logger
from dlt.sources.helpers.rest_client.auth import BearerTokenAuth
from dlt.sources.helpers.rest_client.paginators import BasePaginator, HeaderLinkPaginator, SinglePagePaginator

from ingestion import _common, settings
from ingestion._common import (
    BROKEN_GZIP, MERGE_BY_DAY, MONEY, QUARANTINE_SCHEMA, SCHEMA_CONTRACT, TIMESTAMP,
    Issues, RowKeys, SourceWindow, accept, as_date, bucket_schema, daily_bucket_resource, decimal_field, extra_fields,
    days_between, int_field, loaded_day_md5s, parse_timestamp, str_field, to_table,
)
from ingestion.http import (
    Endpoint, MalformedResponseError, ProviderAPIError, ProviderHTTPError, _raise_for_status, _shape, get_json,
    iter_pages, json_object, make_rest_client,
)

PROVIDER = "copilot"
API_VERSION = "2022-11-28"  # as ingestion/github.py; the docs also render 2026-03-10
PER_PAGE = 100  # the seats listing's documented maximum
MAX_PAGES = 10_000
SEATS_PATH = "/orgs/{org}/copilot/billing/seats"
REPORT_PATHS = {"organization": "/orgs/{org}/copilot/metrics/reports/organization-1-day",
                "user": "/orgs/{org}/copilot/metrics/reports/users-1-day"}
PREMIUM_PATH = "/organizations/{org}/settings/billing/premium_request/usage"
USAGE_PATH = "/organizations/{org}/settings/billing/usage"
REPORTS_AVAILABLE_FROM = dt.date(2025, 10, 10)  # "available starting from October 10, 2025"
REPORT_DELAY_DAYS = 2  # a report of the last days may not be generated yet
RATE_LIMIT_ATTEMPTS = 5
MAX_RATE_LIMIT_WAIT = 900.0  # seconds; a longer wait (the hourly limit spent) fails the run instead
SECONDARY_LIMIT_WAIT = 60.0  # GitHub: "wait for at least one minute" when no header says how long
PLACES = Decimal("1e-12")  # MONEY's scale
QUANTITY = MONEY  # premium requests come in fractions (model multipliers such as 0.33)

# ------------------------------------------------------------------------------------------------- schemas

SEAT_SCHEMA = pa.schema([
    pa.field("snapshot_date", pa.date32(), nullable=False),
    ("observed_at", TIMESTAMP),
    ("assignee_login", pa.string()),  # lower case, as ingestion/github.py stores logins
    ("assignee_id", pa.int64()),
    ("assignee_type", pa.string()),  # User; Team / Organization in older payloads (then no login, a name)
    ("assignee_name", pa.string()),
    ("plan_type", pa.string()),
    ("created_at", TIMESTAMP),
    ("updated_at", TIMESTAMP),
    ("pending_cancellation_date", pa.date32()),
    ("last_activity_at", TIMESTAMP),
    ("last_activity_editor", pa.string()),
    ("last_authenticated_at", TIMESTAMP),
    ("assigning_team_slug", pa.string()),
    ("assigning_team_name", pa.string()),
    ("extra_fields", pa.string()),
    pa.field("row_key", pa.string(), nullable=False),
])
SEAT_KNOWN = {"created_at", "updated_at", "pending_cancellation_date", "last_activity_at", "last_activity_editor",
              "last_authenticated_at", "plan_type", "assignee", "assigning_team"}

METRIC_COUNTS = ("user_initiated_interaction_count", "code_generation_activity_count",
                 "code_acceptance_activity_count", "loc_suggested_to_add_sum", "loc_suggested_to_delete_sum",
                 "loc_added_sum", "loc_deleted_sum")
CHAT_MODES = ("chat_panel_agent_mode", "chat_panel_ask_mode", "chat_panel_custom_mode", "chat_panel_edit_mode",
              "chat_panel_unknown_mode")
ACTIVE_USERS = ("daily_active_users", "weekly_active_users", "monthly_active_users", "monthly_active_chat_users",
                "monthly_active_agent_users", "daily_active_cli_users")
USED_FLAGS = ("used_agent", "used_chat", "used_cli", "used_copilot_code_review_active",
              "used_copilot_code_review_passive", "used_copilot_coding_agent")
SESSION_COUNTS = ("session_count", "request_count", "prompt_count")
TOKEN_SUMS = ("output_tokens_sum", "prompt_tokens_sum")
PULL_REQUEST_COUNTS = ("total_created", "total_merged", "total_reviewed", "total_created_by_copilot")
PULL_REQUEST_MEDIANS = ("median_minutes_to_merge", "median_minutes_to_merge_copilot_authored",
                        "median_minutes_to_merge_copilot_reviewed")
# the reports' list breakdowns: key -> (our `breakdown` value, its dimension fields)
LIST_BREAKDOWNS = {
    "totals_by_ide": ("ide", ("ide",)),
    "totals_by_feature": ("feature", ("feature",)),
    "totals_by_language_feature": ("language_feature", ("language", "feature")),
    "totals_by_language_model": ("language_model", ("language", "model")),
    "totals_by_model_feature": ("model_feature", ("model", "feature")),
    "totals_by_3rd_party_agent": ("3rd_party_agent", ("agent_id", "agent_name")),
}
DIMENSIONS = ("ide", "feature", "language", "model", "agent_id", "agent_name")
COUNT_COLUMNS = (*METRIC_COUNTS, *CHAT_MODES, *ACTIVE_USERS, *SESSION_COUNTS, *TOKEN_SUMS,
                 *(f"pull_requests_{k}" for k in PULL_REQUEST_COUNTS))
USAGE_METRICS_SCHEMA = bucket_schema(
    ("scope", pa.string()),  # organization | user
    ("organization_id", pa.string()),
    ("user_id", pa.int64()),
    ("user_login", pa.string()),  # lower case; null on organization rows
    ("breakdown", pa.string()),  # total | ide | feature | language_feature | language_model | model_feature | cli | ...
    *[(name, pa.string()) for name in DIMENSIONS],
    *[(name, pa.int64()) for name in METRIC_COUNTS],
    *[(name, pa.int64()) for name in CHAT_MODES],
    *[(name, pa.int64()) for name in ACTIVE_USERS],
    *[(name, pa.bool_()) for name in USED_FLAGS],
    *[(name, pa.int64()) for name in SESSION_COUNTS],
    *[(name, pa.int64()) for name in TOKEN_SUMS],
    ("avg_tokens_per_request", pa.float64()),
    ("cli_version", pa.string()),
    ("plugin", pa.string()),
    ("plugin_version", pa.string()),
    ("ide_version", pa.string()),
    *[(f"pull_requests_{name}", pa.int64()) for name in PULL_REQUEST_COUNTS],
    *[(f"pull_requests_{name}", pa.float64()) for name in PULL_REQUEST_MEDIANS],
    ("report_md5", pa.string()),  # md5 of the day's report files (both scopes) the day's rows were loaded with
)
RECORD_KNOWN = {"day", "organization_id", "enterprise_id", "user_id", "user_login", "totals_by_cli", "pull_requests",
                *METRIC_COUNTS, *CHAT_MODES, *ACTIVE_USERS, *USED_FLAGS, *LIST_BREAKDOWNS}
CLI_KNOWN = {*SESSION_COUNTS, "token_usage", "last_known_cli_version"}

PREMIUM_QUANTITIES = ("gross_quantity", "discount_quantity", "net_quantity")
PREMIUM_AMOUNTS = ("price_per_unit", "gross_amount", "discount_amount", "net_amount")
_PREMIUM_API = {"gross_quantity": "grossQuantity", "discount_quantity": "discountQuantity",
                "net_quantity": "netQuantity", "price_per_unit": "pricePerUnit", "gross_amount": "grossAmount",
                "discount_amount": "discountAmount", "net_amount": "netAmount"}
PREMIUM_SCHEMA = bucket_schema(
    ("scope", pa.string()),  # organization (the org's total) | user (one seat holder's)
    ("organization", pa.string()),
    ("user_login", pa.string()),
    ("product", pa.string()),
    ("sku", pa.string()),
    ("model", pa.string()),  # the billing report's display name ("Claude Sonnet 4.5"), kept as sent
    ("unit_type", pa.string()),
    *[(name, QUANTITY) for name in PREMIUM_QUANTITIES],
    *[(name, MONEY) for name in PREMIUM_AMOUNTS],  # dollars
    # md5 of the organization's report for the day (and whether users were asked) the day's rows were loaded with
    ("org_report_md5", pa.string()),
)
PREMIUM_KNOWN = {"product", "sku", "model", "unitType", *_PREMIUM_API.values()}

USAGE_AMOUNTS = ("price_per_unit", "gross_amount", "discount_amount", "net_amount")
_USAGE_API = {"quantity": "quantity", "price_per_unit": "pricePerUnit", "gross_amount": "grossAmount",
              "discount_amount": "discountAmount", "net_amount": "netAmount"}
BILLING_USAGE_SCHEMA = bucket_schema(
    ("organization_name", pa.string()),
    ("repository_name", pa.string()),
    ("product", pa.string()),
    ("sku", pa.string()),
    ("unit_type", pa.string()),
    ("quantity", QUANTITY),
    *[(name, MONEY) for name in USAGE_AMOUNTS],  # dollars
)
USAGE_KNOWN = {"date", "product", "sku", "unitType", "organizationName", "repositoryName", *_USAGE_API.values()}


# ------------------------------------------------------------------------------------------------- parsing

def _login(value: Optional[str]) -> Optional[str]:
    return value.strip().lower() or None if value is not None else None


def _decimal(row: Mapping[str, Any], key: str, where: str) -> Optional[Decimal]:
    """Dollars or quantities as numbers or decimal strings, to MONEY's 12 places."""
    value = row.get(key)
    if value is None:
        return None
    amount = decimal_field(value, f"{where} '{key}'")
    if not amount.is_finite():
        raise MalformedResponseError(f"{where}: '{key}' must be a number, got {value!r}")
    return amount.quantize(PLACES)


def _float(row: Mapping[str, Any], key: str, where: str) -> Optional[float]:
    value = _decimal(row, key, where)
    return None if value is None else float(value)


def _bool(row: Mapping[str, Any], key: str, where: str) -> Optional[bool]:
    value = row.get(key)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise MalformedResponseError(f"{where}: '{key}' must be a boolean, got {value!r}")


def _object(row: Mapping[str, Any], key: str, where: str) -> Mapping[str, Any]:
    value = row.get(key)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise MalformedResponseError(f"{where}: '{key}' must be an object, got {type(value).__name__}")
    return value


def _date(value: Any, where: str, key: str) -> Optional[dt.date]:
    try:
        return as_date(value)
    except ValueError:
        raise MalformedResponseError(f"{where}: '{key}' must be a date (YYYY-MM-DD), got {value!r}") from None


def _key(*parts: Any) -> str:
    return hashlib.md5("\x1f".join("" if p is None else str(p) for p in parts).encode()).hexdigest()


def _bucket(day: dt.date) -> dict[str, Any]:
    start = dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc)
    return {"bucket_date": day, "bucket_start": start, "bucket_end": start + dt.timedelta(days=1)}


def _refusal(row: Mapping[str, Any], quantities: tuple[str, ...], amounts: tuple[str, ...], duplicate: bool,
             what: str) -> Optional[str]:
    negative = [f for f in quantities if row.get(f) is not None and row[f] < 0]
    if negative:
        return f"negative quantity in {', '.join(negative)}"
    negative = [f for f in amounts if row.get(f) is not None and row[f] < 0]
    if negative:
        return f"negative amount in {', '.join(negative)}"
    if duplicate:
        return f"the same {what} appears twice in one day's answer"
    return None


def seat_rows(body: Mapping[str, Any], where: str, issues: Issues, snapshot: dt.date, observed_at: dt.datetime,
              seen: set[str]) -> list[dict[str, Any]]:
    """One row per seat as of the run day; a seat listed twice in the run goes to quarantine."""
    rows = []
    for i, seat in enumerate(body["seats"]):
        here = f"{where} seat {i}"
        if not isinstance(seat, Mapping):
            raise MalformedResponseError(f"{here}: expected an object, got {type(seat).__name__}")
        assignee = _object(seat, "assignee", here)
        team = _object(seat, "assigning_team", here)
        login = _login(str_field(assignee, "login", f"{here} assignee"))
        assignee_id = int_field(assignee, "id", f"{here} assignee")
        kind = str_field(assignee, "type", f"{here} assignee") or ("User" if login else None)
        name = str_field(assignee, "name", f"{here} assignee")
        if not login and assignee_id is None and not name:
            raise MalformedResponseError(f"{here}: the seat has no assignee (no login, id or name)")
        row = {
            "snapshot_date": snapshot,
            "observed_at": observed_at,
            "assignee_login": login,
            "assignee_id": assignee_id,
            "assignee_type": kind,
            "assignee_name": name,
            "plan_type": str_field(seat, "plan_type", here),
            "created_at": parse_timestamp(seat.get("created_at"), f"{here} 'created_at'"),
            "updated_at": parse_timestamp(seat.get("updated_at"), f"{here} 'updated_at'"),
            "pending_cancellation_date": _date(seat.get("pending_cancellation_date"), here,
                                               "pending_cancellation_date"),
            "last_activity_at": parse_timestamp(seat.get("last_activity_at"), f"{here} 'last_activity_at'"),
            "last_activity_editor": str_field(seat, "last_activity_editor", here),
            "last_authenticated_at": parse_timestamp(seat.get("last_authenticated_at"),
                                                     f"{here} 'last_authenticated_at'"),
            "assigning_team_slug": str_field(team, "slug", f"{here} assigning_team"),
            "assigning_team_name": str_field(team, "name", f"{here} assigning_team"),
            "extra_fields": extra_fields(seat, SEAT_KNOWN),
        }
        row["row_key"] = _key(snapshot, kind, login or assignee_id or name)
        if row["row_key"] in seen:
            issues.quarantine(snapshot, "the same assignee appears twice in the seats listing", seat)
            continue
        seen.add(row["row_key"])
        rows.append(row)
    return rows


def report_rows(record: Any, scope: str, day: dt.date, where: str, issues: Issues, keys: RowKeys,
                seen_records: set[tuple[str, str]]) -> list[dict[str, Any]]:
    """A report record (the organization's day, or one user's) as rows: a `total` row with the record's own fields,
    then a row per item of each `totals_by_*` breakdown (and one for `totals_by_cli`). Rows of different breakdowns
    describe the same activity: sum within one breakdown only.

    Quarantined: a user (or the organization) listed twice in the day's files, a breakdown item repeated, negative
    counts. A record for another day than the one asked for fails the run."""
    if not isinstance(record, Mapping):
        raise MalformedResponseError(f"{where}: expected an object, got {type(record).__name__}")
    record_day = _date(record.get("day"), where, "day")
    if record_day != day:
        raise MalformedResponseError(f"{where}: a record for {record_day} in the report for {day}; "
                                     "nothing from this run was loaded")
    login = user_id = org_id = None
    if scope == "user":
        login = _login(str_field(record, "user_login", where))
        user_id = int_field(record, "user_id", where)
        if not login:
            raise MalformedResponseError(f"{where}: 'user_login' is missing")
    else:
        org_id = str_field(record, "organization_id", where) or str_field(record, "enterprise_id", where)
    identity = (scope, login or org_id or "")
    if identity in seen_records:
        issues.quarantine(day, f"the same {scope} appears twice in the day's report", record)
        return []
    seen_records.add(identity)
    base = {**_bucket(day), "scope": scope, "organization_id": org_id, "user_id": user_id, "user_login": login}
    context = {"day": record.get("day"), **({"user_login": record.get("user_login")} if login else {})}
    rows: list[dict[str, Any]] = []

    def emit(row: dict[str, Any], api_record: Any) -> None:
        row["row_key"], duplicate = keys(day, scope, login or org_id, row["breakdown"],
                                         *(row.get(d) for d in DIMENSIONS))
        if accept(row, api_record, COUNT_COLUMNS, duplicate, issues):
            rows.append(row)

    pull_requests = _object(record, "pull_requests", where)
    total = {
        **base, "breakdown": "total",
        **{name: int_field(record, name, where) for name in (*METRIC_COUNTS, *CHAT_MODES, *ACTIVE_USERS)},
        **{name: _bool(record, name, where) for name in USED_FLAGS},
        **{f"pull_requests_{k}": int_field(pull_requests, k, f"{where} pull_requests") for k in PULL_REQUEST_COUNTS},
        **{f"pull_requests_{k}": _float(pull_requests, k, f"{where} pull_requests") for k in PULL_REQUEST_MEDIANS},
    }
    extras = {k: v for k, v in record.items() if k not in RECORD_KNOWN}
    extras.update({f"pull_requests.{k}": v for k, v in pull_requests.items()
                   if k not in (*PULL_REQUEST_COUNTS, *PULL_REQUEST_MEDIANS)})
    total["extra_fields"] = json.dumps(extras, sort_keys=True, default=str) if extras else None
    emit(total, record)

    for key, (breakdown, dims) in LIST_BREAKDOWNS.items():
        items = record.get(key)
        if items is None:
            continue
        if not isinstance(items, list):
            raise MalformedResponseError(f"{where}: '{key}' must be a list, got {type(items).__name__}")
        for i, item in enumerate(items):
            here = f"{where} {key}[{i}]"
            if not isinstance(item, Mapping):
                raise MalformedResponseError(f"{here}: expected an object, got {type(item).__name__}")
            row = {**base, "breakdown": breakdown, **{d: str_field(item, d, here) for d in dims},
                   **{name: int_field(item, name, here) for name in (*METRIC_COUNTS, *SESSION_COUNTS)
                      if name in item}}
            known = {*dims, *METRIC_COUNTS, *SESSION_COUNTS}
            if key == "totals_by_ide":
                plugin = _object(item, "last_known_plugin_version", here)
                ide_version = _object(item, "last_known_ide_version", here)
                row.update({"plugin": str_field(plugin, "plugin", here),
                            "plugin_version": str_field(plugin, "plugin_version", here),
                            "ide_version": str_field(ide_version, "ide_version", here)})
                known |= IDE_NESTED
            row["extra_fields"] = extra_fields(item, known)
            emit(row, {**context, key: item})

    cli = record.get("totals_by_cli")
    if cli is not None:
        here = f"{where} totals_by_cli"
        if not isinstance(cli, Mapping):
            raise MalformedResponseError(f"{here}: expected an object, got {type(cli).__name__}")
        tokens = _object(cli, "token_usage", here)
        version = _object(cli, "last_known_cli_version", here)
        row = {**base, "breakdown": "cli", **{name: int_field(cli, name, here) for name in SESSION_COUNTS},
               **{name: int_field(tokens, name, f"{here} token_usage") for name in TOKEN_SUMS},
               "avg_tokens_per_request": _float(tokens, "avg_tokens_per_request", f"{here} token_usage"),
               "cli_version": str_field(version, "cli_version", here)}
        extras = {k: v for k, v in cli.items() if k not in CLI_KNOWN}
        extras.update({f"token_usage.{k}": v for k, v in tokens.items()
                       if k not in (*TOKEN_SUMS, "avg_tokens_per_request")})
        row["extra_fields"] = json.dumps(extras, sort_keys=True, default=str) if extras else None
        emit(row, {**context, "totals_by_cli": cli})
    return rows


# The users report read column-wise (see "Speed" above). The record schema holds every field `report_rows` knows (and
# the version objects' `sampled_at`, which it reads past) and nothing else: a field it would keep in extra_fields
# changes the schema Arrow reads, and the day is read record by record.
_ITEM_COUNTS = [(name, pa.int64()) for name in (*METRIC_COUNTS, *SESSION_COUNTS)]


def _items(dims: tuple[str, ...], *nested: tuple[str, pa.DataType]) -> pa.DataType:
    return pa.list_(pa.struct([*((d, pa.string()) for d in dims), *_ITEM_COUNTS, *nested]))


def _sampled(*fields: str) -> pa.DataType:
    return pa.struct([("sampled_at", pa.string()), *((f, pa.string()) for f in fields)])


IDE_VERSIONS = (("last_known_plugin_version", _sampled("plugin", "plugin_version")),
                ("last_known_ide_version", _sampled("ide_version")))
IDE_NESTED = {name for name, _ in IDE_VERSIONS}  # the ide items' version objects (report_rows reads them too)


USER_RECORD_SCHEMA = pa.schema([
    ("day", pa.string()),
    ("organization_id", pa.string()),
    ("enterprise_id", pa.string()),
    ("user_id", pa.int64()),
    ("user_login", pa.string()),
    *[(name, pa.int64()) for name in (*METRIC_COUNTS, *CHAT_MODES, *ACTIVE_USERS)],
    *[(name, pa.bool_()) for name in USED_FLAGS],
    ("pull_requests", pa.struct([*((k, pa.int64()) for k in PULL_REQUEST_COUNTS),
                                 *((k, pa.float64()) for k in PULL_REQUEST_MEDIANS)])),
    *[(key, _items(dims, *(IDE_VERSIONS if key == "totals_by_ide" else ())))
      for key, (_, dims) in LIST_BREAKDOWNS.items()],
    ("totals_by_cli", pa.struct([*((n, pa.int64()) for n in SESSION_COUNTS),
                                 ("token_usage", pa.struct([*((n, pa.int64()) for n in TOKEN_SUMS),
                                                            ("avg_tokens_per_request", pa.float64())])),
                                 ("last_known_cli_version", _sampled("cli_version"))])),
])
# what Python's str.splitlines() (report_rows' NDJSON reading) breaks a line at besides "\n": a file holding one
# is read record by record, so that both readers always see the same lines
_OTHER_LINE_BREAKS = (b"\r", b"\x0b", b"\x0c", b"\x1c", b"\x1d", b"\x1e", "\x85".encode(), "\u2028".encode(),
                      "\u2029".encode())


class _StepAside(Exception):
    """The users files hold something the column-wise reading does not read exactly as `report_rows` does."""


def _floats(values: pa.Array, key: str) -> pa.Array:
    """A float column rounded as `report_rows` rounds it (to MONEY's 12 places, through Decimal); nulls kept."""
    if values.null_count == len(values):
        return values
    try:
        return pa.array([None if v is None else _float({key: v}, key, key) for v in values.to_pylist()], pa.float64())
    except MalformedResponseError:
        raise _StepAside(f"a value of '{key}' that is not a finite number") from None


def users_report_table(files: list[bytes], day: dt.date, report_md5: Optional[str], keys: RowKeys,
                       seen_records: set[tuple[str, str]]) -> Optional[pa.Table]:
    """A day's users report `files` (NDJSON, gzipped or not) as `USAGE_METRICS_SCHEMA` rows, the very rows
    `report_rows` makes from them (grouped by kind of row rather than by user), read column-wise as one table.
    None, claiming no key and no user, whenever a file holds anything `report_rows` would read differently,
    quarantine or refuse: the caller then reads the files record by record, and `report_rows` names, quarantines
    or refuses what it finds as before."""
    try:
        return _users_report_table(files, day, report_md5, keys, seen_records)
    except _StepAside as reason:
        logger.info(f"{PROVIDER} users report for {day}: read record by record ({reason})")
        return None


def _users_report_table(files: list[bytes], day: dt.date, report_md5: Optional[str], keys: RowKeys,
                        seen_records: set[tuple[str, str]]) -> pa.Table:
    contents, lines = [], 0
    for content in files:
        try:
            content = unpacked(content, "users file")
        except MalformedResponseError:
            raise _StepAside("a broken gzip file") from None
        if content.startswith(b"\xef\xbb\xbf"):
            raise _StepAside("a byte order mark")
        if any(b in content for b in _OTHER_LINE_BREAKS):
            raise _StepAside("a line break other than \\n")
        try:
            content.decode("utf-8")  # file by file: a day's files at once would hold their text twice over
        except UnicodeDecodeError:
            raise _StepAside("a file that is not UTF-8") from None
        lines += sum(1 for line in content.split(b"\n") if line.strip())
        contents.append(content if content.endswith(b"\n") else content + b"\n")
    if not lines:
        raise _StepAside("no records")
    try:
        records = pa_json.read_json(
            io.BytesIO(b"".join(contents)), read_options=pa_json.ReadOptions(block_size=4 << 20),
            parse_options=pa_json.ParseOptions(explicit_schema=USER_RECORD_SCHEMA, unexpected_field_behavior="infer"))
    except pa.ArrowException as exc:
        raise _StepAside(str(exc).splitlines()[0][:200]) from None
    if records.num_rows != lines:
        raise _StepAside("a line that is not one JSON object")
    if not records.schema.equals(USER_RECORD_SCHEMA):
        unknown = [f.name for f in records.schema if f not in USER_RECORD_SCHEMA]  # also a nested field's parent
        raise _StepAside(f"fields not modelled ({', '.join(unknown)}), kept in extra_fields")
    records = records.combine_chunks()
    n, column = records.num_rows, records.column
    days = column("day")
    if days.null_count or not pc.all(pc.equal(days, day.isoformat())).as_py():
        raise _StepAside(f"a record for another day than {day}")
    logins = [None if v is None else _login(v) for v in column("user_login").to_pylist()]
    identities = {("user", login) for login in logins}
    if None in logins:
        raise _StepAside("a record without a user_login")
    if len(identities) != n or not seen_records.isdisjoint(identities):
        raise _StepAside("a user listed twice")

    def constant(value: Any, type_: pa.DataType, length: int) -> pa.Array:
        return pa.repeat(pa.scalar(value, type_), length)

    bucket = _bucket(day)
    user_ids, login_array = column("user_id").chunk(0), pa.array(logins, pa.string())
    pieces = []  # one table per kind of row: the totals, each breakdown's items, the CLI

    def piece(parents: pa.Array, breakdown: str, columns: dict[str, pa.Array]) -> None:
        length = len(parents)
        full = {**{k: constant(v, USAGE_METRICS_SCHEMA.field(k).type, length) for k, v in bucket.items()},
                "scope": constant("user", pa.string(), length), "user_id": user_ids.take(parents),
                "user_login": login_array.take(parents), "breakdown": constant(breakdown, pa.string(), length),
                "report_md5": constant(report_md5, pa.string(), length), **columns}
        pieces.append(pa.table({f.name: full[f.name] if f.name in full else pa.nulls(length, f.type)
                                for f in USAGE_METRICS_SCHEMA if f.name != "row_key"}))

    pull_requests = column("pull_requests").chunk(0)
    piece(pa.array(range(n), pa.int64()), "total", {
        **{name: column(name).chunk(0) for name in (*METRIC_COUNTS, *CHAT_MODES, *ACTIVE_USERS, *USED_FLAGS)},
        **{f"pull_requests_{k}": pc.struct_field(pull_requests, k) for k in PULL_REQUEST_COUNTS},
        **{f"pull_requests_{k}": _floats(pc.struct_field(pull_requests, k), k) for k in PULL_REQUEST_MEDIANS},
    })
    for key, (breakdown, dims) in LIST_BREAKDOWNS.items():
        lists = column(key).chunk(0)
        items = lists.flatten()
        if items.null_count:
            raise _StepAside(f"an item of '{key}' that is not an object")
        columns = {name: pc.struct_field(items, name) for name in (*dims, *METRIC_COUNTS, *SESSION_COUNTS)}
        if key == "totals_by_ide":
            plugin, ide_version = (pc.struct_field(items, k) for k, _ in IDE_VERSIONS)
            columns.update({"plugin": pc.struct_field(plugin, "plugin"),
                            "plugin_version": pc.struct_field(plugin, "plugin_version"),
                            "ide_version": pc.struct_field(ide_version, "ide_version")})
        piece(pc.list_parent_indices(lists), breakdown, columns)
    cli = column("totals_by_cli").chunk(0)
    with_cli = pc.indices_nonzero(cli.is_valid())
    cli = cli.take(with_cli)
    tokens, version = pc.struct_field(cli, "token_usage"), pc.struct_field(cli, "last_known_cli_version")
    piece(with_cli, "cli", {
        **{name: pc.struct_field(cli, name) for name in SESSION_COUNTS},
        **{name: pc.struct_field(tokens, name) for name in TOKEN_SUMS},
        "avg_tokens_per_request": _floats(pc.struct_field(tokens, "avg_tokens_per_request"),
                                          "avg_tokens_per_request"),
        "cli_version": pc.struct_field(version, "cli_version"),
    })

    rows = pa.concat_tables(pieces)
    negative = [name for name in COUNT_COLUMNS if (pc.min(rows[name]).as_py() or 0) < 0]
    if negative:
        raise _StepAside(f"a negative count in {', '.join(negative)}")
    rows = rows.combine_chunks()
    # the parts report_rows hands `keys`, joined as RowKeys joins them: (day, scope, login, breakdown, *DIMENSIONS)
    parts = [constant(day.isoformat(), pa.string(), rows.num_rows), rows["scope"], rows["user_login"],
             rows["breakdown"], *(rows[d] for d in DIMENSIONS)]
    bases = pc.binary_join_element_wise(*parts, "\x1f", null_handling="replace", null_replacement="")
    row_keys = keys.claim_all(bases.to_pylist())
    if row_keys is None:
        raise _StepAside("an item listed twice")
    seen_records |= identities
    return rows.append_column(USAGE_METRICS_SCHEMA.field("row_key"), pa.array(row_keys, pa.string())) \
        .select(USAGE_METRICS_SCHEMA.names).cast(USAGE_METRICS_SCHEMA)


def org_report_md5(body: Mapping[str, Any], by_user: bool) -> str:
    """Identifies the organization's premium request report for a day, and whether its users were asked per user:
    a restated day whose report (items, quantities, amounts) is unchanged needs no per-user calls again."""
    text = json.dumps([body.get("usageItems"), "by user" if by_user else "organization only"], sort_keys=True,
                      default=str)
    return hashlib.md5(text.encode()).hexdigest()


def premium_rows(body: Mapping[str, Any], day: dt.date, user: Optional[str], where: str, issues: Issues,
                 keys: RowKeys, org_report_md5: Optional[str] = None) -> list[dict[str, Any]]:
    """The premium request report for one day (and one user, or the organization) as rows per item."""
    period = _object(body, "timePeriod", where)
    asked = {"year": day.year, "month": day.month, "day": day.day}
    answered = {k: int_field(period, k, f"{where} timePeriod") for k in asked}
    if answered != asked:
        raise MalformedResponseError(
            f"{where}: asked for {day}, the API answered for the period {dict(period)} (a month's total cannot be "
            "loaded as a day); nothing from this run was loaded")
    answered_user = _login(str_field(body, "user", where))
    if user is not None and answered_user is not None and answered_user != user:
        raise MalformedResponseError(f"{where}: asked for user {user!r}, the API answered for {answered_user!r}; "
                                     "nothing from this run was loaded")
    scope = "user" if user is not None else "organization"
    rows = []
    for i, item in enumerate(body["usageItems"]):
        here = f"{where} usageItems[{i}]"
        if not isinstance(item, Mapping):
            raise MalformedResponseError(f"{here}: expected an object, got {type(item).__name__}")
        row = {
            **_bucket(day), "scope": scope,
            "organization": str_field(body, "organization", where),
            "user_login": user,
            "product": str_field(item, "product", here) or str_field(body, "product", where),
            "sku": str_field(item, "sku", here),
            "model": str_field(item, "model", here) or str_field(body, "model", where),
            "unit_type": str_field(item, "unitType", here),
            **{col: _decimal(item, api, here) for col, api in _PREMIUM_API.items()},
            "org_report_md5": org_report_md5,
            "extra_fields": extra_fields(item, PREMIUM_KNOWN),
        }
        row["row_key"], duplicate = keys(day, scope, user, row["product"], row["sku"], row["model"], row["unit_type"])
        reason = _refusal(row, PREMIUM_QUANTITIES, PREMIUM_AMOUNTS, duplicate, "product, sku and model")
        if reason:
            issues.quarantine(day, reason, {**({"user": user} if user else {}), **item})
            continue
        rows.append(row)
    return rows


def billing_usage_rows(body: Mapping[str, Any], day: dt.date, where: str, issues: Issues,
                       keys: RowKeys) -> list[dict[str, Any]]:
    """The usage report for one day as rows per item; an item dated another day fails the run."""
    rows = []
    for i, item in enumerate(body["usageItems"]):
        here = f"{where} usageItems[{i}]"
        if not isinstance(item, Mapping):
            raise MalformedResponseError(f"{here}: expected an object, got {type(item).__name__}")
        item_day = _date(item.get("date"), here, "date")
        if item_day != day:
            raise MalformedResponseError(f"{here}: an item dated {item_day} in the answer for {day}; "
                                         "nothing from this run was loaded")
        row = {
            **_bucket(day),
            "organization_name": str_field(item, "organizationName", here),
            "repository_name": str_field(item, "repositoryName", here),
            "product": str_field(item, "product", here),
            "sku": str_field(item, "sku", here),
            "unit_type": str_field(item, "unitType", here),
            **{col: _decimal(item, api, here) for col, api in _USAGE_API.items()},
            "extra_fields": extra_fields(item, USAGE_KNOWN),
        }
        row["row_key"], duplicate = keys(day, row["organization_name"], row["repository_name"], row["product"],
                                         row["sku"], row["unit_type"])
        reason = _refusal(row, ("quantity",), USAGE_AMOUNTS, duplicate, "product and sku")
        if reason:
            issues.quarantine(day, reason, item)
            continue
        rows.append(row)
    return rows


def unpacked(content: bytes, where: str) -> bytes:
    """A report file's bytes, gunzipped if they are gzip (whatever the link's name says)."""
    if content[:2] != b"\x1f\x8b":
        return content
    try:
        return gzip.decompress(content)
    except BROKEN_GZIP as exc:
        raise MalformedResponseError(f"{where}: a broken gzip file ({exc}); nothing from this run was loaded") \
            from None


def parse_report_file(content: bytes, where: str) -> list[Mapping[str, Any]]:
    """A downloaded report as its records: one JSON object (the organization report), a JSON array of objects, or
    NDJSON (the users report), whatever the link's name says; gzip is unpacked. Anything else fails clearly."""
    content = unpacked(content, where)
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise MalformedResponseError(f"{where}: the file is not UTF-8 text, so neither JSON nor NDJSON; "
                                     "nothing from this run was loaded") from None
    if not text.strip():
        return []
    try:
        whole = json.loads(text)
    except json.JSONDecodeError:
        whole = None
        records: list[Any] = []
        for number, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise MalformedResponseError(
                    f"{where}: the file is neither JSON nor NDJSON (line {number}: {exc.msg}, char {exc.pos}); "
                    "nothing from this run was loaded") from None
    else:
        if isinstance(whole, Mapping) and isinstance(whole.get("day_totals"), list):  # a 28-day file
            identity = {k: whole[k] for k in ("organization_id", "enterprise_id") if k in whole}
            records = [{**identity, **r} if isinstance(r, Mapping) else r for r in whole["day_totals"]]
        elif isinstance(whole, list):
            records = whole
        else:
            records = [whole]
    for i, record in enumerate(records):
        if not isinstance(record, Mapping):
            raise MalformedResponseError(f"{where}: record {i + 1} is {_shape(record)}, not an object; "
                                         "nothing from this run was loaded")
    return records


def links_envelope(body: Any) -> Optional[str]:
    """The report endpoints: `{download_links: [url, ...], report_day}`."""
    if not isinstance(body, Mapping) or not isinstance(body.get("download_links"), list):
        return f"expected an object with a 'download_links' list, got {_shape(body)}"
    bad = [link for link in body["download_links"]
           if not isinstance(link, str) or urlparse(link).scheme not in ("https", "http") or not urlparse(link).netloc]
    if bad:
        return f"'download_links' must hold http(s) URLs, got {str(bad[0])[:80]!r}"
    return None


def public_link(link: str) -> str:
    """A signed link without its query (the signature is a credential: it stays out of messages and logs)."""
    parts = urlparse(link)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


# ------------------------------------------------------------------------------------------------- HTTP

def rate_limit_wait(response: Optional[requests.Response], now: Callable[[], float] = time.time) -> Optional[float]:
    """Seconds to wait before asking again, if `response` is GitHub's 403 for a rate limit; None otherwise.

    GitHub: with `Retry-After`, wait that long; with `x-ratelimit-remaining: 0`, until `x-ratelimit-reset` (epoch
    seconds); a secondary rate limit without either: at least a minute. 429s are the shared session's to retry."""
    if response is None or response.status_code != 403:
        return None
    headers = response.headers
    retry_after = (headers.get("Retry-After") or "").strip()
    if retry_after.isdigit():
        return float(retry_after)
    reset = (headers.get("x-ratelimit-reset") or "").strip()
    if (headers.get("x-ratelimit-remaining") or "").strip() == "0" and reset.isdigit():
        return max(1.0, int(reset) - now() + 1)
    try:
        text = response.text[:2000].lower()
    except Exception:  # noqa: BLE001 - a body we cannot read is no rate limit message
        return None
    return SECONDARY_LIMIT_WAIT if "rate limit" in text else None


def respect_rate_limits(session: requests.Session, sleep: Callable[[float], None] = time.sleep,
                        max_wait: float = MAX_RATE_LIMIT_WAIT) -> requests.Session:
    """The session, its `send` also waiting out GitHub's 403 rate limits (the shared retry layer below it retries
    429, 5xx and timeouts). A wait longer than `max_wait` is not waited: the 403 fails the run with its message."""
    if getattr(session, "_copilot_rate_limits", False):
        return session
    send = session.send

    def send_within_limits(request, **kwargs):
        for attempt in range(1, RATE_LIMIT_ATTEMPTS + 1):
            try:
                response = send(request, **kwargs)
            except requests.HTTPError as exc:  # the response hook raised (ProviderHTTPError)
                wait = rate_limit_wait(exc.response)
                if wait is None or wait > max_wait or attempt == RATE_LIMIT_ATTEMPTS:
                    raise
            else:
                wait = rate_limit_wait(response)
                if wait is None or wait > max_wait or attempt == RATE_LIMIT_ATTEMPTS:
                    return response
            logger.warning(f"{PROVIDER}: GitHub rate limit (HTTP 403), waiting {wait:.0f}s before asking again")
            sleep(wait)
        raise AssertionError("unreachable")

    session.send = send_within_limits  # type: ignore[method-assign]
    session._copilot_rate_limits = True  # type: ignore[attr-defined]
    return session


def _detail(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200].strip()
    if isinstance(body, Mapping) and body.get("message"):
        return str(body["message"])[:300]
    return str(body)[:200]


def get_pages(client: Any, endpoint: Endpoint, params: dict[str, Any], expect: Callable[[Any], Optional[str]],
              paginator: Optional[BasePaginator] = None, context: str = "") -> Iterator[tuple[int, Any]]:
    """`http.iter_pages` with GitHub's error detail and `context` (the day asked for) in every message, including
    error statuses, and at most `MAX_PAGES` pages."""
    return iter_pages(client, endpoint, params, expect, paginator or SinglePagePaginator(), context=context,
                      status_hook=_raise_for_status(endpoint, context, _detail), max_pages=MAX_PAGES)


def get_one(client: Any, endpoint: Endpoint, params: dict[str, Any], expect: Callable[[Any], Optional[str]],
            context: str = "") -> Any:
    return get_json(client, endpoint, params, expect, context=context,
                    status_hook=_raise_for_status(endpoint, context, _detail))


def download_report(session: requests.Session, link: str, where: str) -> bytes:
    """One signed report file's bytes, without the GitHub token, through the retrying session."""
    shown = public_link(link)
    response = session.get(link, headers={"Accept": "application/json, application/x-ndjson, */*"})
    if response.status_code >= 400:
        detail = _detail(response)
        raise ProviderHTTPError(
            f"{where}: downloading {shown} failed: HTTP {response.status_code} {response.reason or ''}".rstrip()
            + (f": {detail}" if detail else "")
            + " (report links are signed and expire; a new run asks for fresh ones); nothing from this run was loaded",
            response=response)
    return response.content


# ------------------------------------------------------------------------------------------------- source

def copilot_source(
    start_date: Optional[str] = None,
    end_date: Optional[str] = None,
    lookback_days: int = settings.DEFAULT_LOOKBACK_DAYS,
    organization: Optional[str] = None,
    premium_requests_by_user: Optional[bool] = None,
    per_page: int = PER_PAGE,
    connection: Optional[settings.ProviderConnection] = None,
    session: Optional[requests.Session] = None,
):
    """Usage metrics, premium requests and billing usage for [start_date - lookback_days, end_date), and the seats
    as of today. Token: `SOURCES__COPILOT__TOKEN`, base URL: `SOURCES__COPILOT__BASE_URL` (default
    https://api.github.com), organization: `SOURCES__COPILOT__ORGANIZATION`, per-user premium requests:
    `SOURCES__COPILOT__PREMIUM_REQUESTS_BY_USER` (default true), or the demo."""
    conn = connection or settings.connection(PROVIDER)
    if organization is None:
        if conn.demo:
            from ingestion.demo.copilot import DEMO_COPILOT_ORG

            organization = DEMO_COPILOT_ORG
        else:
            organization = dlt.config.get(f"sources.{PROVIDER}.organization", str)
    organization = (organization or "").strip()
    if conn.enabled and not organization:
        raise ValueError(f"sources.{PROVIDER}.organization is not configured (SOURCES__COPILOT__ORGANIZATION): "
                         "the GitHub organization whose Copilot seats and usage are read")
    if premium_requests_by_user is None:
        configured = None if conn.demo else dlt.config.get(f"sources.{PROVIDER}.premium_requests_by_user", bool)
        premium_requests_by_user = True if configured is None else bool(configured)
    window = SourceWindow(start_date, end_date, lookback_days, 1)
    return _copilot(window, organization, premium_requests_by_user, max(1, min(int(per_page), PER_PAGE)), conn,
                    session)


@dlt.source(name="copilot", max_table_nesting=0, schema_contract=SCHEMA_CONTRACT)
def _copilot(window: SourceWindow, org: str, by_user: bool, per_page: int, conn: settings.ProviderConnection,
             session: Optional[requests.Session]):
    state: dict[str, Any] = {}

    def http() -> requests.Session:
        if "session" not in state:
            state["session"] = respect_rate_limits(session or conn.session())
        return state["session"]

    def client():
        return make_rest_client(conn.base_url, auth=BearerTokenAuth(token=conn.api_key or ""),
                                headers={"X-GitHub-Api-Version": API_VERSION, "Accept": "application/vnd.github+json"},
                                session=http())

    def skipped(path: str) -> bool:
        if not conn.enabled:
            logger.warning(f"{PROVIDER}: no token configured, skipping {path}")
        return not conn.enabled

    def seat_pages() -> list[tuple[int, Mapping[str, Any]]]:
        """The seats listing, fetched once a run (the seats resource and the per-user premium requests share it)."""
        if "seats" not in state:
            endpoint = Endpoint(PROVIDER, SEATS_PATH.format(org=org))
            pages = list(get_pages(client(), endpoint, {"per_page": per_page}, json_object("seats"),
                                   HeaderLinkPaginator()))
            reported = int_field(pages[0][1], "total_seats", endpoint.describe(1)) if pages else None
            received = sum(len(body["seats"]) for _, body in pages)
            if reported is not None and received < reported:
                raise MalformedResponseError(
                    f"{PROVIDER} {endpoint.path}: the API counted {reported} seats but its {len(pages)} pages held "
                    f"{received}; refusing to load a listing with missing seats (nothing from this run was loaded)")
            state["seats"] = pages
        return state["seats"]

    def seat_logins() -> list[str]:
        logins = set()
        for _, body in seat_pages():
            for seat in body["seats"]:
                assignee = seat.get("assignee") if isinstance(seat, Mapping) else None
                if isinstance(assignee, Mapping) and isinstance(assignee.get("login"), str):
                    logins.add(assignee["login"].strip().lower())
        return sorted(login for login in logins if login)

    # ------------------------------------------------------------------------------------------ usage metrics
    def report_links(api: Any, scope: str, day: dt.date) -> Optional[list[str]]:
        endpoint = Endpoint(PROVIDER, REPORT_PATHS[scope].format(org=org))
        try:
            body = get_one(api, endpoint, {"day": day.isoformat()}, links_envelope, f" for {day}")
        except ProviderHTTPError as exc:
            recent = day >= _common.today_utc() - dt.timedelta(days=REPORT_DELAY_DAYS)
            if exc.response is not None and exc.response.status_code == 404 and recent:
                logger.warning(f"{PROVIDER} {endpoint.path} for {day}: no report yet (HTTP 404); "
                               "a later run's lookback fetches it")
                return None
            raise
        report_day = _date(body.get("report_day"), f"{endpoint.describe(1)} for {day}", "report_day")
        if report_day is not None and report_day != day:
            raise MalformedResponseError(f"{endpoint.describe(1)} for {day}: the API answered with the report for "
                                         f"{report_day}; nothing from this run was loaded")
        return list(body["download_links"])

    def usage_metric_tables(start: dt.date, end: dt.date) -> Iterator[Any]:
        if skipped(REPORT_PATHS["user"]):
            return
        first = max(start, REPORTS_AVAILABLE_FROM)
        if first > start:
            logger.info(f"{PROVIDER}: usage-metrics reports exist from {REPORTS_AVAILABLE_FROM}; "
                        f"not asking for {start}..{first}")
        api = client()
        days = days_between(first, min(end, _common.today_utc()))  # reports cover whole days
        loaded = loaded_day_md5s("usage_metrics", "report_md5", days[0], days[-1] + dt.timedelta(days=1)) \
            if days else {}
        kept = []
        for day in days:
            files = []  # (scope, where, content): both reports of the day, before anything is parsed
            for scope in ("organization", "user"):
                links = report_links(api, scope, day)
                for n, link in enumerate(links or (), 1):
                    where = f"{PROVIDER} {REPORT_PATHS[scope].format(org=org)} for {day}, file {n} of {len(links)}"
                    files.append((scope, f"{where} ({public_link(link)})", download_report(http(), link, where)))
            # a restated day whose files are byte for byte the ones loaded is kept as loaded (merged by day: both
            # reports of a day are loaded together or not at all)
            md5 = hashlib.md5(b"".join(f"{scope}\x1f{len(content)}\x1f".encode() + content
                                       for scope, _, content in files)).hexdigest()
            if files and loaded.get(day) == md5:
                kept.append(day)
                continue
            keys, seen_records = RowKeys(), set()
            user_files = [content for scope, _, content in files if scope == "user"]
            users = users_report_table(user_files, day, md5, keys, seen_records) if user_files else None
            for scope, where, content in files:
                if scope == "user" and users is not None:
                    continue  # read column-wise above, all of the day's user files at once
                issues = Issues("usage_metrics")
                records = parse_report_file(content, where)
                rows = [{**row, "report_md5": md5} for i, record in enumerate(records)
                        for row in report_rows(record, scope, day, f"{where} record {i + 1}", issues, keys,
                                               seen_records)]
                if rows:
                    yield to_table(rows, USAGE_METRICS_SCHEMA)
                if issues.rows:
                    yield dlt.mark.with_table_name(to_table(issues.rows, QUARANTINE_SCHEMA),
                                                   "usage_metrics_quarantine")
            if users is not None:
                yield users
        if kept:
            logger.info(f"{PROVIDER} usage-metrics reports: {len(kept)} day(s) kept as loaded ({kept[0]}..{kept[-1]}): "
                        "their files are unchanged")

    # ------------------------------------------------------------------------------------------ billing
    def billing_days(start: dt.date, end: dt.date) -> list[dt.date]:
        return days_between(start, min(end, _common.today_utc() + dt.timedelta(days=1)))  # today: partial

    def premium_tables(start: dt.date, end: dt.date) -> Iterator[Any]:
        if skipped(PREMIUM_PATH):
            return
        api, endpoint = client(), Endpoint(PROVIDER, PREMIUM_PATH.format(org=org))
        logins = seat_logins() if by_user else []
        # per day already loaded with per-user rows: the md5 of the organization report it was loaded with
        loaded = loaded_day_md5s("premium_requests", "org_report_md5", start, end, "scope = 'organization'") \
            if by_user else {}
        kept = []
        for day in billing_days(start, end):
            keys, issues = RowKeys(), Issues("premium_requests")
            params = {"year": day.year, "month": day.month, "day": day.day}
            body = get_one(api, endpoint, params, json_object("usageItems"), f" for {day}")
            md5 = org_report_md5(body, by_user)
            if body["usageItems"] and loaded.get(day) == md5:
                kept.append(day)  # the warehouse holds this day's per-user rows for this very report: no new call
                continue
            rows = premium_rows(body, day, None, f"{endpoint.describe(1)} for {day}", issues, keys, md5)
            if body["usageItems"]:  # a day the organization used none needs no per-user calls
                for login in logins:
                    context = f" for {day}, user {login}"
                    try:
                        body = get_one(api, endpoint, {**params, "user": login}, json_object("usageItems"), context)
                    except ProviderHTTPError as exc:
                        if exc.response is not None and exc.response.status_code == 403:
                            raise ProviderAPIError(
                                f"{exc}. If this token may not filter premium requests by user (reported for "
                                "organizations owned by an enterprise), set SOURCES__COPILOT__PREMIUM_REQUESTS_BY_USER"
                                "=false to load the organization's totals only") from exc
                        raise
                    rows += premium_rows(body, day, login, f"{endpoint.describe(1)}{context}", issues, keys, md5)
            if rows:
                yield to_table(rows, PREMIUM_SCHEMA)
            if issues.rows:
                yield dlt.mark.with_table_name(to_table(issues.rows, QUARANTINE_SCHEMA), "premium_requests_quarantine")
        if kept:
            logger.info(f"{PROVIDER} {endpoint.path}: {len(kept)} day(s) kept as loaded ({kept[0]}..{kept[-1]}): the "
                        "organization's report is unchanged, so its seat holders were not asked again")

    def billing_usage_tables(start: dt.date, end: dt.date) -> Iterator[Any]:
        if skipped(USAGE_PATH):
            return
        api, endpoint = client(), Endpoint(PROVIDER, USAGE_PATH.format(org=org))
        for day in billing_days(start, end):
            keys, issues = RowKeys(), Issues("billing_usage")
            body = get_one(api, endpoint, {"year": day.year, "month": day.month, "day": day.day},
                           json_object("usageItems"), f" for {day}")
            rows = billing_usage_rows(body, day, f"{endpoint.describe(1)} for {day}", issues, keys)
            if rows:
                yield to_table(rows, BILLING_USAGE_SCHEMA)
            if issues.rows:
                yield dlt.mark.with_table_name(to_table(issues.rows, QUARANTINE_SCHEMA), "billing_usage_quarantine")

    # ------------------------------------------------------------------------------------------ resources
    @dlt.resource(name="seats", merge_key="snapshot_date", write_disposition=MERGE_BY_DAY)
    def seats() -> Iterator[Any]:
        """Every seat as of the run day (`snapshot_date`, UTC); a re-run on the same day replaces that day's."""
        issues = Issues("seats")
        loaded = False
        if not skipped(SEATS_PATH):
            endpoint = Endpoint(PROVIDER, SEATS_PATH.format(org=org))
            snapshot, observed_at = _common.today_utc(), dt.datetime.now(dt.timezone.utc)
            seen: set[str] = set()
            for page_number, body in seat_pages():
                rows = seat_rows(body, endpoint.describe(page_number), issues, snapshot, observed_at, seen)
                if rows:
                    loaded = True
                    yield to_table(rows, SEAT_SCHEMA)
        if not loaded:  # without a token (or seats) the table is still created, empty
            yield SEAT_SCHEMA.empty_table()
        # the quarantine table exists (empty) whether or not anything was refused
        yield dlt.mark.with_hints(
            to_table(issues.rows, QUARANTINE_SCHEMA),
            dlt.mark.make_hints(table_name="seats_quarantine", merge_key="bucket_date",
                                write_disposition=MERGE_BY_DAY),
            create_table_variant=True)

    usage_metrics = daily_bucket_resource("usage_metrics", window, USAGE_METRICS_SCHEMA, usage_metric_tables)
    premium_requests = daily_bucket_resource("premium_requests", window, PREMIUM_SCHEMA, premium_tables)
    billing_usage = daily_bucket_resource("billing_usage", window, BILLING_USAGE_SCHEMA, billing_usage_tables)
    return seats, usage_metrics, premium_requests, billing_usage


__all__ = ["copilot_source", "parse_report_file", "rate_limit_wait", "report_rows", "respect_rate_limits"]
