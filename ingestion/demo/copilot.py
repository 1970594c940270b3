"""The demo organisation's GitHub Copilot: seats, the daily usage-metrics reports, premium requests and billing usage.

Built from the same `DemoWorld` as the other demo providers (its people, weights and power users), so one person is
heavy everywhere. Seats go to every directory person with a GitHub login who is a power user and to about 70% of
the rest, plus a contractor the directory does not know (unallocated downstream). Power users hold `enterprise`
seats (1,000 included premium requests a month), everyone else `business` (300). Two seats are idle on purpose:
one last active 47 days before `today`, one never used; one seat is pending cancellation at the month's end.

Every (person, day) is drawn from a generator seeded by (seed, 50, day, login): the same day always has the same
numbers whichever window asks for it. A person's day is a small cube of (feature, model, language) counts with the
report's field names (`user_initiated_interaction_count`, `code_generation_activity_count`, `loc_added_sum`, ...);
the user report's breakdowns and the organization report are sums of those cubes, so all of them agree.

Premium requests are the chat features' user-initiated interactions times the model's multiplier (0 for the included
`gpt-4.1`, 0.33 for Claude Haiku 4.5, 10 for Claude Opus 4.1), at $0.04 each; each user's month starts inside the
plan's allowance (reported as discount), beyond it the amount is net. Billing usage has a line per plan for the seats
(the month's seat price spread over its days), the premium requests, and an Actions line, as the usage report mixes
every metered product.
"""

from __future__ import annotations

import calendar
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any, Optional

import numpy as np

from ingestion.demo.engineering import _seed
from ingestion.demo.generator import DemoWorld

DEMO_COPILOT_ORG = "northwind"
DEMO_ORGANIZATION_ID = "4210001"
SEAT_PLANS = {"business": Decimal(19), "enterprise": Decimal(39)}  # USD per user and month
SEAT_SKUS = {"business": "Copilot Business", "enterprise": "Copilot Enterprise"}
INCLUDED_PREMIUM_REQUESTS = {"business": Decimal(300), "enterprise": Decimal(1000)}  # per user and month
PREMIUM_REQUEST_PRICE = Decimal("0.04")
PREMIUM_SKU = "Copilot Premium Request"
# the metrics reports' model ids -> (the billing reports' display name, premium request multiplier)
MODELS: dict[str, tuple[str, Decimal]] = {
    "gpt-4.1": ("GPT-4.1", Decimal(0)),
    "claude-sonnet-4.5": ("Claude Sonnet 4.5", Decimal(1)),
    "gpt-5": ("GPT-5", Decimal(1)),
    "claude-opus-4.1": ("Claude Opus 4.1", Decimal(10)),
    "claude-haiku-4.5": ("Claude Haiku 4.5", Decimal("0.33")),
}
CHAT_MODELS = tuple(MODELS)
MIX_POWER = np.array([0.20, 0.40, 0.20, 0.10, 0.10])  # in CHAT_MODELS order
MIX_OTHER = np.array([0.80, 0.20, 0.00, 0.00, 0.00])
COMPLETION_MODEL = "default"
COMPLETION = "code_completion"
AGENT_EDIT = "agent_edit"
# chat features: (interactions per weekday for a weight-1 user, code generations per interaction)
CHAT_FEATURES = {"chat_panel_ask_mode": (3.0, 1.2), "chat_panel_agent_mode": (1.5, 3.0),
                 "chat_panel_edit_mode": (1.0, 2.0), "chat_inline": (1.5, 1.0)}
AGENT_RATE_POWER = 6.0
METRICS = ("user_initiated_interaction_count", "code_generation_activity_count", "code_acceptance_activity_count",
           "loc_suggested_to_add_sum", "loc_suggested_to_delete_sum", "loc_added_sum", "loc_deleted_sum")
