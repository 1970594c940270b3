"""HTTP plumbing shared by every provider source.

One place decides how we talk to an API: dlt's retrying `requests` client (429 with Retry-After, 5xx and timeouts
are retried with exponential backoff, settings under `[runtime]` in `.dlt/config.toml`), dlt's `RESTClient`, and a
paginator for the `has_more` / `next_page` envelope that Anthropic and OpenAI share.

In demo mode the same session gets a transport adapter mounted on the demo base URL, so the demo organisation's
data travels the exact code path a real API response does: headers, paging, retries, parsing.
"""

from __future__ import annotations

from dataclasses import dataclass
from json import JSONDecodeError
from typing import Any, Callable, Iterator, Mapping, Optional
from urllib.parse import urlsplit

import requests
from dlt.common.jsonpath import compile_path
from dlt.sources.helpers.requests import Client
from dlt.sources.helpers.rest_client import RESTClient
from dlt.sources.helpers.rest_client.auth import AuthConfigBase
from dlt.sources.helpers.rest_client.paginators import BasePaginator


class ProviderAPIError(RuntimeError):
    """A provider answered in a way we cannot load safely. The message says which provider, endpoint and page."""


class MalformedResponseError(ProviderAPIError):
    """The body is not the documented shape (bad JSON, missing envelope keys, wrong types)."""


class ProviderHTTPError(ProviderAPIError, requests.HTTPError):
    """An error status that survived the retry layer (or was never retryable, like 401/403/404).

    It is a `requests.HTTPError` carrying the response, which is what dlt's retry layer inspects to decide
    whether a 429/5xx deserves another attempt.
    """

    def __init__(self, message: str, response: requests.Response) -> None:
        ProviderAPIError.__init__(self, message)
        self.response = response
        self.request = response.request


class PaginationLoopError(ProviderAPIError):
    """The API handed back a cursor it had already given us: following it would loop or duplicate pages."""


@dataclass(frozen=True)
class Endpoint:
    provider: str
    path: str

    def describe(self, page_number: int) -> str:
        return f"{self.provider} {self.path} (page {page_number})"


class BodyCursorPaginator(BasePaginator):
    """Follows a cursor found in the response body, sent back as a query parameter.

    Anthropic/OpenAI: `page=<next_page>` while `has_more`; Jira: `nextPageToken=<nextPageToken>` until it is absent
    or `isLast`. Refuses a cursor it has already followed (a repeating cursor would duplicate pages or never end).
    """

    def __init__(self, cursor_param: str = "page", cursor_key: str = "next_page",
                 has_more_key: Optional[str] = "has_more", is_last_key: Optional[str] = None) -> None:
        super().__init__()
        self.cursor_param, self.cursor_key = cursor_param, cursor_key
        self.has_more_key, self.is_last_key = has_more_key, is_last_key
        self._cursor: Optional[str] = None
        self._seen: set[str] = set()

    def update_state(self, response: requests.Response, data: Optional[list[Any]] = None) -> None:
        body = data[0] if data else None
        if not isinstance(body, Mapping):
            # shape errors are reported by iter_pages with full context; stop paging here
            self._has_next_page = False
            return
        cursor = body.get(self.cursor_key)
        more = bool(cursor)
        if self.has_more_key is not None:
            more = more and bool(body.get(self.has_more_key))
        if self.is_last_key is not None:
            more = more and not body.get(self.is_last_key)
        if more:
            if cursor in self._seen:
                raise PaginationLoopError(
                    f"{response.request.method} {response.url.split('?')[0]}: {self.cursor_key} cursor repeated "
                    f"after {len(self._seen)} pages; refusing to loop"
                )
            self._seen.add(cursor)
            self._cursor = cursor
        self._has_next_page = more

    def update_request(self, request: Any) -> None:
        if request.params is None:
            request.params = {}
        request.params[self.cursor_param] = self._cursor

    def __str__(self) -> str:
        return f"BodyCursorPaginator({self.cursor_key} -> {self.cursor_param})"


