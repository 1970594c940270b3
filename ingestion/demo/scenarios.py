"""The anomalies the demo organisation plants on purpose, on known days relative to the demo's `today`.

This module is the single source of truth for them: the generators read their days and their entities from here
(`scenario_days`, `upgraded_key`, `scenario_users`), and `planted_scenarios(world)` lists them the way the anomaly
mart (`marts.fct_cost_anomalies`) names a finding (rule, entity type and id, team, day), for the recall test and
the README. `python -m ingestion.demo.scenarios` prints them for today.

The four scenarios of the mission, each on its own weekday, between 7 and 34 days before `today` (so a 90-day run
has at least 28 ordinary days before each of them, and none is on `today`):

* silent model upgrade (a Tuesday 28..34 days back): from that day one project's Anthropic service key sends its
  Sonnet traffic to Opus (a default model changed in a deploy nobody announced). The usage report says so; the cost
  report, derived from the usage as always, follows: the key's spend jumps about 3.5x, for good.
* runaway retry workflow (a Thursday 21..27 days back): a developer's Claude Code session re-sends the same request
  in a loop, 150 near-identical requests (input tokens within 1%) in under 10 minutes, then hits the rate limit:
  8 `api_error` retries (HTTP 429) in a row.
* forgotten Friday agent (a Friday 14..20 days back): the power user who works late on Fridays leaves an Opus agent
  running from Friday 17:30 into Sunday afternoon: about 45 hours, ~580 requests, ~$90. On every other Friday the
  same person's late session stays short (22:00 to about 01:00, under 4 hours: below the rule's threshold).
* context-bloat session (a Wednesday 7..13 days back): a developer reads file after file into one Claude Code
  session and never compacts: the context grows every turn (to ~600k tokens, Sonnet's long-context tier) until the
  last turn costs more than 8x the first.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Optional

if TYPE_CHECKING:  # the generators import this module: no import of them at module level
    from ingestion.demo.generator import DemoWorld
    from ingestion.org_directory import OrgDirectory, ProviderAccount

FORGOTTEN_AGENT = "forgotten_friday_agent"
SILENT_MODEL_UPGRADE = "silent_model_upgrade"
CONTEXT_BLOAT = "context_bloat_session"
RUNAWAY_RETRIES = "runaway_retry_workflow"

UPGRADED_PROJECT = "support-bot"  # the project whose service key is upgraded (else the first project key by id)
UPGRADE_FROM_MODEL = "claude-sonnet-4-5-20250929"
UPGRADE_TO_MODEL = "claude-opus-4-1-20250805"
BASELINE_DAYS = 28  # the anomaly rules' trailing baseline (dbt var anomaly_baseline_days)

# (weekday, the fewest days before today): the scenario is on the latest such weekday at least that many days back
_WHEN = {
    SILENT_MODEL_UPGRADE: (1, 28),  # a Tuesday, 28..34 days before today
    RUNAWAY_RETRIES: (3, 21),  # a Thursday, 21..27 days before today
    FORGOTTEN_AGENT: (4, 14),  # a Friday, 14..20 days before today (its Sunday: 12..18)
    CONTEXT_BLOAT: (2, 7),  # a Wednesday, 7..13 days before today
}


@dataclass(frozen=True)
class ScenarioDays:
    model_upgrade: dt.date
    retry_storm: dt.date
    forgotten_agent: dt.date
    context_bloat: dt.date


def _latest_weekday(today: dt.date, weekday: int, days_back: int) -> dt.date:
    day = today - dt.timedelta(days=days_back)
    return day - dt.timedelta(days=(day.weekday() - weekday) % 7)


def scenario_days(today: dt.date) -> ScenarioDays:
    """The planted days for a demo whose data ends the day before `today`."""
    when = {name: _latest_weekday(today, *spec) for name, spec in _WHEN.items()}
    return ScenarioDays(model_upgrade=when[SILENT_MODEL_UPGRADE], retry_storm=when[RUNAWAY_RETRIES],
                        forgotten_agent=when[FORGOTTEN_AGENT], context_bloat=when[CONTEXT_BLOAT])


def upgraded_key(org: "OrgDirectory") -> Optional["ProviderAccount"]:
    """The Anthropic service key whose default model is silently upgraded (None if the directory has no project key)."""
    keys = sorted((a for a in org.accounts("anthropic", "api_key") if a.project), key=lambda a: a.id)
    return next((k for k in keys if k.project == UPGRADED_PROJECT), keys[0] if keys else None)


def scenario_users(users) -> dict[str, object]:
    """Who the Claude Code scenarios happen to, from the telemetry's users (`CodeUser`s in index order): the forgotten
    agent is the first power user's (the one who works late on Fridays); the retry storm and the context bloat go to
    directory people who are not power users, on two other teams (fewer people: whoever is left)."""
    people = [u for u in users if u.team]
    power = next((u for u in people if u.power), people[0] if people else None)
    chosen = {FORGOTTEN_AGENT: power}
    taken_teams = {power.team} if power else set()
    for name in (CONTEXT_BLOAT, RUNAWAY_RETRIES):
        pick = (next((u for u in people if not u.power and u.team not in taken_teams), None)
                or next((u for u in people if u not in chosen.values()), None) or power)
        chosen[name] = pick
        if pick is not None:
            taken_teams.add(pick.team)
    return chosen


@dataclass(frozen=True)
class PlantedScenario:
    """One planted anomaly, named as the anomaly mart names a finding."""

    name: str  # the scenario (FORGOTTEN_AGENT, ...)
    rule: str  # the rule that must find it (fct_cost_anomalies.rule)
    entity_type: str  # 'session' or 'api_key'
    entity_id: str  # the session id, or the API key id
    day: dt.date  # the planted day: the finding's period must cover it
    team_id: str
    description: str
    person_email: Optional[str] = None  # whose session it is
    last_day: Optional[dt.date] = None  # the last day the scenario touches (the forgotten agent's Sunday)
    entity_aliases: tuple[str, ...] = ()  # other names of the entity (an API key's name)
    # findings of any rule about these entities (or their parts: '<entity>/<model>', '<email>/claude_code') from `day`
    # to `effects_until` are the scenario's consequences, not noise: the session and its person over the session's
    # days; the upgraded key and its team for the 28 days a baseline needs to absorb a change that stays
    related_entities: tuple[str, ...] = ()
    effects_until: Optional[dt.date] = None


def planted_scenarios(world: "DemoWorld") -> list[PlantedScenario]:
    """The scenarios planted in `world` (the days depend on `world.today`), found from the generators' own output."""
    from ingestion.demo.telemetry import demo_telemetry

    days = scenario_days(world.today)
    out: list[PlantedScenario] = []
    key = upgraded_key(world.org)
    if key is not None:
        team = next((p.team for p in world.org.projects if p.id == key.project), key.team or "unallocated")
        aliases = tuple(a for a in (key.name, f"service:{key.name}") if a)
        out.append(PlantedScenario(
            SILENT_MODEL_UPGRADE, "model_share_jump", "api_key", key.id, days.model_upgrade, team,
            f"From {days.model_upgrade:%a %b %d} the {key.project} service key ({key.name}) sends its Sonnet traffic "
            f"to Opus: a default-model change nobody announced; the key's daily spend jumps about 3.5x.",
            entity_aliases=aliases, related_entities=(key.id, *aliases, team),
            effects_until=days.model_upgrade + dt.timedelta(days=BASELINE_DAYS)))
    telemetry = demo_telemetry(world)
    sessions = telemetry.planted_sessions()
    texts = {
        FORGOTTEN_AGENT: ("forgotten_agent", "{who}'s Opus agent, started Friday {day:%b %d} 17:30 UTC, keeps running "
                                             "into Sunday: {hours:.0f} hours, {requests} requests, ${cost:,.0f}."),
        RUNAWAY_RETRIES: ("retry_loop", "{who}'s session re-sends the same request in a loop on {day:%a %b %d}: "
                                        "{burst} near-identical requests within 10 minutes, then {errors} "
                                        "rate-limit retries in a row."),
        CONTEXT_BLOAT: ("context_bloat", "{who}'s session on {day:%a %b %d} never compacts: the context grows every "
                                         "turn and the last turn costs {ratio:.0f}x the first."),
    }
    for name in (RUNAWAY_RETRIES, FORGOTTEN_AGENT, CONTEXT_BLOAT):
        if name not in sessions:
            continue
        user, records = sessions[name]
        stats = session_stats(records)
        rule, text = texts[name]
        start_day, end_day = stats["start_day"], stats["end_day"]
        session_id = records[0]["attributes"]["session.id"]
        out.append(PlantedScenario(
            name, rule, "session", session_id, start_day, user.team or "unallocated",
            text.format(who=user.email, day=start_day, **stats), person_email=user.email,
            last_day=end_day if end_day != start_day else None, related_entities=(session_id, user.email),
            effects_until=end_day))
    return sorted(out, key=lambda s: s.day)


