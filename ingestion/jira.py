"""Jira Cloud: issues resolved in the org directory's Jira projects, into `raw_jira`.

API facts (docs/sources.md): `GET /rest/api/3/search/jql` (the old `/search` is gone) with Basic auth
(email:API token); the JQL must be bounded, so every request names its projects and a resolution window; only the
requested `fields` come back; pages follow `nextPageToken` until it is absent or `isLast`. Story points and sprint
are site-specific custom fields (`[sources.jira] story_points_field`, `sprint_field`). The assignee's email may be
hidden by privacy settings: people are matched on their account id (`identities: {jira: ...}`).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Iterator, Optional

import dlt
import pyarrow as pa
import requests
from dlt.sources.helpers.rest_client.auth import HttpBasicAuth

from ingestion import settings
from ingestion._common import (
    SCHEMA_CONTRACT,
    TIMESTAMP, SourceWindow, date_cursor, parse_timestamp, str_field, window_of, with_empty_table,
)
from ingestion.http import BodyCursorPaginator, Endpoint, MalformedResponseError, iter_pages, json_object, make_rest_client
from ingestion.org_directory import load_org_directory

SEARCH_PATH = "/rest/api/3/search/jql"
PAGE_SIZE = 100
BASE_FIELDS = ["summary", "issuetype", "project", "status", "resolution", "resolutiondate", "created", "assignee",
               "parent", "labels"]

ISSUE_SCHEMA = pa.schema([
    pa.field("issue_key", pa.string(), nullable=False),
    ("issue_id", pa.string()),
    ("project_key", pa.string()),
    ("summary", pa.string()),
    ("issue_type", pa.string()),
    ("status_category", pa.string()),
    ("resolution", pa.string()),
    ("created_at", TIMESTAMP),
    ("resolved_at", TIMESTAMP),
    pa.field("resolved_date", pa.date32(), nullable=False),
    ("assignee_account_id", pa.string()),
    ("assignee_email", pa.string()),
    ("assignee_name", pa.string()),
    ("parent_key", pa.string()),
    ("parent_summary", pa.string()),
    ("parent_hierarchy_level", pa.int64()),
    ("story_points", pa.float64()),
    ("sprint_id", pa.int64()),
    ("sprint_name", pa.string()),
    ("sprint_start", pa.date32()),
    ("sprint_end", pa.date32()),
    ("labels", pa.string()),
])


def resolved_issues_jql(projects: list[str], start: dt.date, end: dt.date) -> str:
    quoted = ", ".join(f'"{p}"' for p in projects)
    return (f'project in ({quoted}) AND statusCategory = Done AND resolved >= "{start}" AND resolved < "{end}" '
            "ORDER BY resolved ASC")


def _last_sprint(value: Any, where: str) -> dict[str, Any]:
    """The sprint field is a list of sprint objects (the issue's sprints, the last one the one it finished in)."""
    if value is None:
        return {}
    if isinstance(value, list):
        value = value[-1] if value else {}
    if not isinstance(value, dict):
        raise MalformedResponseError(f"{where}: sprint field must be a list of sprint objects, got {value!r}")
    start = parse_timestamp(value.get("startDate"), where)
    end = parse_timestamp(value.get("endDate"), where)
    return {"sprint_id": value.get("id"), "sprint_name": value.get("name"),
            "sprint_start": start.date() if start else None, "sprint_end": end.date() if end else None}


def issue_row(issue: dict[str, Any], where: str, story_points_field: str, sprint_field: str) -> dict[str, Any]:
    fields = issue.get("fields")
    if not isinstance(fields, dict) or not issue.get("key"):
        raise MalformedResponseError(f"{where}: an issue without 'key' or 'fields'")
    here = f"{where} {issue['key']}"
    resolved = parse_timestamp(fields.get("resolutiondate"), here)
    if resolved is None:
        raise MalformedResponseError(f"{here}: resolved issue without resolutiondate")
    assignee = fields.get("assignee") or {}
    parent = fields.get("parent") or {}
    parent_fields = parent.get("fields") or {}
    points = fields.get(story_points_field)
    if points is not None and (isinstance(points, bool) or not isinstance(points, (int, float))):
        raise MalformedResponseError(f"{here}: story points ({story_points_field}) must be a number, got {points!r}")
    return {
        "issue_key": str(issue["key"]),
        "issue_id": str_field(issue, "id", here),
        "project_key": str_field(fields.get("project") or {}, "key", here),
        "summary": str_field(fields, "summary", here),
        "issue_type": str_field(fields.get("issuetype") or {}, "name", here),
        "status_category": str_field((fields.get("status") or {}).get("statusCategory") or {}, "key", here),
        "resolution": str_field(fields.get("resolution") or {}, "name", here),
        "created_at": parse_timestamp(fields.get("created"), here),
        "resolved_at": resolved,
        "resolved_date": resolved.date(),
        "assignee_account_id": str_field(assignee, "accountId", here),
        "assignee_email": (str_field(assignee, "emailAddress", here) or "").lower() or None,
        "assignee_name": str_field(assignee, "displayName", here),
        "parent_key": str_field(parent, "key", here),
        "parent_summary": str_field(parent_fields, "summary", here),
        "parent_hierarchy_level": (parent_fields.get("issuetype") or {}).get("hierarchyLevel"),
        "story_points": float(points) if points is not None else None,
        **{"sprint_id": None, "sprint_name": None, "sprint_start": None, "sprint_end": None,
           **_last_sprint(fields.get(sprint_field), here)},
        "labels": ",".join(sorted(map(str, fields.get("labels") or []))) or None,
    }


def jira_source(
    start_date: Optional[str] = None,
    end_date: Optional[str] = None,
    lookback_days: int = settings.DEFAULT_LOOKBACK_DAYS,
    projects: Optional[list[str]] = None,
    connection: Optional[settings.ProviderConnection] = None,
    session: Optional[requests.Session] = None,
):
    """Issues of `projects` (default: the org directory's `teams[].jira_projects`) resolved in
    [start_date - lookback_days, end_date). Credentials: `SOURCES__JIRA__EMAIL` + `SOURCES__JIRA__API_TOKEN`;
    site: `SOURCES__JIRA__BASE_URL`."""
    if projects is None:
        projects = [key for team in load_org_directory().teams for key in team.jira_projects]
    fields = (dlt.config.get("sources.jira.story_points_field", str) or "customfield_10016",
              dlt.config.get("sources.jira.sprint_field", str) or "customfield_10020")
    window = SourceWindow(start_date, end_date, lookback_days, PAGE_SIZE)
    return _jira(window, sorted(set(projects)), fields, connection or settings.connection("jira"), session)


@dlt.source(name="jira", max_table_nesting=0, schema_contract=SCHEMA_CONTRACT)
def _jira(window: SourceWindow, projects: list[str], custom_fields: tuple[str, str],
          conn: settings.ProviderConnection, session: Optional[requests.Session]):
    story_points_field, sprint_field = custom_fields

    def resolved(start: dt.date, end: dt.date) -> Iterator[pa.Table]:
        if not conn.enabled or not projects:
            return
        client = make_rest_client(conn.base_url, auth=HttpBasicAuth(conn.username or "", conn.api_key or ""),
                                  headers={"Accept": "application/json"}, session=session or conn.session())
        endpoint = Endpoint("jira", SEARCH_PATH)
        params = {"jql": resolved_issues_jql(projects, start, end), "maxResults": PAGE_SIZE,
                  "fields": ",".join([*BASE_FIELDS, story_points_field, sprint_field])}
        paginator = BodyCursorPaginator("nextPageToken", "nextPageToken", has_more_key=None, is_last_key="isLast")
        for page_number, body in iter_pages(client, endpoint, params, json_object("issues"), paginator):
            where = endpoint.describe(page_number)
            rows = [issue_row(issue, where, story_points_field, sprint_field) for issue in body["issues"]]
            if rows:
                yield pa.Table.from_pylist(rows, schema=ISSUE_SCHEMA)

    @dlt.resource(name="issues", primary_key="issue_key", write_disposition="merge")
    def issues(cursor=date_cursor("resolved_date", window)) -> Iterator[pa.Table]:
        yield from with_empty_table(resolved(*window_of(cursor)), ISSUE_SCHEMA)

    return issues