def make_session(demo_adapter: Optional[requests.adapters.BaseAdapter] = None, mount_prefix: str = "") -> requests.Session:
    """A retrying session (dlt `Client`); in demo mode the demo transport answers for `mount_prefix`."""
    # raise_for_status=False: RESTClient raises itself, after the retry layer has had its go
    session = Client(raise_for_status=False).session
    if demo_adapter is not None:
        session.mount(mount_prefix, demo_adapter)
    read_environment_once_per_host(session)
    return session


def read_environment_once_per_host(session: requests.Session) -> None:
    """Have `session` read its settings from the environment (proxies and `no_proxy` for the host, a CA bundle
    from REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE) once per scheme and host instead of on every request.

    requests scans the whole environment on every call (~0.1 ms); Copilot's per-user premium requests alone are
    one call per seat holder per new day (~7k a day at L). The environment does not change during a run; the
    settings a request is sent with are exactly what requests would have read."""
    read = session.merge_environment_settings
    known: dict[tuple[Any, ...], dict[str, Any]] = {}

    def merge_environment_settings(url: str, proxies: Any, stream: Any, verify: Any, cert: Any) -> dict[str, Any]:
        where = urlsplit(url)
        key = (where.scheme, where.netloc, tuple(sorted((proxies or {}).items())), stream, verify,
               tuple(cert) if isinstance(cert, list) else cert)
        if key not in known:
            known[key] = read(url, proxies, stream, verify, cert)
        settings = known[key]
        return {**settings, "proxies": dict(settings["proxies"])}  # callers update what they are handed

    session.merge_environment_settings = merge_environment_settings  # type: ignore[method-assign]


# compiled once: dlt parses a string selector again on every page (~0.2 ms each; GitHub makes one call per PR)
_WHOLE_BODY = compile_path("$")


def make_rest_client(
    base_url: str,
    auth: AuthConfigBase,
    headers: Optional[dict[str, str]] = None,
    session: Optional[requests.Session] = None,
) -> RESTClient:
    return RESTClient(
        base_url=base_url,
        headers=headers or {},
        auth=auth,
        paginator=BodyCursorPaginator(),
        data_selector=_WHOLE_BODY,
        session=session or make_session(),
    )


def data_envelope(body: Any) -> Optional[str]:
    """Anthropic/OpenAI pages: an object with a `data` list. Returns what is wrong, or None."""
    if isinstance(body, Mapping) and isinstance(body.get("data"), list):
        return None
    return f"expected an object with a 'data' list, got {_shape(body)}"


def json_list(body: Any) -> Optional[str]:
    """GitHub list pages: a JSON array of objects."""
    if isinstance(body, list) and all(isinstance(item, Mapping) for item in body):
        return None
    return f"expected a list of objects, got {_shape(body)}"


def json_mapping(body: Any) -> Optional[str]:
    """A single JSON object (detail endpoints)."""
    return None if isinstance(body, Mapping) else f"expected an object, got {_shape(body)}"


def json_object(key: str) -> Callable[[Any], Optional[str]]:
    """Pages that are an object holding a list under `key` (Jira's `issues`)."""

    def check(body: Any) -> Optional[str]:
        if isinstance(body, Mapping) and isinstance(body.get(key), list):
            return None
        return f"expected an object with an '{key}' list, got {_shape(body)}"

    return check


