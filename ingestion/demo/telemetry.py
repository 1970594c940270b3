"""The demo organisation's agent telemetry and cloud bill, written as the files the file sources read.

Agent telemetry, as an OpenTelemetry collector's file exporter writes it (one OTLP JSON export a line):

* Claude Code logs (`claude-code/claude-code-<day>.jsonl.gz`, gzipped as rotated logs often are): sessions of a
  subset of the directory (every power user, about a third of the rest, and a contractor the directory does not
  know). A session is several turns (`user_prompt`, one or more `api_request`s, some `tool_result`s); its context
  grows turn by turn (cache reads grow, then a `compact` request shrinks them), some sessions hit an overloaded API
  (`api_error` attempts, then the request), power users sometimes try a model no price list knows, and on Fridays
  one power user works late (a short session from about 22:00 into Saturday: those events are in Friday's file).
  Three planted anomalies (days and people from `ingestion/demo/scenarios.py`): on one Friday that power user's
  session is the forgotten agent (Opus, Friday 17:30 into Sunday afternoon, ~45 hours; all in Friday's file); one
  session never compacts (the context-bloat session); one re-sends the same request 150 times in under 10 minutes,
  then retries through the rate limit (the runaway retry workflow). Numbers are sent as strings, as Claude Code
  does; `event.sequence` as an OTLP `intValue`. A request whose prompt is above 200k tokens is priced at the
  model's long-context tier (only the context-bloat session gets there).
* An in-house pull-request review agent's GenAI spans (`pr-review-agent/traces-<day>.jsonl`): per project, reviews
  with an `invoke_agent` span (the whole review's usage) over `chat` spans (one model call each), with the GenAI
  semantic conventions' attributes (`gen_ai.usage.input_tokens` includes cached tokens), no cost.

Cloud bill, as FOCUS 1.2 exports (`aws/focus-aws-<month>.csv`, `gcp/focus-gcp-<month>.parquet`): per day, project
and service, tagged `team` / `project` / `env`, with a shared untagged NAT gateway and a monthly GCP credit. A
month's file is rewritten as the month grows, as cloud providers' exports are.

Every day is drawn from generators seeded by (seed, stream, day): the same day is the same whichever window asks.
Files are written only when their content changes (their modification date is what the sources' incremental
listing follows).
"""

from __future__ import annotations

import csv
import gzip
import datetime as dt
import hashlib
import io
import json
import uuid
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Optional

import numpy as np

from ingestion.demo.generator import ANTHROPIC_LONG_CONTEXT, ANTHROPIC_PRICES, DemoWorld
from ingestion.demo.scenarios import CONTEXT_BLOAT, FORGOTTEN_AGENT, RUNAWAY_RETRIES, scenario_days, scenario_users

UTC = dt.timezone.utc
DAY_MS = 86_400_000
CLAUDE_CODE_VERSION = "2.1.172"
CONTRACTOR_EMAIL = "contractor.claude@agency.example"  # not in the org directory: unallocated downstream
SONNET, OPUS, HAIKU = "claude-sonnet-4-5-20250929", "claude-opus-4-1-20250805", "claude-haiku-4-5-20251001"
UNKNOWN_MODEL = "claude-nebula-preview"  # in no public price list; Claude Code still reports its cost
SYSTEM_PROMPT_TOKENS = 14_000  # tools + system prompt, cached on a session's first request
COMPACT_AT, COMPACT_TO = 150_000, 24_000
LONG_CONTEXT_ABOVE = 200_000  # prompt tokens above which a request is priced at the long-context tier
MAX_SESSION_DAYS = 2  # a session runs into at most the second day after its start (the forgotten agent's Sunday)
# the planted scenarios' shapes (see ingestion/demo/scenarios.py)
FORGOTTEN_AGENT_TURNS = 480
BLOAT_TURNS = 22
RETRY_STORM_REQUESTS, RETRY_STORM_ERRORS = 150, 8
RECORDS_PER_LINE = 20  # the collector batches records: one export (one line) holds up to this many
REVIEW_MODELS = {"data-science": ("openai", "gpt-5-mini-2025-08-07", "gpt-5-mini")}
REVIEW_DEFAULT = ("anthropic", SONNET, "claude-sonnet-4-5")

# FOCUS
AWS_TEAMS = {"platform", "payments", "search"}
GCP_TEAMS = {"mobile", "data-science", "growth"}
MONEY_PLACES = Decimal("1e-10")


def _uuid(rng: np.random.Generator) -> str:
    return str(uuid.UUID(bytes=rng.bytes(16), version=4))


