"""Alerts: new cost anomalies and budget breaches, told once to the team that owns them.

What is sent (docs/alerts.md has the whole story):

* every **new finding** of `marts.fct_cost_anomalies` (`is_new`: the first period of an episode) that nobody
  suppressed (`is_suppressed`), and
* every **budget** of `marts.fct_budget_status` whose latest status in the window is `watch` or `over`: once per
  team, project, month and status (`watch`, later `over`: two messages; `watch` again: none),

as long as it is recent (its last day at most `ALERTS__MAX_AGE_DAYS`, default 7, before today): a backfill of last
quarter does not page anyone about last quarter.

Where (the sinks), all read through dlt's configuration: environment variables or `.dlt/config.toml` /
`.dlt/secrets.toml`. URLs and credentials are read as secrets: never logged, never written to the warehouse.

* `log`: a log line and a JSON line in `<FINOPS_EXPORT_DIR>/alerts/<day>.jsonl`; always on.
* `slack`: a Slack incoming webhook (`ALERTS__SLACK__WEBHOOK_URL`).
* `webhook`: a JSON POST to any URL (`ALERTS__WEBHOOK__URL`).
* `email`: SMTP (`ALERTS__SMTP__HOST`, `PORT`, `USERNAME`, `PASSWORD`, `FROM`, `TO`, `STARTTLS`, `SSL`).

Routing: a team may have its own Slack webhook, webhook URL and mail recipients
(`ALERTS__ROUTES__<TEAM_ID>__SLACK__WEBHOOK_URL`, `...__WEBHOOK__URL`, `...__SMTP__TO`); each falls back to the
default on its own. What nobody owns (team `unallocated`) always goes to the defaults.

Once: every attempt is a row of `alerts.sent_notifications` in the warehouse (notification key, sink, route,
status, a short error that never carries a URL or a credential). A notification with a `sent` row for a sink is never
sent to that sink again, whatever is re-run or backfilled; a failed one is tried again on the next run.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import smtplib
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Optional, Protocol, Sequence

import sqlglot

logger = logging.getLogger(__name__)

DEFAULT_ROUTE = "default"
UNALLOCATED = "unallocated"
DEFAULT_MAX_AGE_DAYS = 7
DEFAULT_TIMEOUT_SECONDS = 10.0
SINKS = ("log", "slack", "webhook", "email")  # the order they are tried in: the local one first
BUDGET_ALERT_STATUSES = ("watch", "over")
SEVERITY_RANK = {"high": 0, "medium": 1, "low": 2}
LOG_SCHEMA, LOG_TABLE = "alerts", "alerts.sent_notifications"
ANOMALIES_TABLE, BUDGETS_TABLE = "fct_cost_anomalies", "fct_budget_status"

Query = Callable[..., list[dict[str, Any]]]  # (sql with %s placeholders, *params) -> rows as dicts
Lookup = Callable[[str, bool], Any]  # (dotted config key, is it a secret) -> value or None


# --------------------------------------------------------------------------------------------------- configuration

def dlt_lookup(key: str, secret: bool) -> Any:
    """A value from dlt's providers (environment, then .dlt/secrets.toml and config.toml), by its full dotted key.

    Exact keys only: dlt's accessors do not fall back to shorter section paths, so `alerts.routes.x.slack.webhook_url`
    never resolves to some unrelated `WEBHOOK_URL`. Secrets go through `dlt.secrets`, which keeps them out of dlt's
    run traces."""
    import dlt

    value = dlt.secrets.get(key) if secret else dlt.config.get(key)
    return value


def _text(value: Any) -> Optional[str]:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _recipients(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    items = value if isinstance(value, (list, tuple)) else str(value).replace(";", ",").split(",")
    return tuple(item.strip() for item in map(str, items) if item.strip())


def _flag(value: Any, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(f"not a true/false setting: {text!r}")


@dataclass(frozen=True)
class Destination:
    """Where one sink sends one team's notifications. `route` is what is recorded and logged ('default' or the team
    id whose own settings these are); `target` (a URL or the mail recipients) is never recorded or logged."""

    route: str
    target: Any = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    username: Optional[str] = field(default=None, repr=False)
    password: Optional[str] = field(default=None, repr=False)
    starttls: bool = True
    ssl: bool = False  # implicit TLS from the first byte (port 465)


def team_sections(team_id: str) -> list[str]:
    """The config sections a team's route may sit under: its id as is (`alerts.routes.data-science` in TOML) and
    with every other character than letters, digits and `_` made `_` (`ALERTS__ROUTES__DATA_SCIENCE__...`, which a
    shell can set)."""
    sections = []
    if re.fullmatch(r"[A-Za-z0-9_-]+", team_id):
        sections.append(team_id)
    normalized = re.sub(r"[^A-Za-z0-9_]", "_", team_id)
    if normalized not in sections:
        sections.append(normalized)
    return sections


def _destinations(lookup: Lookup, prefix: str, route: str) -> dict[str, Destination]:
    found: dict[str, Destination] = {}
    slack = _text(lookup(f"{prefix}.slack.webhook_url", True))
    if slack:
        found["slack"] = Destination(route, slack)
    webhook = _text(lookup(f"{prefix}.webhook.url", True))
    if webhook:
        found["webhook"] = Destination(route, webhook)
    recipients = _recipients(lookup(f"{prefix}.smtp.to", False))
    if recipients:
        found["email"] = Destination(route, recipients)
    return found


@dataclass
class AlertSettings:
    """The sinks and routes, read once per run (team routes when a team first needs one)."""

    default: dict[str, Destination]
    smtp: Optional[SmtpSettings]
    log_dir: Path
    max_age_days: int = DEFAULT_MAX_AGE_DAYS
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    lookup: Lookup = field(default=dlt_lookup, repr=False)
    _teams: dict[str, dict[str, Destination]] = field(default_factory=dict, repr=False)

    @classmethod
    def load(cls, log_dir: Path, lookup: Lookup = dlt_lookup) -> "AlertSettings":
        host = _text(lookup("alerts.smtp.host", False))
        smtp = None
        if host:
            use_ssl = _flag(lookup("alerts.smtp.ssl", False), False)
            starttls = _flag(lookup("alerts.smtp.starttls", False), not use_ssl)
            port = int(lookup("alerts.smtp.port", False) or (465 if use_ssl else 587 if starttls else 25))
            username = _text(lookup("alerts.smtp.username", True))
            sender = _text(lookup("alerts.smtp.from", False)) or username or "ai-finops@localhost"
            smtp = SmtpSettings(host=host, port=port, sender=sender, username=username,
                                password=_text(lookup("alerts.smtp.password", True)), starttls=starttls, ssl=use_ssl)
        max_age = lookup("alerts.max_age_days", False)
        timeout = lookup("alerts.timeout_seconds", False)
        return cls(default=_destinations(lookup, "alerts", DEFAULT_ROUTE), smtp=smtp, log_dir=Path(log_dir),
                   max_age_days=int(max_age) if max_age not in (None, "") else DEFAULT_MAX_AGE_DAYS,
                   timeout_seconds=float(timeout) if timeout not in (None, "") else DEFAULT_TIMEOUT_SECONDS,
                   lookup=lookup)

    def team_destinations(self, team_id: str) -> dict[str, Destination]:
        """The team's own settings (`alerts.routes.<team>`), without the defaults."""
        if team_id not in self._teams:
            own: dict[str, Destination] = {}
            for section in team_sections(team_id):
                for sink, destination in _destinations(self.lookup, f"alerts.routes.{section}", team_id).items():
                    own.setdefault(sink, destination)
            self._teams[team_id] = own
        return self._teams[team_id]

    def destinations(self, team_id: Optional[str]) -> dict[str, Destination]:
        """Every sink a notification of `team_id` goes to: the team's own destination for each sink, else the
        default; the log sink always. Team `unallocated` (nobody owns it) uses the defaults only."""
        team = team_id or UNALLOCATED
        own = {} if team == UNALLOCATED else self.team_destinations(team)
        chosen = {"log": Destination(DEFAULT_ROUTE)}
        for sink in SINKS[1:]:
            if sink in own:
                chosen[sink] = own[sink]
            elif sink in self.default:
                chosen[sink] = self.default[sink]
        return chosen


