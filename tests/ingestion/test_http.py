"""`http.iter_pages`, the one paging loop every source uses: POST bodies, pacing, the page cap and message context.

The sources' own tests cover it against the demo APIs; these pin the options only Cursor and Copilot use, against a
tiny fake API.
"""

from __future__ import annotations

import json

import pytest
import requests
from requests.adapters import BaseAdapter

from ingestion.cursor import BodyPagePaginator
from ingestion.http import (
    Endpoint, MalformedResponseError, PaginationLoopError, ProviderHTTPError, _raise_for_status, iter_pages,
    json_object, make_rest_client, make_session,
)

URL = "https://paged.test"
ENDPOINT = Endpoint("fake", "/things")
CONTEXT = " for 2026-11-10"


class PagedAPI(BaseAdapter):
    """`pages` pages of `{things, pagination: {hasNextPage}}`; the page asked for is the JSON body's `page`."""

    def __init__(self, pages: int, status: int = 200, bad_json_page: int = 0):
        super().__init__()
        self.pages, self.status, self.bad_json_page = pages, status, bad_json_page
        self.bodies: list[dict] = []

    def send(self, request, **kwargs):
        body = json.loads(request.body)
        self.bodies.append(body)
        page = body.get("page", 1)
        response = requests.Response()
        response.status_code, response.reason, response.url, response.request = self.status, "", request.url, request
        response.headers["Content-Type"] = "application/json"
        content = json.dumps({"things": [page], "pagination": {"hasNextPage": page < self.pages}}).encode()
        response._content = content[:5] if page == self.bad_json_page else content
        return response

    def close(self) -> None:
        pass


def pages(api: PagedAPI, **options):
    client = make_rest_client(URL, auth=None, session=make_session(api, URL))
    return list(iter_pages(client, ENDPOINT, expect=json_object("things"), paginator=BodyPagePaginator(),
                           method="POST", json={"since": 1}, **options))


def test_a_post_listing_sends_its_body_and_paces_every_request_it_sends():
    api, paced = PagedAPI(3), []
    assert [(n, body["things"]) for n, body in pages(api, before_page=lambda: paced.append(1))] == [
        (1, [1]), (2, [2]), (3, [3])]
    assert api.bodies == [{"since": 1}, {"since": 1, "page": 2}, {"since": 1, "page": 3}]
    assert len(paced) == 3  # once a request: never for the page after the last


def test_more_pages_than_the_cap_fail_naming_endpoint_page_and_context():
    assert len(pages(PagedAPI(3), max_pages=3)) == 3  # exactly the cap is fine
    with pytest.raises(PaginationLoopError, match=r"^fake /things \(page 4\) for 2026-11-10: more than 3 pages"):
        pages(PagedAPI(5), max_pages=3, context=CONTEXT)


def test_context_follows_the_page_in_body_errors():
    with pytest.raises(MalformedResponseError,
                       match=r"^fake /things \(page 2\) for 2026-11-10: response body is not valid JSON"):
        pages(PagedAPI(3, bad_json_page=2), context=CONTEXT)


def test_error_statuses_name_the_endpoint_and_the_status_hook_decides_on_context():
    with pytest.raises(ProviderHTTPError, match=r"^fake /things: HTTP 401"):
        pages(PagedAPI(1, status=401), context=CONTEXT)
    with pytest.raises(ProviderHTTPError, match=r"^fake /things for 2026-11-10: HTTP 401"):
        pages(PagedAPI(1, status=401), context=CONTEXT, status_hook=_raise_for_status(ENDPOINT, CONTEXT))


def test_a_session_reads_proxies_from_the_environment_once_per_host(monkeypatch):
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "no_proxy",
                 "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.internal:3128")
    monkeypatch.setenv("NO_PROXY", "direct.test")
    reads = []
    real = requests.sessions.get_environ_proxies
    monkeypatch.setattr(requests.sessions, "get_environ_proxies",
                        lambda url, no_proxy=None: reads.append(url) or real(url, no_proxy=no_proxy))
    session = make_session(PagedAPI(1), URL)

    first = session.merge_environment_settings(f"{URL}/things?page=1", {}, None, None, None)
    first["proxies"]["https"] = "changed by a caller"
    again = session.merge_environment_settings(f"{URL}/other", {}, None, None, None)
    direct = session.merge_environment_settings("https://direct.test/x", {}, None, None, None)
    assert again["proxies"]["https"] == "http://proxy.internal:3128"  # what the environment says, unchanged
    assert "https" not in direct["proxies"]  # NO_PROXY still applies, per host
    assert reads == [f"{URL}/things?page=1", "https://direct.test/x"]  # once for each host
    plain = requests.Session()  # what requests itself reads, on every call
    assert again == plain.merge_environment_settings(f"{URL}/other", {}, None, None, None)
    assert direct == plain.merge_environment_settings("https://direct.test/x", {}, None, None, None)
    # a proxy the caller names wins over the environment's, as in requests
    named = session.merge_environment_settings(f"{URL}/x", {"https": "http://mine:1"}, None, None, None)
    assert named["proxies"]["https"] == "http://mine:1"
