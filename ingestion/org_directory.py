"""The org directory: who is who, and which provider-side identifier belongs to whom.

It is the user's configuration (a YAML file, path in `FINOPS_ORG_DIRECTORY` or `[sources.org_directory] path`),
never code. It is validated here with errors that name the offending entry, then landed by dlt into `raw_org`
so dbt can resolve identities: people, teams, projects, each person's ids in each tool, and the provider accounts
(API keys, workspaces, projects) with the project, team, environment and use case they belong to; the fixed costs no
usage API reports; and the teams' and projects' soft budgets (dollars per month: never a cap, nothing is blocked).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional

import dlt
import pyarrow as pa
import yaml

from ingestion import settings
from ingestion._common import gc_paused

log = logging.getLogger(__name__)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEMO_ORG_DIRECTORY = PROJECT_ROOT / "config" / "demo" / "org_directory.yml"

PROVIDER_ACCOUNT_KINDS = {
    "anthropic": {"workspace", "api_key"},
    "openai": {"project", "api_key"},
}
ENVIRONMENTS = {"prod", "staging", "dev"}
USE_CASES = {"autocomplete", "chat", "agent", "api"}
# fixed costs: `seats` are charged per seat holder of a tool whose roster the warehouse knows (Cursor's members; GitHub
# Copilot's seats are billed by GitHub, already per day, so they are not configured here); `shared` costs are split
# among teams
FIXED_COST_KINDS = {"seats", "shared"}
SEAT_ROSTER_TOOLS = {"cursor"}
SPLIT_RULES = {"even", "proportional", "weights"}


class OrgDirectoryError(ValueError):
    """The org directory is not valid; the message names the file and the entry."""


@dataclass(frozen=True)
class Team:
    id: str
    name: str
    cost_center: Optional[str] = None
    repositories: tuple[str, ...] = ()  # "owner/name" on GitHub: the team's deploys are the team's output
    jira_projects: tuple[str, ...] = ()  # Jira project keys the team works in


@dataclass(frozen=True)
class Project:
    id: str
    name: str
    team: str


@dataclass(frozen=True)
class Person:
    email: str
    name: str
    team: str
    identities: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ProviderAccount:
    provider: str
    kind: str
    id: str
    name: Optional[str] = None
    project: Optional[str] = None
    team: Optional[str] = None
    person: Optional[str] = None
    environment: Optional[str] = None
    use_case: Optional[str] = None


@dataclass(frozen=True)
class FixedCost:
    """A cost the usage APIs do not report, amortized per day (`usd_per_month` / the month's days): per seat holder
    (`seats`: the price of one seat) or for the whole organisation (`shared`: split among `weights`' teams, every
    team when none are given, evenly, by weight, or proportionally to the teams' AI spend of the day)."""
    id: str
    name: str
    kind: str
    provider: str
    usd_per_month: str  # a decimal, kept as text so no binary rounding creeps in
    split: Optional[str] = None
    weights: tuple[tuple[str, str], ...] = ()  # (team, weight) pairs
    valid_from: Optional[str] = None  # first day (inclusive)
    valid_to: Optional[str] = None  # last day (exclusive)
    environment: Optional[str] = None


@dataclass(frozen=True)
class Budget:
    """A soft monthly budget for a team, or for one of its projects: `usd_per_month` for every month from
    `valid_from` to `valid_to` (months, both inclusive; open-ended when left out). It informs, it never blocks."""
    team: str
    usd_per_month: str  # a decimal, kept as text so no binary rounding creeps in
    project: Optional[str] = None
    valid_from: Optional[str] = None  # first month, as its first day (YYYY-MM-01)
    valid_to: Optional[str] = None  # last month (inclusive), as its first day

    @property
    def id(self) -> str:
        """`team`, or `team/project`, plus `@first month` when the budget starts on a given month."""
        scope = f"{self.team}/{self.project}" if self.project else self.team
        return f"{scope}@{self.valid_from[:7]}" if self.valid_from else scope


@dataclass(frozen=True)
class OrgDirectory:
    organization: str
    teams: tuple[Team, ...]
    projects: tuple[Project, ...]
    people: tuple[Person, ...]
    provider_accounts: tuple[ProviderAccount, ...]
    fixed_costs: tuple[FixedCost, ...] = ()
    budgets: tuple[Budget, ...] = ()
    source_path: str = ""

    def person_by_email(self) -> dict[str, Person]:
        return {p.email: p for p in self.people}

    def accounts(self, provider: str, kind: str) -> list[ProviderAccount]:
        return [a for a in self.provider_accounts if a.provider == provider and a.kind == kind]


def default_org_directory_path() -> Path:
    """`FINOPS_ORG_DIRECTORY`, else `[sources.org_directory] file` in dlt config, else the demo organisation's file."""
    configured = os.environ.get("FINOPS_ORG_DIRECTORY") or dlt.config.get("sources.org_directory.file", str)
    return Path(configured) if configured else DEMO_ORG_DIRECTORY


# libyaml's safe loader where PyYAML was built with it (the same YAML, ~10x faster: a 10,000-person directory parses
# in seconds, not half a minute); PyYAML's pure-Python safe loader otherwise
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# The directories parsed lately, by path and content digest: a run builds several sources that each read the
# directory (GitHub's repositories, Jira's projects, the org tables), and a 10,000-person file takes ~1.9 s to parse
# even with libyaml while hashing it takes milliseconds. An edited file has another digest and is parsed again.
# A few files, not one: loading Dagster's definitions reads the demo directory as well as yours, and with a cache of
# one it evicted yours, so the run's first source parsed it a second time.
_PARSED: dict[str, tuple[str, OrgDirectory]] = {}
_PARSED_KEPT = 4


def load_org_directory(path: Optional[Path | str] = None) -> OrgDirectory:
    path = Path(path) if path else default_org_directory_path()
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        raise OrgDirectoryError(f"org directory {path} does not exist (set FINOPS_ORG_DIRECTORY to your file)") from None
    key, digest = str(path.resolve()), hashlib.sha256(content).hexdigest()
    cached = _PARSED.pop(key, None)
    if cached and cached[0] == digest:
        _PARSED[key] = cached  # the most recently used last
        return cached[1]
    with gc_paused():  # 10,000 people are ~300k objects: 0.7 s to parse with the collector off, 2.4-3.0 s with it
        raw = _read_parsed_copy(digest)
        if raw is None:
            try:
                raw = yaml.load(content.decode(), Loader=_YAML_LOADER)
            except yaml.YAMLError as exc:
                raise OrgDirectoryError(f"org directory {path} is not valid YAML: {exc}") from None
            _write_parsed_copy(digest, raw)
    org = parse_org_directory(raw, source=str(path))
    _PARSED[key] = (digest, org)
    while len(_PARSED) > _PARSED_KEPT:
        del _PARSED[next(iter(_PARSED))]  # the least recently used
    return org


# The YAML as parsed, kept as JSON by the file's digest, for the next process that reads the same file: a Dagster
# run loads its definitions in a new process, and libyaml takes ~0.9 s over a 10,000-person directory where JSON
# takes ~0.02 s. The copy is read only for a file with the same sha256, and it is written only when it reads back
# equal to what YAML gave (dates and timestamps tagged; anything JSON cannot hold exactly, say a set or a
# non-text key, is not kept), so the directory parsed from it is the one the YAML gives. A copy that cannot be read
# or written is passed over: the YAML is parsed as before.
_PARSED_COPIES_KEPT = 4


def parsed_copies_dir() -> Path:
    """`org_directory_parsed/` in dlt's pipelines folder (`FINOPS_PIPELINES_DIR`, default `data/dlt_pipelines`), beside
    the pipelines' own folders (`ai_finops_<name>`)."""
    return settings.pipelines_dir().resolve() / "org_directory_parsed"


def _tagged(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return {"__datetime__": value.isoformat()}
    if isinstance(value, dt.date):
        return {"__date__": value.isoformat()}
    raise TypeError(f"{type(value).__name__} is not kept")


def _untagged(obj: dict) -> Any:
    if len(obj) == 1:
        if "__date__" in obj:
            return dt.date.fromisoformat(obj["__date__"])
        if "__datetime__" in obj:
            return dt.datetime.fromisoformat(obj["__datetime__"])
    return obj


def _read_parsed_copy(digest: str) -> Any:
    path = parsed_copies_dir() / f"{digest}.json"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        return None
    try:
        os.utime(path)  # read lately: kept before the copies of files not read since
    except OSError:
        pass
    try:
        return json.loads(text, object_hook=_untagged)
    except (ValueError, TypeError):
        log.warning("org directory: the parsed copy %s cannot be read; parsing the YAML", path)
        return None


def _write_parsed_copy(digest: str, raw: Any) -> None:
    try:
        text = json.dumps(raw, default=_tagged, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError):
        return  # something JSON cannot hold exactly: the YAML is parsed each time
    try:
        if json.loads(text, object_hook=_untagged) != raw:
            return  # e.g. a mapping with a key that is not text, or one that looks like a tagged date
    except (ValueError, TypeError):
        return  # a mapping that looks like a tagged date but holds no date
    folder = parsed_copies_dir()
    written = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        # readable by its owner only (the directory names people), and renamed into place whole, for processes
        # reading at once
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=folder, suffix=".tmp", delete=False) as out:
            written = out.name
            out.write(text)
        os.replace(written, folder / f"{digest}.json")
        written = None
    except OSError as exc:
        log.warning("org directory: no parsed copy kept in %s (%s); the YAML is parsed each time", folder, exc)
        if written:
            Path(written).unlink(missing_ok=True)
        return
    _drop_stale_copies(folder)


def _drop_stale_copies(folder: Path) -> None:
    """Keep the copies read or written last; another process may be reading or dropping them meanwhile."""
    copies = []
    for path in folder.glob("*.json"):
        if len(path.stem) == 64 and all(c in "0123456789abcdef" for c in path.stem):  # ours: a sha256
            try:
                copies.append((path.stat().st_mtime, path))
            except OSError:
                pass  # gone already
    for _, stale in sorted(copies, reverse=True)[_PARSED_COPIES_KEPT:]:
        try:
            stale.unlink(missing_ok=True)
        except OSError:
            pass


def parse_org_directory(raw: Any, source: str = "<org directory>") -> OrgDirectory:
    def fail(msg: str) -> OrgDirectoryError:
        return OrgDirectoryError(f"{source}: {msg}")

    if not isinstance(raw, dict):
        raise fail("expected a mapping with teams, projects, people and provider_accounts")

    def items(key: str) -> list[dict[str, Any]]:
        value = raw.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise fail(f"'{key}' must be a list of mappings")
        return value

    def need(entry: dict[str, Any], key: str, where: str) -> str:
        value = entry.get(key)
        if value is None or str(value).strip() == "":
            raise fail(f"{where} is missing '{key}'")
        return str(value).strip()

    def strings(entry: dict[str, Any], key: str, where: str) -> tuple[str, ...]:
        value = entry.get(key) or []
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            raise fail(f"{where}: '{key}' must be a list of names")
        return tuple(v.strip() for v in value)

    teams: list[Team] = []
    for i, t in enumerate(items("teams")):
        where = f"teams[{i}]"
        team_id = need(t, "id", where)
        repositories = tuple(r.lower() for r in strings(t, "repositories", where))
        for repo in repositories:
            if repo.count("/") != 1:
                raise fail(f"{where}: repository '{repo}' must be written owner/name")
        teams.append(Team(id=team_id, name=str(t.get("name") or team_id), cost_center=t.get("cost_center"),
                          repositories=repositories, jira_projects=strings(t, "jira_projects", where)))
    team_ids = _unique([t.id for t in teams], "team id", fail)
    _unique([r for t in teams for r in t.repositories], "repository (a repository has one owning team)", fail)
    _unique([k for t in teams for k in t.jira_projects], "Jira project (a project has one owning team)", fail)

    projects: list[Project] = []
    for i, p in enumerate(items("projects")):
        where = f"projects[{i}] ({p.get('id')})"
        project = Project(id=need(p, "id", where), name=str(p.get("name") or p["id"]), team=need(p, "team", where))
        if project.team not in team_ids:
            raise fail(f"{where} refers to unknown team '{project.team}'")
        projects.append(project)
    project_ids = _unique([p.id for p in projects], "project id", fail)

    people: list[Person] = []
    for i, p in enumerate(items("people")):
        where = f"people[{i}] ({p.get('email')})"
        email = need(p, "email", where).lower()
        team = need(p, "team", where)
        if team not in team_ids:
            raise fail(f"{where} refers to unknown team '{team}'")
        identities = p.get("identities") or {}
        if not isinstance(identities, dict):
            raise fail(f"{where}: 'identities' must be a mapping of tool -> id")
        # GitHub logins are case-insensitive; every other tool's id is kept as written
        people.append(Person(email=email, name=str(p.get("name") or email), team=team,
                             identities={str(k): (str(v).lower() if k == "github" else str(v))
                                         for k, v in identities.items() if v is not None}))
    emails = _unique([p.email for p in people], "person email", fail)
    seen_identities: dict[tuple[str, str], str] = {}
    for person in people:
        for tool, external_id in person.identities.items():
            key = (tool, external_id)
            if key in seen_identities:
                raise fail(f"identity {tool}={external_id} is claimed by both {seen_identities[key]} and {person.email}")
            seen_identities[key] = person.email

    accounts: list[ProviderAccount] = []
    for i, a in enumerate(items("provider_accounts")):
        where = f"provider_accounts[{i}] ({a.get('provider')} {a.get('kind')} {a.get('id')})"
        provider, kind = need(a, "provider", where), need(a, "kind", where)
        if kind not in PROVIDER_ACCOUNT_KINDS.get(provider, {kind}):
            raise fail(f"{where}: kind must be one of {sorted(PROVIDER_ACCOUNT_KINDS[provider])}")
        account = ProviderAccount(
            provider=provider,
            kind=kind,
            id=need(a, "id", where),
            name=a.get("name"),
            project=a.get("project"),
            team=a.get("team"),
            person=str(a["person"]).lower() if a.get("person") else None,
            environment=a.get("environment"),
            use_case=a.get("use_case"),
        )
        if account.project and account.project not in project_ids:
            raise fail(f"{where} refers to unknown project '{account.project}'")
        if account.team and account.team not in team_ids:
            raise fail(f"{where} refers to unknown team '{account.team}'")
        if account.person and account.person not in emails:
            raise fail(f"{where} refers to unknown person '{account.person}'")
        if account.environment and account.environment not in ENVIRONMENTS:
            raise fail(f"{where}: environment must be one of {sorted(ENVIRONMENTS)}")
        if account.use_case and account.use_case not in USE_CASES:
            raise fail(f"{where}: use_case must be one of {sorted(USE_CASES)}")
        accounts.append(account)
    _unique([f"{a.provider}/{a.kind}/{a.id}" for a in accounts], "provider account", fail)

    fixed_costs = [_fixed_cost(c, i, team_ids, fail, need) for i, c in enumerate(items("fixed_costs"))]
    _unique([c.id for c in fixed_costs], "fixed cost id", fail)

    project_teams = {p.id: p.team for p in projects}
    budgets = [_budget(b, i, team_ids, project_teams, fail, need) for i, b in enumerate(items("budgets"))]
    _no_overlapping_budgets(budgets, fail)

    return OrgDirectory(
        organization=str(raw.get("organization") or "My organisation"),
        teams=tuple(teams),
        projects=tuple(projects),
        people=tuple(people),
        provider_accounts=tuple(accounts),
        fixed_costs=tuple(fixed_costs),
        budgets=tuple(budgets),
        source_path=source,
    )


def _fixed_cost(entry: dict[str, Any], i: int, team_ids: set[str], fail, need) -> FixedCost:
    import datetime as dt
    from decimal import Decimal, InvalidOperation

    where = f"fixed_costs[{i}] ({entry.get('id')})"
    kind = need(entry, "kind", where)
    if kind not in FIXED_COST_KINDS:
        raise fail(f"{where}: kind must be one of {sorted(FIXED_COST_KINDS)}")
    provider = need(entry, "provider", where)
    if kind == "seats" and provider not in SEAT_ROSTER_TOOLS:
        raise fail(f"{where}: seats are charged per seat holder, which the warehouse knows for "
                   f"{sorted(SEAT_ROSTER_TOOLS)} only (GitHub Copilot seats come from GitHub's billing)")
    try:
        amount = Decimal(str(need(entry, "usd_per_month", where)))
    except InvalidOperation:
        raise fail(f"{where}: usd_per_month must be a number, not {entry.get('usd_per_month')!r}") from None
    if not amount.is_finite() or amount < 0:
        raise fail(f"{where}: usd_per_month must be a non-negative amount")
    split = entry.get("split")
    if kind == "shared":
        split = str(split or "even")
        if split not in SPLIT_RULES:
            raise fail(f"{where}: split must be one of {sorted(SPLIT_RULES)}")
    elif split:
        raise fail(f"{where}: split applies to shared costs only (a seat is charged to its holder)")
    weights = entry.get("weights") or {}
    if not isinstance(weights, dict):
        raise fail(f"{where}: weights must be a mapping of team -> weight")
    pairs = []
    for team, weight in weights.items():
        if team not in team_ids:
            raise fail(f"{where}: weights refer to unknown team '{team}'")
        try:
            value = Decimal(str(weight))
        except InvalidOperation:
            raise fail(f"{where}: weight of '{team}' must be a number") from None
        if not value.is_finite() or value <= 0:
            raise fail(f"{where}: weight of '{team}' must be positive")
        pairs.append((str(team), str(value)))
    if kind == "shared" and split == "weights" and not pairs:
        raise fail(f"{where}: split 'weights' needs weights per team")
    if kind == "seats" and pairs:
        raise fail(f"{where}: weights apply to shared costs only")
    dates = {}
    for key in ("valid_from", "valid_to"):
        value = entry.get(key)
        if value is not None:
            try:
                dates[key] = (value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))).isoformat()
            except ValueError:
                raise fail(f"{where}: {key} must be a date (YYYY-MM-DD)") from None
    if "valid_from" in dates and "valid_to" in dates and dates["valid_to"] <= dates["valid_from"]:
        raise fail(f"{where}: valid_to must be after valid_from")
    environment = entry.get("environment")
    if environment and environment not in ENVIRONMENTS:
        raise fail(f"{where}: environment must be one of {sorted(ENVIRONMENTS)}")
    return FixedCost(id=need(entry, "id", where), name=str(entry.get("name") or entry["id"]), kind=kind,
                     provider=provider, usd_per_month=str(amount), split=split, weights=tuple(pairs),
                     valid_from=dates.get("valid_from"), valid_to=dates.get("valid_to"), environment=environment)