# --------------------------------------------------------------------------------------------------- notifications

@dataclass(frozen=True)
class Notification:
    """One thing to tell a team: a new anomaly finding or a budget status."""

    key: str  # what "once" is about: anomaly:<finding_id> / budget:<team>:<project>:<month>:<status>
    kind: str  # 'anomaly' | 'budget'
    team_id: str
    severity: str  # 'high' | 'medium' | 'low'
    title: str  # severity, rule and team in one line: Slack's header, the e-mail's subject
    sentence: str  # the mart's own sentence / message
    figures: tuple[tuple[str, str], ...]  # (label, formatted value), in display order
    day: dt.date  # the last day it is about: a finding's period end, a budget's as-of date
    record: Mapping[str, Any]  # the mart row, JSON-ready
    impact_usd: float = 0.0  # for ordering: the biggest money first
    covered_by: tuple[str, ...] = ()  # keys that, once delivered to a sink, make this one moot there (watch < over)

    def payload(self) -> dict[str, Any]:
        """The generic JSON document (webhook sink, log file)."""
        return {"source": "ai-finops-warehouse", "kind": self.kind, "notification_key": self.key,
                "team_id": self.team_id, "severity": self.severity, "title": self.title, "sentence": self.sentence,
                "figures": dict(self.figures), "day": self.day.isoformat(), self.kind: dict(self.record)}