def iter_pages(
    client: RESTClient,
    endpoint: Endpoint,
    params: Optional[dict[str, Any]] = None,
    expect: Callable[[Any], Optional[str]] = data_envelope,
    paginator: Optional[BasePaginator] = None,
    *,
    method: str = "GET",
    json: Optional[dict[str, Any]] = None,
    context: str = "",
    before_page: Optional[Callable[[], None]] = None,
    max_pages: Optional[int] = None,
    status_hook: Optional[Callable[..., None]] = None,
) -> Iterator[tuple[int, Any]]:
    """Yield (page_number, body) for every page, with clear errors for bad statuses and bad bodies.

    `method` and `json` (the first page's JSON body; a body paginator sets the page in it) serve POST listings.
    `context` (e.g. " for 2026-11-10") follows the endpoint and page in the messages about bodies and paging;
    `before_page` runs before each request is sent (a rate limiter), never for a page that does not exist; more than
    `max_pages` pages fail with `PaginationLoopError`. `status_hook` is the response hook that turns an error status
    into `ProviderHTTPError` (default `_raise_for_status(endpoint)`, a message without `context`).

    HTTP errors surface only after dlt's retry layer gave up. Keys travel in headers and never appear in messages.
    """
    pages = client.paginate(endpoint.path, method=method, params=params,
                            json=dict(json) if json is not None else None, paginator=paginator,
                            hooks={"response": [status_hook or _raise_for_status(endpoint)]})
    page_number, page = 0, None
    while True:
        page_number += 1
        if page is not None and not page.paginator.has_next_page:
            return  # what the client would do on the next call, without asking `before_page` for a request
        if max_pages is not None and page_number > max_pages:
            raise PaginationLoopError(f"{endpoint.describe(page_number)}{context}: more than {max_pages} pages; "
                                      "refusing to loop")
        if before_page is not None:
            before_page()
        try:
            page = next(pages)
        except StopIteration:
            return
        except (requests.exceptions.JSONDecodeError, JSONDecodeError) as exc:
            raise MalformedResponseError(
                f"{endpoint.describe(page_number)}{context}: response body is not valid JSON "
                f"({exc.msg}, char {exc.pos}); nothing from this run was loaded"
            ) from None
        # the client selects "$": an object body arrives as [body], a JSON array as its items
        is_array = page.response.content.lstrip()[:1] == b"["
        body = list(page) if is_array else (page[0] if len(page) == 1 else list(page))
        problem = expect(body)
        if problem:
            raise MalformedResponseError(
                f"{endpoint.describe(page_number)}{context}: {problem}; nothing from this run was loaded")
        yield page_number, body


def get_json(client: RESTClient, endpoint: Endpoint, params: Optional[dict[str, Any]] = None,
             expect: Callable[[Any], Optional[str]] = data_envelope, *, context: str = "",
             status_hook: Optional[Callable[..., None]] = None) -> Any:
    """One GET (no paging), with the same retries, status handling and shape check as `iter_pages`."""
    from dlt.sources.helpers.rest_client.paginators import SinglePagePaginator

    for _, body in iter_pages(client, endpoint, params or {}, expect, paginator=SinglePagePaginator(),
                              context=context, status_hook=status_hook):
        return body
    raise MalformedResponseError(f"{endpoint.describe(1)}{context}: no response body")


def _raise_for_status(endpoint: Endpoint, context: str = "",
                      error_detail: Optional[Callable[[requests.Response], str]] = None):
    """The response hook raising `ProviderHTTPError` on an error status: provider, endpoint, `context`, status and
    what the body says (`error_detail`, default `_error_detail`)."""
    detail_of = error_detail or _error_detail

    def hook(response: requests.Response, *args: Any, **kwargs: Any) -> None:
        if response.status_code >= 400:
            detail = detail_of(response)
            raise ProviderHTTPError(
                f"{endpoint.provider} {endpoint.path}{context}: HTTP {response.status_code} {response.reason or ''}"
                .rstrip() + (f": {detail}" if detail else ""),
                response=response,
            )

    return hook


def _error_detail(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    err = body.get("error") if isinstance(body, Mapping) else None
    if isinstance(err, Mapping):
        return f"{err.get('type', '')} {err.get('message', '')}".strip()[:300]
    return str(body)[:200]


def _shape(value: Any) -> str:
    if isinstance(value, Mapping):
        return "object with keys " + ", ".join(sorted(map(str, value.keys()))[:8])
    return type(value).__name__