LANGUAGES = {"data-science": ("python", "sql"), "mobile": ("kotlin", "swift"), "platform": ("go", "yaml"),
             "search": ("python", "typescript")}
DEFAULT_LANGUAGES = ("typescript", "markdown")
IDES = ("vscode", "vscode", "vscode", "jetbrains", "visualstudio", "neovim")
IDE_VERSIONS = {"vscode": "1.105.1", "jetbrains": "2025.2.4", "visualstudio": "17.14.8", "neovim": "0.11.4"}
PLUGINS = {"vscode": ("copilot-chat", "0.32.4"), "jetbrains": ("copilot-intellij", "1.5.59"),
           "visualstudio": ("copilot-vs", "17.14.1"), "neovim": ("copilot.vim", "1.54.0")}
SEATS_FROM = dt.date(2025, 9, 1)  # seats were handed out over the following 120 days
CONTRACTOR_LOGIN = "agency-contractor-gh"  # holds a seat, unknown to the org directory
IDLE_DAYS = 47
ACTIONS_MINUTES_PER_WEEKDAY = 900
ACTIONS_PRICE = Decimal("0.008")


def _f(value: Decimal, places: int = 6) -> float:
    """A Decimal as the API's JSON float, rounded so its repr is exact."""
    return float(round(value, places))


@dataclass(frozen=True)
class Seat:
    login: str
    user_id: int
    email: Optional[str]  # None: the directory does not know this login
    team: Optional[str]
    team_name: Optional[str]
    plan: str
    power: bool
    weight: float
    created: dt.date
    ide: str
    languages: tuple[str, str]
    active_until: Optional[dt.date] = None  # idle seats: no activity after this day (None: never any)
    never_active: bool = False
    pending_cancellation: Optional[dt.date] = None


