"""A deterministic, believable organisation's AI usage and bills, one day at a time.

`DemoWorld(org)` turns an org directory into "usage combos" (a key or user, a model, a tier, a typical request
rate and request shape) and draws each day's numbers from a generator seeded by (seed, provider, day). The same day
therefore always has the same numbers, whichever window asks for it, which is what makes partitioned re-runs and
tests against ground truth possible.

What it plants on purpose: power users (log-normal weights, top fifth also on premium models), weekends, cache
reads and writes, a batch workload, long-context requests, a model no price list knows, and identifiers missing
from the directory (an unknown key, the default workspace, an unknown OpenAI project and user) so that
allocation has to say `unallocated` somewhere. And one anomaly (the others are in the Claude Code telemetry; all
in `ingestion/demo/scenarios.py`): the silent model upgrade, a project's service key whose Sonnet traffic goes to
Opus from a known day (same requests and tokens, drawn as before; only the model changes, and so its cost).

Bills are priced with the demo's own price sheet below (public list prices, written out by hand): the warehouse
prices usage independently from `genai-prices`, so list vs billed comparisons are meaningful.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from typing import Any, Optional

import numpy as np

from ingestion.demo.org import provider_id
from ingestion.demo.scenarios import UPGRADE_FROM_MODEL, UPGRADE_TO_MODEL, scenario_days, upgraded_key
from ingestion.org_directory import OrgDirectory

# USD per million tokens: input, output, cache write 5m, cache write 1h, cache read
ANTHROPIC_PRICES: dict[str, tuple[float, float, float, float, float]] = {
    "claude-opus-4-1-20250805": (15.0, 75.0, 18.75, 30.0, 1.5),
    "claude-sonnet-4-5-20250929": (3.0, 15.0, 3.75, 6.0, 0.3),
    "claude-haiku-4-5-20251001": (1.0, 5.0, 1.25, 2.0, 0.1),
    "claude-nebula-preview": (4.0, 20.0, 5.0, 8.0, 0.4),  # not in any public price list: lands unpriced
}
ANTHROPIC_LONG_CONTEXT = {"claude-sonnet-4-5-20250929": (6.0, 22.5, 7.5, 12.0, 0.6)}
ANTHROPIC_NAMES = {
    "claude-opus-4-1-20250805": "Claude Opus 4.1",
    "claude-sonnet-4-5-20250929": "Claude Sonnet 4.5",
    "claude-haiku-4-5-20251001": "Claude Haiku 4.5",
    "claude-nebula-preview": "Claude Nebula Preview",
}
# USD per million tokens: input (uncached), cached input, output
OPENAI_PRICES: dict[str, tuple[float, float, float]] = {
    "gpt-5-2025-08-07": (1.25, 0.125, 10.0),
    "gpt-5-mini-2025-08-07": (0.25, 0.025, 2.0),
    "gpt-4.1-nano-2025-04-14": (0.10, 0.025, 0.40),
    "o3-2025-04-16": (2.0, 0.5, 8.0),
}
# identifiers the demo bills that its org directory deliberately does not know
UNKNOWN_ANTHROPIC_KEY = provider_id("apikey_01", "legacy-unknown")
UNKNOWN_OPENAI_PROJECT = provider_id("proj_", "sandbox-unknown", length=24)
UNKNOWN_OPENAI_KEY = provider_id("key_", "sandbox-unknown", length=16)
UNKNOWN_OPENAI_USER = provider_id("user-", "contractor-unknown", length=24)
BATCH_DISCOUNT = 0.5
CODE_EXECUTION_USD_PER_DAY = 1.20
GROWTH_ANCHOR = dt.date(2026, 1, 1)

ANTHROPIC_TOKEN_FIELDS = (
    "uncached_input_tokens",
    "output_tokens",
    "cache_creation.ephemeral_5m_input_tokens",
    "cache_creation.ephemeral_1h_input_tokens",
    "cache_read_input_tokens",
)
ANTHROPIC_TOKEN_LABELS = {
    "uncached_input_tokens": "Input Tokens",
    "output_tokens": "Output Tokens",
    "cache_creation.ephemeral_5m_input_tokens": "Cache Write (5m) Tokens",
    "cache_creation.ephemeral_1h_input_tokens": "Cache Write (1h) Tokens",
    "cache_read_input_tokens": "Cache Read Tokens",
}


@dataclass
class _Combos:
    """Column-wise description of every (identity, model, tier) that may show usage on a day."""

    dims: list[dict[str, Any]] = field(default_factory=list)
    rate: list[float] = field(default_factory=list)  # requests per weekday
    avg_in: list[float] = field(default_factory=list)  # uncached input tokens per request
    avg_out: list[float] = field(default_factory=list)
    cache_read: list[float] = field(default_factory=list)  # cache-read tokens per uncached input token
    cache_5m: list[float] = field(default_factory=list)
    cache_1h: list[float] = field(default_factory=list)
    weekend: list[float] = field(default_factory=list)  # weekend activity factor

    def add(self, dims, rate, avg_in, avg_out, cache_read=0.0, cache_5m=0.0, cache_1h=0.0, weekend=0.15):
        self.dims.append(dims)
        self.rate.append(rate)
        self.avg_in.append(avg_in)
        self.avg_out.append(avg_out)
        self.cache_read.append(cache_read)
        self.cache_5m.append(cache_5m)
        self.cache_1h.append(cache_1h)
        self.weekend.append(weekend)

    def arrays(self) -> dict[str, np.ndarray]:
        return {k: np.asarray(getattr(self, k), dtype=float)
                for k in ("rate", "avg_in", "avg_out", "cache_read", "cache_5m", "cache_1h", "weekend")}


class DemoWorld:
    """The demo organisation's usage and bills for any day, deterministic for a given org directory and seed."""

    def __init__(self, org: OrgDirectory, seed: int = 42, today: Optional[dt.date] = None,
                 revisions: Optional[dict[dt.date, float]] = None) -> None:
        self.org = org
        self.seed = seed
        # a provider revising its bill for a past day: that day's cost lines are multiplied by the factor
        self.revisions = dict(revisions or {})
        # data exists for whole days before `today` (UTC); providers return nothing for the future
        self.today = today or dt.datetime.now(dt.timezone.utc).date()
        weights_rng = np.random.default_rng([seed, 0])
        people = sorted(org.people, key=lambda p: p.email)
        raw = weights_rng.lognormal(0.0, 1.0, len(people)) if people else np.array([])
        self.weights = {p.email: float(w / raw.mean()) for p, w in zip(people, raw)}
        cutoff = np.quantile(raw, 0.8) if len(raw) else 0
        self.power_users = {p.email for p, w in zip(people, raw) if w >= cutoff}
        self._anthropic = self._anthropic_combos()
        self._openai = self._openai_combos()
        self._anthropic_arrays = self._anthropic.arrays()
        self._openai_arrays = self._openai.arrays()
        # the silent model upgrade: from this day, the key's Sonnet combo is served (and billed) as Opus
        key = upgraded_key(org)
        self.model_upgrade_day = scenario_days(self.today).model_upgrade
        self._upgraded = {i for i, d in enumerate(self._anthropic.dims)
                          if key is not None and d["api_key_id"] == key.id and d["model"] == UPGRADE_FROM_MODEL}

    # ----------------------------------------------------------------------------------------------- combos
    def _anthropic_combos(self) -> _Combos:
        c = _Combos()
        org = self.org
        dev_workspace = {a.team: a.id for a in org.accounts("anthropic", "workspace") if a.team and not a.project}
        project_workspace = {a.project: a.id for a in org.accounts("anthropic", "workspace") if a.project}
        people = org.person_by_email()
        sonnet, opus, haiku = "claude-sonnet-4-5-20250929", "claude-opus-4-1-20250805", "claude-haiku-4-5-20251001"
        nebula_planted = False
        for key in sorted(org.accounts("anthropic", "api_key"), key=lambda a: a.id):
            base = {"api_key_id": key.id, "service_tier": "standard", "context_window": "0-200k"}
            if key.person:
                w = self.weights[key.person]
                ws = dev_workspace.get(people[key.person].team)
                base["workspace_id"] = ws
                c.add({**base, "model": sonnet}, 60 * w, 3000, 700, cache_read=4.0, cache_5m=0.3,
                      cache_1h=0.05 if key.person in self.power_users else 0.0)
                if key.person in self.power_users:
                    c.add({**base, "model": opus}, 15 * w, 3500, 900, cache_read=3.0, cache_5m=0.25, cache_1h=0.05)
                    c.add({**base, "model": sonnet, "context_window": "200k-1M"}, 1.5 * w, 240_000, 2000,
                          cache_read=0.5, cache_5m=0.05)
                    if not nebula_planted:
                        c.add({**base, "model": "claude-nebula-preview"}, 5, 2500, 600)
                        nebula_planted = True
                else:
                    c.add({**base, "model": haiku}, 30 * w, 1500, 300, cache_read=2.0, cache_5m=0.2)
            elif key.project:
                base["workspace_id"] = project_workspace.get(key.project)
                c.add({**base, "model": sonnet}, 400, 2500, 500, cache_read=1.5, cache_5m=0.1, weekend=0.8)
                c.add({**base, "model": haiku}, 1500, 1200, 250, cache_read=1.0, cache_5m=0.05, weekend=0.8)
                if key.project == "fraud-review":
                    c.add({**base, "model": haiku, "service_tier": "batch"}, 3000, 2000, 200, weekend=1.0)
        # identifiers the directory does not know: an old key in the default workspace, and Console playground use
        c.add({"api_key_id": UNKNOWN_ANTHROPIC_KEY, "workspace_id": None, "model": sonnet,
               "service_tier": "standard", "context_window": "0-200k"}, 40, 2000, 500, cache_read=1.0)
        c.add({"api_key_id": None, "workspace_id": None, "model": sonnet, "service_tier": "standard",
               "context_window": "0-200k"}, 10, 1500, 600)
        return c

    def _openai_combos(self) -> _Combos:
        c = _Combos()
        org = self.org
        projects = {a.project: a.id for a in org.accounts("openai", "project") if a.project}
        default_project = next((a.id for a in org.accounts("openai", "project") if not a.project), None)
        default_key = provider_id("key_", "default-shared", length=16)
        gpt5, mini, nano, o3 = "gpt-5-2025-08-07", "gpt-5-mini-2025-08-07", "gpt-4.1-nano-2025-04-14", "o3-2025-04-16"
        for person in sorted(self.org.people, key=lambda p: p.email):
            user = person.identities.get("openai")
            if not user:
                continue
            w = self.weights[person.email]
            base = {"project_id": default_project, "user_id": user, "api_key_id": default_key, "batch": False,
                    "service_tier": "default"}
            c.add({**base, "model": mini}, 80 * w, 2000, 500, cache_read=1.0)
            if person.email in self.power_users:
                c.add({**base, "model": gpt5}, 40 * w, 4000, 1500, cache_read=2.0)
        for key in sorted(org.accounts("openai", "api_key"), key=lambda a: a.id):
            if not key.project:
                continue
            base = {"project_id": projects.get(key.project), "user_id": None, "api_key_id": key.id, "batch": False,
                    "service_tier": "default"}
            c.add({**base, "model": mini}, 800, 1500, 300, cache_read=0.5, weekend=0.8)
            c.add({**base, "model": nano}, 2000, 800, 100, cache_read=0.2, weekend=0.8)
            if key.project == "forecasting":
                c.add({**base, "model": o3}, 50, 6000, 3000, cache_read=0.5, weekend=0.5)
                c.add({**base, "model": mini, "batch": True}, 3000, 1800, 200, weekend=1.0)
        c.add({"project_id": default_project, "user_id": UNKNOWN_OPENAI_USER,
               "api_key_id": default_key, "model": mini, "batch": False, "service_tier": "default"}, 50, 2000, 400)
        c.add({"project_id": UNKNOWN_OPENAI_PROJECT, "user_id": None, "api_key_id": UNKNOWN_OPENAI_KEY, "model": gpt5, "batch": False,
               "service_tier": "default"}, 30, 3000, 800, weekend=0.5)
        return c

    # ------------------------------------------------------------------------------------------------ draws
    def _draw(self, provider_index: int, arrays: dict[str, np.ndarray], day: dt.date) -> dict[str, np.ndarray]:
        rng = np.random.default_rng([self.seed, provider_index, day.toordinal()])
        n = len(arrays["rate"])
        weekend = day.weekday() >= 5
        growth = 1.0 + 0.002 * (day - GROWTH_ANCHOR).days
        lam = arrays["rate"] * np.where(weekend, arrays["weekend"], 1.0) * max(growth, 0.2)
        requests = rng.poisson(lam)
        noise_in = rng.lognormal(0.0, 0.25, n)
        noise_out = rng.lognormal(0.0, 0.25, n)
        noise_cache = rng.lognormal(0.0, 0.2, n)
        uncached = np.rint(requests * arrays["avg_in"] * noise_in).astype(np.int64)
        return {
            "requests": requests.astype(np.int64),
            "uncached": uncached,
            "output": np.rint(requests * arrays["avg_out"] * noise_out).astype(np.int64),
            "cache_read": np.rint(uncached * arrays["cache_read"] * noise_cache).astype(np.int64),
            "cache_5m": np.rint(uncached * arrays["cache_5m"]).astype(np.int64),
            "cache_1h": np.rint(uncached * arrays["cache_1h"]).astype(np.int64),
        }

    def has_data(self, day: dt.date) -> bool:
        return day < self.today

    @lru_cache(maxsize=16)
    def anthropic_usage(self, day: dt.date) -> tuple[dict[str, Any], ...]:
        """One result per (key, workspace, model, tier, context window) with any requests on `day`."""
        if not self.has_data(day):
            return ()
        d = self._draw(1, self._anthropic_arrays, day)
        upgraded = self._upgraded if day >= self.model_upgrade_day else set()
        rows = []
        for i in np.flatnonzero(d["requests"] > 0):
            rows.append({
                **self._anthropic.dims[i],
                **({"model": UPGRADE_TO_MODEL} if i in upgraded else {}),
                "uncached_input_tokens": int(d["uncached"][i]),
                "cache_creation": {"ephemeral_5m_input_tokens": int(d["cache_5m"][i]),
                                   "ephemeral_1h_input_tokens": int(d["cache_1h"][i])},
                "cache_read_input_tokens": int(d["cache_read"][i]),
                "output_tokens": int(d["output"][i]),
                "server_tool_use": {"web_search_requests": 0},
            })
        return tuple(rows)

    @lru_cache(maxsize=16)
    def anthropic_costs(self, day: dt.date) -> tuple[dict[str, Any], ...]:
        """The cost report grouped by workspace and description: one row per workspace, model, token type, tier."""
        totals: dict[tuple, Decimal] = {}
        for row in self.anthropic_usage(day):
            model = row["model"]
            long = row["context_window"] == "200k-1M" and model in ANTHROPIC_LONG_CONTEXT
            prices = (ANTHROPIC_LONG_CONTEXT if long else ANTHROPIC_PRICES)[model]
            factor = BATCH_DISCOUNT if row["service_tier"] == "batch" else 1.0
            counts = (row["uncached_input_tokens"], row["output_tokens"],
                      row["cache_creation"]["ephemeral_5m_input_tokens"],
                      row["cache_creation"]["ephemeral_1h_input_tokens"], row["cache_read_input_tokens"])
            for token_type, count, price in zip(ANTHROPIC_TOKEN_FIELDS, counts, prices):
                if count:
                    key = (row["workspace_id"], model, token_type, row["service_tier"], row["context_window"])
                    # cents, to 5 decimal places, as the API's decimal strings carry them
                    cents = Decimal(repr(count * price * factor * self.revisions.get(day, 1.0) / 1e6 * 100)
                                    ).quantize(Decimal("0.00001"))
                    totals[key] = totals.get(key, Decimal(0)) + cents
        rows = []
        for (workspace, model, token_type, tier, window), cents in sorted(totals.items(), key=lambda kv: str(kv[0])):
            description = f"{ANTHROPIC_NAMES[model]} Usage - {ANTHROPIC_TOKEN_LABELS[token_type]}"
            if tier == "batch":
                description += " (Batch)"
            if window == "200k-1M":
                description += " (Long Context)"
            rows.append({"currency": "USD", "amount": f"{cents:.5f}", "workspace_id": workspace,
                         "description": description, "cost_type": "tokens", "context_window": window,
                         "model": model, "service_tier": tier, "token_type": token_type})
        if rows and self.org.projects:
            # code execution is billed in the cost report and has no usage counterpart
            first = self.org.projects[0].id
            workspace = next(a.id for a in self.org.accounts("anthropic", "workspace") if a.project == first)
            rows.append({"currency": "USD", "amount": f"{CODE_EXECUTION_USD_PER_DAY * 100:.5f}",
                         "workspace_id": workspace, "description": "Code Execution Usage",
                         "cost_type": "code_execution", "context_window": None, "model": None,
                         "service_tier": None, "token_type": None})
        return tuple(rows)

    @lru_cache(maxsize=16)
    def openai_usage(self, day: dt.date) -> tuple[dict[str, Any], ...]:
        if not self.has_data(day):
            return ()
        d = self._draw(2, self._openai_arrays, day)
        rows = []
        for i in np.flatnonzero(d["requests"] > 0):
            cached = int(d["cache_read"][i])
            uncached = int(d["uncached"][i])
            rows.append({
                "object": "organization.usage.completions.result",
                **self._openai.dims[i],
                "input_tokens": uncached + cached,
                "input_cached_tokens": cached,
                "input_uncached_tokens": uncached,
                "output_tokens": int(d["output"][i]),
                "input_audio_tokens": 0,
                "output_audio_tokens": 0,
                "num_model_requests": int(d["requests"][i]),
            })
        return tuple(rows)

    @lru_cache(maxsize=16)
    def openai_costs(self, day: dt.date) -> tuple[dict[str, Any], ...]:
        """Costs grouped by project and line item (`<model>, input` / `cached input` / `output`, `batch ...`)."""
        totals: dict[tuple[Optional[str], str], float] = {}
        for row in self.openai_usage(day):
            price_in, price_cached, price_out = OPENAI_PRICES[row["model"]]
            factor = BATCH_DISCOUNT if row["batch"] else 1.0
            prefix = "batch " if row["batch"] else ""
            for kind, count, price in (("input", row["input_uncached_tokens"], price_in),
                                       ("cached input", row["input_cached_tokens"], price_cached),
                                       ("output", row["output_tokens"], price_out)):
                if count:
                    key = (row["project_id"], f"{row['model']}, {prefix}{kind}")
                    totals[key] = totals.get(key, 0.0) + count * price * factor * self.revisions.get(day, 1.0) / 1e6
        return tuple(
            {"object": "organization.costs.result",
             # live responses carry the value as a string when grouped by line item; we do the same
             "amount": {"value": f"{value:.6f}", "currency": "usd"},
             "line_item": line_item, "project_id": project, "api_key_id": None,
             "quantity": None, "quantity_unit": None}
            for (project, line_item), value in sorted(totals.items(), key=lambda kv: (str(kv[0][0]), kv[0][1]))
        )