def _json_ready(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return [_json_ready(v) for v in value]
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    return value


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _number(value: Any) -> Optional[float]:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def usd(value: Any) -> Optional[str]:
    number = _number(value)
    return None if number is None else f"${number:,.2f}"


def pct(value: Any) -> Optional[str]:
    """`*_pct` columns are fractions in the marts (0.8 means 80%, 1.5 means +150%); shown as percentages."""
    number = _number(value)
    return None if number is None else f"{number * 100:,.0f}%"


def ratio(value: Any) -> Optional[str]:
    number = _number(value)
    return None if number is None else f"{number:,.1f}x"


def plain(value: Any) -> Optional[str]:
    number = _number(value)
    if number is None:
        return _text(value)
    return f"{number:,.2f}" if abs(number) < 1000 else f"{number:,.0f}"


def _figures(pairs: Iterable[tuple[str, Optional[str]]]) -> tuple[tuple[str, str], ...]:
    return tuple((label, value) for label, value in pairs if value)


def anomaly_notification(row: Mapping[str, Any]) -> Notification:
    team = _text(row.get("team_id")) or UNALLOCATED
    severity = (_text(row.get("severity")) or "medium").lower()
    rule = _text(row.get("rule")) or "anomaly"
    start, end = _as_date(row["period_start"]), _as_date(row["period_end"])
    period = start.isoformat() if start == end else f"{start.isoformat()} .. {end.isoformat()}"
    entity = " ".join(filter(None, (_text(row.get("entity_type")), _text(row.get("entity_id")))))
    impact = usd(row.get("impact_usd"))
    if impact and pct(row.get("impact_pct")):
        impact = f"{impact} ({'+' if (_number(row.get('impact_pct')) or 0) >= 0 else ''}{pct(row.get('impact_pct'))})"
    observed, baseline = plain(row.get("observed")), plain(row.get("baseline"))
    figures = _figures([
        ("Actual", usd(row.get("actual_usd"))),
        ("Expected", usd(row.get("expected_usd"))),
        ("Impact", impact),
        ("Ratio", ratio(row.get("ratio"))),
        ("Observed / baseline", f"{observed} / {baseline}" if observed and baseline else None),
        ("Period", f"{_text(row.get('period_type')) or 'period'} {period}"),
        ("Entity", entity or None),
        ("Top contributors", _text(row.get("top_contributors"))),
    ])
    sentence = _text(row.get("sentence")) or f"{entity or 'An entity'} tripped the {rule} rule for {period}."
    return Notification(
        key=f"anomaly:{row['finding_id']}", kind="anomaly", team_id=team, severity=severity,
        title=f"{severity.capitalize()} cost anomaly · {rule} · team {team}", sentence=sentence, figures=figures,
        day=end, record=_json_ready(dict(row)), impact_usd=_number(row.get("impact_usd")) or 0.0)


def budget_notification(row: Mapping[str, Any]) -> Notification:
    team = _text(row.get("team_id")) or UNALLOCATED
    project = _text(row.get("project_id"))
    status = str(row["status"]).lower()
    month = _as_date(row["month_start"])
    scope = f"team {team}" + (f" · project {project}" if project else "")
    label = "over budget" if status == "over" else "watch"
    forecast = usd(row.get("forecast_usd"))
    if forecast and pct(row.get("forecast_pct_of_budget")):
        forecast = f"{forecast} ({pct(row.get('forecast_pct_of_budget'))} of budget)"
    days_left = row.get("days_left")
    figures = _figures([
        ("Budget", usd(row.get("budget_usd"))),
        ("Spent to date", usd(row.get("spend_to_date_usd"))),
        ("Of budget", pct(row.get("pct_of_budget"))),
        ("Typical by now", usd(row.get("typical_to_date_usd"))),
        ("Forecast to month end", forecast),
        ("Days left", str(days_left) if days_left is not None else None),
        ("As of", _as_date(row["as_of_date"]).isoformat()),
    ])
    sentence = _text(row.get("message")) or f"The {month:%B} budget of {scope} is at {pct(row.get('pct_of_budget'))}."
    key = f"budget:{team}:{project or '*'}:{month:%Y-%m}"
    return Notification(
        key=f"{key}:{status}", kind="budget", team_id=team, covered_by=(f"{key}:over",) if status != "over" else (),
        severity="high" if status == "over" else "medium",
        title=f"Budget {label} · {scope} · {month:%B %Y}", sentence=sentence, figures=figures,
        day=_as_date(row["as_of_date"]), record=_json_ready(dict(row)),
        impact_usd=max((_number(row.get("forecast_usd")) or 0.0) - (_number(row.get("budget_usd")) or 0.0), 0.0))


def ordered(notifications: Iterable[Notification]) -> list[Notification]:
    """Most severe first, then the biggest money, then by key (a stable order for people and tests)."""
    return sorted(notifications, key=lambda n: (SEVERITY_RANK.get(n.severity, 3), -n.impact_usd, n.key))


# ------------------------------------------------------------------------------------------------- reading the marts

def new_findings(query: Query, first: dt.date, last: dt.date) -> list[Notification]:
    """New, unsuppressed findings whose period touches [first, last]."""
    rows = query(f"select * from marts.{ANOMALIES_TABLE} where is_new and not coalesce(is_suppressed, false) "
                 "and period_start <= %s and period_end >= %s", last, first)
    return ordered(anomaly_notification(row) for row in rows)


def budget_alerts(query: Query, first: dt.date, last: dt.date) -> list[Notification]:
    """For each budget (team, project, month) with a row in [first, last]: its latest row, if watch or over."""
    rows = query(f"select * from marts.{BUDGETS_TABLE} where as_of_date between %s and %s", first, last)
    latest: dict[tuple, Mapping[str, Any]] = {}
    for row in rows:
        budget = (row.get("team_id"), row.get("project_id"), _as_date(row["month_start"]))
        if budget not in latest or _as_date(row["as_of_date"]) > _as_date(latest[budget]["as_of_date"]):
            latest[budget] = row
    return ordered(budget_notification(row) for row in latest.values()
                   if str(row.get("status") or "").lower() in BUDGET_ALERT_STATUSES)


def latest_day(query: Query, table: str) -> Optional[dt.date]:
    column = "period_end" if table == ANOMALIES_TABLE else "as_of_date"
    rows = query(f"select max({column}) as day from marts.{table}")
    return _as_date(rows[0]["day"]) if rows and rows[0]["day"] is not None else None


def candidates(query: Query, tables: Iterable[str], first: dt.date, today: dt.date,
               max_age_days: int) -> tuple[list[Notification], int]:
    """What a run may send: every new finding, and every budget's latest status if watch or over, whose last day is
    at most `max_age_days` before `today`, whichever partitions the run covers (a re-run of an older day finds what is
    still unsent; a budget is told its current status, not the one of the day re-run). Also how many of the run's
    window (from `first`) were too old to send: what a backfill of old history leaves out."""
    cutoff = today - dt.timedelta(days=max_age_days)
    lower = min(first, cutoff)
    found: list[Notification] = []
    tables = set(tables)
    if ANOMALIES_TABLE in tables:
        found += new_findings(query, lower, today)
    if BUDGETS_TABLE in tables:
        found += budget_alerts(query, lower, today)
    recent = [n for n in found if n.day >= cutoff]
    return ordered(recent), len(found) - len(recent)


def sql_query(client) -> Query:
    """A Query over a dlt SQL client (any warehouse dlt reaches)."""
    def query(sql: str, *params) -> list[dict[str, Any]]:
        with client.execute_query(sql, *params) as cursor:
            names = [column[0] for column in cursor.description]
            return [dict(zip(names, row)) for row in cursor.fetchall()]
    return query


# ------------------------------------------------------------------------------------------------------ the formats

def _mrkdwn(text: str, limit: int = 1900) -> str:
    """Slack's three control characters, escaped as its docs ask; clipped below Block Kit's text limits (2,000
    characters a field, 3,000 a section)."""
    text = text if len(text) <= limit else text[:limit - 1] + "…"
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


SEVERITY_EMOJI = {"high": ":rotating_light:", "medium": ":warning:", "low": ":information_source:"}


def slack_payload(n: Notification) -> dict[str, Any]:
    """`text` (notifications, screen readers) with the title and the sentence, and a compact Block Kit message: the
    sentence, up to ten figures as fields, and the key for feedback."""
    fields = [{"type": "mrkdwn", "text": f"*{_mrkdwn(label)}*\n{_mrkdwn(value)}"} for label, value in n.figures[:10]]
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": f"{SEVERITY_EMOJI.get(n.severity, '')} "
                                                               f"*{_mrkdwn(n.title, 300)}*\n"
                                                               f"{_mrkdwn(n.sentence, 2400)}".strip()}},
    ]
    if fields:
        blocks.append({"type": "section", "fields": fields})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _mrkdwn(n.key)}]})
    return {"text": f"{n.title}: {n.sentence}", "blocks": blocks}


