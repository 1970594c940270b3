"""The demo organisation's Claude Code Analytics report (`/v1/organizations/usage_report/claude_code`), one UTC day
at a time, consistent with the demo's Claude Code OpenTelemetry sessions (`ingestion/demo/telemetry.py`).

A `user_actor` record per user and day with any Claude Code event that day (the directory's Claude Code users and
the contractor the directory does not know):

* `num_sessions`: distinct `session.id`s with an event on the day (a session running past midnight, like Friday's
  late session or the forgotten agent that runs into Sunday, counts on every day it touches), `terminal_type` the
  user's terminal, as in the telemetry;
* `model_breakdown`: per model, the day's `api_request` events summed: `input_tokens`, `output_tokens`,
  `cache_read_tokens`, `cache_creation_tokens`, and `cost_usd` as **cents** (a JSON number, to 1e-5 cents);
* lines of code, commits, pull requests and tool actions (accepted / rejected) are not in the telemetry: they are
  drawn from a generator seeded by (seed, user, day), scaled by the day's requests and sessions.

Plus an `api_actor`: a project's service key running Claude Code headless in CI on most weekdays (no telemetry:
its numbers are drawn per day; edits in headless mode are never rejected), so both actor types are served.

The organisation bills Claude Code through the API (`customer_type` `api`, `subscription_type` null). `date` is
sent as the documented example does (`YYYY-MM-DDT00:00:00Z`). Records are ordered by actor, so pages are stable.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import lru_cache
from typing import Any, Optional

import numpy as np

from ingestion.demo.generator import DemoWorld
from ingestion.demo.telemetry import SONNET, DemoTelemetry, claude_cost, demo_telemetry

CENT_PLACES = Decimal("0.00001")
CI_TERMINAL = "non-interactive"
NOTEBOOK_TEAMS = {"data-science"}  # the teams that edit notebooks with Claude Code


def _cents(usd: Decimal) -> float:
    """Dollars -> cents as the JSON number the API sends (exact to 1e-5 cents: the float's repr round-trips)."""
    return float((usd * 100).quantize(CENT_PLACES))


class DemoClaudeCodeAnalytics:
    """The report's records for any day before `world.today` (none from today on: the demo has whole days only)."""

    def __init__(self, world: DemoWorld, telemetry: Optional[DemoTelemetry] = None) -> None:
        self.world = world
        self.telemetry = telemetry or demo_telemetry(world)
        keys = sorted((a for a in world.org.accounts("anthropic", "api_key") if a.project),
                      key=lambda a: (a.name or a.id))
        self.ci_key = keys[0] if keys else None
        teams = {p.email: p.team for p in world.org.people}
        self.teams = {u.email: teams.get(u.email) for u in self.telemetry.users}

    @lru_cache(maxsize=64)
    def records(self, day: dt.date) -> tuple[dict[str, Any], ...]:
        if day >= self.world.today:
            return ()
        out = [self._user_record(day, email, activity) for email, activity in sorted(self._telemetry_day(day).items())]
        ci = self._ci_record(day)
        if ci is not None:
            out.append(ci)
        return tuple(out)

    def _telemetry_day(self, day: dt.date) -> dict[str, dict[str, Any]]:
        """Per user: the terminal, session ids, request count and per-model sums of the events on `day` (UTC)."""
        users: dict[str, dict[str, Any]] = {}
        # every event of the day, whenever its session started (an agent left running may reach into Sunday)
        for user, event in self.telemetry.events_on(day):
            attrs = event["attributes"]
            acc = users.setdefault(user.email, {"index": user.index, "terminal": user.terminal,
                                                "sessions": set(), "requests": 0, "models": {}})
            acc["sessions"].add(attrs["session.id"])
            if event["name"] != "api_request":
                continue
            acc["requests"] += 1
            m = acc["models"].setdefault(attrs["model"], [0, 0, 0, 0, Decimal(0)])
            m[0] += attrs["input_tokens"]
            m[1] += attrs["output_tokens"]
            m[2] += attrs["cache_read_tokens"]
            m[3] += attrs["cache_creation_tokens"]
            m[4] += Decimal(repr(attrs["cost_usd"]))
        return users

    def _record(self, day: dt.date, actor: dict[str, str], terminal: str, core: dict[str, Any],
                tools: dict[str, dict[str, int]], models: dict[str, list]) -> dict[str, Any]:
        return {
            "actor": actor,
            "core_metrics": core,
            "customer_type": "api",
            "date": f"{day.isoformat()}T00:00:00Z",
            "model_breakdown": [
                {"estimated_cost": {"amount": _cents(m[4]), "currency": "USD"}, "model": model,
                 "tokens": {"cache_creation": m[3], "cache_read": m[2], "input": m[0], "output": m[1]}}
                for model, m in sorted(models.items())],
            "organization_id": self.telemetry.organization_id,
            "terminal_type": terminal,
            "tool_actions": tools,
            "subscription_type": None,
        }

    def _user_record(self, day: dt.date, email: str, activity: dict[str, Any]) -> dict[str, Any]:
        rng = np.random.default_rng([self.world.seed, 54, day.toordinal(), activity["index"]])
        requests, sessions = activity["requests"], len(activity["sessions"])
        tools = {}
        for tool, per_request, reject in (("edit_tool", 0.35, 0.12), ("multi_edit_tool", 0.10, 0.10),
                                          ("write_tool", 0.05, 0.05), ("notebook_edit_tool", 0.05, 0.20)):
            if tool == "notebook_edit_tool" and self.teams.get(email) not in NOTEBOOK_TEAMS:
                continue
            proposed = int(rng.poisson(per_request * requests))
            rejected = int(rng.binomial(proposed, reject))
            tools[tool] = {"accepted": proposed - rejected, "rejected": rejected}
        accepted = {t: v["accepted"] for t, v in tools.items()}
        added = int(rng.poisson(14 * accepted["edit_tool"] + 30 * accepted["multi_edit_tool"]
                                + 60 * accepted["write_tool"] + 8 * accepted.get("notebook_edit_tool", 0)))
        commits = int(rng.poisson(0.7 * sessions))
        core = {"commits_by_claude_code": commits,
                "lines_of_code": {"added": added, "removed": int(rng.poisson(0.35 * added))},
                "num_sessions": sessions,
                "pull_requests_by_claude_code": int(rng.binomial(commits, 0.3))}
        return self._record(day, {"email_address": email, "type": "user_actor"}, activity["terminal"], core, tools,
                            activity["models"])

    def _ci_record(self, day: dt.date) -> Optional[dict[str, Any]]:
        """The CI key's headless runs: a few a weekday, rarely at weekends; sonnet only, drawn per day."""
        if self.ci_key is None:
            return None
        rng = np.random.default_rng([self.world.seed, 55, day.toordinal()])
        runs = int(rng.poisson(0.4 if day.weekday() >= 5 else 5.0))
        if runs == 0:
            return None
        requests = int(sum(rng.integers(6, 30, runs)))
        input_tokens = int(rng.integers(3, 40) * requests)
        output_tokens = int(rng.lognormal(5.8, 0.3) * requests)
        cache_write = int(14_000 * runs + rng.integers(500, 4_000) * requests)
        cache_read = int(rng.integers(20_000, 60_000) * requests)
        cost = Decimal(repr(claude_cost(SONNET, input_tokens, output_tokens, cache_read, cache_write)))
        edits = int(rng.poisson(2.0 * runs))
        writes = int(rng.poisson(0.5 * runs))
        pull_requests = int(rng.binomial(runs, 0.4))
        added = int(rng.poisson(20 * edits + 50 * writes))
        core = {"commits_by_claude_code": pull_requests + int(rng.poisson(0.5 * runs)),
                "lines_of_code": {"added": added, "removed": int(rng.poisson(0.3 * added))},
                "num_sessions": runs,
                "pull_requests_by_claude_code": pull_requests}
        tools = {"edit_tool": {"accepted": edits, "rejected": 0}, "write_tool": {"accepted": writes, "rejected": 0}}
        return self._record(day, {"api_key_name": self.ci_key.name or self.ci_key.id, "type": "api_actor"},
                            CI_TERMINAL, core, tools,
                            {SONNET: [input_tokens, output_tokens, cache_read, cache_write, cost]})


@lru_cache(maxsize=4)
def claude_code_analytics(world: DemoWorld) -> DemoClaudeCodeAnalytics:
    return DemoClaudeCodeAnalytics(world)