def _month(value: Any) -> Optional[str]:
    """A month as its first day (YYYY-MM-01), from `2026-11`, or a date that is the first of its month; None if
    neither."""
    import datetime as dt

    if isinstance(value, dt.date):
        return value.isoformat() if value.day == 1 else None
    text = str(value).strip()
    try:
        day = dt.date.fromisoformat(f"{text}-01" if len(text) == 7 else text)
    except ValueError:
        return None
    return day.isoformat() if day.day == 1 else None


def _budget(entry: dict[str, Any], i: int, team_ids: set[str], project_teams: dict[str, str], fail, need) -> Budget:
    from decimal import Decimal, InvalidOperation

    scope = "/".join(str(entry[k]) for k in ("team", "project") if entry.get(k) is not None)
    where = f"budgets[{i}] ({scope or '?'})"
    team = need(entry, "team", where)
    if team not in team_ids:
        raise fail(f"{where} refers to unknown team '{team}'")
    project = entry.get("project")
    if project is not None:
        project = str(project).strip()
        if project not in project_teams:
            raise fail(f"{where} refers to unknown project '{project}'")
        if project_teams[project] != team:
            raise fail(f"{where}: project '{project}' belongs to team '{project_teams[project]}', not '{team}'")
    unknown = sorted(set(entry) - {"team", "project", "usd_per_month", "valid_from", "valid_to"})
    if unknown:
        raise fail(f"{where}: unknown key(s) {unknown} (a budget has team, project, usd_per_month, valid_from, "
                   f"valid_to)")
    raw_amount = need(entry, "usd_per_month", where)
    try:
        amount = Decimal(raw_amount)
    except InvalidOperation:
        raise fail(f"{where}: usd_per_month must be a number, not {entry.get('usd_per_month')!r}") from None
    if not amount.is_finite() or amount <= 0:
        raise fail(f"{where}: usd_per_month must be a positive amount, not {raw_amount}")
    months = {}
    for key in ("valid_from", "valid_to"):
        value = entry.get(key)
        if value is not None:
            months[key] = _month(value)
            if months[key] is None:
                raise fail(f"{where}: {key} must be a month (YYYY-MM), not {value!r}")
    if "valid_from" in months and "valid_to" in months and months["valid_to"] < months["valid_from"]:
        raise fail(f"{where}: valid_to ({months['valid_to'][:7]}) is before valid_from ({months['valid_from'][:7]})")
    return Budget(team=team, project=project, usd_per_month=str(amount), valid_from=months.get("valid_from"),
                  valid_to=months.get("valid_to"))


