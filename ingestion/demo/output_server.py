"""GitHub and Jira Cloud, as the demo organisation's engineering output behind the real API shapes.

GitHub: `Authorization: Bearer`, `X-GitHub-Api-Version`, JSON arrays paged with `per_page`/`page` and a `Link`
header; pull request list items lack additions/deletions (the detail endpoint has them); deployments and their
statuses newest first. Jira: Basic auth, `GET /rest/api/3/search/jql` with a bounded JQL, `fields`, `maxResults`
and `nextPageToken` paging (`isLast` on the last page).
"""

from __future__ import annotations

import base64
import datetime as dt
import re
from typing import Any, Optional
from urllib.parse import parse_qs, urlencode, urlparse

from ingestion.demo.engineering import DemoEngineering, NewestFirst, PullRequest, Ticket, _seed
from ingestion.demo.server import DEMO_API_KEY, _ApiError, _DemoAdapter, _int, _one, _response

DEMO_GITHUB_URL = "https://demo.invalid/github"
DEMO_JIRA_URL = "https://demo.invalid/jira"
DEMO_JIRA_EMAIL = "finops-bot@northwind.example"
GITHUB_API_VERSION = "2022-11-28"
STORY_POINTS_FIELD = "customfield_10016"
SPRINT_FIELD = "customfield_10020"


def _iso(value: Optional[dt.datetime]) -> Optional[str]:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def _user(login: str) -> dict[str, Any]:
    return {"login": login, "id": _seed("user", login) % 10**8, "type": "Bot" if login.endswith("-bot") else "User",
            "site_admin": False}