def _hex(rng: np.random.Generator, n: int) -> str:
    return rng.bytes(n // 2).hex()


def _stable(*parts: str) -> int:
    return int.from_bytes(hashlib.sha256("/".join(parts).encode()).digest()[:8], "big")


def _iso_ms(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def day_start_ms(day: dt.date) -> int:
    return (day - dt.date(1970, 1, 1)).days * DAY_MS


def claude_cost(model: str, input_tokens: int, output_tokens: int, cache_read: int, cache_write: int,
                long_context: bool = False) -> float:
    """What Claude Code reports as `cost_usd` (a float): list prices, 5-minute cache writes; with `long_context`
    (one request whose prompt is above 200k tokens) the model's long-context prices where it has them."""
    prices = ANTHROPIC_LONG_CONTEXT if long_context and model in ANTHROPIC_LONG_CONTEXT else ANTHROPIC_PRICES
    p_in, p_out, p_5m, _, p_read = prices[model]
    return (input_tokens * p_in + output_tokens * p_out + cache_write * p_5m + cache_read * p_read) / 1e6


@dataclass(frozen=True)
class CodeUser:
    index: int
    email: str
    team: Optional[str]
    power: bool
    rate: float  # sessions per weekday
    account_uuid: str
    install_id: str
    os_type: str
    terminal: str


class DemoTelemetry:
    """The demo organisation's Claude Code sessions and review-agent spans for any day before `world.today`."""

    def __init__(self, world: DemoWorld) -> None:
        self.world = world
        self.seed = world.seed
        self.today = world.today
        self.organization_id = str(uuid.UUID(int=_stable("org", world.org.organization) % (1 << 128), version=4))
        rng = np.random.default_rng([world.seed, 50])
        users = []
        for person in sorted(world.org.people, key=lambda p: p.email):
            power = person.email in world.power_users
            draw = rng.random()  # drawn for everyone: one person's choice never shifts another's
            if not power and draw >= 0.35:
                continue
            users.append((person.email, person.team, power, world.weights.get(person.email, 1.0)))
        users.append((CONTRACTOR_EMAIL, None, False, 1.0))
        self.users = tuple(
            CodeUser(i, email, team, power, float(np.clip(0.6 * weight * (1.5 if power else 1.0), 0.3, 2.0)),
                     str(uuid.UUID(int=_stable("account", email) % (1 << 128), version=4)),
                     hashlib.sha256(f"install/{email}".encode()).hexdigest(),
                     "darwin" if _stable("os", email) % 3 else "linux",
                     ("vscode", "iTerm.app", "ghostty")[_stable("term", email) % 3])
            for i, (email, team, power, weight) in enumerate(users))
        self.overnight_user = next((u for u in self.users if u.power), self.users[0])
        # the planted scenarios: their days and people come from ingestion/demo/scenarios.py
        when = scenario_days(self.today)
        self._planted_days = {FORGOTTEN_AGENT: when.forgotten_agent, CONTEXT_BLOAT: when.context_bloat,
                              RUNAWAY_RETRIES: when.retry_storm}
        self._planted_users = scenario_users(self.users)
        self._planted_users[FORGOTTEN_AGENT] = self.overnight_user

    def has_data(self, day: dt.date) -> bool:
        return day < self.today

    # ------------------------------------------------------------------------------------------ Claude Code
    @lru_cache(maxsize=64)
    def sessions(self, day: dt.date) -> tuple[tuple[CodeUser, tuple[dict[str, Any], ...]], ...]:
        """Sessions starting on `day`: (user, records in time order). A record: time (ms), event name, attributes
        (Python values; how they are encoded on the wire is `render_claude_code`'s business)."""
        if not self.has_data(day):
            return ()
        weekend = day.weekday() >= 5
        out = []
        for user in self.users:
            rng = np.random.default_rng([self.seed, 51, day.toordinal(), user.index])
            count = int(rng.poisson(user.rate * (0.15 if weekend else 1.0)))
            for s in range(count):
                start = day_start_ms(day) + int(rng.integers(8 * 3_600_000, 17 * 3_600_000))
                turns = 1 + int(rng.poisson(4))
                unlucky = rng.random() < 0.08
                retry = unlucky or (s == 0 and user.index % 4 == day.toordinal() % 4)
                out.append((user, self._session(rng, user, start, turns, retry, gap_ms=(20_000, 480_000))))
            if day.weekday() == 4 and user is self.overnight_user:  # Friday: a late session, or the forgotten agent
                out.append((user, self.friday_evening_session(day)))
        for name, planted_day in self._planted_days.items():
            if day == planted_day and name != FORGOTTEN_AGENT and self._planted_users.get(name) is not None:
                out.append((self._planted_users[name], self._planted_session(name, day)))
        out.sort(key=lambda s: s[1][0]["time_ms"])
        return tuple(out)

    def friday_evening_session(self, friday: dt.date) -> tuple[dict[str, Any], ...]:
        """The overnight user's Friday evening session (records). On most Fridays a short late one: from about 22:00,
        12 turns a quarter of an hour apart, into Saturday around 01:00 (overnight, but under 4 hours). On the planted
        Friday (`scenarios.scenario_days`), the forgotten agent: an Opus agent from 17:30 into Sunday afternoon."""
        user = self.overnight_user
        if friday == self._planted_days[FORGOTTEN_AGENT]:
            return self._planted_session(FORGOTTEN_AGENT, friday)
        rng = np.random.default_rng([self.seed, 52, friday.toordinal()])
        start = day_start_ms(friday) + 22 * 3_600_000 + int(rng.integers(0, 30 * 60_000))
        return self._session(rng, user, start, 12, False, gap_ms=(840_000, 960_000), requests_per_turn=1)

    @lru_cache(maxsize=8)
    def _planted_session(self, name: str, day: dt.date) -> tuple[dict[str, Any], ...]:
        user = self.overnight_user if name == FORGOTTEN_AGENT else self._planted_users[name]
        rng = np.random.default_rng([self.seed, 56, day.toordinal(), sorted(self._planted_days).index(name)])
        if name == FORGOTTEN_AGENT:  # Friday 17:30, one request a turn every 4 to 7 minutes, for ~45 hours
            start = day_start_ms(day) + 17 * 3_600_000 + 30 * 60_000
            return self._session(rng, user, start, FORGOTTEN_AGENT_TURNS, False, gap_ms=(240_000, 420_000),
                                 requests_per_turn=1, model=OPUS)
        start = day_start_ms(day) + int(rng.integers(10 * 3_600_000, 15 * 3_600_000))
        if name == CONTEXT_BLOAT:
            return self._bloat_session(rng, user, start)
        return self._retry_storm_session(rng, user, start)

    def planted_sessions(self) -> dict[str, tuple[CodeUser, tuple[dict[str, Any], ...]]]:
        """The planted scenarios' sessions: scenario name -> (user, records); only those before `today`."""
        out = {}
        for name, day in self._planted_days.items():
            user = self.overnight_user if name == FORGOTTEN_AGENT else self._planted_users.get(name)
            if user is not None and self.has_data(day):
                out[name] = (user, self.friday_evening_session(day) if name == FORGOTTEN_AGENT
                             else self._planted_session(name, day))
        return out

    def _session(self, rng: np.random.Generator, user: CodeUser, start: int, turns: int, retry: bool,
                 gap_ms: tuple[int, int], requests_per_turn: Optional[int] = None,
                 model: Optional[str] = None) -> tuple[dict[str, Any], ...]:
        w = _SessionWriter(self, rng, user, start)
        if model is None:
            model = OPUS if user.power and rng.random() < 0.4 else SONNET
            if user.power and rng.random() < 0.05:
                model = UNKNOWN_MODEL
        context = 0
        retry_at = int(rng.integers(0, turns)) if retry else -1
        for turn in range(turns):
            prompt_id = w.prompt(20, 1200)
            for r in range(requests_per_turn or 1 + int(rng.poisson(1.5))):
                if turn == retry_at and r == 0:
                    for attempt in (1, 2):  # the API is overloaded twice, then answers
                        w.error(prompt_id, model, "Overloaded", 529, attempt, int(rng.integers(300, 1500)))
                        w.t += 1000 * attempt
                fresh = int(SYSTEM_PROMPT_TOKENS if context == 0 else rng.lognormal(7.0, 0.8))
                output_tokens = max(1, int(rng.lognormal(5.6, 0.7)))
                input_tokens = int(rng.integers(2, 60))
                w.request(prompt_id, model, input_tokens, output_tokens, context, fresh, "repl_main_thread")
                context += fresh + input_tokens + output_tokens
                if rng.random() < 0.25:
                    w.tool_result(prompt_id)
                if rng.random() < 0.2:  # a quick auxiliary call on the small model
                    w.request(prompt_id, HAIKU, int(rng.integers(200, 900)), int(rng.integers(10, 80)), 0, 0,
                              "auxiliary")
                if context > COMPACT_AT:  # the context is summarised: the next requests read much less
                    w.request(prompt_id, model, int(rng.integers(2, 20)), int(rng.integers(1500, 4000)), context, 0,
                              "compact")
                    context = COMPACT_TO
            w.t += int(rng.integers(*gap_ms))
        return tuple(w.records)

    def _bloat_session(self, rng: np.random.Generator, user: CodeUser, start: int) -> tuple[dict[str, Any], ...]:
        """Nobody compacts: a short first question, then turn after turn that reads files and logs in full (14k to
        15k new tokens a request, two requests a turn) into a Sonnet session with the 1M context window, until the
        last turns read ~600k tokens each. The new tokens and the answers vary little, so that every turn costs
        more than the one before (its two longer reads alone add ~$0.017 at standard prices; the variation is worth
        ~$0.011 at most; both double in the long-context tier)."""
        w = _SessionWriter(self, rng, user, start)
        context = 0
        for turn in range(BLOAT_TURNS):
            prompt_id = w.prompt(*((40, 400) if turn == 0 else (300, 3000)))
            for _ in range(1 if turn == 0 else 2):
                fresh = SYSTEM_PROMPT_TOKENS if context == 0 else int(rng.integers(14_000, 15_000))
                input_tokens, output_tokens = int(rng.integers(2, 60)), int(rng.integers(150, 250))
                w.request(prompt_id, SONNET, input_tokens, output_tokens, context, fresh, "repl_main_thread")
                context += fresh + input_tokens + output_tokens
                w.tool_result(prompt_id, "Read")
            w.t += int(rng.integers(60_000, 300_000))
        return tuple(w.records)

    def _retry_storm_session(self, rng: np.random.Generator, user: CodeUser,
                             start: int) -> tuple[dict[str, Any], ...]:
        """A workflow's retry wrapper re-sends the same request: one prompt, then 150 near-identical requests (the
        same ~1,840 uncached and ~24,300 cached input tokens, each within 0.5%) about 3.5 s apart, then the rate
        limit: 8 `api_error`s (429) with growing back-off, one last answer, and the session stops."""
        w = _SessionWriter(self, rng, user, start)
        prompt_id = w.prompt(100, 300)
        uncached, cached = 1_840, 24_300
        for i in range(RETRY_STORM_REQUESTS):
            input_tokens = int(uncached * rng.uniform(0.995, 1.005))
            cache_read = 0 if i == 0 else int(cached * rng.uniform(0.997, 1.003))
            cache_write = cached if i == 0 else 0
            w.request(prompt_id, SONNET, input_tokens, int(rng.integers(30, 70)), cache_read, cache_write,
                      "repl_main_thread")
            w.t += int(rng.integers(300, 900))
        for attempt in range(1, RETRY_STORM_ERRORS + 1):
            w.error(prompt_id, SONNET, "Rate limited", 429, attempt, int(rng.integers(80, 400)))
            w.t += 1000 * min(2 ** attempt, 32)
        w.request(prompt_id, SONNET, int(uncached * rng.uniform(0.995, 1.005)), int(rng.integers(30, 70)),
                  int(cached * rng.uniform(0.997, 1.003)), 0, "repl_main_thread")
        return tuple(w.records)

    def _started_around(self, day: dt.date) -> list[tuple[CodeUser, tuple[dict[str, Any], ...]]]:
        """Sessions that may have events on `day`: those started on it or up to MAX_SESSION_DAYS before."""
        return [s for back in range(MAX_SESSION_DAYS, -1, -1) for s in self.sessions(day - dt.timedelta(days=back))]

    def events_on(self, day: dt.date) -> list[tuple[CodeUser, dict[str, Any]]]:
        """Every Claude Code record that happened on `day` (UTC), from any session: (user, record)."""
        lo, hi = day_start_ms(day), day_start_ms(day) + DAY_MS
        return [(user, r) for user, records in self._started_around(day) for r in records if lo <= r["time_ms"] < hi]

    def claude_code_requests(self, day: dt.date) -> list[dict[str, Any]]:
        """The `api_request` and `api_error` records that happened on `day` (UTC), from any file."""
        return [{"user_email": user.email, **r} for user, r in self.events_on(day)
                if r["name"] in ("api_request", "api_error")]

    def render_claude_code(self, day: dt.date) -> bytes:
        """The day's sessions as OTLP JSON lines (one collector export per line)."""
        lines = []
        for user, records in self.sessions(day):
            resource = {"attributes": _attributes({
                "service.name": "claude-code", "service.version": CLAUDE_CODE_VERSION, "os.type": user.os_type,
                "host.arch": "arm64" if user.os_type == "darwin" else "x86_64",
                **({"team.id": user.team} if user.team else {})}, numbers_as_strings=False)}
            for i in range(0, len(records), RECORDS_PER_LINE):
                batch = records[i:i + RECORDS_PER_LINE]
                logs = [{"timeUnixNano": str(r["time_ms"] * 1_000_000),
                         "observedTimeUnixNano": str(r["time_ms"] * 1_000_000 + 1_000_000),
                         "body": {"stringValue": f"claude_code.{r['name']}"},
                         "attributes": _attributes(r["attributes"], numbers_as_strings=True, ints=("event.sequence",))}
                        for r in batch]
                lines.append((batch[0]["time_ms"], {"resourceLogs": [{
                    "resource": resource,
                    "scopeLogs": [{"scope": {"name": "com.anthropic.claude_code.events",
                                             "version": CLAUDE_CODE_VERSION}, "logRecords": logs}]}]}))
        lines.sort(key=lambda line: line[0])
        return b"".join(json.dumps(doc, separators=(",", ":")).encode() + b"\n" for _, doc in lines)

    # ---------------------------------------------------------------------------------- review agent spans
    @lru_cache(maxsize=64)
    def reviews(self, day: dt.date) -> tuple[dict[str, Any], ...]:
        """Pull-request reviews started on `day`: project, team, provider, model and the review's model calls."""
        if not self.has_data(day):
            return ()
        out = []
        teams = {p.id: p.team for p in self.world.org.projects}
        for i, project in enumerate(sorted(teams)):
            rng = np.random.default_rng([self.seed, 53, day.toordinal(), i])
            for _ in range(int(rng.poisson(0.2 if day.weekday() >= 5 else 1.5))):
                provider, model, alias = REVIEW_MODELS.get(teams[project], REVIEW_DEFAULT)
                t = day_start_ms(day) + int(rng.integers(0, DAY_MS - 3_600_000))
                review = {"project": project, "team": teams[project], "provider": provider, "model": model,
                          "alias": alias, "trace_id": _hex(rng, 32), "root_span": _hex(rng, 16),
                          "conversation_id": _uuid(rng), "start_ms": t, "calls": []}
                context = 0
                for c in range(int(rng.integers(2, 7))):
                    duration = int(rng.integers(1_500, 30_000))
                    error = rng.random() < 0.04
                    fresh = int(rng.lognormal(8.0, 0.5)) if c == 0 else int(rng.lognormal(6.5, 0.6))
                    call = {"span_id": _hex(rng, 16), "response_id": "msg_01" + _hex(rng, 22), "start_ms": t,
                            "end_ms": t + duration, "error": error}
                    if not error:
                        cache_write = fresh if provider == "anthropic" else 0
                        call.update(uncached=int(rng.integers(3, 400)) + (0 if provider == "anthropic" else fresh),
                                    cache_read=context, cache_write=cache_write,
                                    output=max(1, int(rng.lognormal(6.0, 0.6))))
                        context += fresh + call["output"]
                    review["calls"].append(call)
                    t += duration + int(rng.integers(100, 3_000))
                review["end_ms"] = t
                out.append(review)
        return tuple(out)

    def review_calls(self, day: dt.date) -> list[dict[str, Any]]:
        """The review agent's model calls that started on `day` (reviews never cross midnight)."""
        return [{**call, "project": r["project"], "provider": r["provider"], "model": r["model"]}
                for r in self.reviews(day) for call in r["calls"]]

    def render_review_agent(self, day: dt.date) -> bytes:
        lines = []
        for r in self.reviews(day):
            spans = []
            totals = {"in": 0, "out": 0}
            for call in r["calls"]:
                attrs: dict[str, Any] = {
                    "gen_ai.operation.name": "chat", "gen_ai.provider.name": r["provider"],
                    "gen_ai.request.model": r["alias"], "gen_ai.conversation.id": r["conversation_id"],
                    "gen_ai.agent.name": "pr-review-agent",
                    "server.address": "api.anthropic.com" if r["provider"] == "anthropic" else "api.openai.com"}
                status: dict[str, Any] = {}
                if call["error"]:
                    attrs["error.type"] = "overloaded_error" if r["provider"] == "anthropic" else "rate_limit"
                    status = {"code": 2, "message": "the provider refused the request"}
                else:
                    total_in = call["uncached"] + call["cache_read"] + call["cache_write"]
                    attrs.update({"gen_ai.response.model": r["model"], "gen_ai.response.id": call["response_id"],
                                  "gen_ai.usage.input_tokens": total_in,
                                  "gen_ai.usage.output_tokens": call["output"],
                                  "gen_ai.usage.cache_read.input_tokens": call["cache_read"]})
                    if r["provider"] == "anthropic":
                        attrs["gen_ai.usage.cache_creation.input_tokens"] = call["cache_write"]
                    totals["in"] += total_in
                    totals["out"] += call["output"]
                spans.append({"traceId": r["trace_id"], "spanId": call["span_id"], "parentSpanId": r["root_span"],
                              "name": f"chat {r['alias']}", "kind": 3,
                              "startTimeUnixNano": str(call["start_ms"] * 1_000_000),
                              "endTimeUnixNano": str(call["end_ms"] * 1_000_000),
                              "attributes": _attributes(attrs), "status": status})
            # the agent's own span sums its calls: not a model call, and not to be counted twice
            spans.insert(0, {"traceId": r["trace_id"], "spanId": r["root_span"], "name": "invoke_agent pr-review-agent",
                             "kind": 1, "startTimeUnixNano": str(r["start_ms"] * 1_000_000),
                             "endTimeUnixNano": str(r["end_ms"] * 1_000_000),
                             "attributes": _attributes({
                                 "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "pr-review-agent",
                                 "gen_ai.provider.name": r["provider"], "gen_ai.conversation.id": r["conversation_id"],
                                 "gen_ai.usage.input_tokens": totals["in"],
                                 "gen_ai.usage.output_tokens": totals["out"]}),
                             "status": {}})
            resource = {"attributes": _attributes({"service.name": "pr-review-agent", "service.version": "0.9.3",
                                                   "deployment.environment.name": "prod", "team": r["team"],
                                                   "project": r["project"]})}
            lines.append((r["start_ms"], {"resourceSpans": [{"resource": resource, "scopeSpans": [
                {"scope": {"name": "pr_review_agent.genai", "version": "0.9.3"}, "spans": spans}]}]}))
        lines.sort(key=lambda line: line[0])
        return b"".join(json.dumps(doc, separators=(",", ":")).encode() + b"\n" for _, doc in lines)

    # ---------------------------------------------------------------------------------------------- files
    def telemetry_days(self, start: dt.date, end: dt.date) -> list[dt.date]:
        return [start + dt.timedelta(days=i) for i in range((min(end, self.today) - start).days)]

    def write_telemetry(self, folder: Path, start: dt.date, end: dt.date) -> list[Path]:
        """Writes the files of the days [start, end) (before today) under `folder`; returns those it (re)wrote."""
        from ingestion._files import write_if_changed

        written = []
        for day in self.telemetry_days(start, end):
            # rotated logs are often compressed: the Claude Code files are gzipped (mtime 0: the same bytes each time)
            claude_code = gzip.compress(self.render_claude_code(day), mtime=0)
            for path, content in ((folder / "claude-code" / f"claude-code-{day}.jsonl.gz", claude_code),
                                  (folder / "pr-review-agent" / f"traces-{day}.jsonl", self.render_review_agent(day))):
                if content and write_if_changed(path, content):
                    written.append(path)
        return written


class _SessionWriter:
    """Writes one Claude Code session's records, advancing its clock (`t`, ms) as the events happen."""

    def __init__(self, telemetry: DemoTelemetry, rng: np.random.Generator, user: CodeUser, start: int) -> None:
        self.rng = rng
        self.t = start
        self.records: list[dict[str, Any]] = []
        self.base = {"user.id": user.install_id, "session.id": _uuid(rng), "organization.id": telemetry.organization_id,
                     "user.email": user.email, "user.account_uuid": user.account_uuid, "terminal.type": user.terminal}

    def emit(self, name: str, attrs: dict[str, Any]) -> None:
        self.records.append({"time_ms": self.t, "name": name,
                             "attributes": {**self.base, "event.name": name, "event.timestamp": _iso_ms(self.t),
                                            "event.sequence": len(self.records), **attrs}})

    def prompt(self, shortest: int, longest: int) -> str:
        """A `user_prompt` of a length drawn in [shortest, longest); returns its prompt id."""
        prompt_id = _uuid(self.rng)
        self.emit("user_prompt", {"prompt.id": prompt_id, "prompt_length": int(self.rng.integers(shortest, longest))})
        self.t += int(self.rng.integers(200, 2_000))
        return prompt_id

    def request(self, prompt_id: str, model: str, input_tokens: int, output_tokens: int, cache_read: int,
                cache_write: int, query_source: str) -> None:
        duration = int(900 + output_tokens * 22 + self.rng.integers(0, 1500))
        self.t += duration
        long_context = input_tokens + cache_read + cache_write > LONG_CONTEXT_ABOVE
        self.emit("api_request", {
            "prompt.id": prompt_id, "model": model, "input_tokens": input_tokens, "output_tokens": output_tokens,
            "cache_read_tokens": cache_read, "cache_creation_tokens": cache_write,
            "cost_usd": claude_cost(model, input_tokens, output_tokens, cache_read, cache_write, long_context),
            "duration_ms": duration, "request_id": "req_011" + _hex(self.rng, 20), "speed": "normal",
            "query_source": query_source})

    def error(self, prompt_id: str, model: str, error: str, status: int, attempt: int, duration: int) -> None:
        self.t += duration
        self.emit("api_error", {"prompt.id": prompt_id, "model": model, "error": error, "status_code": status,
                                "attempt": attempt, "duration_ms": duration})

    def tool_result(self, prompt_id: str, tool: Optional[str] = None) -> None:
        tool_ms = int(self.rng.integers(50, 20_000))
        self.t += tool_ms
        self.emit("tool_result", {"prompt.id": prompt_id,
                                  "tool_name": tool or ("Bash", "Edit", "Read", "Grep")[int(self.rng.integers(0, 4))],
                                  "success": True, "duration_ms": tool_ms})


def _attributes(values: dict[str, Any], numbers_as_strings: bool = False, ints: Iterable[str] = ()) -> list[dict]:
    """OTLP JSON key/value attributes. int64 travels as a JSON string (`intValue: "12"`), as OTLP JSON encodes it;
    with `numbers_as_strings`, numbers are `stringValue`s, as Claude Code sends them."""
    out = []
    for k, v in values.items():
        if isinstance(v, bool):
            value = {"stringValue": str(v).lower()} if numbers_as_strings else {"boolValue": v}
        elif isinstance(v, int) and (not numbers_as_strings or k in ints):
            value = {"intValue": str(v)}
        elif isinstance(v, float) and not numbers_as_strings:
            value = {"doubleValue": v}
        elif isinstance(v, (int, float)):
            value = {"stringValue": repr(v) if isinstance(v, float) else str(v)}
        else:
            value = {"stringValue": str(v)}
        out.append({"key": k, "value": value})
    return out


# ------------------------------------------------------------------------------------------------- FOCUS

# (service, category, subcategory, unit, USD a weekday at factor 1, usage type, operation, resource kind)
AWS_SERVICES = (
    ("Amazon Elastic Compute Cloud", "Compute", "Virtual Machines", "Hours", 38.0, "BoxUsage:m7g.xlarge",
     "RunInstances", "instance"),
    ("Amazon Simple Storage Service", "Storage", "Object Storage", "GB-Mo", 4.5, "TimedStorage-ByteHrs",
     "StandardStorage", "bucket"),
    ("Amazon Bedrock", "AI and Machine Learning", "Generative AI", "1K Tokens", 9.0, "Claude-Sonnet-input-tokens",
     "InvokeModel", "model"),
)
GCP_SERVICES = (
    ("Compute Engine", "Compute", "Virtual Machines", "Hours", 31.0, "N2 Instance Core", "instance"),
    ("Cloud Storage", "Storage", "Object Storage", "GiB-Months", 3.2, "Standard Storage", "bucket"),
    ("BigQuery", "Databases", "Data Warehouses", "TiB", 7.5, "Analysis", "dataset"),
    ("Vertex AI", "AI and Machine Learning", "Generative AI", "1K Characters", 11.0, "Gemini 2.5 Flash Input",
     "endpoint"),
)
AI_PROJECT_SHARE = 0.5  # about half the projects call a cloud-hosted model
NAT_USD_PER_DAY = Decimal("14.4000000000")  # the platform's shared NAT gateway: untagged
GCP_MONTHLY_CREDIT = Decimal("-25.0000000000")
FOCUS_COLUMNS = (
    "BillingAccountId", "BillingAccountName", "BillingCurrency", "BillingPeriodStart", "BillingPeriodEnd",
    "ChargePeriodStart", "ChargePeriodEnd", "ChargeCategory", "ChargeClass", "ChargeDescription", "ChargeFrequency",
    "BilledCost", "EffectiveCost", "ListCost", "ContractedCost", "ConsumedQuantity", "ConsumedUnit",
    "PricingQuantity", "PricingUnit", "ProviderName", "PublisherName", "InvoiceIssuerName", "ServiceName",
    "ServiceCategory", "ServiceSubcategory", "SubAccountId", "SubAccountName", "ResourceId", "ResourceName",
    "ResourceType", "RegionId", "RegionName", "SkuId", "Tags",
)


def _money(value: float) -> Decimal:
    return Decimal(repr(value)).quantize(MONEY_PLACES)


def _ts(day: dt.date) -> str:
    return f"{day.isoformat()}T00:00:00Z"


class DemoCloudBill:
    """The demo organisation's AWS and GCP costs in FOCUS 1.2 for any day before `world.today`."""

    def __init__(self, world: DemoWorld) -> None:
        self.world = world
        self.seed = world.seed
        self.today = world.today
        rng = np.random.default_rng([world.seed, 60])
        self.projects = []
        for project in sorted(world.org.projects, key=lambda p: p.id):
            factor = float(rng.lognormal(0.0, 0.5))
            ai = rng.random() < AI_PROJECT_SHARE
            self.projects.append((project.id, project.team, factor, ai))

    def has_data(self, day: dt.date) -> bool:
        return day < self.today

    @staticmethod
    def provider_of(team: str) -> str:
        """The base teams are split between the clouds; a larger demo org's numbered teams alternate."""
        if team in AWS_TEAMS or team in GCP_TEAMS:
            return "aws" if team in AWS_TEAMS else "gcp"
        return "aws" if _stable("cloud", team) % 2 == 0 else "gcp"

    @lru_cache(maxsize=128)
    def rows(self, day: dt.date) -> tuple[dict[str, Any], ...]:
        """The day's FOCUS rows, AWS then GCP; money as Decimals with 10 places, quantities as floats."""
        if not self.has_data(day):
            return ()
        rng = np.random.default_rng([self.seed, 61, day.toordinal()])
        weekend = day.weekday() >= 5
        month_start = day.replace(day=1)
        month_end = (month_start + dt.timedelta(days=32)).replace(day=1)
        out = []
        for project, team, factor, ai in self.projects:
            provider = self.provider_of(team)
            services = AWS_SERVICES if provider == "aws" else GCP_SERVICES
            for service in services:
                if service[1] == "AI and Machine Learning" and not ai:
                    continue
                daily = service[4] * factor * (0.6 if weekend and service[1] == "Compute" else 1.0)
                billed = _money(daily * float(rng.lognormal(0.0, 0.1)))
                out.append(self._row(provider, day, month_start, month_end, project, team, service, billed,
                                     float(rng.uniform(0.5, 3.0))))
        platform = next((p for p in self.projects if p[1] == "platform"), None)
        if platform is not None:
            nat = ("Amazon Virtual Private Cloud", "Networking", "Network Connectivity", "Hours", 0.0,
                   "NatGateway-Hours", "CreateNatGateway", "natgateway")
            out.append(self._row("aws", day, month_start, month_end, None, "platform", nat, NAT_USD_PER_DAY, 24.0))
        if day.day == 1 and any(self.provider_of(t) == "gcp" for _, t, _, _ in self.projects):
            credit = self._row("gcp", day, month_start, month_end, None, None, GCP_SERVICES[0], GCP_MONTHLY_CREDIT,
                               0.0)
            credit.update({"ChargeCategory": "Credit", "ChargeDescription": "Committed use discount credit",
                           "ChargeFrequency": "One-Time", "ListCost": Decimal(0), "ResourceId": None,
                           "ResourceName": None, "ResourceType": None, "ConsumedQuantity": None,
                           "ConsumedUnit": None})
            out.append(credit)
        return tuple(out)

    def _row(self, provider: str, day: dt.date, month_start: dt.date, month_end: dt.date, project: Optional[str],
             team: Optional[str], service: tuple, billed: Decimal, per_unit: float) -> dict[str, Any]:
        aws = provider == "aws"
        name, category, subcategory, unit = service[:4]
        kind = service[-1]
        owner = project or team or "shared"
        account = f"{_stable('aws-account', team or 'shared') % 10**12:012d}" if aws else f"nw-{owner}"
        list_cost = (billed * Decimal("1.25")).quantize(MONEY_PLACES) if category == "Compute" else billed
        quantity = round(float(billed) / per_unit, 6) if per_unit else None
        tags = {"team": team, "project": project, "env": "prod"} if project else {}
        row = {
            "BillingAccountId": "710000000001" if aws else "01A2B3-C4D5E6-F7A8B9",
            "BillingAccountName": "Northwind Robotics" if aws else "Northwind Robotics GCP",
            "BillingCurrency": "USD",
            "BillingPeriodStart": _ts(month_start), "BillingPeriodEnd": _ts(month_end),
            "ChargePeriodStart": _ts(day), "ChargePeriodEnd": _ts(day + dt.timedelta(days=1)),
            "ChargeCategory": "Usage", "ChargeClass": None,
            "ChargeDescription": f"{name} usage ({owner})", "ChargeFrequency": "Usage-Based",
            "BilledCost": billed, "EffectiveCost": billed, "ListCost": list_cost, "ContractedCost": billed,
            "ConsumedQuantity": quantity, "ConsumedUnit": unit, "PricingQuantity": quantity, "PricingUnit": unit,
            "ProviderName": "AWS" if aws else "Google Cloud", "PublisherName": "AWS" if aws else "Google Cloud",
            "InvoiceIssuerName": "AWS" if aws else "Google Cloud",
            "ServiceName": name, "ServiceCategory": category, "ServiceSubcategory": subcategory,
            "SubAccountId": account, "SubAccountName": f"northwind-{team or 'shared'}" if aws else owner,
            "ResourceId": (f"arn:aws:{kind}:us-east-1:{account}:{kind}/{owner}" if aws
                           else f"//{name.lower().replace(' ', '')}.googleapis.com/projects/nw-{owner}/{kind}s/main"),
            "ResourceName": f"{owner}-{kind}", "ResourceType": kind,
            "RegionId": "us-east-1" if aws else "europe-west1",
            "RegionName": "US East (N. Virginia)" if aws else "Belgium",
            "SkuId": f"USE1-{service[5]}" if aws else f"{_stable('sku', name) % 10**8:08X}",
            "Tags": tags,
        }
        if aws:
            row.update({"x_UsageType": f"USE1-{service[5]}", "x_Operation": service[6]})
        else:
            row.update({"x_SkuDescription": service[5], "x_ProjectNumber": str(_stable("gcp-project", owner) % 10**12)})
        return row

    def month_rows(self, provider: str, month: dt.date) -> list[dict[str, Any]]:
        day, rows = month.replace(day=1), []
        while day.month == month.month and day < self.today:
            rows.extend(r for r in self.rows(day) if (r["ProviderName"] == "AWS") == (provider == "aws"))
            day += dt.timedelta(days=1)
        return rows

    def months(self, count: int = 2) -> list[dt.date]:
        """The last `count` months with data (the month of yesterday and those before it)."""
        month = (self.today - dt.timedelta(days=1)).replace(day=1)
        out = [month]
        for _ in range(count - 1):
            out.append((out[-1] - dt.timedelta(days=1)).replace(day=1))
        return sorted(out)

    def render_aws_csv(self, month: dt.date) -> bytes:
        rows = self.month_rows("aws", month)
        if not rows:
            return b""
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        columns = [*FOCUS_COLUMNS, "x_UsageType", "x_Operation"]
        writer.writerow(columns)
        for row in rows:
            writer.writerow(["" if row.get(c) is None else
                             json.dumps(row[c], sort_keys=True) if c == "Tags" else
                             f"{row[c]:f}" if isinstance(row[c], Decimal) else row[c] for c in columns])
        return buffer.getvalue().encode()

    def render_gcp_parquet(self, month: dt.date) -> bytes:
        import pyarrow as pa
        import pyarrow.parquet as pq

        rows = self.month_rows("gcp", month)
        if not rows:
            return b""
        money = pa.decimal128(38, 10)
        types = {c: pa.string() for c in FOCUS_COLUMNS}
        types.update({c: money for c in ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost")})
        types.update({c: pa.float64() for c in ("ConsumedQuantity", "PricingQuantity")})
        types.update({c: pa.timestamp("us", tz="UTC") for c in ("BillingPeriodStart", "BillingPeriodEnd",
                                                               "ChargePeriodStart", "ChargePeriodEnd")})
        types["Tags"] = pa.map_(pa.string(), pa.string())
        columns = [*FOCUS_COLUMNS, "x_SkuDescription", "x_ProjectNumber"]
        arrays = []
        for c in columns:
            values = [r.get(c) for r in rows]
            if c == "Tags":
                values = [list(v.items()) for v in values]
            elif pa.types.is_timestamp(types.get(c, pa.string())):
                values = [dt.datetime.fromisoformat(v.replace("Z", "+00:00")) for v in values]
            arrays.append(pa.array(values, types.get(c, pa.string())))
        buffer = io.BytesIO()
        pq.write_table(pa.Table.from_arrays(arrays, names=columns), buffer)
        return buffer.getvalue()

    def write_focus(self, folder: Path, months: int = 2) -> list[Path]:
        from ingestion._files import write_if_changed

        written = []
        for month in self.months(months):
            label = f"{month:%Y-%m}"
            for path, content in ((folder / "aws" / f"focus-aws-{label}.csv", self.render_aws_csv(month)),
                                  (folder / "gcp" / f"focus-gcp-{label}.parquet", self.render_gcp_parquet(month))):
                if content and write_if_changed(path, content):
                    written.append(path)
        return written


@lru_cache(maxsize=4)
def demo_telemetry(world: DemoWorld) -> DemoTelemetry:
    return DemoTelemetry(world)


@lru_cache(maxsize=4)
def demo_cloud_bill(world: DemoWorld) -> DemoCloudBill:
    return DemoCloudBill(world)