def session_stats(records) -> dict:
    """Figures of one Claude Code session from its records (time in ms, event name, attributes)."""
    requests = [r for r in records if r["name"] == "api_request"]
    turns: dict[str, float] = {}
    for r in requests:
        turns[r["attributes"]["prompt.id"]] = turns.get(r["attributes"]["prompt.id"], 0.0) + r["attributes"]["cost_usd"]
    costs = list(turns.values())  # turns in order of their first request
    epoch = dt.date(1970, 1, 1)
    return {
        "hours": (records[-1]["time_ms"] - records[0]["time_ms"]) / 3_600_000,
        "requests": len(requests),
        "burst": max((sum(1 for b in requests[i:] if b["time_ms"] - a["time_ms"] <= 600_000)
                      for i, a in enumerate(requests)), default=0),
        "errors": sum(1 for r in records if r["name"] == "api_error"),
        "cost": sum(costs),
        "ratio": costs[-1] / costs[0] if costs and costs[0] else 0.0,
        "start_day": epoch + dt.timedelta(days=records[0]["time_ms"] // 86_400_000),
        "end_day": epoch + dt.timedelta(days=records[-1]["time_ms"] // 86_400_000),
    }


def main() -> None:
    import argparse

    from ingestion._common import today_utc
    from ingestion.demo.generator import DemoWorld
    from ingestion.org_directory import default_org_directory_path, load_org_directory

    parser = argparse.ArgumentParser(description="The demo's planted anomalies for a given today.")
    parser.add_argument("--today", default=None, help="YYYY-MM-DD (default: FINOPS_TODAY, else today, UTC)")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    today = dt.date.fromisoformat(args.today) if args.today else today_utc()
    world = DemoWorld(load_org_directory(default_org_directory_path()), seed=args.seed, today=today)
    print(f"| scenario | day (today {today}) | rule | entity | team | what happens |")
    print("|---|---|---|---|---|---|")
    for s in planted_scenarios(world):
        print(f"| {s.name} | {s.day} ({(today - s.day).days} days back) | {s.rule} | {s.entity_type} "
              f"`{s.entity_id}` | {s.team_id} | {s.description} |")


if __name__ == "__main__":
    main()
