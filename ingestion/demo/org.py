"""The demo organisation's directory, generated deterministically.

`python -m ingestion.demo.org --developers 50 --out config/demo/org_directory.yml` writes the file the project ships;
the benchmark writes a bigger one to a temporary folder. The YAML is an ordinary org directory: the demo's usage
generator reads it exactly as the pipeline does, then adds a few identifiers that are deliberately missing from it
(an unknown key, an unknown project, an unknown user) so that `unallocated` has something to show.
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import yaml

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

BASE_TEAMS = [
    ("platform", "Platform", ["internal-dev-tools"]),
    ("payments", "Payments", ["checkout-assistant", "fraud-review"]),
    ("search", "Search", ["semantic-search", "query-rewriter"]),
    ("mobile", "Mobile", ["mobile-copilot"]),
    ("data-science", "Data Science", ["forecasting"]),
    ("growth", "Growth", ["support-bot", "marketing-copy"]),
]
JIRA_KEYS = {"platform": "PLAT", "payments": "PAY", "search": "SRCH", "mobile": "MOB", "data-science": "DS",
             "growth": "GRW"}
GITHUB_ORG = "northwind"

# Soft monthly budgets (USD), set from the demo's own spend levels: a 60-day demo run ending 2026-11-28 billed, per
# team, in October (31 days) / at November's run-rate (a 30-day month): platform 2,317 / 2,317, payments 4,519 / 4,391,
# search 2,605 / 2,653, mobile 1,845 / 1,935, data science 1,901 / 1,883, growth 2,997 / 4,064 (the planted silent
# model upgrade moves support-bot's service key from Sonnet to Opus 28..34 days before `today`, for good); projects
# checkout-assistant 570 / 564, forecasting 725 / 737. The budgets put the current month's run-rate at:
#   growth 3,200            -> ~127%: 'over' (above 110%; the upgrade shows in the budget)
#   payments 4,400          -> ~100%: 'watch' (90%..110%, centred: day-to-day noise moves a run-rate by about 5% after
#                              the first week of a month; in its first days, weekends can still move it more)
#   the others at ~1.3-1.4x -> ~70..77%: 'on_track'
# Demo spend grows 0.2% a day (about 3.5% a month at the end of 2026), so the statuses drift over the months: payments
# reaches 'over' in early 2027. The numbered teams of large benchmark organisations (about 50 people each) get a round
# default.
DEMO_BUDGETS = {"platform": 3000, "payments": 4400, "search": 3500, "mobile": 2500, "data-science": 2500,
                "growth": 3200}
DEMO_PROJECT_BUDGETS = [("payments", "checkout-assistant", 800), ("data-science", "forecasting", 1000)]
DEFAULT_TEAM_BUDGET = 12000

FIRST = ["Ana", "Ben", "Chen", "Dana", "Eli", "Fatima", "Gus", "Hana", "Ivan", "Jun", "Kofi", "Lea", "Mateo", "Nia",
         "Omar", "Priya", "Quinn", "Rosa", "Sam", "Tariq", "Uma", "Vik", "Wen", "Xavi", "Yara", "Zoe"]
LAST = ["Silva", "Okafor", "Nguyen", "Kim", "Novak", "Haddad", "Larsen", "Mori", "Petrov", "Ito", "Mensah", "Roux",
        "Garcia", "Bauer", "Shah", "Costa", "Berg", "Ali", "Fischer", "Tanaka"]


def provider_id(prefix: str, *parts: str, length: int = 22) -> str:
    """A stable, realistic-looking id (`apikey_01...`, `wrkspc_01...`, `proj_...`) derived from a name."""
    digest = int.from_bytes(hashlib.sha256("/".join(parts).encode()).digest(), "big")
    chars = []
    for _ in range(length):
        digest, r = divmod(digest, len(_ALPHABET))
        chars.append(_ALPHABET[r])
    return prefix + "".join(chars)


def _teams_for(developers: int) -> list[tuple[str, str, list[str]]]:
    """The six base teams for a small org; large orgs add numbered teams of ~50 so each team stays realistic."""
    teams = list(BASE_TEAMS)
    extra = max(0, developers // 50 - len(teams))
    for i in range(extra):
        slug = f"team-{i + 1:03d}"
        teams.append((slug, f"Team {i + 1:03d}", [f"{slug}-app", f"{slug}-service"]))
    return teams


def build_demo_org(developers: int = 50, seed: int = 7) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    teams = _teams_for(developers)
    doc: dict[str, Any] = {
        "organization": "Northwind Robotics (demo)",
        "teams": [{"id": t, "name": n, "cost_center": f"CC-{1000 + i}",
                   "repositories": [f"{GITHUB_ORG}/{p}" for p in projects],
                   "jira_projects": [JIRA_KEYS.get(t, f"T{i:03d}")]}
                  for i, (t, n, projects) in enumerate(teams)],
        "projects": [],
        "people": [],
        "provider_accounts": [],
    }
    accounts = doc["provider_accounts"]
    for team_id, _, projects in teams:
        for project in projects:
            doc["projects"].append({"id": project, "name": project.replace("-", " ").capitalize(), "team": team_id})
            accounts.append({"provider": "anthropic", "kind": "workspace", "id": provider_id("wrkspc_01", project),
                             "name": f"{project}-prod", "project": project, "environment": "prod"})
            accounts.append({"provider": "anthropic", "kind": "api_key", "id": provider_id("apikey_01", project, "prod"),
                             "name": f"{project}-prod-service", "project": project, "environment": "prod",
                             "use_case": "api"})
            accounts.append({"provider": "openai", "kind": "project", "id": provider_id("proj_", project, length=24),
                             "name": project, "project": project, "environment": "prod"})
            accounts.append({"provider": "openai", "kind": "api_key", "id": provider_id("key_", project, length=16),
                             "name": f"{project}-prod-service", "project": project, "environment": "prod",
                             "use_case": "api"})
        accounts.append({"provider": "anthropic", "kind": "workspace", "id": provider_id("wrkspc_01", team_id, "dev"),
                         "name": f"{team_id}-dev", "team": team_id, "environment": "dev"})
    # the OpenAI default project is where people's personal usage lands; it belongs to the platform team
    accounts.append({"provider": "openai", "kind": "project", "id": provider_id("proj_", "default", length=24),
                     "name": "Default project", "team": "platform", "environment": "dev"})

    # people: team sizes follow the team list, names are unique, ~80% use the Claude API, ~70% OpenAI
    team_ids = [t for t, _, _ in teams]
    sizes = np.full(len(team_ids), developers // len(team_ids))
    sizes[: developers - sizes.sum()] += 1
    used: set[str] = set()
    index = 0
    for team_id, size in zip(team_ids, sizes):
        for _ in range(int(size)):
            first, last = FIRST[index % len(FIRST)], LAST[(index // len(FIRST) + index) % len(LAST)]
            handle = f"{first}.{last}".lower()
            n = 2
            while handle in used:
                handle, n = f"{first}.{last}{n}".lower(), n + 1
            used.add(handle)
            email = f"{handle}@northwind.example"
            person: dict[str, Any] = {"email": email, "name": f"{first} {last}", "team": team_id, "identities": {}}
            if rng.random() < 0.7:
                person["identities"]["openai"] = provider_id("user-", email, length=24)
            # most engineers are mapped in GitHub and Jira; the rest show up as unallocated output
            if rng.random() < 0.92:
                person["identities"]["github"] = handle.replace(".", "-")
            if rng.random() < 0.9:
                person["identities"]["jira"] = provider_id("", "jira", email, length=24)
            if rng.random() < 0.8:
                accounts.append({"provider": "anthropic", "kind": "api_key", "id": provider_id("apikey_01", email),
                                 "name": f"{handle}-dev", "person": email, "environment": "dev", "use_case": "api"})
            if not person["identities"]:
                del person["identities"]
            doc["people"].append(person)
            index += 1
    # costs no usage API reports: Cursor's seat fee (per member, per day), and three shared costs, one per split rule
    doc["fixed_costs"] = [
        {"id": "cursor-seats", "name": "Cursor Teams seats", "kind": "seats", "provider": "cursor",
         "usd_per_month": 40},
        {"id": "ai-gateway", "name": "AI gateway hosting", "kind": "shared", "provider": "ai_gateway",
         "usd_per_month": 620, "split": "proportional", "environment": "prod"},
        {"id": "vector-db", "name": "Vector database", "kind": "shared", "provider": "vector_db",
         "usd_per_month": 450, "split": "weights",
         "weights": {t: w for t, w in zip(team_ids, [1, 1, 3, 1, 2, 1])}, "environment": "prod"},
        {"id": "code-review-bot", "name": "AI code review licence", "kind": "shared", "provider": "code_review_bot",
         "usd_per_month": 300, "split": "even", "environment": "dev"},
    ]
    # soft budgets (see DEMO_BUDGETS): one per team, and two projects'
    doc["budgets"] = [{"team": t, "usd_per_month": DEMO_BUDGETS.get(t, DEFAULT_TEAM_BUDGET)} for t in team_ids]
    doc["budgets"] += [{"team": t, "project": p, "usd_per_month": amount} for t, p, amount in DEMO_PROJECT_BUDGETS
                       if t in team_ids]
    return doc


def write_demo_org(path: Path, developers: int = 50, seed: int = 7) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    header = (
        "# The demo organisation's directory (generated by `python -m ingestion.demo.org`).\n"
        "# Your own file has the same shape: see README.md, 'Your org directory'.\n"
    )
    path.write_text(header + yaml.safe_dump(build_demo_org(developers, seed), sort_keys=False, width=120))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--developers", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    print(write_demo_org(args.out, args.developers, args.seed))


if __name__ == "__main__":
    main()
