"""GitHub and Jira sources against the demo organisation's output, through the real client.

Ground truth is the demo generator's own records for the same days, counted here in plain Python.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from dlt.pipeline.exceptions import PipelineStepFailed

from ingestion.github import ANY_ISSUE_KEY, github_source, issue_key_pattern, linked_issue_keys
from ingestion.jira import jira_source, resolved_issues_jql
from tests.conftest import query

START, END = dt.date(2026, 10, 19), dt.date(2026, 11, 2)  # two ISO weeks, END exclusive
REPOS = ["northwind/checkout-assistant", "northwind/fraud-review"]


def run_github(transport, pipeline, faults=None, repositories=REPOS):
    connection, session, scripted = transport("github", faults)
    pipe = pipeline("github", "raw_github")
    pipe.run(github_source(start_date=START.isoformat(), end_date=END.isoformat(), lookback_days=0,
                           repositories=repositories, connection=connection, session=session))
    return pipe, scripted


def test_merged_pull_requests_in_the_window_with_their_sizes(engineering, transport, pipeline):
    pipe, scripted = run_github(transport, pipeline)
    expected = [p for repo in REPOS for p in engineering.pull_requests(repo)
                if p.merged_at and START <= p.merged_at.date() < END]
    rows = query(pipe, "select pr_key, additions, deletions, author_login from pull_requests order by pr_key")
    assert rows == sorted((f"{p.repository}#{p.number}", p.additions, p.deletions, p.author_login) for p in expected)
    # closed-but-unmerged pull requests exist in the window and are not counted
    assert any(p.merged_at is None and START <= p.closed_at.date() < END
               for repo in REPOS for p in engineering.pull_requests(repo))
    # lists are read newest first and stop at the window: never the whole 400-day history
    list_calls = [c for c in scripted.calls if c.path.endswith("/pulls")]
    total_pages = sum(-(-len(engineering.pull_requests(r)) // 100) for r in REPOS)
    assert len(list_calls) < total_pages
    assert all(c.headers["X-GitHub-Api-Version"] == "2022-11-28" for c in scripted.calls)


def test_pull_request_links_name_the_tickets_in_branch_and_title(engineering, transport, pipeline):
    pipe, _ = run_github(transport, pipeline)
    links = set(query(pipe, "select pr_key, issue_key from pull_request_issue_links"))
    expected = {(f"{p.repository}#{p.number}", p.head_ref.split("/")[1].rsplit("-change", 1)[0])
                for repo in REPOS for p in engineering.pull_requests(repo)
                if p.merged_at and START <= p.merged_at.date() < END and p.head_ref.startswith("feature/")}
    assert links == expected and expected


def test_issue_keys_from_free_text():
    pattern = issue_key_pattern(["PAY", "PLAT"])
    assert linked_issue_keys(pattern, "[PAY-12] fix", "feature/plat-7-retry", "Also closes PAY-12 and FOO-1") == [
        "PAY-12", "PLAT-7"]
    assert linked_issue_keys(pattern, "fix-12 and change-3") == []
    assert linked_issue_keys(ANY_ISSUE_KEY, "ABC-1 abc-2") == ["ABC-1"]


def test_deployments_carry_their_outcome(engineering, transport, pipeline):
    pipe, _ = run_github(transport, pipeline)
    expected = [d for repo in REPOS for d in engineering.deployments(repo) if START <= d.created_at.date() < END]
    rows = query(pipe, "select deployment_id, is_success, latest_state from deployments order by deployment_id")
    assert rows == sorted((d.id, d.statuses[0][0] == "success", d.statuses[0][0]) for d in expected)
    assert {r[1] for r in rows} == {True, False}


def test_github_rerun_and_rate_limit(engineering, transport, pipeline):
    pipe, _ = run_github(transport, pipeline, faults={1: 429, 4: 502})
    first = query(pipe, "select count(*), sum(additions) from pull_requests")
    run_github(transport, pipeline)
    assert query(pipe, "select count(*), sum(additions) from pull_requests") == first


def test_a_rerun_asks_details_only_for_pull_requests_updated_since_they_were_loaded(engineering, transport,
                                                                                   pipeline):
    def details(scripted) -> list[str]:
        return [c.path for c in scripted.calls if re.search(r"/pulls/\d+$", c.path)]

    expected = sorted((f"{p.repository}#{p.number}", p.additions) for repo in REPOS
                      for p in engineering.pull_requests(repo) if p.merged_at and START <= p.merged_at.date() < END)
    pipe, first = run_github(transport, pipeline)
    assert len(details(first)) == len(expected) > 1
    # the warehouse's copy of one pull request predates its latest update (edited on GitHub since it was loaded)
    stale = expected[1][0]
    with pipe.sql_client() as client:
        client.execute_sql("update pull_requests set updated_at = updated_at - interval 1 day, additions = -1 "
                           "where pr_key = %s", stale)
    pipe, second = run_github(transport, pipeline)
    repository, number = stale.split("#")
    assert [path.split("/repos/", 1)[1] for path in details(second)] == [f"{repository}/pulls/{number}"]  # only it
    assert query(pipe, "select pr_key, additions from pull_requests order by pr_key") == expected
    assert len(query(pipe, "select * from pull_request_issue_links")) == len(
        set(query(pipe, "select pr_key, issue_key from pull_request_issue_links")))


def test_jira_resolved_issues_page_with_next_page_token(engineering, transport, pipeline):
    connection, session, scripted = transport("jira")
    pipe = pipeline("jira", "raw_jira")
    projects = ["DS", "GRW", "MOB", "PAY", "PLAT", "SRCH"]
    pipe.run(jira_source(start_date=START.isoformat(), end_date=END.isoformat(), lookback_days=0,
                         projects=projects, connection=connection, session=session))
    expected = engineering.tickets(set(projects), START, END)
    rows = query(pipe, "select issue_key, assignee_account_id, parent_key, story_points, sprint_name "
                       "from issues order by issue_key")
    assert rows == sorted((t.key, t.assignee_account_id, t.epic_key, t.story_points, t.sprint_name) for t in expected)
    assert len(expected) > 100  # more than one page of 100
    assert len(scripted.calls) == -(-len(expected) // 100)
    assert "nextPageToken" in scripted.calls[1].params
    jql = scripted.calls[0].params["jql"][0]
    assert jql == resolved_issues_jql(projects, START, END)
    assert scripted.calls[0].headers["Authorization"].startswith("Basic ")


def test_jira_bad_story_points_fail_clearly(transport, pipeline):
    def break_points(body, path):
        body["issues"][0]["fields"]["customfield_10016"] = "three"
        return body

    connection, session, _ = transport("jira", {1: break_points})
    with pytest.raises(PipelineStepFailed, match="story points .* must be a number, got 'three'"):
        pipeline("jira", "raw_jira").run(jira_source(start_date=START.isoformat(), end_date=END.isoformat(),
                                                     lookback_days=0, projects=["PAY"], connection=connection,
                                                     session=session))


def test_a_source_without_credentials_still_creates_its_tables(transport, pipeline):
    """Live mode with only some keys: the other sources load nothing, but dbt must still find every table."""
    from ingestion.settings import ProviderConnection

    pipe = pipeline("jira", "raw_jira")
    pipe.run(jira_source(start_date=START.isoformat(), end_date=END.isoformat(), projects=["PAY"],
                         connection=ProviderConnection("jira", "https://jira.test", None, demo=False)))
    assert query(pipe, "select count(*) from issues") == [(0,)]


def test_the_demo_draws_pull_request_pages_only_as_far_as_they_are_read(demo_org):
    from ingestion.demo.engineering import HISTORY_DAYS, DemoEngineering

    engineering = DemoEngineering(demo_org, seed=42, today=END)
    repo = REPOS[0]
    team = next(t for t in demo_org.teams if repo in t.repositories)
    weeks = list(engineering.weeks(END - dt.timedelta(days=HISTORY_DAYS), END))
    # the definition: every week's pull requests of the repository, most recently closed first
    history = sorted((p for w in weeks for p in engineering.week(team.id, w)[1] if p.repository == repo),
                     key=lambda p: (p.closed_at, p.number), reverse=True)
    assert len(history) > 200
    fresh = DemoEngineering(demo_org, seed=42, today=END)
    drawn_weeks = []
    week = fresh.week
    fresh.week = lambda team_id, start: drawn_weeks.append(start) or week(team_id, start)
    listing = fresh.newest_pull_requests(repo)
    assert listing.first(10) == history[:10]
    assert len(drawn_weeks) < 5 and min(drawn_weeks) >= weeks[-5]  # the newest weeks only
    assert listing.first(None) == history and fresh.pull_requests(repo) == tuple(history)
    assert fresh.pull_request(repo, history[123].number) == history[123]
    assert fresh.pull_request(repo, 999_999_999) is None


@pytest.mark.parametrize("batch_rows", [5_000, 1])
def test_deployments_reach_dlt_in_tables_of_many_repositories(engineering, transport, monkeypatch, batch_rows):
    """dlt pays a few milliseconds for every table it is handed, so rows are gathered across repositories (a table
    goes once the repositories so far gave BATCH_ROWS rows) rather than handed over one table per repository."""
    import ingestion.github as github

    monkeypatch.setattr(github, "BATCH_ROWS", batch_rows)
    connection, session, _ = transport("github")
    source = github_source(start_date=START.isoformat(), end_date=END.isoformat(), lookback_days=0,
                           repositories=REPOS, connection=connection, session=session)
    tables = list(source.resources["deployments"])
    expected = {repo: sorted(d.id for d in engineering.deployments(repo) if START <= d.created_at.date() < END)
                for repo in REPOS}
    assert all(expected.values())
    ids = [i for table in tables for i in table.column("deployment_id").to_pylist()]
    assert sorted(ids) == sorted(i for repo_ids in expected.values() for i in repo_ids)
    if batch_rows > 1:
        assert len(tables) == 1
    else:
        assert [sorted(t.column("deployment_id").to_pylist()) for t in tables] == [expected[r] for r in REPOS]
