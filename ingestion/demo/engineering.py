"""The demo organisation's engineering output: merged pull requests, deployments, resolved Jira issues.

Work is planned per person per ISO week (seeded by person and week, so any window sees the same history): a few
tickets resolved on weekdays, each under one of the team's epics (or none), and pull requests that mostly name one of
that week's tickets in their branch. Each repository deploys to production on most weekdays, now and then failing.
A few people have no GitHub or Jira identity in the directory, and some tickets are unassigned, so the warehouse
meets output it cannot attribute.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterator, Optional

import numpy as np

from ingestion.org_directory import OrgDirectory

EPICS_PER_TEAM = 6
HISTORY_DAYS = 400  # how far back the demo's GitHub lists reach (they are listed newest first)
WEEK_ZERO = dt.date(2024, 1, 1)  # a Monday; pull request and ticket numbers count weeks from it
EPIC_NAMES = ["Billing reliability", "Onboarding revamp", "Search relevance", "Offline mode", "Cost guardrails",
              "Agent tooling", "Accessibility", "Data retention", "Checkout speed", "Fraud signals"]


def _seed(*parts: Any) -> int:
    return int.from_bytes(hashlib.sha256("/".join(map(str, parts)).encode()).digest()[:8], "big")


def _at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=dt.timezone.utc)


def iso_week_start(day: dt.date) -> dt.date:
    return day - dt.timedelta(days=day.weekday())


@dataclass(frozen=True)
class Ticket:
    key: str
    project: str
    summary: str
    issue_type: str
    assignee_account_id: Optional[str]
    assignee_email: Optional[str]
    assignee_name: Optional[str]
    created_at: dt.datetime
    resolved_at: dt.datetime
    story_points: Optional[float]
    epic_key: Optional[str]
    epic_summary: Optional[str]
    sprint_id: int
    sprint_name: str
    sprint_start: dt.date
    sprint_end: dt.date


@dataclass(frozen=True)
class PullRequest:
    repository: str
    number: int
    title: str
    author_login: str
    head_ref: str
    created_at: dt.datetime
    closed_at: dt.datetime
    merged_at: Optional[dt.datetime]
    additions: int
    deletions: int
    changed_files: int
    labels: tuple[str, ...]


@dataclass(frozen=True)
class Deployment:
    id: int
    repository: str
    sha: str
    creator_login: str
    created_at: dt.datetime
    statuses: tuple[tuple[str, dt.datetime], ...]  # newest first, as the API lists them


class NewestFirst:
    """A list drawn in batches as it is read (`first(n)`), for listings served newest first."""

    def __init__(self, batches: Iterator[list]) -> None:
        self._batches, self._drawn, self._exhausted = batches, [], False

    def first(self, n: Optional[int]) -> list:
        """The first n items (all of them when n is None); fewer when the list is shorter."""
        while not self._exhausted and (n is None or len(self._drawn) < n):
            batch = next(self._batches, None)
            if batch is None:
                self._exhausted = True
            else:
                self._drawn.extend(batch)
        return self._drawn if n is None else self._drawn[:n]


class DemoEngineering:
    """Deterministic engineering output for the people and teams of an org directory."""

    def __init__(self, org: OrgDirectory, seed: int = 42, today: Optional[dt.date] = None,
                 sprint_anchor: dt.date = dt.date(2026, 1, 5), sprint_days: int = 14) -> None:
        self.org = org
        self.seed = seed
        self.today = today or dt.datetime.now(dt.timezone.utc).date()
        self.sprint_anchor, self.sprint_days = sprint_anchor, sprint_days
        self.team_of = {p.email: p.team for p in org.people}
        self.teams = {t.id: t for t in org.teams}
        self.members: dict[str, list] = {}
        for person in sorted(org.people, key=lambda p: p.email):
            self.members.setdefault(person.team, []).append(person)
        rng = np.random.default_rng([seed, 7])
        self.productivity = {p.email: float(v) for p, v in
                             zip(sorted(org.people, key=lambda p: p.email), rng.lognormal(0, 0.35, len(org.people)))}

    # ------------------------------------------------------------------------------------------------- plan
    def epics(self, team_id: str) -> list[tuple[str, str]]:
        team = self.teams[team_id]
        if not team.jira_projects:
            return []
        project = team.jira_projects[0]
        offset = _seed(team_id) % len(EPIC_NAMES)
        return [(f"{project}-{9000 + k}", EPIC_NAMES[(offset + k) % len(EPIC_NAMES)]) for k in range(EPICS_PER_TEAM)]

    def sprint_of(self, day: dt.date) -> tuple[int, str, dt.date, dt.date]:
        index = (day - self.sprint_anchor).days // self.sprint_days
        start = self.sprint_anchor + dt.timedelta(days=index * self.sprint_days)
        return index, f"Sprint {index + 1}", start, start + dt.timedelta(days=self.sprint_days - 1)

    @lru_cache(maxsize=4096)
    def week(self, team_id: str, week_start: dt.date) -> tuple[tuple[Ticket, ...], tuple[PullRequest, ...]]:
        """Tickets resolved and pull requests merged (or closed) by a team's people in the ISO week."""
        team = self.teams[team_id]
        if not team.jira_projects or not team.repositories:
            return (), ()
        project = team.jira_projects[0]
        epics = self.epics(team_id)
        week_index = (week_start - WEEK_ZERO).days // 7
        tickets: list[Ticket] = []
        prs: list[PullRequest] = []
        for person_index, person in enumerate(self.members.get(team_id, [])):
            rng = np.random.default_rng(_seed(self.seed, person.email, week_start))
            productivity = self.productivity[person.email]
            account = person.identities.get("jira")
            login = person.identities.get("github") or f"{person.email.split('@')[0].replace('.', '-')}-gh"
            mine: list[Ticket] = []
            for i in range(min(int(rng.poisson(1.6 * productivity)), 19)):
                resolved_day = week_start + dt.timedelta(days=int(rng.integers(0, 5)))
                month_index = resolved_day.year * 12 + resolved_day.month
                has_epic = rng.random() < 0.85
                epic_key, epic_summary = epics[(month_index + int(rng.integers(0, 3))) % len(epics)] if has_epic else (None, None)
                unassigned = rng.random() < 0.04
                sprint = self.sprint_of(resolved_day)
                ticket = Ticket(
                    key=f"{project}-{week_index * 1000 + person_index * 20 + i + 1}",
                    project=project,
                    summary=f"{(epic_summary or 'Maintenance')}: task {i + 1} for week {week_start}",
                    issue_type=str(rng.choice(["Story", "Task", "Bug"], p=[0.55, 0.3, 0.15])),
                    assignee_account_id=None if unassigned else account,
                    assignee_email=None if unassigned or rng.random() < 0.3 else person.email,  # privacy hides some
                    assignee_name=None if unassigned else person.name,
                    created_at=_at(resolved_day - dt.timedelta(days=int(rng.integers(1, 12))), 9),
                    resolved_at=_at(resolved_day, int(rng.integers(10, 18)), int(rng.integers(0, 60))),
                    story_points=None if rng.random() < 0.1 else float(rng.choice([1, 2, 3, 5, 8])),
                    epic_key=epic_key,
                    epic_summary=epic_summary,
                    sprint_id=1000 + sprint[0],
                    sprint_name=sprint[1],
                    sprint_start=sprint[2],
                    sprint_end=sprint[3],
                )
                mine.append(ticket)
            tickets.extend(mine)
            for i in range(min(int(rng.poisson(2.4 * productivity)), 19)):
                merged_day = week_start + dt.timedelta(days=int(rng.integers(0, 5)))
                repo = team.repositories[int(rng.integers(0, len(team.repositories)))]
                linked = mine[int(rng.integers(0, len(mine)))] if mine and rng.random() < 0.8 else None
                slug = f"change-{i + 1}"
                head = f"feature/{linked.key}-{slug}" if linked else f"chore/{slug}"
                closed = _at(merged_day, int(rng.integers(9, 19)), int(rng.integers(0, 60)))
                merged = None if rng.random() < 0.08 else closed  # some pull requests are closed unmerged
                prs.append(PullRequest(
                    repository=repo,
                    number=week_index * 1000 + person_index * 20 + i + 1,
                    title=f"{'[' + linked.key + '] ' if linked and rng.random() < 0.5 else ''}{slug.replace('-', ' ')}",
                    author_login=login,
                    head_ref=head,
                    created_at=closed - dt.timedelta(hours=int(rng.integers(2, 96))),
                    closed_at=closed,
                    merged_at=merged,
                    additions=int(rng.lognormal(4.0, 1.0)),
                    deletions=int(rng.lognormal(3.0, 1.0)),
                    changed_files=int(rng.integers(1, 20)),
                    labels=tuple(sorted({str(x) for x in rng.choice(["feature", "bug", "refactor", "ai-assisted"],
                                                                     size=int(rng.integers(0, 3)), replace=False)})),
                ))
        cutoff = _at(self.today, 0)
        return (tuple(t for t in tickets if t.resolved_at < cutoff),
                tuple(p for p in prs if p.closed_at < cutoff))

    def weeks(self, start: dt.date, end: dt.date):
        week = iso_week_start(start)
        while week < end:
            yield week
            week += dt.timedelta(days=7)

    # -------------------------------------------------------------------------------------------- queries
    def tickets(self, projects: set[str], start: dt.date, end: dt.date) -> list[Ticket]:
        """Tickets of these Jira projects resolved in [start, end), in resolution order."""
        found = []
        for team in self.org.teams:
            if not set(team.jira_projects) & projects:
                continue
            for week in self.weeks(start, end):
                found.extend(t for t in self.week(team.id, week)[0]
                             if t.project in projects and start <= t.resolved_at.date() < end)
        return sorted(found, key=lambda t: (t.resolved_at, t.key))

    def pull_requests(self, repository: str) -> tuple[PullRequest, ...]:
        """Every closed pull request of a repository in the demo's history, most recently updated first."""
        return tuple(self.newest_pull_requests(repository).first(None))

    @lru_cache(maxsize=1024)
    def newest_pull_requests(self, repository: str) -> NewestFirst:
        """The same list drawn a week at a time, newest week first, only as far as it is read: the API's pages for
        a window of recent days need a few weeks, not the whole history (at 10,000 developers, minutes)."""
        team = self._team_of_repository(repository)
        if team is None:
            return NewestFirst(iter(()))
        weeks = list(self.weeks(self.today - dt.timedelta(days=HISTORY_DAYS), self.today))

        def newest_week_first():
            for week in reversed(weeks):  # a week's pull requests close within it (merged Monday to Friday)
                yield sorted((p for p in self.week(team.id, week)[1] if p.repository == repository),
                             key=lambda p: (p.closed_at, p.number), reverse=True)
        return NewestFirst(newest_week_first())

    def pull_request(self, repository: str, number: int) -> Optional[PullRequest]:
        """One pull request of the history by number (numbers encode their week: only that week is drawn)."""
        team = self._team_of_repository(repository)
        weeks_before = (iso_week_start(self.today - dt.timedelta(days=HISTORY_DAYS)) - WEEK_ZERO).days // 7
        if team is not None and weeks_before <= number // 1000 <= (self.today - WEEK_ZERO).days // 7:
            week = WEEK_ZERO + dt.timedelta(days=7 * (number // 1000))
            found = next((p for p in self.week(team.id, week)[1]
                          if p.repository == repository and p.number == number), None)
            if found is not None:
                return found
        return next((p for p in self.pull_requests(repository) if p.number == number), None)

    def _team_of_repository(self, repository: str):
        return next((t for t in self.org.teams if repository in t.repositories), None)

    @lru_cache(maxsize=256)
    def deployments(self, repository: str) -> tuple[Deployment, ...]:
        """Production deployments of a repository, newest first, with their statuses (newest first)."""
        team = next((t for t in self.org.teams if repository in t.repositories), None)
        if team is None:
            return ()
        people = self.members.get(team.id, [])
        found = []
        day = self.today - dt.timedelta(days=HISTORY_DAYS)
        while day < self.today:
            if day.weekday() < 5:
                rng = np.random.default_rng(_seed(self.seed, repository, day))
                for i in range(int(rng.poisson(1.3))):
                    created = _at(day, int(rng.integers(9, 18)), int(rng.integers(0, 60)))
                    pending = (created + dt.timedelta(minutes=1))
                    done = created + dt.timedelta(minutes=int(rng.integers(3, 25)))
                    state = "failure" if rng.random() < 0.12 else "success"
                    creator = people[int(rng.integers(0, len(people)))] if people else None
                    found.append(Deployment(
                        id=_seed(repository, day, i) % 10**10,
                        repository=repository,
                        sha=hashlib.sha1(f"{repository}{day}{i}".encode()).hexdigest(),
                        creator_login=(creator.identities.get("github") if creator else None) or "deploy-bot",
                        created_at=created,
                        statuses=((state, done), ("in_progress", pending)),
                    ))
            day += dt.timedelta(days=1)
        return tuple(sorted(found, key=lambda d: (d.created_at, d.id), reverse=True))
