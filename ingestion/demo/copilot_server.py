"""The demo Copilot organisation behind GitHub's real API shapes, as a `requests` transport adapter.

What the adapter enforces, like the live API: `Authorization: Bearer <token>` on every API route (401 "Bad
credentials" otherwise); an `X-GitHub-Api-Version` it knows, if one is sent (400 otherwise; without one GitHub
answers as 2022-11-28); the organization in the path (404 for another); seats paged with `per_page` (at most 100,
default 50) / `page` and a `Link` header; the usage-metrics reports in two steps: `.../reports/organization-1-day`
and `.../reports/users-1-day` with a required `day` answer `{download_links, report_day}`, and each link is a signed
URL on the demo host serving the file itself (the organization report as one JSON object, the users report as NDJSON,
split into several files). A download needs a valid signature, not the token (it is accepted with or without one,
since whether GitHub's own links take it is not documented). The billing reports sit under `/organizations/{org}/...`
and answer for the `year` / `month` / `day` asked, optionally one `user` or `model`. Everything after the socket is
the production code path.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import time
from typing import Any, Optional
from urllib.parse import parse_qs, urlencode, urlparse

from requests.adapters import BaseAdapter

from ingestion.demo.copilot import DemoCopilotOrg
from ingestion.demo.server import DEMO_API_KEY, _ApiError, _int, _one, _response

DEMO_COPILOT_URL = "https://demo.invalid/copilot"
API_VERSIONS = ("2022-11-28", "2026-03-10")
REPORTS_AVAILABLE_FROM = dt.date(2025, 10, 10)
USERS_PER_FILE = 10  # the demo splits the users report into files of this many users
LINK_LIFETIME_SECONDS = 3600
DOWNLOAD_PREFIX = "/_reports/"
_SIGNING_KEY = b"demo-report-signing-key"


def _not_found(message: str = "Not Found") -> _ApiError:
    return _ApiError(404, {"message": message, "documentation_url": "https://docs.github.com/rest",
                           "status": "404"})


def _invalid(message: str, status: int = 422) -> _ApiError:
    return _ApiError(status, {"message": message, "documentation_url": "https://docs.github.com/rest",
                              "status": str(status)})


class CopilotDemoAdapter(BaseAdapter):
    """Seats, the usage-metrics report links and their files, premium request usage and billing usage."""

    def __init__(self, org: DemoCopilotOrg, base_url: str = DEMO_COPILOT_URL, api_key: str = DEMO_API_KEY) -> None:
        super().__init__()
        self.org = org
        self.api_key = api_key
        self.base_url = base_url.rstrip("/")
        self.base_path = urlparse(base_url).path.rstrip("/")

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):  # noqa: D102
        url = urlparse(request.url)
        path = url.path[len(self.base_path):] if url.path.startswith(self.base_path) else url.path
        params = parse_qs(url.query, keep_blank_values=True)
        try:
            if request.method != "GET":
                raise _not_found()
            if path.startswith(DOWNLOAD_PREFIX):
                content, kind = self.download(path, params)
                return _response(request, 200, content, {"Content-Type": kind})
            self.authenticate(request)
            body, headers = self.route(path, params)
            return _response(request, 200, body, headers)
        except _ApiError as err:
            return _response(request, err.status, err.body, err.headers)

    def close(self) -> None:  # noqa: D102
        pass

    def authenticate(self, request) -> None:
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            raise _ApiError(401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest",
                                  "status": "401"})
        version = request.headers.get("X-GitHub-Api-Version")
        if version is not None and version not in API_VERSIONS:
            raise _invalid(f"API version '{version}' is not supported.", 400)

    # ------------------------------------------------------------------------------------------ routing
    def route(self, path: str, params) -> tuple[Any, dict[str, str]]:
        org = re.escape(self.org.org)
        if re.fullmatch(rf"/orgs/{org}/copilot/billing/seats", path, re.IGNORECASE):
            return self.seats(path, params)
        if m := re.fullmatch(rf"/orgs/{org}/copilot/metrics/reports/(organization|users)-1-day", path, re.IGNORECASE):
            return self.report_links(m[1], params), {}
        if re.fullmatch(rf"/organizations/{org}/settings/billing/premium_request/usage", path, re.IGNORECASE):
            return self.premium_requests(params), {}
        if re.fullmatch(rf"/organizations/{org}/settings/billing/usage", path, re.IGNORECASE):
            return self.billing_usage(params), {}
        raise _not_found()

    def seats(self, path: str, params) -> tuple[Any, dict[str, str]]:
        per_page = _int(params, "per_page", 50, 100)
        page = _int(params, "page", 1, 10**6)
        seats = self.org.seat_records()
        last = max(1, -(-len(seats) // per_page))
        links = []
        keep = {k: v[-1] for k, v in params.items() if k != "page"}
        if page < last:
            links.append(f'<{self.base_url}{path}?{urlencode({**keep, "page": page + 1})}>; rel="next"')
            links.append(f'<{self.base_url}{path}?{urlencode({**keep, "page": last})}>; rel="last"')
        body = {"total_seats": len(seats), "seats": seats[(page - 1) * per_page: page * per_page]}
        return body, ({"Link": ", ".join(links)} if links else {})

    # ------------------------------------------------------------------------------------------ reports
    def _day(self, params, required: bool = True) -> Optional[dt.date]:
        raw = _one(params, "day")
        if raw is None:
            if required:
                raise _invalid("Invalid request.\n\n\"day\" wasn't supplied.")
            return None
        try:
            return dt.date.fromisoformat(raw)
        except ValueError:
            raise _invalid(f"day must be a date as YYYY-MM-DD, got {raw!r}") from None

    def report_links(self, kind: str, params) -> dict[str, Any]:
        day = self._day(params)
        if day < REPORTS_AVAILABLE_FROM or not self.org.has_data(day):
            raise _not_found("No report is available for this day")
        if kind == "organization":
            names = ["organization.json"]
        else:
            users = len(self.org.user_records(day))
            names = [f"users-{i + 1}.ndjson" for i in range(-(-users // USERS_PER_FILE))]
        return {"download_links": [self.signed_link(kind, day, name) for name in names],
                "report_day": day.isoformat()}

    def signed_link(self, kind: str, day: dt.date, name: str) -> str:
        path = f"{DOWNLOAD_PREFIX}{self.org.org}/{kind}/{day.isoformat()}/{name}"
        expires = int(time.time()) + LINK_LIFETIME_SECONDS
        return f"{self.base_url}{path}?{urlencode({'expires': expires, 'sig': _signature(path, expires)})}"

    def download(self, path: str, params) -> tuple[bytes, str]:
        expires, sig = _one(params, "expires"), _one(params, "sig")
        if not expires or not sig or not expires.isdigit() or not hmac.compare_digest(
                sig, _signature(f"{path}", int(expires))):
            raise _ApiError(403, {"message": "Signature does not match"})
        if int(expires) < time.time():
            raise _ApiError(403, {"message": "Request has expired"})
        m = re.fullmatch(rf"{DOWNLOAD_PREFIX}([^/]+)/(organization|users)/(\d{{4}}-\d{{2}}-\d{{2}})/"
                         r"(organization\.json|users-(\d+)\.ndjson)", path)
        if not m or m[1] != self.org.org:
            raise _not_found("The specified blob does not exist.")
        day = dt.date.fromisoformat(m[3])
        if m[2] == "organization":
            record = self.org.organization_record(day)
            if record is None:
                raise _not_found("The specified blob does not exist.")
            return json.dumps(record, separators=(",", ":")).encode(), "application/json"
        users = self.org.user_records(day)
        shard = int(m[5] or 0)
        chunk = users[(shard - 1) * USERS_PER_FILE: shard * USERS_PER_FILE] if shard >= 1 else ()
        if not chunk:
            raise _not_found("The specified blob does not exist.")
        text = "".join(json.dumps(r, separators=(",", ":")) + "\n" for r in chunk)
        return text.encode(), "application/x-ndjson"

    # ------------------------------------------------------------------------------------------ billing
    def _period(self, params) -> tuple[int, int, Optional[int]]:
        today = self.org.today
        year = _int(params, "year", today.year, 9999)
        month = _int(params, "month", today.month, 12)
        day = _one(params, "day")
        if day is not None:
            day_number = _int(params, "day", 1, 31)
            try:
                dt.date(year, month, day_number)
            except ValueError:
                raise _invalid("day is not a day of that month", 400) from None
            return year, month, day_number
        return year, month, None

    def _days(self, year: int, month: int, day: Optional[int]) -> list[dt.date]:
        if day is not None:
            return [dt.date(year, month, day)]
        first = dt.date(year, month, 1)
        return [first + dt.timedelta(days=i) for i in range(31)
                if (first + dt.timedelta(days=i)).month == month]

    def premium_requests(self, params) -> dict[str, Any]:
        year, month, day = self._period(params)
        user, model, product = _one(params, "user"), _one(params, "model"), _one(params, "product")
        items: list[dict[str, Any]] = []
        if day is not None:
            items = self.org.premium_usage(dt.date(year, month, day), user, model, product)
        else:  # a month: the days' items summed by model
            sums: dict[str, dict[str, Any]] = {}
            for d in self._days(year, month, None):
                for item in self.org.premium_usage(d, user, model, product):
                    acc = sums.setdefault(item["model"], {**item, **{k: 0.0 for k in _AMOUNTS}})
                    for k in _AMOUNTS:
                        acc[k] = round(acc[k] + item[k], 6)
            items = [sums[m] for m in sorted(sums)]
        period = {"year": year, "month": month, **({"day": day} if day is not None else {})}
        body: dict[str, Any] = {"timePeriod": period, "organization": self.org.org}
        if user:
            body["user"] = user
        if product:
            body["product"] = product
        if model:
            body["model"] = model
        body["usageItems"] = items
        return body

    def billing_usage(self, params) -> dict[str, Any]:
        year, month, day = self._period(params)
        items = [i for d in self._days(year, month, day) for i in self.org.billing_usage(d)]
        return {"usageItems": items}


_AMOUNTS = ("grossQuantity", "grossAmount", "discountQuantity", "discountAmount", "netQuantity", "netAmount")


def _signature(path: str, expires: int) -> str:
    return hmac.new(_SIGNING_KEY, f"{path}\n{expires}".encode(), hashlib.sha256).hexdigest()[:32]