def _no_overlapping_budgets(budgets: list[Budget], fail) -> None:
    """A team (or a project) has at most one budget in any month: two entries for it must not share a month."""
    def span(b: Budget) -> str:
        return f"{(b.valid_from or '')[:7] or 'always'}..{(b.valid_to or '')[:7] or 'open'}"

    for j, later in enumerate(budgets):
        for i, earlier in enumerate(budgets[:j]):
            if (earlier.team, earlier.project) != (later.team, later.project):
                continue
            earlier_first, earlier_last = earlier.valid_from or "0000", earlier.valid_to or "9999"
            later_first, later_last = later.valid_from or "0000", later.valid_to or "9999"
            if earlier_first <= later_last and later_first <= earlier_last:
                scope = f"project '{later.project}'" if later.project else f"team '{later.team}'"
                raise fail(f"duplicate budget for {scope}: budgets[{j}] ({span(later)}) overlaps budgets[{i}] "
                           f"({span(earlier)}); give each month one budget (set valid_from / valid_to)")


def _unique(values: Iterable[str], what: str, fail) -> set[str]:
    seen: set[str] = set()
    for v in values:
        if v in seen:
            raise fail(f"duplicate {what} '{v}'")
        seen.add(v)
    return seen


def org_directory_source(org_directory_file: Optional[str] = None):
    """The org directory as small tables, replaced on every load (the YAML file is the source of truth)."""
    return _org_directory(load_org_directory(org_directory_file))


