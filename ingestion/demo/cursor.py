"""The demo organisation's Cursor team: members, per-request usage events, daily usage rows and the month's spend.

Built from the same `DemoWorld` as the Anthropic and OpenAI demo (its people, weights and power users), so one
person is heavy everywhere. A subset of the directory uses Cursor (every power user, about 60% of the rest), plus a
contractor the directory does not know (unallocated downstream) and a removed member with no recent usage.

Every day is drawn from a generator seeded by (seed, 40, day): the same day always has the same events whichever
window asks for it. Events carry what the Admin API documents (`timestamp` as an epoch-millisecond *string*,
`tokenUsage` only on token-based calls, `totalCents` a float in cents) plus `isChargeable` (a newer, unverified
field). Each member's month starts inside the plan's included usage (`Included in Business`); once their month's
cents pass `INCLUDED_CENTS_PER_MONTH`, further events are `Usage-based` and count in `/teams/spend`.

Volumes stay modest: a weekday is a few to ~200 events per active member (power users most), weekends a tenth.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Optional

import numpy as np

from ingestion.demo.generator import DemoWorld

# USD per million tokens: input, output, cache write, cache read (hand-written, list-price-like)
CURSOR_MODEL_PRICES: dict[str, tuple[float, float, float, float]] = {
    "claude-4.5-sonnet": (3.0, 15.0, 3.75, 0.30),
    "claude-4.1-opus": (15.0, 75.0, 18.75, 1.50),
    "gpt-5": (1.25, 10.0, 1.25, 0.125),
    "auto": (1.25, 6.0, 1.25, 0.25),
    "composer-1": (1.25, 10.0, 1.25, 0.125),  # Cursor's own model: no public price list we load knows it
}
MODELS = tuple(CURSOR_MODEL_PRICES)
MIX_POWER = np.array([0.40, 0.20, 0.15, 0.15, 0.10])  # in MODELS order
MIX_OTHER = np.array([0.35, 0.00, 0.15, 0.35, 0.15])
# (mean uncached input, mean output) tokens per request, per model
SHAPES = {"claude-4.5-sonnet": (4000, 900), "claude-4.1-opus": (5000, 1100), "gpt-5": (3500, 1200),
          "auto": (2500, 600), "composer-1": (3000, 800)}
MAX_MODE_SURCHARGE = 1.2  # Max mode bills 20% over the model's token price
INCLUDED_CENTS_PER_MONTH = 2000  # the plan's included usage per member and month
NON_TOKEN_SHARE = 0.03  # request-based calls: no tokenUsage, requestsCosts only
CONTRACTOR_EMAIL = "contractor.cursor@agency.example"  # not in the org directory
REMOVED_EMAIL = "former.engineer@northwind.example"  # removed from the team, no usage in any recent window
WORKDAY_START_MS, WORKDAY_SPAN_MS = 7 * 3_600_000, 13 * 3_600_000  # events between 07:00 and 20:00 UTC
DAY_MS = 86_400_000
EXTENSIONS = {"data-science": ".py", "mobile": ".kt", "platform": ".go"}


def epoch_ms(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.timezone.utc).timestamp()) * 1000


@dataclass(frozen=True)
class CursorMember:
    member_id: int
    email: str
    name: str
    role: str
    team: Optional[str]
    power: bool
    rate: float  # events per weekday
    is_removed: bool = False


class DemoCursorTeam:
    """The demo Cursor team for a `DemoWorld` (same seed, same `today`: data exists for whole days before it)."""

    def __init__(self, world: DemoWorld) -> None:
        self.world = world
        self.seed = world.seed
        self.today = world.today
        rng = np.random.default_rng([world.seed, 40])
        people = sorted(world.org.people, key=lambda p: p.email)
        members: list[CursorMember] = []
        owner_given = False
        for person in people:
            power = person.email in world.power_users
            draw = rng.random()  # drawn for everyone, so one person's choice never shifts another's
            if not power and draw >= 0.6:
                continue
            weight = world.weights.get(person.email, 1.0)
            rate = float(np.clip(25 * weight * (1.5 if power else 1.0), 3, 180))
            role = "member"
            if not owner_given and person.team == "platform":
                role, owner_given = "owner", True
            members.append(CursorMember(0, person.email, person.name, role, person.team, power, rate))
        members.append(CursorMember(0, CONTRACTOR_EMAIL, "Agency Contractor", "member", None, False, 20.0))
        members.append(CursorMember(0, REMOVED_EMAIL, "Former Engineer", "member", None, False, 0.0, is_removed=True))
        self.members = tuple(
            CursorMember(41_000 + i, m.email, m.name, m.role, m.team, m.power, m.rate, m.is_removed)
            for i, m in enumerate(sorted(members, key=lambda m: m.email)))
        self.active = tuple(m for m in self.members if not m.is_removed)

    def has_data(self, day: dt.date) -> bool:
        return day < self.today

    # ------------------------------------------------------------------------------------------ raw draws
    @lru_cache(maxsize=64)
    def _draw(self, day: dt.date) -> tuple[tuple, ...]:
        """The day's calls, kind not yet decided: (email, ms, model, max_mode, token_based, in, out, cw, cr, cents)."""
        if not self.has_data(day):
            return ()
        rng = np.random.default_rng([self.seed, 40, day.toordinal()])
        weekend = day.weekday() >= 5
        start = epoch_ms(day) + WORKDAY_START_MS
        calls = []
        for m in self.active:
            n = int(rng.poisson(m.rate * (0.1 if weekend else 1.0)))
            if n == 0:
                continue
            offsets = np.sort(rng.integers(0, WORKDAY_SPAN_MS - n, n)) + np.arange(n)  # distinct, ascending
            models = rng.choice(len(MODELS), n, p=MIX_POWER if m.power else MIX_OTHER)
            max_mode = rng.random(n) < np.where(models == 1, 0.9, 0.08)
            token_based = rng.random(n) >= NON_TOKEN_SHARE
            noise_in, noise_out = rng.lognormal(0.0, 0.6, n), rng.lognormal(0.0, 0.5, n)
            cache_read_ratio, cache_write_ratio = rng.uniform(1.0, 8.0, n), rng.uniform(0.05, 0.6, n)
            for j in range(n):
                model = MODELS[int(models[j])]
                mean_in, mean_out = SHAPES[model]
                tokens_in = max(1, int(round(mean_in * noise_in[j])))
                tokens_out = max(1, int(round(mean_out * noise_out[j])))
                cache_read = int(round(tokens_in * cache_read_ratio[j]))
                cache_write = int(round(tokens_in * cache_write_ratio[j]))
                p_in, p_out, p_cw, p_cr = CURSOR_MODEL_PRICES[model]
                usd = (tokens_in * p_in + tokens_out * p_out + cache_write * p_cw + cache_read * p_cr) / 1e6
                cents = round(usd * 100 * (MAX_MODE_SURCHARGE if max_mode[j] else 1.0), 5)
                calls.append((m.email, start + int(offsets[j]), model, bool(max_mode[j]), bool(token_based[j]),
                              tokens_in, tokens_out, cache_write, cache_read, cents))
        return tuple(calls)

    @lru_cache(maxsize=64)
    def _spent_before(self, day: dt.date) -> dict[str, float]:
        """Each member's token-based cents in `day`'s month before `day` (what decides included vs usage-based)."""
        if day.day == 1:
            return {}
        previous = day - dt.timedelta(days=1)
        spent = dict(self._spent_before(previous))
        for call in self._draw(previous):
            if call[4]:
                spent[call[0]] = spent.get(call[0], 0.0) + call[9]
        return spent

    # --------------------------------------------------------------------------------------- API records
    @lru_cache(maxsize=64)
    def events(self, day: dt.date) -> tuple[dict[str, Any], ...]:
        """The day's usage events in the Admin API's shape, newest first (as the API lists them)."""
        spent = dict(self._spent_before(day))
        out = []
        for email, ms, model, max_mode, token_based, tin, tout, cw, cr, cents in sorted(
                self._draw(day), key=lambda c: (c[0], c[1])):
            event: dict[str, Any] = {"timestamp": str(ms), "model": model}
            if token_based:
                usage_based = spent.get(email, 0.0) >= INCLUDED_CENTS_PER_MONTH
                spent[email] = spent.get(email, 0.0) + cents
                event.update({
                    "kind": "Usage-based" if usage_based else "Included in Business",
                    "maxMode": max_mode,
                    "requestsCosts": round(cents / 4, 2),
                    "isTokenBasedCall": True,
                    "tokenUsage": {"inputTokens": tin, "outputTokens": tout, "cacheWriteTokens": cw,
                                   "cacheReadTokens": cr, "totalCents": cents},
                    "isChargeable": usage_based,
                })
            else:
                event.update({"kind": "Included in Business", "maxMode": max_mode, "requestsCosts": 1,
                              "isTokenBasedCall": False, "isChargeable": False})
            event.update({"isFreeBugbot": False, "userEmail": email})
            out.append(event)
        out.sort(key=lambda e: int(e["timestamp"]), reverse=True)
        return tuple(out)

    def events_between(self, start_ms: int, end_ms: int) -> list[dict[str, Any]]:
        """Events with start_ms <= timestamp <= end_ms, newest first."""
        first = dt.datetime.fromtimestamp(start_ms / 1000, dt.timezone.utc).date()
        last = dt.datetime.fromtimestamp(end_ms / 1000, dt.timezone.utc).date()
        out = []
        day = last
        while day >= first:
            out += [e for e in self.events(day) if start_ms <= int(e["timestamp"]) <= end_ms]
            day -= dt.timedelta(days=1)
        return out

    @lru_cache(maxsize=64)
    def daily_usage(self, day: dt.date) -> tuple[dict[str, Any], ...]:
        """One row per (not removed) member for `day`, inactive members included, derived from the day's events."""
        if not self.has_data(day):
            return ()
        rng = np.random.default_rng([self.seed, 41, day.toordinal()])
        by_member: dict[str, list[dict[str, Any]]] = {}
        for event in self.events(day):
            by_member.setdefault(event["userEmail"], []).append(event)
        rows = []
        for m in self.active:
            events = by_member.get(m.email, [])
            n = len(events)
            split = rng.multinomial(n, [0.45, 0.25, 0.2, 0.1]) if n else np.zeros(4, dtype=int)
            lines = int(rng.poisson(30 * n)) if n else 0
            deleted = int(rng.poisson(12 * n)) if n else 0
            applies = int(rng.poisson(0.6 * n)) if n else 0
            accepts = int(rng.binomial(applies, 0.8)) if applies else 0
            tabs = int(rng.poisson(9 * n)) if n else 0
            models: dict[str, int] = {}
            for e in events:
                models[e["model"]] = models.get(e["model"], 0) + 1
            extension = EXTENSIONS.get(m.team or "", ".ts")
            rows.append({
                "date": epoch_ms(day),
                "isActive": n > 0,
                "totalLinesAdded": lines,
                "totalLinesDeleted": deleted,
                "acceptedLinesAdded": int(rng.binomial(lines, 0.7)) if lines else 0,
                "acceptedLinesDeleted": int(rng.binomial(deleted, 0.6)) if deleted else 0,
                "totalApplies": applies,
                "totalAccepts": accepts,
                "totalRejects": applies - accepts,
                "totalTabsShown": tabs,
                "totalTabsAccepted": int(rng.binomial(tabs, 0.35)) if tabs else 0,
                "agentRequests": int(split[0]),
                "chatRequests": int(split[1]),
                "composerRequests": int(split[2]),
                "cmdkUsages": int(split[3]),
                "subscriptionIncludedReqs": sum(e["kind"] == "Included in Business" for e in events),
                "apiKeyReqs": 0,
                "usageBasedReqs": sum(e["kind"] == "Usage-based" for e in events),
                "bugbotUsages": 0,
                "mostUsedModel": min(models, key=lambda k: (-models[k], k)) if models else None,
                "applyMostUsedExtension": extension if applies else None,
                "tabMostUsedExtension": extension if tabs else None,
                "clientVersion": f"1.7.{m.member_id % 40}",
                "email": m.email,
            })
        return tuple(rows)

    def cycle_start(self) -> dt.date:
        """The billing cycle the spend endpoint reports: the calendar month of `today`."""
        return self.today.replace(day=1)

    def spend(self) -> list[dict[str, Any]]:
        """`/teams/spend` rows for the current cycle: usage-based cents and token-based calls, month to date."""
        cents: dict[str, float] = {}
        calls: dict[str, int] = {}
        day = self.cycle_start()
        while day < self.today:
            for event in self.events(day):
                email = event["userEmail"]
                if event["kind"] == "Usage-based":
                    cents[email] = cents.get(email, 0.0) + event["tokenUsage"]["totalCents"]
                if event["isTokenBasedCall"]:
                    calls[email] = calls.get(email, 0) + 1
            day += dt.timedelta(days=1)
        return [{"spendCents": int(round(cents.get(m.email, 0.0))), "fastPremiumRequests": calls.get(m.email, 0),
                 "name": m.name, "email": m.email, "role": m.role, "hardLimitOverrideDollars": 200 if m.power else 0}
                for m in self.active]

    def team_members(self) -> list[dict[str, Any]]:
        return [{"id": m.member_id, "name": m.name, "email": m.email, "role": m.role, "isRemoved": m.is_removed}
                for m in self.members]


@lru_cache(maxsize=4)
def cursor_team(world: DemoWorld) -> DemoCursorTeam:
    """One team per demo world (its day caches live as long as the world's)."""
    return DemoCursorTeam(world)
