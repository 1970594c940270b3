"""The demo Cursor team behind the Cursor Admin API's real shapes, as a `requests` transport adapter.

What the adapter enforces, like the live API: HTTP Basic auth with the key as username and an empty password
(401 otherwise); `GET /teams/members`; the usage endpoints are `POST` with a JSON body whose `startDate` /
`endDate` are epoch **milliseconds** (seconds are refused: the live API would read them as 1970), a range of at
most 30 days (400 beyond); `filtered-usage-events` paged with a 1-indexed `page` and `pageSize` (`pagination`,
`totalUsageEventsCount`, newest first); `spend` paged with `page` / `pageSize` until `totalPages`. Everything after
the socket is the production code path.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import math
from typing import Any, Optional
from urllib.parse import urlparse

from requests.adapters import BaseAdapter

from ingestion.demo.cursor import DAY_MS, DemoCursorTeam, epoch_ms
from ingestion.demo.server import DEMO_API_KEY, _ApiError, _response

DEMO_CURSOR_URL = "https://demo.invalid/cursor"
MAX_RANGE_MS = 30 * DAY_MS
MAX_EVENTS_PAGE_SIZE = 500
MIN_EPOCH_MS = 10**11  # 1973 in milliseconds; anything smaller is seconds (or nonsense)


def _error(status: int, message: str) -> _ApiError:
    return _ApiError(status, {"error": {"type": "bad_request" if status == 400 else "error", "message": message}})


class CursorDemoAdapter(BaseAdapter):
    """`/teams/members`, `/teams/daily-usage-data`, `/teams/filtered-usage-events`, `/teams/spend`."""

    def __init__(self, team: DemoCursorTeam, base_url: str = DEMO_CURSOR_URL, api_key: str = DEMO_API_KEY) -> None:
        super().__init__()
        self.team = team
        self.api_key = api_key
        self.base_path = urlparse(base_url).path.rstrip("/")
        self.routes = {
            ("GET", "/teams/members"): self.members,
            ("POST", "/teams/daily-usage-data"): self.daily_usage,
            ("POST", "/teams/filtered-usage-events"): self.usage_events,
            ("POST", "/teams/spend"): self.spend,
        }

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):  # noqa: D102
        url = urlparse(request.url)
        path = url.path[len(self.base_path):] if url.path.startswith(self.base_path) else url.path
        try:
            self.authenticate(request)
            handler = self.routes.get((request.method, path))
            if handler is None:
                raise _ApiError(404, {"error": {"type": "not_found", "message": f"no route {request.method} {path}"}})
            return _response(request, 200, handler(self._body(request)))
        except _ApiError as err:
            return _response(request, err.status, err.body, err.headers)

    def close(self) -> None:  # noqa: D102
        pass

    def authenticate(self, request) -> None:
        expected = "Basic " + base64.b64encode(f"{self.api_key}:".encode()).decode()
        if request.headers.get("Authorization") != expected:
            raise _ApiError(401, {"error": {"type": "unauthorized", "message": "Invalid API key"}})

    @staticmethod
    def _body(request) -> dict[str, Any]:
        if request.method == "GET" or not request.body:
            return {}
        raw = request.body.decode() if isinstance(request.body, bytes) else request.body
        try:
            body = json.loads(raw)
        except ValueError:
            raise _error(400, "request body must be JSON") from None
        if not isinstance(body, dict):
            raise _error(400, "request body must be a JSON object")
        return body

    # ------------------------------------------------------------------------------------------ parameters
    @staticmethod
    def _epoch(body: dict[str, Any], name: str, default: Optional[int] = None) -> int:
        value = body.get(name, default)
        if value is None:
            raise _error(400, f"{name} is required")
        if isinstance(value, bool) or not isinstance(value, int):
            raise _error(400, f"{name} must be a number (epoch milliseconds)")
        if value < MIN_EPOCH_MS:
            raise _error(400, f"{name} must be epoch milliseconds, got {value}")
        return value

    def _range(self, body: dict[str, Any], required: bool) -> tuple[int, int]:
        now = epoch_ms(self.team.today)
        end = self._epoch(body, "endDate", None if required else now)
        start = self._epoch(body, "startDate", None if required else end - MAX_RANGE_MS)
        if end < start:
            raise _error(400, "endDate must not be before startDate")
        if end - start > MAX_RANGE_MS:
            raise _error(400, "Date range cannot exceed 30 days")
        return start, end

    @staticmethod
    def _page(body: dict[str, Any], name: str, default: int, maximum: int) -> int:
        value = body.get(name, default)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
            raise _error(400, f"{name} must be an integer in 1..{maximum}")
        return value

    # ------------------------------------------------------------------------------------------- endpoints
    def members(self, body):
        return {"teamMembers": self.team.team_members()}

    def daily_usage(self, body):
        start, end = self._range(body, required=True)
        first_day = -(-start // DAY_MS)  # days whose 00:00 UTC lies in [startDate, endDate]
        rows = []
        for day_number in range(first_day, end // DAY_MS + 1):
            rows += self.team.daily_usage(_day(day_number))
        return {"data": rows, "period": {"startDate": start, "endDate": end}}

    def usage_events(self, body):
        start, end = self._range(body, required=False)
        page = self._page(body, "page", 1, 10**6)
        size = self._page(body, "pageSize", 10, MAX_EVENTS_PAGE_SIZE)
        events = self.team.events_between(start, end)
        email = body.get("email")
        if email:
            events = [e for e in events if e.get("userEmail") == email]
        pages = math.ceil(len(events) / size)
        return {
            "totalUsageEventsCount": len(events),
            "pagination": {"numPages": pages, "currentPage": page, "pageSize": size,
                           "hasNextPage": page < pages, "hasPreviousPage": page > 1},
            "usageEvents": events[(page - 1) * size: page * size],
            "period": {"startDate": start, "endDate": end},
        }

    def spend(self, body):
        page = self._page(body, "page", 1, 10**6)
        size = self._page(body, "pageSize", 50, 1000)
        sort_by, direction = body.get("sortBy", "date"), body.get("sortDirection", "desc")
        if sort_by not in ("amount", "date", "user") or direction not in ("asc", "desc"):
            raise _error(400, "sortBy must be amount|date|user and sortDirection asc|desc")
        rows = self.team.spend()
        term = str(body.get("searchTerm") or "").lower()
        if term:
            rows = [r for r in rows if term in r["email"].lower() or term in r["name"].lower()]
        key = {"amount": lambda r: (r["spendCents"], r["email"]), "user": lambda r: (r["name"], r["email"]),
               "date": lambda r: r["email"]}[sort_by]
        rows.sort(key=key, reverse=direction == "desc")
        return {"teamMemberSpend": rows[(page - 1) * size: page * size],
                "subscriptionCycleStart": epoch_ms(self.team.cycle_start()),
                "totalMembers": len(rows), "totalPages": max(1, math.ceil(len(rows) / size))}


def _day(day_number: int) -> dt.date:
    return dt.date(1970, 1, 1) + dt.timedelta(days=day_number)