def email_message(n: Notification, sender: str, recipients: Sequence[str]) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = f"[AI spend] {n.title}"
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    width = max((len(label) for label, _ in n.figures), default=0)
    lines = [n.sentence, ""] + [f"{label.ljust(width)}  {value}" for label, value in n.figures]
    lines += ["", f"Team: {n.team_id}", f"Reference: {n.key}", "",
              "Sent by the AI-spend FinOps warehouse. Nothing is blocked: this is for your information."]
    message.set_content("\n".join(lines))
    return message


# ----------------------------------------------------------------------------------------------------------- sinks

class DeliveryError(Exception):
    """A delivery failed. The message is safe to log and store: it never holds a URL, a body or a credential."""


class Sink(Protocol):
    name: str

    def send(self, n: Notification, destination: Destination) -> None: ...


_SLACK_ERROR = re.compile(r"[a-z_]{1,40}")  # Slack answers errors with a code: no_service, invalid_payload...


def post_json(url: str, payload: Mapping[str, Any], timeout: float) -> None:
    """POST JSON; raise DeliveryError with the status (and a Slack-style error code), never the URL: a webhook's URL is
    its secret. urllib honours HTTPS_PROXY / NO_PROXY and logs nothing."""
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise DeliveryError("not an http(s) URL")
    request = urllib.request.Request(url, data=json.dumps(payload, default=str).encode(), method="POST",
                                     headers={"Content-Type": "application/json",
                                              "User-Agent": "ai-finops-warehouse-alerts"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read(2048)
    except urllib.error.HTTPError as error:
        body = error.read(64).decode("utf-8", "replace").strip()
        code = f" {body}" if _SLACK_ERROR.fullmatch(body) else ""
        raise DeliveryError(f"HTTP {error.code}{code}") from None
    except urllib.error.URLError as error:
        raise DeliveryError(f"cannot connect ({type(error.reason).__name__})") from None
    except OSError as error:  # timeouts, resets
        raise DeliveryError(type(error).__name__) from None


@dataclass
class SlackSink:
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    name: str = "slack"

    def send(self, n: Notification, destination: Destination) -> None:
        post_json(destination.target, slack_payload(n), self.timeout)


@dataclass
class WebhookSink:
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    name: str = "webhook"

    def send(self, n: Notification, destination: Destination) -> None:
        post_json(destination.target, n.payload(), self.timeout)


@dataclass
class EmailSink:
    smtp: Optional[SmtpSettings]
    timeout: float = DEFAULT_TIMEOUT_SECONDS
    name: str = "email"

    def send(self, n: Notification, destination: Destination) -> None:
        if self.smtp is None:
            raise DeliveryError("mail recipients configured but no SMTP server (ALERTS__SMTP__HOST)")
        smtp = self.smtp
        message = email_message(n, smtp.sender, destination.target)
        try:
            if smtp.ssl:
                server = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=self.timeout,
                                          context=ssl.create_default_context())
            else:
                server = smtplib.SMTP(smtp.host, smtp.port, timeout=self.timeout)
            with server:
                if smtp.starttls and not smtp.ssl:
                    server.starttls(context=ssl.create_default_context())
                if smtp.username:
                    server.login(smtp.username, smtp.password or "")
                server.send_message(message)
        except smtplib.SMTPRecipientsRefused:
            raise DeliveryError("SMTP refused the recipients") from None
        except smtplib.SMTPResponseException as error:
            raise DeliveryError(f"SMTP {error.smtp_code}") from None
        except (smtplib.SMTPException, OSError) as error:
            raise DeliveryError(f"SMTP {type(error).__name__}") from None


@dataclass
class LogSink:
    """Always on: a log line and one JSON line per notification in `<folder>/<day sent>.jsonl`."""

    folder: Path
    emit: Callable[[str], None] = logger.info
    name: str = "log"

    def send(self, n: Notification, destination: Destination) -> None:
        now = dt.datetime.now(dt.timezone.utc)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with (self.folder / f"{now.date().isoformat()}.jsonl").open("a", encoding="utf-8") as out:
                out.write(json.dumps({**n.payload(), "sent_at": now.isoformat()}, default=str) + "\n")
        except OSError as error:
            raise DeliveryError(f"cannot write the alert file ({type(error).__name__})") from None
        self.emit(f"ALERT [{n.severity}] team {n.team_id}: {n.title}: {n.sentence}")


def make_sinks(settings: AlertSettings, emit: Callable[[str], None] = logger.info) -> dict[str, Sink]:
    timeout = settings.timeout_seconds
    return {"log": LogSink(settings.log_dir, emit), "slack": SlackSink(timeout), "webhook": WebhookSink(timeout),
            "email": EmailSink(settings.smtp, timeout)}


# ---------------------------------------------------------------------------------------------- the delivery log

# Written once, in PostgreSQL's SQL, and translated by sqlglot for other engines (BigQuery and Databricks have no
# `varchar` or `timestamp with time zone`: `string` and `timestamp`, which hold an instant there).
_LOG_TABLE_DDL = f"""
    create table if not exists {LOG_TABLE} (
        notification_key varchar not null,
        kind varchar not null,
        sink varchar not null,
        route varchar not null,
        team_id varchar,
        severity varchar,
        day date,
        attempted_at timestamp with time zone not null,
        status varchar not null,
        error varchar,
        run_id varchar
    )"""


def log_table_ddl(dialect: Optional[str]) -> str:
    """The delivery log's `create table` in a sqlglot dialect (dlt's destination capabilities name it)."""
    if not dialect or dialect == "postgres":
        return _LOG_TABLE_DDL
    return sqlglot.transpile(_LOG_TABLE_DDL, read="postgres", write=dialect)[0]


class DeliveryLog:
    """`alerts.sent_notifications`: one row per attempt, appended (no updates, so any warehouse does). A
    (notification_key, sink) pair with a `sent` row is done for good."""

    COLUMNS = ("notification_key", "kind", "sink", "route", "team_id", "severity", "day", "attempted_at", "status",
               "error", "run_id")

    def __init__(self, client) -> None:
        self.client = client  # a dlt SQL client (execute_sql with %s placeholders)

    def ensure(self) -> None:
        self.client.execute_sql(f"create schema if not exists {LOG_SCHEMA}")
        self.client.execute_sql(log_table_ddl(self.client.capabilities.sqlglot_dialect))

    def delivered(self) -> set[tuple[str, str]]:
        rows = self.client.execute_sql(f"select distinct notification_key, sink from {LOG_TABLE} where status = 'sent'")
        return {(key, sink) for key, sink in rows or []}

    def record(self, n: Notification, sink: str, route: str, status: str, error: Optional[str],
               run_id: Optional[str]) -> None:
        values = (n.key, n.kind, sink, route, n.team_id, n.severity, n.day, dt.datetime.now(dt.timezone.utc), status,
                  error, run_id)
        self.client.execute_sql(f"insert into {LOG_TABLE} ({', '.join(self.COLUMNS)}) values "
                                f"({', '.join(['%s'] * len(values))})", *values)


@dataclass
class DeliveryReport:
    sent: list[tuple[str, str, str]] = field(default_factory=list)  # (key, sink, route)
    failed: list[tuple[str, str, str, str]] = field(default_factory=list)  # (key, sink, route, error)
    already_sent: int = 0

    def failures_by_destination(self) -> dict[tuple[str, str], tuple[int, str]]:
        """(sink, route) -> (notifications not delivered, the first error)."""
        summary: dict[tuple[str, str], tuple[int, str]] = {}
        for _, sink, route, error in self.failed:
            count, first = summary.get((sink, route), (0, error))
            summary[(sink, route)] = (count + 1, first)
        return summary


def deliver(notifications: Sequence[Notification], settings: AlertSettings, sinks: Mapping[str, Sink],
            log: DeliveryLog, run_id: Optional[str] = None) -> DeliveryReport:
    """Send each notification to each of its destinations that has not had it yet, recording every attempt.

    A failing destination does not stop the others. After its first failure in a run, the rest of that destination's
    notifications are recorded as failed without being tried (one dead Slack webhook costs one timeout, not one per
    finding); all of them are tried again on the next run."""
    report = DeliveryReport()
    done = log.delivered()
    broken: dict[tuple[str, str], str] = {}
    for n in notifications:
        for sink_name, destination in settings.destinations(n.team_id).items():
            if (n.key, sink_name) in done or any((key, sink_name) in done for key in n.covered_by):
                report.already_sent += 1
                continue
            where = (sink_name, destination.route)
            if where in broken:
                error: Optional[str] = f"not tried after an earlier failure in this run: {broken[where]}"
            else:
                try:
                    sinks[sink_name].send(n, destination)
                    error = None
                except DeliveryError as failure:
                    error = str(failure)
                except Exception as failure:  # noqa: BLE001 - its text may carry a URL: keep only the type
                    error = f"unexpected {type(failure).__name__}"
                if error:
                    broken[where] = error
            log.record(n, sink_name, destination.route, "failed" if error else "sent", error, run_id)
            if error:
                report.failed.append((n.key, sink_name, destination.route, error))
                logger.warning("alert %s not delivered to %s (route %s): %s", n.key, sink_name, destination.route,
                               error)
            else:
                report.sent.append((n.key, sink_name, destination.route))
                done.add((n.key, sink_name))
    return report