def _table(rows: list[dict[str, Any]], *columns: str, key: tuple[str, ...] = ()) -> pa.Table:
    """Rows as an Arrow table of string columns (an empty list still makes the table, so dbt always finds it)."""
    schema = pa.schema([pa.field(c, pa.string(), nullable=c not in key) for c in columns])
    return pa.Table.from_pylist(rows, schema=schema)


@dlt.source(name="org_directory")
def _org_directory(org: OrgDirectory):
    @dlt.resource(name="organization", write_disposition="replace")
    def organization():
        yield _table([{"organization": org.organization}], "organization", key=("organization",))

    @dlt.resource(name="teams", write_disposition="replace")
    def teams():
        yield _table([{"team_id": t.id, "team_name": t.name, "cost_center": t.cost_center} for t in org.teams],
                     "team_id", "team_name", "cost_center", key=("team_id",))

    @dlt.resource(name="team_repositories", write_disposition="replace")
    def team_repositories():
        yield _table([{"repository": r, "team_id": t.id} for t in org.teams for r in t.repositories],
                     "repository", "team_id", key=("repository", "team_id"))

    @dlt.resource(name="team_jira_projects", write_disposition="replace")
    def team_jira_projects():
        yield _table([{"jira_project_key": k, "team_id": t.id} for t in org.teams for k in t.jira_projects],
                     "jira_project_key", "team_id", key=("jira_project_key", "team_id"))

    @dlt.resource(name="projects", write_disposition="replace")
    def projects():
        yield _table([{"project_id": p.id, "project_name": p.name, "team_id": p.team} for p in org.projects],
                     "project_id", "project_name", "team_id", key=("project_id", "team_id"))

    @dlt.resource(name="people", write_disposition="replace")
    def people():
        yield _table([{"email": p.email, "full_name": p.name, "team_id": p.team} for p in org.people],
                     "email", "full_name", "team_id", key=("email", "team_id"))

    @dlt.resource(name="identities", write_disposition="replace")
    def identities():
        yield _table([{"email": p.email, "tool": tool, "external_id": external_id}
                      for p in org.people for tool, external_id in sorted(p.identities.items())],
                     "email", "tool", "external_id", key=("email", "tool", "external_id"))

    @dlt.resource(name="provider_accounts", write_disposition="replace")
    def provider_accounts():
        yield _table([
            {
                "provider": a.provider,
                "account_kind": a.kind,
                "account_id": a.id,
                "account_name": a.name,
                "project_id": a.project,
                "team_id": a.team,
                "email": a.person,
                "environment": a.environment,
                "use_case": a.use_case,
            }
            for a in org.provider_accounts
        ], "provider", "account_kind", "account_id", "account_name", "project_id", "team_id", "email", "environment",
            "use_case", key=("provider", "account_kind", "account_id"))

    @dlt.resource(name="fixed_costs", write_disposition="replace")
    def fixed_costs():
        yield _table([
            {"fixed_cost_id": c.id, "fixed_cost_name": c.name, "cost_kind": c.kind, "provider": c.provider,
             "usd_per_month": c.usd_per_month, "split_rule": c.split, "valid_from": c.valid_from,
             "valid_to": c.valid_to, "environment": c.environment}
            for c in org.fixed_costs
        ], "fixed_cost_id", "fixed_cost_name", "cost_kind", "provider", "usd_per_month", "split_rule", "valid_from",
            "valid_to", "environment", key=("fixed_cost_id", "cost_kind", "provider", "usd_per_month"))

    @dlt.resource(name="fixed_cost_weights", write_disposition="replace")
    def fixed_cost_weights():
        yield _table([{"fixed_cost_id": c.id, "team_id": team, "weight": weight}
                      for c in org.fixed_costs for team, weight in c.weights],
                     "fixed_cost_id", "team_id", "weight", key=("fixed_cost_id", "team_id", "weight"))

    @dlt.resource(name="budgets", write_disposition="replace")
    def budgets():
        yield _table([
            {"budget_id": b.id, "team_id": b.team, "project_id": b.project, "usd_per_month": b.usd_per_month,
             "valid_from": b.valid_from, "valid_to": b.valid_to}
            for b in org.budgets
        ], "budget_id", "team_id", "project_id", "usd_per_month", "valid_from", "valid_to",
            key=("budget_id", "team_id", "usd_per_month"))

    return (organization, teams, team_repositories, team_jira_projects, projects, people, identities,
            provider_accounts, fixed_costs, fixed_cost_weights, budgets)