class DemoCopilotOrg:
    """The demo Copilot organisation for a `DemoWorld` (same seed, same `today`: data for whole days before it)."""

    def __init__(self, world: DemoWorld, org: str = DEMO_COPILOT_ORG) -> None:
        self.world = world
        self.org = org
        self.seed = world.seed
        self.today = world.today
        rng = np.random.default_rng([world.seed, 50])
        teams = {t.id: t.name for t in world.org.teams}
        seats: list[Seat] = []
        for person in sorted(world.org.people, key=lambda p: p.email):
            login = person.identities.get("github")
            draws = rng.random(3)  # drawn for everyone, so one person's choice never shifts another's
            if not login:
                continue
            power = person.email in world.power_users
            if not power and draws[0] >= 0.7:
                continue
            seats.append(Seat(
                login=login.lower(), user_id=_seed("user", login.lower()) % 10**8, email=person.email,
                team=person.team, team_name=teams.get(person.team), plan="enterprise" if power else "business",
                power=power, weight=float(np.clip(world.weights.get(person.email, 1.0), 0.3, 4.0)),
                created=SEATS_FROM + dt.timedelta(days=int(draws[1] * 120)),
                ide=IDES[int(draws[2] * len(IDES))], languages=LANGUAGES.get(person.team, DEFAULT_LANGUAGES)))
        seats.append(Seat(CONTRACTOR_LOGIN, _seed("user", CONTRACTOR_LOGIN) % 10**8, None, None, None, "business",
                          False, 1.0, SEATS_FROM + dt.timedelta(days=30), "vscode", DEFAULT_LANGUAGES))
        # the idle seats and the cancellation: the first non-power seat holders of the directory, by login
        ordinary = sorted(s.login for s in seats if not s.power and s.email)
        idle, never, cancelling = ordinary[0], ordinary[1], ordinary[2]
        last_day_of_month = self.today.replace(day=calendar.monthrange(self.today.year, self.today.month)[1])
        out = []
        for s in seats:
            if s.login == idle:
                s = _replace(s, active_until=self.today - dt.timedelta(days=IDLE_DAYS))
            elif s.login == never:
                s = _replace(s, never_active=True, created=self.today - dt.timedelta(days=75))
            elif s.login == cancelling:
                s = _replace(s, pending_cancellation=last_day_of_month + dt.timedelta(days=1))
            out.append(s)
        self.seats = tuple(sorted(out, key=lambda s: s.login))
        self._seat_of = {s.login: s for s in self.seats}
        self.idle_logins = (idle, never)

    def has_data(self, day: dt.date) -> bool:
        return day < self.today

    def seat_active_on(self, seat: Seat, day: dt.date) -> bool:
        """Whether the seat existed (and was billed) on `day`."""
        return seat.created <= day and (seat.pending_cancellation is None or day < seat.pending_cancellation)

    # ------------------------------------------------------------------------------------------ draws
    # the 28-day active-user counts ask for every seat's last 28 days: the cache holds them at 10,000 developers
    @lru_cache(maxsize=2**18)
    def _user_day(self, login: str, day: dt.date) -> Optional[dict[str, Any]]:
        """One seat holder's day: a (feature, model, language) cube of counts and the CLI use, or None (inactive)."""
        seat = self._seat_of[login]
        if not self.has_data(day) or day < seat.created or seat.never_active:
            return None
        if seat.active_until is not None and day > seat.active_until:
            return None
        rng = np.random.default_rng([self.seed, 50, day.toordinal(), _seed("seat", login) % 2**32])
        weekend = day.weekday() >= 5
        p_active = (0.12 if weekend else (0.97 if seat.power else 0.85))
        if rng.random() >= p_active:
            return None
        w = seat.weight * (1.3 if seat.power else 1.0)
        primary, secondary = seat.languages
        cube: dict[tuple[str, str, str], list[int]] = {}

        def add(feature: str, model: str, counts: list[int]) -> None:
            language = primary if rng.random() < 0.8 else secondary
            acc = cube.setdefault((feature, model, language), [0] * len(METRICS))
            for i, c in enumerate(counts):
                acc[i] += int(c)

        generated = int(rng.poisson(30 * w))
        suggested = int(rng.poisson(3 * generated))
        add(COMPLETION, COMPLETION_MODEL, [0, generated, int(rng.binomial(generated, 0.28)), suggested, 0,
                                           int(rng.binomial(suggested, 0.3)), 0])
        mix = MIX_POWER if seat.power else MIX_OTHER
        for feature, (rate, per_interaction) in CHAT_FEATURES.items():
            if feature == "chat_panel_agent_mode" and seat.power:
                rate = AGENT_RATE_POWER
            n = int(rng.poisson(rate * w))
            split = rng.multinomial(n, mix) if n else np.zeros(len(CHAT_MODELS), dtype=int)
            for model, k in zip(CHAT_MODELS, split):
                if not k:
                    continue
                gen = int(rng.poisson(k * per_interaction))
                add_sug, del_sug = int(rng.poisson(8 * gen)), int(rng.poisson(2 * gen))
                add(feature, model, [int(k), gen, int(rng.binomial(gen, 0.5)), add_sug, del_sug,
                                     int(rng.binomial(add_sug, 0.6)), int(rng.binomial(del_sug, 0.6))])
                if feature == "chat_panel_agent_mode":  # the agent's own edits: no user-initiated interactions
                    edits = int(rng.poisson(4 * k))
                    add(AGENT_EDIT, model, [0, edits, edits, 0, 0, int(rng.poisson(15 * edits)),
                                            int(rng.poisson(4 * edits))])
        cli = None
        if seat.power and rng.random() < 0.3:
            requests = 1 + int(rng.poisson(8))
            prompt_tokens, output_tokens = int(rng.poisson(3000 * requests)), int(rng.poisson(900 * requests))
            cli = {"session_count": 1 + int(rng.poisson(1)), "request_count": requests,
                   "prompt_count": max(1, requests // 2),
                   "token_usage": {"output_tokens_sum": output_tokens, "prompt_tokens_sum": prompt_tokens,
                                   "avg_tokens_per_request": round((prompt_tokens + output_tokens) / requests, 1)}}
        return {"cube": {k: tuple(v) for k, v in sorted(cube.items())}, "cli": cli,
                "hour": int(rng.integers(8, 19)), "minute": int(rng.integers(0, 60))}

    def active_logins(self, day: dt.date) -> tuple[str, ...]:
        return tuple(s.login for s in self.seats if self._user_day(s.login, day) is not None)

    # --------------------------------------------------------------------------------------- usage metrics
    @lru_cache(maxsize=64)
    def user_records(self, day: dt.date) -> tuple[dict[str, Any], ...]:
        """The users-1-day report's records (one per user active on `day`), sorted by login."""
        out = []
        for seat in self.seats:
            draw = self._user_day(seat.login, day)
            if draw is None:
                continue
            cube, cli = draw["cube"], draw["cli"]
            totals = _sum(cube.values())
            features = {f for f, _, _ in cube}
            record: dict[str, Any] = {"user_id": seat.user_id, "user_login": seat.login, "day": day.isoformat(),
                                      **totals}
            for feature in sorted(f for f in features if f.startswith("chat_panel_")):
                record[feature] = sum(v[0] for (f, _, _), v in cube.items() if f == feature)
            record.update({
                "used_agent": bool(features & {"chat_panel_agent_mode", AGENT_EDIT}),
                "used_chat": bool(features & set(CHAT_FEATURES)),
                "used_cli": cli is not None,
                "used_copilot_code_review_active": False,
                "used_copilot_code_review_passive": False,
                "used_copilot_coding_agent": False,
            })
            plugin, plugin_version = PLUGINS[seat.ide]
            sampled = f"{day.isoformat()}T{draw['hour']:02d}:{draw['minute']:02d}:00Z"
            record["totals_by_ide"] = [{
                "ide": seat.ide, **totals,
                "last_known_plugin_version": {"sampled_at": sampled, "plugin": plugin,
                                              "plugin_version": plugin_version},
                "last_known_ide_version": {"sampled_at": sampled, "ide_version": IDE_VERSIONS[seat.ide]}}]
            record.update(_breakdowns(cube))
            if cli:
                record["totals_by_cli"] = {**cli, "last_known_cli_version": {"sampled_at": sampled,
                                                                             "cli_version": "0.0.354"}}
            out.append(record)
        return tuple(out)

    @lru_cache(maxsize=64)
    def organization_record(self, day: dt.date) -> Optional[dict[str, Any]]:
        """The organization-1-day report's one object for `day` (None: no report for a day without data)."""
        if not self.has_data(day):
            return None
        cube: dict[tuple[str, str, str], list[int]] = {}
        by_ide: dict[str, list[int]] = {}
        clis = []
        for seat in self.seats:
            draw = self._user_day(seat.login, day)
            if draw is None:
                continue
            for key, counts in draw["cube"].items():
                acc = cube.setdefault(key, [0] * len(METRICS))
                acc_ide = by_ide.setdefault(seat.ide, [0] * len(METRICS))
                for i, c in enumerate(counts):
                    acc[i] += c
                    acc_ide[i] += c
            if draw["cli"]:
                clis.append(draw["cli"])
        totals = _sum(cube.values())
        record: dict[str, Any] = {
            "day": day.isoformat(), "organization_id": DEMO_ORGANIZATION_ID,
            "daily_active_users": len(self.active_logins(day)),
            "weekly_active_users": self._active_over(day, 7),
            "monthly_active_users": self._active_over(day, 28),
            "monthly_active_chat_users": self._active_over(day, 28, chat=True),
            "monthly_active_agent_users": self._active_over(day, 28, agent=True),
            "daily_active_cli_users": len(clis),
            **totals,
        }
        for feature in sorted({f for f, _, _ in cube if f.startswith("chat_panel_")}):
            record[feature] = sum(v[0] for (f, _, _), v in cube.items() if f == feature)
        record["totals_by_ide"] = [{"ide": ide, **dict(zip(METRICS, v))} for ide, v in sorted(by_ide.items())]
        record.update(_breakdowns({k: tuple(v) for k, v in cube.items()}))
        if clis:
            requests = sum(c["request_count"] for c in clis)
            prompt = sum(c["token_usage"]["prompt_tokens_sum"] for c in clis)
            output = sum(c["token_usage"]["output_tokens_sum"] for c in clis)
            record["totals_by_cli"] = {
                "session_count": sum(c["session_count"] for c in clis), "request_count": requests,
                "prompt_count": sum(c["prompt_count"] for c in clis),
                "token_usage": {"avg_tokens_per_request": round((prompt + output) / requests, 1),
                                "output_tokens_sum": output, "prompt_tokens_sum": prompt}}
        return record

    def _active_over(self, day: dt.date, days: int, chat: bool = False, agent: bool = False) -> int:
        logins: set[str] = set()
        for back in range(days):
            d = day - dt.timedelta(days=back)
            for seat in self.seats:
                draw = self._user_day(seat.login, d)
                if draw is None:
                    continue
                features = {f for f, _, _ in draw["cube"]}
                if chat and not features & set(CHAT_FEATURES):
                    continue
                if agent and not features & {"chat_panel_agent_mode", AGENT_EDIT}:
                    continue
                logins.add(seat.login)
        return len(logins)

    # --------------------------------------------------------------------------------------- premium requests
    @lru_cache(maxsize=64)
    def premium_requests(self, day: dt.date) -> dict[str, dict[str, Decimal]]:
        """Premium requests per user and model id on `day` (chat interactions x the model's multiplier)."""
        out: dict[str, dict[str, Decimal]] = {}
        for seat in self.seats:
            draw = self._user_day(seat.login, day)
            if draw is None:
                continue
            for (feature, model, _), counts in draw["cube"].items():
                multiplier = MODELS.get(model, ("", Decimal(0)))[1]
                if feature in CHAT_FEATURES and multiplier and counts[0]:
                    per_user = out.setdefault(seat.login, {})
                    per_user[model] = per_user.get(model, Decimal(0)) + counts[0] * multiplier
        return out

    @lru_cache(maxsize=64)
    def _premium_before(self, day: dt.date) -> dict[str, Decimal]:
        """Each user's premium requests in `day`'s month before `day` (what the allowance has left)."""
        if day.day == 1:
            return {}
        previous = day - dt.timedelta(days=1)
        used = dict(self._premium_before(previous))
        for login, models in self.premium_requests(previous).items():
            used[login] = used.get(login, Decimal(0)) + sum(models.values())
        return used

    @lru_cache(maxsize=64)
    def premium_usage_items(self, day: dt.date) -> tuple[dict[str, Any], ...]:
        """`usageItems` per (user, model) for `day`, with the plan's allowance as discount, as records
        `{"user": login, **item}` (the API answers one user, or the organization, per request)."""
        used = dict(self._premium_before(day))
        plans = {s.login: s.plan for s in self.seats}
        out = []
        for login, models in sorted(self.premium_requests(day).items()):
            for model, quantity in sorted(models.items()):
                left = max(Decimal(0), INCLUDED_PREMIUM_REQUESTS[plans[login]] - used.get(login, Decimal(0)))
                discount = min(quantity, left)
                used[login] = used.get(login, Decimal(0)) + quantity
                out.append({"user": login, **_premium_item(MODELS[model][0], quantity, discount)})
        return tuple(out)

    def premium_usage(self, day: dt.date, user: Optional[str] = None, model: Optional[str] = None,
                      product: Optional[str] = None) -> list[dict[str, Any]]:
        """The premium request report's `usageItems` for `day`: one user's, or the organization's summed by model."""
        items = [i for i in self.premium_usage_items(day) if user is None or i["user"] == user.lower()]
        if model:
            items = [i for i in items if i["model"].lower() == model.lower()]
        if product and product.lower() != "copilot":
            items = []
        if user is not None:
            return [{k: v for k, v in i.items() if k != "user"} for i in items]
        by_model: dict[str, list[Decimal]] = {}
        for i in items:
            acc = by_model.setdefault(i["model"], [Decimal(0), Decimal(0)])
            acc[0] += Decimal(str(i["grossQuantity"]))
            acc[1] += Decimal(str(i["discountQuantity"]))
        return [_premium_item(m, q, d) for m, (q, d) in sorted(by_model.items())]

    # --------------------------------------------------------------------------------------- billing usage
    @lru_cache(maxsize=64)
    def billing_usage(self, day: dt.date) -> tuple[dict[str, Any], ...]:
        """The usage report's items for `day`: seats per plan, premium requests, Actions minutes."""
        if not self.has_data(day):
            return ()
        days_in_month = calendar.monthrange(day.year, day.month)[1]
        items = []
        for plan, price in SEAT_PLANS.items():
            seats = sum(1 for s in self.seats if s.plan == plan and self.seat_active_on(s, day))
            if not seats:
                continue
            quantity = round(Decimal(seats) / days_in_month, 6)
            gross = round(quantity * price, 6)
            items.append({"date": day.isoformat(), "product": "Copilot", "sku": SEAT_SKUS[plan],
                          "quantity": _f(quantity), "unitType": "UserMonths", "pricePerUnit": float(price),
                          "grossAmount": _f(gross), "discountAmount": 0.0, "netAmount": _f(gross),
                          "organizationName": self.org, "repositoryName": None})
        premium = self.premium_usage(day)
        if premium:
            quantity = sum(Decimal(str(i["grossQuantity"])) for i in premium)
            gross = sum(Decimal(str(i["grossAmount"])) for i in premium)
            discount = sum(Decimal(str(i["discountAmount"])) for i in premium)
            items.append({"date": day.isoformat(), "product": "Copilot", "sku": PREMIUM_SKU,
                          "quantity": _f(quantity), "unitType": "requests",
                          "pricePerUnit": float(PREMIUM_REQUEST_PRICE),
                          "grossAmount": _f(gross), "discountAmount": _f(discount), "netAmount": _f(gross - discount),
                          "organizationName": self.org, "repositoryName": None})
        rng = np.random.default_rng([self.seed, 51, day.toordinal()])
        minutes = int(rng.poisson(ACTIONS_MINUTES_PER_WEEKDAY * (0.2 if day.weekday() >= 5 else 1.0)))
        if minutes:
            repos = sorted(r for t in self.world.org.teams for r in t.repositories) or [f"{self.org}/app"]
            repo = repos[int(rng.integers(0, len(repos)))]
            gross = round(minutes * ACTIONS_PRICE, 6)
            items.append({"date": day.isoformat(), "product": "Actions", "sku": "Actions Linux",
                          "quantity": minutes, "unitType": "Minutes", "pricePerUnit": float(ACTIONS_PRICE),
                          "grossAmount": _f(gross), "discountAmount": 0.0, "netAmount": _f(gross),
                          "organizationName": self.org, "repositoryName": repo})
        return tuple(items)

    # --------------------------------------------------------------------------------------- seats
    def last_activity(self, seat: Seat) -> Optional[tuple[dt.datetime, str]]:
        """The seat's latest activity before `today` and its editor string, or None if it was never used."""
        day = min(self.today - dt.timedelta(days=1), seat.active_until or self.today)
        while day >= seat.created and not seat.never_active:
            draw = self._user_day(seat.login, day)
            if draw is not None:
                at = dt.datetime(day.year, day.month, day.day, draw["hour"], draw["minute"], tzinfo=dt.timezone.utc)
                plugin, plugin_version = PLUGINS[seat.ide]
                return at, f"{seat.ide}/{IDE_VERSIONS[seat.ide]}/{plugin}/{plugin_version}"
            day -= dt.timedelta(days=1)
        return None

    def seat_records(self) -> list[dict[str, Any]]:
        """`/orgs/{org}/copilot/billing/seats` items, sorted by login (seats that exist as of `today`)."""
        out = []
        for seat in self.seats:
            if seat.created > self.today:
                continue
            activity = self.last_activity(seat)
            created = dt.datetime(seat.created.year, seat.created.month, seat.created.day, 9, 30,
                                  tzinfo=dt.timezone.utc)
            out.append({
                "created_at": _iso(created),
                "updated_at": _iso(created + dt.timedelta(minutes=1)),
                "pending_cancellation_date": seat.pending_cancellation.isoformat() if seat.pending_cancellation
                else None,
                "last_activity_at": _iso(activity[0]) if activity else None,
                "last_activity_editor": activity[1] if activity else None,
                "last_authenticated_at": _iso(activity[0] - dt.timedelta(minutes=5)) if activity else None,
                "plan_type": seat.plan,
                "assignee": {"login": seat.login, "id": seat.user_id, "type": "User", "site_admin": False},
                "assigning_team": {"id": _seed("team", seat.team) % 10**6, "name": seat.team_name,
                                   "slug": seat.team, "privacy": "closed", "permission": "pull", "parent": None}
                if seat.team else None,
            })
        return out


def _replace(seat: Seat, **changes: Any) -> Seat:
    from dataclasses import replace

    return replace(seat, **changes)


def _iso(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _sum(rows) -> dict[str, int]:
    totals = [0] * len(METRICS)
    for counts in rows:
        for i, c in enumerate(counts):
            totals[i] += c
    return dict(zip(METRICS, totals))


def _breakdowns(cube: dict[tuple[str, str, str], tuple[int, ...]]) -> dict[str, list[dict[str, Any]]]:
    """The report's `totals_by_*` lists from a (feature, model, language) cube."""
    out = {}
    for name, dims in (("totals_by_feature", ("feature",)), ("totals_by_language_feature", ("language", "feature")),
                       ("totals_by_language_model", ("language", "model")),
                       ("totals_by_model_feature", ("model", "feature"))):
        groups: dict[tuple[str, ...], list[int]] = {}
        for (feature, model, language), counts in cube.items():
            values = {"feature": feature, "model": model, "language": language}
            acc = groups.setdefault(tuple(values[d] for d in dims), [0] * len(METRICS))
            for i, c in enumerate(counts):
                acc[i] += c
        out[name] = [{**dict(zip(dims, key)), **dict(zip(METRICS, counts))} for key, counts in sorted(groups.items())]
    return out


def _premium_item(model_name: str, quantity: Decimal, discount: Decimal) -> dict[str, Any]:
    quantity, discount = round(quantity, 6), round(discount, 6)
    gross = round(quantity * PREMIUM_REQUEST_PRICE, 6)
    discount_amount = round(discount * PREMIUM_REQUEST_PRICE, 6)
    return {"product": "Copilot", "sku": PREMIUM_SKU, "model": model_name, "unitType": "requests",
            "pricePerUnit": float(PREMIUM_REQUEST_PRICE), "grossQuantity": _f(quantity), "grossAmount": _f(gross),
            "discountQuantity": _f(discount), "discountAmount": _f(discount_amount),
            "netQuantity": _f(quantity - discount), "netAmount": _f(gross - discount_amount)}


@lru_cache(maxsize=4)
def copilot_org(world: DemoWorld) -> DemoCopilotOrg:
    """One Copilot organisation per demo world (its day caches live as long as the world's)."""
    return DemoCopilotOrg(world)
