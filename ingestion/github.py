"""GitHub: merged pull requests and production deployments of the org directory's repositories, into `raw_github`.

API facts (docs/sources.md): `Authorization: Bearer <token>`, `X-GitHub-Api-Version` pinned; lists paged with
`per_page`/`page` and the `Link` header; no server-side date filter on pull requests, so the list is read newest
update first and stops at the window's start; list items lack additions/deletions, which come from the detail
endpoint (skipped for a pull request the warehouse already holds with the same `updated_at`: the lookback's days
cost list pages, not detail calls); a deployment's outcome comes from its statuses (newest first). The base URL is
configurable for GitHub Enterprise Server (`https://<host>/api/v3`).
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any, Iterator, Optional

import dlt
import pyarrow as pa
import requests
from dlt.common import logger
from dlt.sources.helpers.rest_client.auth import BearerTokenAuth
from dlt.sources.helpers.rest_client.paginators import HeaderLinkPaginator

from ingestion import settings
from ingestion._common import (
    SCHEMA_CONTRACT,
    TIMESTAMP, SourceWindow, date_cursor, int_field, loaded_rows, parse_timestamp, str_field, window_of,
    with_empty_table,
)
from ingestion.http import Endpoint, MalformedResponseError, get_json, iter_pages, json_list, json_mapping, make_rest_client
from ingestion.org_directory import load_org_directory

API_VERSION = "2022-11-28"
PER_PAGE = 100
# rows gathered across repositories before they go to dlt as one Arrow table (checked after each repository, so a
# table holds at least this many, or the rest): dlt spends a few milliseconds on every table whatever its size (hints,
# incremental filter, writer), and one table per repository made that ~1 s of a day at 10,000 developers (377)
BATCH_ROWS = 5_000
ANY_ISSUE_KEY = re.compile(r"\b([A-Z][A-Z0-9]{1,9}-\d+)\b")  # upper case only: "fix-12" in a branch is no ticket

PULL_REQUEST_SCHEMA = pa.schema([
    pa.field("pr_key", pa.string(), nullable=False),
    ("repository", pa.string()),
    ("number", pa.int64()),
    ("title", pa.string()),
    ("author_login", pa.string()),
    ("author_type", pa.string()),
    ("created_at", TIMESTAMP),
    ("merged_at", TIMESTAMP),
    pa.field("merged_date", pa.date32(), nullable=False),
    ("updated_at", TIMESTAMP),  # the list's; a pull request loaded with the same one is not asked for again
    ("head_ref", pa.string()),
    ("base_ref", pa.string()),
    ("additions", pa.int64()),
    ("deletions", pa.int64()),
    ("changed_files", pa.int64()),
    ("labels", pa.string()),
    ("linked_issue_keys", pa.string()),
])
LINK_SCHEMA = pa.schema([pa.field("pr_key", pa.string(), nullable=False),
                         pa.field("issue_key", pa.string(), nullable=False)])
DEPLOYMENT_SCHEMA = pa.schema([
    pa.field("deployment_id", pa.int64(), nullable=False),
    ("repository", pa.string()),
    ("environment", pa.string()),
    ("sha", pa.string()),
    ("ref", pa.string()),
    ("creator_login", pa.string()),
    ("created_at", TIMESTAMP),
    pa.field("created_date", pa.date32(), nullable=False),
    ("latest_state", pa.string()),
    ("is_success", pa.bool_()),
    ("succeeded_at", TIMESTAMP),
])


def issue_key_pattern(project_keys: list[str]) -> re.Pattern:
    """Keys of the known Jira projects in any case ("feature/pay-123-x" names PAY-123); any upper-case key otherwise."""
    if not project_keys:
        return ANY_ISSUE_KEY
    alternatives = "|".join(re.escape(k) for k in sorted(project_keys, key=len, reverse=True))
    return re.compile(rf"(?<![A-Za-z0-9])((?:{alternatives})-\d+)\b", re.IGNORECASE)


def linked_issue_keys(pattern: re.Pattern, *texts: Optional[str]) -> list[str]:
    """Issue keys named in a title, branch or body, upper-cased, in order, once each."""
    keys: list[str] = []
    for text in texts:
        for match in pattern.findall(text or ""):
            key = match.upper()
            if key not in keys:
                keys.append(key)
    return keys


def pull_request_row(repository: str, item: dict[str, Any], detail: dict[str, Any], where: str,
                     keys: re.Pattern = ANY_ISSUE_KEY) -> dict[str, Any]:
    merged_at = parse_timestamp(item.get("merged_at"), where)
    head = item.get("head") or {}
    base = item.get("base") or {}
    user = item.get("user") or {}
    labels = [str(label.get("name")) for label in item.get("labels") or [] if isinstance(label, dict)]
    return {
        "pr_key": f"{repository}#{item['number']}",
        "repository": repository,
        "number": int_field(item, "number", where, required=True),
        "title": str_field(item, "title", where),
        "author_login": (str_field(user, "login", where) or "").lower() or None,
        "author_type": str_field(user, "type", where),
        "created_at": parse_timestamp(item.get("created_at"), where),
        "merged_at": merged_at,
        "merged_date": merged_at.date(),
        "updated_at": parse_timestamp(item.get("updated_at"), where),
        "head_ref": str_field(head, "ref", where),
        "base_ref": str_field(base, "ref", where),
        "additions": int_field(detail, "additions", where),
        "deletions": int_field(detail, "deletions", where),
        "changed_files": int_field(detail, "changed_files", where),
        "labels": ",".join(sorted(labels)) or None,
        "linked_issue_keys": ",".join(linked_issue_keys(keys, item.get("title"), head.get("ref"), item.get("body")))
        or None,
    }


def github_source(
    start_date: Optional[str] = None,
    end_date: Optional[str] = None,
    lookback_days: int = settings.DEFAULT_LOOKBACK_DAYS,
    repositories: Optional[list[str]] = None,
    environments: Optional[list[str]] = None,
    connection: Optional[settings.ProviderConnection] = None,
    session: Optional[requests.Session] = None,
):
    """Pull requests merged and deployments created in [start_date - lookback_days, end_date).

    Repositories default to the org directory's (`teams[].repositories`); deployment environments to
    `[sources.github] deploy_environments` (production). Token: `SOURCES__GITHUB__TOKEN`, base URL:
    `SOURCES__GITHUB__BASE_URL`."""
    org = load_org_directory()
    if repositories is None:
        repositories = [r for team in org.teams for r in team.repositories]
    keys = issue_key_pattern([k for team in org.teams for k in team.jira_projects])
    if environments is None:
        environments = list(dlt.config.get("sources.github.deploy_environments", list) or ["production"])
    window = SourceWindow(start_date, end_date, lookback_days, PER_PAGE)
    return _github(window, sorted(set(repositories)), environments, keys,
                   connection or settings.connection("github"), session)


@dlt.source(name="github", max_table_nesting=0, schema_contract=SCHEMA_CONTRACT)
def _github(window: SourceWindow, repositories: list[str], environments: list[str], keys: re.Pattern,
            conn: settings.ProviderConnection, session: Optional[requests.Session]):
    def client():
        return make_rest_client(conn.base_url, auth=BearerTokenAuth(token=conn.api_key or ""),
                                headers={"X-GitHub-Api-Version": API_VERSION, "Accept": "application/vnd.github+json"},
                                session=session or conn.session())

    def merged_pull_requests(start: dt.date, end: dt.date) -> Iterator[pa.Table]:
        if not conn.enabled:
            return
        api = client()
        # pull requests the warehouse holds as of the same update (the lookback's days): the detail call, one per
        # pull request, is what GitHub's hourly limit is spent on, and an unchanged pull request needs none
        loaded = dict(loaded_rows("pull_requests", "pr_key, updated_at",
                                  "merged_date >= %s and merged_date < %s and updated_at is not null", start, end))
        kept, rows = 0, []
        for repository in repositories:
            endpoint = Endpoint("github", f"/repos/{repository}/pulls")
            params = {"state": "closed", "sort": "updated", "direction": "desc", "per_page": PER_PAGE}
            for page_number, items in iter_pages(api, endpoint, params, json_list, HeaderLinkPaginator()):
                where = endpoint.describe(page_number)
                oldest_update = None
                for item in items:
                    updated_at = oldest_update = parse_timestamp(item.get("updated_at"), where)
                    merged_at = parse_timestamp(item.get("merged_at"), where)
                    if merged_at is None or not start <= merged_at.date() < end:
                        continue
                    if updated_at is not None and loaded.get(f"{repository}#{item['number']}") == updated_at:
                        kept += 1  # merged by primary key: the loaded row stays as it is
                        continue
                    detail = get_json(api, Endpoint("github", f"/repos/{repository}/pulls/{item['number']}"),
                                      expect=json_mapping)
                    rows.append(pull_request_row(repository, item, detail, where, keys))
                # sorted by update, newest first: once updates predate the window, no later page can hold a merge in it
                if oldest_update is not None and oldest_update.date() < start:
                    break
            if len(rows) >= BATCH_ROWS:
                yield pa.Table.from_pylist(rows, schema=PULL_REQUEST_SCHEMA)
                rows = []
        if rows:
            yield pa.Table.from_pylist(rows, schema=PULL_REQUEST_SCHEMA)
        if kept:
            logger.info(f"github: {kept} pull request(s) merged in {start}..{end} kept as loaded (not updated since)")

    def production_deployments(start: dt.date, end: dt.date) -> Iterator[pa.Table]:
        if not conn.enabled:
            return
        api = client()
        rows = []
        for repository in repositories:
            for environment in environments:
                endpoint = Endpoint("github", f"/repos/{repository}/deployments")
                params = {"environment": environment, "per_page": PER_PAGE}
                for page_number, items in iter_pages(api, endpoint, params, json_list, HeaderLinkPaginator()):
                    where = endpoint.describe(page_number)
                    created = None
                    for item in items:
                        created = parse_timestamp(item.get("created_at"), where)
                        if created is None or not start <= created.date() < end:
                            continue
                        deployment_id = int_field(item, "id", where, required=True)
                        statuses = get_json(api, Endpoint("github", f"{endpoint.path}/{deployment_id}/statuses"),
                                            {"per_page": PER_PAGE}, expect=json_list)
                        successes = [parse_timestamp(s.get("created_at"), where) for s in statuses
                                     if s.get("state") == "success"]
                        rows.append({
                            "deployment_id": deployment_id,
                            "repository": repository,
                            "environment": str_field(item, "environment", where) or environment,
                            # the 2026-03-10 API version calls it commit_sha
                            "sha": str_field(item, "sha", where) or str_field(item, "commit_sha", where),
                            "ref": str_field(item, "ref", where),
                            "creator_login": (str_field(item.get("creator") or {}, "login", where) or "").lower() or None,
                            "created_at": created,
                            "created_date": created.date(),
                            "latest_state": str_field(statuses[0], "state", where) if statuses else None,
                            "is_success": bool(successes),
                            "succeeded_at": min(successes) if successes else None,
                        })
                    if created is not None and created.date() < start:  # newest first: the rest are older
                        break
                if len(rows) >= BATCH_ROWS:
                    yield pa.Table.from_pylist(rows, schema=DEPLOYMENT_SCHEMA)
                    rows = []
        if rows:
            yield pa.Table.from_pylist(rows, schema=DEPLOYMENT_SCHEMA)

    @dlt.resource(name="pull_requests", primary_key="pr_key", write_disposition="merge")
    def pull_requests(cursor=date_cursor("merged_date", window)) -> Iterator[pa.Table]:
        yield from with_empty_table(merged_pull_requests(*window_of(cursor)), PULL_REQUEST_SCHEMA)

    @dlt.transformer(data_from=pull_requests, name="pull_request_issue_links", write_disposition="merge",
                     primary_key=("pr_key", "issue_key"))
    def pull_request_issue_links(page: pa.Table) -> Iterator[pa.Table]:
        rows = [{"pr_key": pr_key, "issue_key": key}
                for pr_key, keys in zip(page.column("pr_key").to_pylist(), page.column("linked_issue_keys").to_pylist())
                for key in (keys or "").split(",") if key]
        yield pa.Table.from_pylist(rows, schema=LINK_SCHEMA)

    @dlt.resource(name="deployments", primary_key="deployment_id", write_disposition="merge")
    def deployments(cursor=date_cursor("created_date", window)) -> Iterator[pa.Table]:
        yield from with_empty_table(production_deployments(*window_of(cursor)), DEPLOYMENT_SCHEMA)

    return pull_requests, pull_request_issue_links, deployments


__all__ = ["github_source", "linked_issue_keys", "MalformedResponseError"]