class GitHubDemoAdapter(_DemoAdapter):
    def __init__(self, world: DemoEngineering, base_url: str = DEMO_GITHUB_URL, api_key: str = DEMO_API_KEY) -> None:
        super().__init__(world, base_url, api_key)  # type: ignore[arg-type]
        self.base_url = base_url.rstrip("/")

    def authenticate(self, request) -> None:
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            raise _ApiError(401, {"message": "Bad credentials", "documentation_url": "https://docs.github.com/rest"})

    def send(self, request, stream=False, timeout=None, verify=True, cert=None, proxies=None):  # noqa: D102
        url = urlparse(request.url)
        path = url.path[len(self.base_path):]
        params = parse_qs(url.query, keep_blank_values=True)
        try:
            self.authenticate(request)
            body, headers = self.route(path, params)
            return _response(request, 200, body, headers)
        except _ApiError as err:
            return _response(request, err.status, err.body, err.headers)

    def route(self, path: str, params) -> tuple[Any, dict[str, str]]:
        if m := re.fullmatch(r"/repos/([^/]+)/([^/]+)/pulls", path):
            repo = f"{m[1]}/{m[2]}".lower()
            if _one(params, "state") != "closed" or _one(params, "sort") != "updated":
                raise _ApiError(422, {"message": "demo serves state=closed&sort=updated&direction=desc"})
            return self._newest_first_page(path, params, self.world.newest_pull_requests(repo), self._pr_item)
        if m := re.fullmatch(r"/repos/([^/]+)/([^/]+)/pulls/(\d+)", path):
            repo = f"{m[1]}/{m[2]}".lower()
            pr = self.world.pull_request(repo, int(m[3]))
            if pr is None:
                raise _ApiError(404, {"message": "Not Found"})
            return {**self._pr_item(pr), "merged": pr.merged_at is not None, "additions": pr.additions,
                    "deletions": pr.deletions, "changed_files": pr.changed_files, "commits": 1 + pr.changed_files // 4,
                    "merged_by": _user(pr.author_login) if pr.merged_at else None}, {}
        if m := re.fullmatch(r"/repos/([^/]+)/([^/]+)/deployments", path):
            repo = f"{m[1]}/{m[2]}".lower()
            environment = _one(params, "environment")
            items = [self._deployment(d) for d in self.world.deployments(repo)
                     if environment in (None, "production")]
            return self._page(path, params, items)
        if m := re.fullmatch(r"/repos/([^/]+)/([^/]+)/deployments/(\d+)/statuses", path):
            repo = f"{m[1]}/{m[2]}".lower()
            deployment = next((d for d in self.world.deployments(repo) if d.id == int(m[3])), None)
            if deployment is None:
                raise _ApiError(404, {"message": "Not Found"})
            return [{"id": deployment.id * 10 + i, "state": state, "environment": "production",
                     "creator": _user(deployment.creator_login), "created_at": _iso(at), "updated_at": _iso(at),
                     "description": f"Deployment {state}"}
                    for i, (state, at) in enumerate(deployment.statuses)], {}
        raise _ApiError(404, {"message": "Not Found"})

    def _page(self, path: str, params, items: list[Any]) -> tuple[list[Any], dict[str, str]]:
        per_page = _int(params, "per_page", 30, 100)
        page = _int(params, "page", 1, 10**6)
        chunk = items[(page - 1) * per_page: page * per_page]
        last = max(1, -(-len(items) // per_page))
        links = []
        keep = {k: v[-1] for k, v in params.items() if k != "page"}
        if page < last:
            links.append(f'<{self.base_url}{path}?{urlencode({**keep, "page": page + 1})}>; rel="next"')
            links.append(f'<{self.base_url}{path}?{urlencode({**keep, "page": last})}>; rel="last"')
        return chunk, ({"Link": ", ".join(links)} if links else {})

    def _newest_first_page(self, path: str, params, items: NewestFirst, render) -> tuple[list[Any], dict[str, str]]:
        """A page of a list drawn only as far as asked: its `next` link comes from drawing one item past the page;
        no `last` link (GitHub leaves it out on some large listings too; clients follow `next`)."""
        per_page = _int(params, "per_page", 30, 100)
        page = _int(params, "page", 1, 10**6)
        drawn = items.first(page * per_page + 1)
        keep = {k: v[-1] for k, v in params.items() if k != "page"}
        links = {"Link": f'<{self.base_url}{path}?{urlencode({**keep, "page": page + 1})}>; rel="next"'} \
            if len(drawn) > page * per_page else {}
        return [render(item) for item in drawn[(page - 1) * per_page: page * per_page]], links

    def _pr_item(self, pr: PullRequest) -> dict[str, Any]:
        updated = pr.closed_at + dt.timedelta(minutes=5)
        return {
            "id": _seed(pr.repository, pr.number) % 10**9,
            "number": pr.number,
            "state": "closed",
            "title": pr.title,
            "user": _user(pr.author_login),
            "body": None,
            "labels": [{"name": name} for name in pr.labels],
            "created_at": _iso(pr.created_at),
            "updated_at": _iso(updated),
            "closed_at": _iso(pr.closed_at),
            "merged_at": _iso(pr.merged_at),
            "merge_commit_sha": None,
            "draft": False,
            "head": {"ref": pr.head_ref, "label": f"{pr.repository.split('/')[0]}:{pr.head_ref}"},
            "base": {"ref": "main", "label": f"{pr.repository.split('/')[0]}:main",
                     "repo": {"full_name": pr.repository}},
            "author_association": "MEMBER",
        }

    def _deployment(self, d) -> dict[str, Any]:
        return {"id": d.id, "sha": d.sha, "ref": "main", "task": "deploy", "payload": {},
                "original_environment": "production", "environment": "production", "description": None,
                "creator": _user(d.creator_login), "created_at": _iso(d.created_at), "updated_at": _iso(d.created_at),
                "transient_environment": False, "production_environment": True}


class JiraDemoAdapter(_DemoAdapter):
    def __init__(self, world: DemoEngineering, base_url: str = DEMO_JIRA_URL, api_key: str = DEMO_API_KEY,
                 email: str = DEMO_JIRA_EMAIL) -> None:
        super().__init__(world, base_url, api_key)  # type: ignore[arg-type]
        self.email = email
        self.routes = {"/rest/api/3/search/jql": self.search}

    def authenticate(self, request) -> None:
        expected = "Basic " + base64.b64encode(f"{self.email}:{self.api_key}".encode()).decode()
        if request.headers.get("Authorization") != expected:
            raise _ApiError(401, {"errorMessages": ["Client must be authenticated to access this resource."]})

    def search(self, params) -> dict[str, Any]:
        jql = _one(params, "jql") or ""
        projects = re.search(r"project in \(([^)]*)\)", jql)
        after = re.search(r'resolved >= "(\d{4}-\d{2}-\d{2})"', jql)
        before = re.search(r'resolved < "(\d{4}-\d{2}-\d{2})"', jql)
        if not (projects and after and before):
            raise _ApiError(400, {"errorMessages": ["Unbounded JQL queries are not allowed here. "
                                                    "Please add a search restriction to your query."]})
        keys = {k.strip().strip('"') for k in projects[1].split(",")}
        tickets = self.world.tickets(keys, dt.date.fromisoformat(after[1]), dt.date.fromisoformat(before[1]))
        limit = _int(params, "maxResults", 50, 5000)
        token = _one(params, "nextPageToken")
        offset = int(base64.b64decode(token).decode()) if token else 0
        chunk = tickets[offset: offset + limit]
        fields = set((_one(params, "fields") or "").split(","))
        more = offset + limit < len(tickets)
        body: dict[str, Any] = {"issues": [self._issue(t, fields) for t in chunk], "isLast": not more}
        if more:
            body["nextPageToken"] = base64.b64encode(str(offset + limit).encode()).decode()
        return body

    @staticmethod
    def _issue(t: Ticket, fields: set[str]) -> dict[str, Any]:
        everything = {
            "summary": t.summary,
            "issuetype": {"name": t.issue_type, "subtask": False, "hierarchyLevel": 0},
            "project": {"key": t.project, "name": t.project},
            "status": {"name": "Done", "statusCategory": {"key": "done", "name": "Done"}},
            "resolution": {"name": "Done"},
            "resolutiondate": t.resolved_at.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
            "created": t.created_at.strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
            "assignee": ({"accountId": t.assignee_account_id, "displayName": t.assignee_name,
                          **({"emailAddress": t.assignee_email} if t.assignee_email else {}), "active": True}
                         if t.assignee_account_id or t.assignee_name else None),
            "parent": ({"key": t.epic_key, "fields": {"summary": t.epic_summary,
                                                      "issuetype": {"name": "Epic", "hierarchyLevel": 1}}}
                       if t.epic_key else None),
            "labels": [],
            STORY_POINTS_FIELD: t.story_points,
            SPRINT_FIELD: [{"id": t.sprint_id, "name": t.sprint_name, "state": "closed",
                            "startDate": f"{t.sprint_start}T00:00:00.000Z", "endDate": f"{t.sprint_end}T23:59:59.000Z"}],
        }
        return {"id": str(_seed("issue", t.key) % 10**6), "key": t.key,
                "fields": {k: v for k, v in everything.items() if k in fields}}
