"""The demo organisation behind the providers' real API shapes, as `requests` transport adapters.

Mounted on a session for the demo base URL, these answer the exact requests the sources send (auth headers checked,
query parameters parsed, buckets paged with `limit`/`page`/`has_more`/`next_page`, the same units and quirks as the
live APIs: Anthropic's RFC 3339 windows and cents as decimal strings, OpenAI's Unix-second windows and dollars;
Anthropic's Claude Code report one `YYYY-MM-DD` day a call, paged by records). Everything after the socket is the
production code path.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
from typing import Any, Callable, Iterable, Optional
from urllib.parse import parse_qs, urlparse

import requests
from requests.adapters import BaseAdapter

from ingestion.demo.generator import DemoWorld

DEMO_ANTHROPIC_URL = "https://demo.invalid/anthropic"
DEMO_OPENAI_URL = "https://demo.invalid/openai/v1"
DEMO_API_KEY = "demo-admin-key"


class _ApiError(Exception):
    def __init__(self, status: int, body: dict[str, Any], headers: Optional[dict[str, str]] = None) -> None:
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


def _response(request: requests.PreparedRequest, status: int, body: Any, headers: Optional[dict] = None) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.reason = requests.status_codes._codes.get(status, ("",))[0].upper().replace("_", " ")
    response._content = body if isinstance(body, bytes) else json.dumps(body, separators=(",", ":")).encode()
    response.headers["Content-Type"] = "application/json"
    response.headers.update(headers or {})
    response.url = request.url
    response.request = request
    response.encoding = "utf-8"
    return response


def _encode_cursor(day: dt.date) -> str:
    return "page_" + base64.urlsafe_b64encode(f"{day.isoformat()}T00:00:00Z".encode()).decode()


def _decode_cursor(cursor: str) -> dt.date:
    try:
        return dt.date.fromisoformat(base64.urlsafe_b64decode(cursor.removeprefix("page_")).decode()[:10])
    except Exception:
        raise _ApiError(400, {"error": {"type": "invalid_request_error", "message": "invalid page cursor"}}) from None


def _aggregate(rows: Iterable[dict[str, Any]], group_by: list[str], dims: tuple[str, ...]) -> list[dict[str, Any]]:
    """Sum numeric fields over the dimensions the caller did not group by (those come back as null)."""
    if set(dims) <= set(group_by):
        return list(rows)
    out: dict[tuple, dict[str, Any]] = {}
    for row in rows:
        row = {k: (v if k not in dims or k in group_by else None) for k, v in row.items()}
        key = tuple(row.get(d) for d in dims)
        if key not in out:
            out[key] = json.loads(json.dumps(row))
            continue
        acc = out[key]
        for k, v in row.items():
            if isinstance(v, dict):
                for kk, vv in v.items():
                    acc[k][kk] += vv
            elif isinstance(v, (int, float)) and not isinstance(v, bool) and k not in dims:
                acc[k] += v
    return list(out.values())


class _DemoAdapter(BaseAdapter):
    base_url: str

    def __init__(self, world: DemoWorld, base_url: str, api_key: str = DEMO_API_KEY) -> None:
        super().__init__()
        self.world = world
        self.api_key = api_key  # the key this fake API accepts
        self.base_path = urlparse(base_url).path.rstrip("/")
        self.routes: dict[str, Callable[[dict[str, list[str]]], dict[str, Any]]] = {}

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):  # noqa: D102
        url = urlparse(request.url)
        path = url.path[len(self.base_path):] if url.path.startswith(self.base_path) else url.path
        params = parse_qs(url.query, keep_blank_values=True)
        try:
            self.authenticate(request)
            handler = self.routes.get(path)
            if handler is None or request.method != "GET":
                raise _ApiError(404, {"error": {"type": "not_found_error", "message": f"no route {request.method} {path}"}})
            return _response(request, 200, handler(params))
        except _ApiError as err:
            return _response(request, err.status, err.body, err.headers)

    def close(self) -> None:  # noqa: D102
        pass

    def authenticate(self, request) -> None:
        raise NotImplementedError

    def _days(self, start: dt.date, end: dt.date, cursor: Optional[str], limit: int) -> tuple[list[dt.date], Optional[dt.date]]:
        first = _decode_cursor(cursor) if cursor else start
        days = []
        day = first
        while day < end and len(days) < limit:
            days.append(day)
            day += dt.timedelta(days=1)
        return days, (day if day < end else None)


def _one(params: dict[str, list[str]], name: str, default: Optional[str] = None) -> Optional[str]:
    values = params.get(name)
    return values[-1] if values else default


def _int(params: dict[str, list[str]], name: str, default: int, maximum: int) -> int:
    raw = _one(params, name)
    try:
        value = int(raw) if raw is not None else default
    except ValueError:
        raise _ApiError(400, {"error": {"type": "invalid_request_error", "message": f"{name} must be an integer"}}) from None
    if not 1 <= value <= maximum:
        raise _ApiError(400, {"error": {"type": "invalid_request_error", "message": f"{name} must be in 1..{maximum}"}})
    return value


def _encode_offset(day: dt.date, offset: int) -> str:
    return "page_" + base64.urlsafe_b64encode(f"{day.isoformat()}T00:00:00Z#{offset}".encode()).decode()


def _decode_offset(cursor: str, day: dt.date) -> int:
    """The record offset a Claude Code cursor points at; a cursor of another day (or none of ours) is refused."""
    try:
        text = base64.urlsafe_b64decode(cursor.removeprefix("page_")).decode()
        cursor_day, offset = text.split("#")
        if dt.date.fromisoformat(cursor_day[:10]) != day:
            raise ValueError(cursor_day)
        return int(offset)
    except Exception:
        raise _ApiError(400, {"type": "error", "error": {"type": "invalid_request_error",
                                                        "message": "invalid page cursor"}}) from None


class AnthropicDemoAdapter(_DemoAdapter):
    """`/v1/organizations/usage_report/messages`, `/v1/organizations/cost_report` and
    `/v1/organizations/usage_report/claude_code` (the Claude Code Analytics report)."""

    USAGE_DIMS = ("api_key_id", "workspace_id", "model", "service_tier", "context_window")
    COST_DIMS = ("workspace_id", "description")

    def __init__(self, world: DemoWorld, base_url: str = DEMO_ANTHROPIC_URL, api_key: str = DEMO_API_KEY) -> None:
        super().__init__(world, base_url, api_key)
        self.routes = {
            "/v1/organizations/usage_report/messages": self.usage,
            "/v1/organizations/cost_report": self.cost_report,
            "/v1/organizations/usage_report/claude_code": self.claude_code,
        }

    def authenticate(self, request) -> None:
        if request.headers.get("x-api-key") != self.api_key:
            raise _ApiError(401, {"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}})
        if request.headers.get("anthropic-version") != "2023-06-01":
            raise _ApiError(400, {"type": "error", "error": {"type": "invalid_request_error",
                                                            "message": "anthropic-version header is required"}})

    def _window(self, params) -> tuple[dt.date, dt.date, int]:
        start_raw = _one(params, "starting_at")
        if not start_raw:
            raise _ApiError(400, {"type": "error", "error": {"type": "invalid_request_error", "message": "starting_at is required"}})
        if _one(params, "bucket_width", "1d") != "1d":
            raise _ApiError(400, {"type": "error", "error": {"type": "invalid_request_error", "message": "demo serves 1d buckets only"}})
        limit = _int(params, "limit", 7, 31)
        start = dt.datetime.fromisoformat(start_raw.replace("Z", "+00:00")).date()
        end_raw = _one(params, "ending_at")
        end = dt.datetime.fromisoformat(end_raw.replace("Z", "+00:00")).date() if end_raw else start + dt.timedelta(days=limit)
        return start, min(end, self.world.today), limit

    def _envelope(self, params, rows_for_day: Callable[[dt.date], list[dict[str, Any]]]) -> dict[str, Any]:
        start, end, limit = self._window(params)
        days, next_day = self._days(start, end, _one(params, "page"), limit)
        data = [{"starting_at": f"{d.isoformat()}T00:00:00Z",
                 "ending_at": f"{(d + dt.timedelta(days=1)).isoformat()}T00:00:00Z",
                 "results": rows_for_day(d)} for d in days]
        return {"data": data, "has_more": next_day is not None,
                "next_page": _encode_cursor(next_day) if next_day else None}

    def usage(self, params):
        group_by = params.get("group_by[]", [])
        return self._envelope(params, lambda d: _aggregate(self.world.anthropic_usage(d), group_by, self.USAGE_DIMS))

    def cost_report(self, params):
        # the demo serves the grouping the source asks for (and the API documents for per-model costs)
        if sorted(params.get("group_by[]", [])) != ["description", "workspace_id"]:
            raise _ApiError(400, {"type": "error", "error": {"type": "invalid_request_error",
                                                            "message": "demo serves group_by[]=workspace_id,description"}})
        return self._envelope(params, lambda d: list(self.world.anthropic_costs(d)))

    def claude_code(self, params):
        """One UTC day a call (`starting_at=YYYY-MM-DD`, required; no range), `limit` records a page (default 20,
        at most 1000), `page=<next_page>` while `has_more`. Days from today on have no records (whole days only)."""
        from ingestion.demo.claude_code import claude_code_analytics

        raw = _one(params, "starting_at")
        if not raw or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
            raise _ApiError(400, {"type": "error", "error": {"type": "invalid_request_error",
                                                            "message": "starting_at must be a UTC date in YYYY-MM-DD format"}})
        day = dt.date.fromisoformat(raw)
        limit = _int(params, "limit", 20, 1000)
        cursor = _one(params, "page")
        offset = _decode_offset(cursor, day) if cursor else 0
        records = claude_code_analytics(self.world).records(day)
        following = offset + limit if offset + limit < len(records) else None
        return {"data": list(records[offset:offset + limit]), "has_more": following is not None,
                "next_page": _encode_offset(day, following) if following is not None else None}


class OpenAIDemoAdapter(_DemoAdapter):
    """`/organization/usage/completions` and `/organization/costs` under the `/v1` base URL."""

    USAGE_DIMS = ("project_id", "user_id", "api_key_id", "model", "batch", "service_tier")

    def __init__(self, world: DemoWorld, base_url: str = DEMO_OPENAI_URL, api_key: str = DEMO_API_KEY) -> None:
        super().__init__(world, base_url, api_key)
        self.routes = {
            "/organization/usage/completions": self.usage,
            "/organization/costs": self.costs,
        }

    def authenticate(self, request) -> None:
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            raise _ApiError(401, {"error": {"type": "invalid_request_error", "code": "invalid_api_key",
                                            "message": "Incorrect API key provided"}})

    def _envelope(self, params, max_limit: int, rows_for_day) -> dict[str, Any]:
        raw_start = _one(params, "start_time")
        if raw_start is None:
            raise _ApiError(400, {"error": {"type": "invalid_request_error", "message": "start_time is required"}})
        if _one(params, "bucket_width", "1d") != "1d":
            raise _ApiError(400, {"error": {"type": "invalid_request_error", "message": "demo serves 1d buckets only"}})
        limit = _int(params, "limit", 7, max_limit)
        start = dt.datetime.fromtimestamp(int(raw_start), dt.timezone.utc).date()
        raw_end = _one(params, "end_time")
        end = dt.datetime.fromtimestamp(int(raw_end), dt.timezone.utc).date() if raw_end else start + dt.timedelta(days=limit)
        days, next_day = self._days(start, min(end, self.world.today), _one(params, "page"), limit)

        def epoch(d: dt.date) -> int:
            return int(dt.datetime(d.year, d.month, d.day, tzinfo=dt.timezone.utc).timestamp())

        data = [{"object": "bucket", "start_time": epoch(d), "end_time": epoch(d + dt.timedelta(days=1)),
                 "results": rows_for_day(d)} for d in days]
        return {"object": "page", "data": data, "has_more": next_day is not None,
                "next_page": _encode_cursor(next_day) if next_day else None}

    def usage(self, params):
        group_by = params.get("group_by", [])
        return self._envelope(params, 31, lambda d: _aggregate(self.world.openai_usage(d), group_by, self.USAGE_DIMS))

    def costs(self, params):
        if sorted(params.get("group_by", [])) != ["line_item", "project_id"]:
            raise _ApiError(400, {"error": {"type": "invalid_request_error",
                                            "message": "demo serves group_by=project_id,line_item"}})
        return self._envelope(params, 180, lambda d: list(self.world.openai_costs(d)))
