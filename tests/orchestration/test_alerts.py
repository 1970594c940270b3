"""Alerts: anomaly findings and budget breaches reach the owning team's sinks once, and show as WARN checks.

The two marts are hand-built in a temporary DuckDB with rows in the shape the dbt marts promise (the tests do not
depend on the dbt models). Slack, the JSON webhook and SMTP are real servers on 127.0.0.1 started here; the asset
runs through Dagster's `materialize`.
"""

from __future__ import annotations

import base64
import datetime as dt
import email
import email.policy
import json
import re
import socket
import socketserver
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
import pytest
import sqlglot
from dagster import (
    AssetCheckSeverity, AssetKey, AssetSelection, BackfillPolicy, DagsterInstance, Definitions, MaterializeResult,
    asset, define_asset_job, materialize,
)

from orchestration.alerts import (
    AlertSettings, Destination, anomaly_notification, budget_notification, email_message, log_table_ddl, slack_payload,
    team_sections,
)
from orchestration.assets.alerts import (
    ANOMALIES, BUDGETS, NOTIFICATIONS, alert_definitions, no_budget_breaches, no_new_anomalies,
)
from orchestration.partitions import daily_partitions
from orchestration.resources import Warehouse

TODAY = dt.datetime.now(dt.timezone.utc).date()
DAY = TODAY - dt.timedelta(days=1)  # the partition a daily run covers
MONTH = DAY.replace(day=1)
SECRET = "TESTSECRET"
SMTP_USER, SMTP_PASSWORD = "alerts@northwind.example", f"smtp-{SECRET}-password"
PATHS = {
    "slack_default": f"/services/T000/B000/{SECRET}default",
    "slack_payments": f"/services/T000/B111/{SECRET}payments",
    "slack_unallocated": f"/services/T000/B222/{SECRET}unallocated",  # configured, and must never be used
    "hook_default": f"/hooks/{SECRET}default",
    "hook_data_science": f"/hooks/{SECRET}datascience",
}


# ----------------------------------------------------------------------------------------------- loopback servers

class HttpRecorder(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _HttpHandler)
        self.requests: list[tuple[str, dict, dict]] = []  # (path, headers, JSON body)
        self.status: dict[str, int] = {}  # path -> status to answer (200 otherwise)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{path}"

    def bodies(self, path: str) -> list[dict]:
        return [body for p, _, body in self.requests if p == path]


class _HttpHandler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.requests.append((self.path, dict(self.headers), json.loads(body)))
        status = self.server.status.get(self.path, 200)
        answer = b"ok" if status == 200 else b"internal_error"
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):  # the request line holds the webhook's secret path: say nothing
        pass


class SmtpRecorder(socketserver.ThreadingTCPServer):
    """Enough SMTP for smtplib: EHLO, AUTH PLAIN/LOGIN, MAIL, RCPT, DATA, RSET, NOOP, QUIT."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), _SmtpHandler)
        self.messages: list[tuple[str, list[str], email.message.EmailMessage]] = []
        self.logins: list[tuple[str, str]] = []

    @property
    def port(self) -> int:
        return self.server_address[1]


class _SmtpHandler(socketserver.StreamRequestHandler):
    def say(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self):
        self.say("220 127.0.0.1 test ESMTP")
        sender, recipients = "", []
        while line := self.rfile.readline():
            command = line.decode().rstrip("\r\n")
            verb = command.split(" ", 1)[0].upper()
            if verb in ("EHLO", "HELO"):
                self.say("250-127.0.0.1")
                self.say("250-AUTH PLAIN LOGIN")
                self.say("250 8BITMIME")
            elif verb == "AUTH":
                parts = command.split()
                if parts[1].upper() == "PLAIN":
                    _, user, password = base64.b64decode(parts[2]).decode().split("\0")
                else:  # LOGIN: the user (maybe inline), then the password, each base64 after a 334
                    if len(parts) > 2:
                        user = base64.b64decode(parts[2]).decode()
                    else:
                        self.say("334 VXNlcm5hbWU6")
                        user = base64.b64decode(self.rfile.readline().strip()).decode()
                    self.say("334 UGFzc3dvcmQ6")
                    password = base64.b64decode(self.rfile.readline().strip()).decode()
                self.server.logins.append((user, password))
                self.say("235 2.7.0 Authentication successful")
            elif verb == "MAIL":
                sender, recipients = command.split(":", 1)[1].split()[0].strip("<>"), []
                self.say("250 OK")
            elif verb == "RCPT":
                recipients.append(command.split(":", 1)[1].strip().strip("<>"))
                self.say("250 OK")
            elif verb == "DATA":
                self.say("354 End data with <CR><LF>.<CR><LF>")
                data = []
                while (chunk := self.rfile.readline()) not in (b".\r\n", b""):
                    data.append(chunk[1:] if chunk.startswith(b"..") else chunk)
                message = email.message_from_bytes(b"".join(data), policy=email.policy.default)
                self.server.messages.append((sender, recipients, message))
                self.say("250 OK queued")
            elif verb in ("RSET", "NOOP"):
                self.say("250 OK")
            elif verb == "QUIT":
                self.say("221 Bye")
                return
            else:
                self.say("502 Command not implemented")


def _serve(server):
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server


@pytest.fixture
def http_server():
    server = _serve(HttpRecorder())
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def smtp_server():
    server = _serve(SmtpRecorder())
    yield server
    server.shutdown()
    server.server_close()


def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# ------------------------------------------------------------------------------------------------ the two marts

ANOMALY_COLUMNS = """
    finding_id varchar, rule varchar, entity_type varchar, entity_id varchar, team_id varchar, period_type varchar,
    period_start date, period_end date, first_seen_date date, last_seen_date date, is_new boolean,
    observed decimal(38, 9), baseline decimal(38, 9), ratio double, expected_usd decimal(38, 9),
    actual_usd decimal(38, 9), impact_usd decimal(38, 9), impact_pct double, severity varchar,
    top_contributors varchar, sentence varchar, feedback varchar, is_suppressed boolean"""
BUDGET_COLUMNS = """
    budget_key varchar, as_of_date date, month_start date, team_id varchar, project_id varchar,
    budget_usd decimal(38, 9), spend_to_date_usd decimal(38, 9), typical_to_date_usd decimal(38, 9),
    forecast_usd decimal(38, 9), pct_of_budget double, forecast_pct_of_budget double, status varchar,
    days_left integer, message varchar"""

DANA = ("Dana's spend on {day} was $412, 6.3x her 28-day median of $65; 92% came from one agent session that ran "
        "61 hours")


def finding(finding_id, team, severity, rule="developer_daily_spend", start=DAY, end=DAY, is_new=True,
            suppressed=False, sentence=None, impact=347.0, ratio=6.3, feedback=None):
    return {
        "finding_id": finding_id, "rule": rule, "entity_type": "developer",
        "entity_id": f"{finding_id}@northwind.example",
        "team_id": team, "period_type": "day" if start == end else "week", "period_start": start, "period_end": end,
        "first_seen_date": start, "last_seen_date": end, "is_new": is_new, "observed": 412.0, "baseline": 65.0,
        "ratio": ratio, "expected_usd": 65.0, "actual_usd": 412.0, "impact_usd": impact, "impact_pct": 5.34,
        "severity": severity, "top_contributors": "session s-61h (92%), claude-opus-4-1",
        "sentence": sentence or f"{finding_id}: " + DANA.format(day=end.strftime("%b %d")),
        "feedback": feedback, "is_suppressed": suppressed,
    }


FINDINGS = [
    finding("f-payments", "payments", "high", impact=347.0),
    finding("f-platform", "platform", "medium", rule="team_weekly_change", start=DAY - dt.timedelta(days=6),
            impact=120.0, ratio=1.8),
    finding("f-unowned", "unallocated", "low", rule="statistical", impact=40.0, ratio=2.2),
    finding("f-datasci", "data-science", "medium", rule="silent_model_upgrade", impact=80.0, ratio=3.0),
    finding("f-continuing", "payments", "high", is_new=False),  # the episode's second day: no new alert
    finding("f-suppressed", "platform", "high", suppressed=True, feedback="planned"),  # a person said: planned
    finding("f-old", "search", "high", start=DAY - dt.timedelta(days=30), end=DAY - dt.timedelta(days=30)),
]
SENT_FINDINGS = {"f-payments", "f-platform", "f-unowned", "f-datasci"}


def budget(team, project, as_of, status, pct, message):
    return {"budget_key": f"{team}:{project}:{MONTH:%Y-%m}", "as_of_date": as_of, "month_start": MONTH,
            "team_id": team, "project_id": project, "budget_usd": 2000.0, "spend_to_date_usd": 20.0 * pct,
            "typical_to_date_usd": 1500.0, "forecast_usd": 30.0 * pct, "pct_of_budget": pct / 100,
            "forecast_pct_of_budget": 1.5 * pct / 100, "status": status, "days_left": 14, "message": message}


BUDGETS_ROWS = [
    budget("payments", "checkout-assistant", DAY - dt.timedelta(days=1), "watch", 80.0,
           "You are at 80% of your typical monthly spend with two weeks left"),
    budget("payments", "checkout-assistant", DAY, "over", 104.0,
           "checkout-assistant is over its monthly budget: $2,080 of $2,000, two weeks left"),
    budget("platform", None, DAY, "on_track", 40.0, "On track"),
    budget("search", "semantic-search", DAY - dt.timedelta(days=1), "watch", 85.0, "At 85% of typical"),
    budget("search", "semantic-search", DAY, "on_track", 60.0, "Back on track after a restated bill"),
]
BUDGET_KEY = f"budget:payments:checkout-assistant:{MONTH:%Y-%m}:over"


def insert(con, table: str, rows: list[dict]) -> None:
    columns = list(rows[0])
    con.executemany(f"insert into {table} ({', '.join(columns)}) values ({', '.join('?' * len(columns))})",
                    [[row[c] for c in columns] for row in rows])


@pytest.fixture
def warehouse(tmp_path) -> Warehouse:
    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    con.execute(f"create table marts.fct_cost_anomalies ({ANOMALY_COLUMNS})")
    con.execute(f"create table marts.fct_budget_status ({BUDGET_COLUMNS})")
    insert(con, "marts.fct_cost_anomalies", FINDINGS)
    insert(con, "marts.fct_budget_status", BUDGETS_ROWS)
    con.close()
    return Warehouse(duckdb_path=str(path), pipelines_dir=str(tmp_path / "pipelines"))


@pytest.fixture
def sinks(monkeypatch, tmp_path, http_server, smtp_server):
    """Every sink configured, with per-team routes for payments (Slack, mail) and data-science (webhook)."""
    env = {
        "ALERTS__SLACK__WEBHOOK_URL": http_server.url(PATHS["slack_default"]),
        "ALERTS__ROUTES__PAYMENTS__SLACK__WEBHOOK_URL": http_server.url(PATHS["slack_payments"]),
        "ALERTS__ROUTES__UNALLOCATED__SLACK__WEBHOOK_URL": http_server.url(PATHS["slack_unallocated"]),
        "ALERTS__WEBHOOK__URL": http_server.url(PATHS["hook_default"]),
        "ALERTS__ROUTES__DATA_SCIENCE__WEBHOOK__URL": http_server.url(PATHS["hook_data_science"]),
        "ALERTS__SMTP__HOST": "127.0.0.1",
        "ALERTS__SMTP__PORT": str(smtp_server.port),
        "ALERTS__SMTP__USERNAME": SMTP_USER,
        "ALERTS__SMTP__PASSWORD": SMTP_PASSWORD,
        "ALERTS__SMTP__FROM": "AI spend <finops@northwind.example>",
        "ALERTS__SMTP__TO": "finops@northwind.example, cfo-office@northwind.example",
        "ALERTS__SMTP__STARTTLS": "false",  # a loopback server without TLS
        "ALERTS__ROUTES__PAYMENTS__SMTP__TO": "payments-leads@northwind.example",
        "FINOPS_EXPORT_DIR": str(tmp_path / "exports"),
        "NO_PROXY": "127.0.0.1,localhost",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return env


def run_alerts(warehouse: Warehouse, instance=None, partition: dt.date = DAY, **kwargs):
    [notifications], _ = alert_definitions([ANOMALIES, BUDGETS])
    return materialize([notifications], partition_key=partition.isoformat(), resources={"warehouse": warehouse},
                       instance=instance or DagsterInstance.ephemeral(), raise_on_error=False, **kwargs)


def delivery_rows(warehouse: Warehouse) -> list[dict]:
    con = duckdb.connect(warehouse.duckdb_path, read_only=True)
    try:
        cursor = con.execute("select * from alerts.sent_notifications order by attempted_at")
        names = [c[0] for c in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]
    finally:
        con.close()


def sent(warehouse: Warehouse) -> set[tuple[str, str, str]]:
    return {(r["notification_key"], r["sink"], r["route"]) for r in delivery_rows(warehouse) if r["status"] == "sent"}


def step_failure(result) -> str:
    [failure] = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    data = failure.step_failure_data
    return (data.user_failure_data.description if data.user_failure_data else "") + str(data.error)


# ------------------------------------------------------------------------------------------------------- the tests

def test_each_sink_gets_the_right_payload_routed_to_the_owning_team(warehouse, sinks, http_server, smtp_server,
                                                                   tmp_path):
    result = run_alerts(warehouse)
    assert result.success
    keys = {f"anomaly:{f}" for f in SENT_FINDINGS} | {BUDGET_KEY}

    # Slack: payments has its own webhook; platform, data-science and the unowned finding use the default one, never
    # the route someone configured for 'unallocated'
    payments = http_server.bodies(PATHS["slack_payments"])
    default = http_server.bodies(PATHS["slack_default"])
    assert not http_server.bodies(PATHS["slack_unallocated"])
    assert len(payments) == 2 and len(default) == 3
    [dana] = [b for b in payments if "f-payments" in b["text"]]
    assert dana["text"].startswith(
        "High cost anomaly · developer_daily_spend · team payments: f-payments: Dana's spend")
    section, fields, context = dana["blocks"]
    assert "*High cost anomaly · developer_daily_spend · team payments*" in section["text"]["text"]
    assert "6.3x her 28-day median of $65" in section["text"]["text"]
    figures = {f["text"].split("\n")[0]: f["text"].split("\n")[1] for f in fields["fields"]}
    assert figures["*Actual*"] == "$412.00" and figures["*Expected*"] == "$65.00"
    assert figures["*Impact*"] == "$347.00 (+534%)" and figures["*Ratio*"] == "6.3x"
    assert context["elements"][0]["text"] == "anomaly:f-payments"
    [over] = [b for b in payments if b is not dana]
    assert over["text"] == (f"Budget over budget · team payments · project checkout-assistant · {MONTH:%B %Y}: "
                            "checkout-assistant is over its monthly budget: $2,080 of $2,000, two weeks left")
    assert sorted(b["text"].split(":")[0] for b in default) == [
        "Low cost anomaly · statistical · team unallocated",
        "Medium cost anomaly · silent_model_upgrade · team data-science",
        "Medium cost anomaly · team_weekly_change · team platform"]

    # generic webhook: the finding's own fields; data-science's findings go to its own URL
    hooks = http_server.bodies(PATHS["hook_default"])
    assert {h["notification_key"] for h in hooks} == keys - {"anomaly:f-datasci"}
    [platform] = [h for h in hooks if h["notification_key"] == "anomaly:f-platform"]
    assert platform["kind"] == "anomaly" and platform["team_id"] == "platform" and platform["severity"] == "medium"
    assert platform["anomaly"]["finding_id"] == "f-platform" and platform["anomaly"]["rule"] == "team_weekly_change"
    assert platform["anomaly"]["period_start"] == (DAY - dt.timedelta(days=6)).isoformat()
    assert platform["anomaly"]["impact_usd"] == 120.0 and platform["anomaly"]["ratio"] == 1.8
    assert [h["notification_key"] for h in http_server.bodies(PATHS["hook_data_science"])] == ["anomaly:f-datasci"]
    [budget_hook] = [h for h in hooks if h["kind"] == "budget"]
    assert budget_hook["budget"]["status"] == "over" and budget_hook["budget"]["pct_of_budget"] == 1.04
    assert all(headers["Content-Type"] == "application/json" for _, headers, _ in http_server.requests)

    # e-mail: payments' leads get payments' two, the default recipients the other three; logged in with the account
    assert smtp_server.logins and set(smtp_server.logins) == {(SMTP_USER, SMTP_PASSWORD)}
    by_recipients = {}
    for sender, recipients, message in smtp_server.messages:
        assert sender == "finops@northwind.example"
        by_recipients.setdefault(tuple(recipients), []).append(message)
    assert {k: len(v) for k, v in by_recipients.items()} == {
        ("payments-leads@northwind.example",): 2,
        ("finops@northwind.example", "cfo-office@northwind.example"): 3,
    }
    [mail] = [m for m in by_recipients[("payments-leads@northwind.example",)] if "anomaly" in m["Subject"]]
    assert mail["Subject"] == "[AI spend] High cost anomaly · developer_daily_spend · team payments"
    body = mail.get_content().replace("\r\n", "\n")
    assert "6.3x her 28-day median of $65" in body
    assert re.search(r"\nImpact +\$347\.00 \(\+534%\)\n", body) and "Reference: anomaly:f-payments" in body

    # the log sink: one JSON line each, in the export folder
    [jsonl] = (tmp_path / "exports" / "alerts").glob("*.jsonl")
    lines = [json.loads(line) for line in jsonl.read_text().splitlines()]
    assert {line["notification_key"] for line in lines} == keys

    # the delivery log: one 'sent' row per notification and sink, with the route it went by
    assert sent(warehouse) == (
        {(k, "log", "default") for k in keys}
        | {(k, "slack", "payments") for k in ("anomaly:f-payments", BUDGET_KEY)}
        | {(f"anomaly:{f}", "slack", "default") for f in ("f-platform", "f-unowned", "f-datasci")}
        | {(k, "webhook", "default") for k in keys - {"anomaly:f-datasci"}}
        | {("anomaly:f-datasci", "webhook", "data-science")}
        | {(k, "email", "payments") for k in ("anomaly:f-payments", BUDGET_KEY)}
        | {(f"anomaly:{f}", "email", "default") for f in ("f-platform", "f-unowned", "f-datasci")})

    [materialization] = [e.materialization for e in result.get_asset_materialization_events()
                         if e.materialization.asset_key == NOTIFICATIONS]
    metadata = {k: v.value for k, v in materialization.metadata.items()}
    assert metadata["notifications"] == 5 and metadata["failed"] == 0 and metadata["too_old_not_sent"] == 0
    assert metadata["delivered"] == 5 * 4


def test_rerunning_the_day_or_backfilling_sends_nothing_twice(warehouse, sinks, http_server, smtp_server):
    instance = DagsterInstance.ephemeral()
    assert run_alerts(warehouse, instance).success
    requests, mails, rows = len(http_server.requests), len(smtp_server.messages), len(delivery_rows(warehouse))
    assert requests == 10 and mails == 5

    assert run_alerts(warehouse, instance).success  # the same day again
    assert run_alerts(warehouse, instance, partition=DAY - dt.timedelta(days=1)).success  # the day before
    # a backfill of the last five weeks as one run: last month's finding is too old to page anyone about
    [notifications], _ = alert_definitions([ANOMALIES, BUDGETS])
    backfill = materialize([notifications], resources={"warehouse": warehouse}, instance=instance, tags={
        "dagster/asset_partition_range_start": (DAY - dt.timedelta(days=35)).isoformat(),
        "dagster/asset_partition_range_end": DAY.isoformat()})
    assert backfill.success
    materializations = [e.materialization for e in backfill.get_asset_materialization_events()]
    assert len(materializations) == 36  # one run, one materialization per partition of the range
    materialization = materializations[0]
    assert materialization.metadata["too_old_not_sent"].value == 1
    assert materialization.metadata["already_delivered"].value == 5 * 4
    assert len(http_server.requests) == requests and len(smtp_server.messages) == mails
    assert len(delivery_rows(warehouse)) == rows  # nothing attempted either

    # later: a new finding, payments falls back to 'watch' after its 'over' (restated bill: nothing to say), and
    # growth's budget goes on watch: the finding and growth's watch are sent, once
    con = duckdb.connect(warehouse.duckdb_path)
    insert(con, "marts.fct_cost_anomalies", [finding("f-late", "platform", "high")])
    insert(con, "marts.fct_budget_status", [
        budget("payments", "checkout-assistant", TODAY, "watch", 96.0, "At 96% of budget"),
        budget("growth", None, TODAY, "watch", 81.0, "You are at 81% of your typical monthly spend")])
    con.close()
    assert run_alerts(warehouse, instance).success
    assert run_alerts(warehouse, instance).success
    late = http_server.requests[requests:]
    assert sorted(path for path, _, _ in late) == sorted([PATHS["slack_default"], PATHS["hook_default"]] * 2)
    assert sorted(body["notification_key"] for path, _, body in late if path == PATHS["hook_default"]) == [
        "anomaly:f-late", f"budget:growth:*:{MONTH:%Y-%m}:watch"]
    assert len(smtp_server.messages) == mails + 2


def test_a_failing_sink_is_recorded_and_retried_while_the_others_deliver(warehouse, sinks, http_server, smtp_server,
                                                                        monkeypatch, caplog, capfd):
    caplog.set_level("DEBUG")
    http_server.status[PATHS["slack_default"]] = 500
    monkeypatch.setenv("ALERTS__WEBHOOK__URL", f"http://127.0.0.1:{closed_port()}{PATHS['hook_default']}")
    instance = DagsterInstance.ephemeral()

    first = run_alerts(warehouse, instance)
    assert not first.success  # a broken sink fails the step, after every sink was tried
    message = step_failure(first)
    assert "slack (route default): 3 not delivered, HTTP 500 internal_error" in message
    assert "webhook (route default): 4 not delivered, cannot connect (ConnectionRefusedError)" in message

    # the healthy ones delivered everything: payments' Slack, data-science's webhook, every e-mail, the log
    assert len(http_server.bodies(PATHS["slack_payments"])) == 2
    assert len(http_server.bodies(PATHS["hook_data_science"])) == 1
    assert len(smtp_server.messages) == 5
    # one request reached the dead Slack webhook: its other notifications were recorded as failed without a try
    assert len(http_server.bodies(PATHS["slack_default"])) == 1
    failed = [r for r in delivery_rows(warehouse) if r["status"] == "failed"]
    assert {(r["sink"], r["route"]) for r in failed} == {("slack", "default"), ("webhook", "default")}
    assert len(failed) == 3 + 4
    assert all(r["error"] for r in failed)

    # next run: Slack is back, the webhook listens again; only what failed is sent, once
    http_server.status.clear()
    monkeypatch.setenv("ALERTS__WEBHOOK__URL", http_server.url(PATHS["hook_default"]))
    before = len(http_server.requests)
    second = run_alerts(warehouse, instance)
    assert second.success
    retried = http_server.requests[before:]
    assert sorted(p for p, _, _ in retried) == sorted([PATHS["slack_default"]] * 3 + [PATHS["hook_default"]] * 4)
    assert len(smtp_server.messages) == 5 and len(http_server.bodies(PATHS["slack_payments"])) == 2
    assert {(k, s) for k, s, _ in sent(warehouse)} >= {(f"anomaly:{f}", "slack") for f in ("f-platform", "f-unowned")}

    # and no secret anywhere: not the webhook paths, not the SMTP password
    haystacks = {
        "logs": caplog.text,
        "console": "".join(capfd.readouterr()),
        "dagster events": "\n".join(repr(entry) for run in (first, second)
                                    for entry in instance.all_logs(run.run_id)),
        "warehouse": "\n".join(warehouse_text(warehouse)),
        "alert files": "\n".join(p.read_text() for p in Path(sinks["FINOPS_EXPORT_DIR"]).rglob("*") if p.is_file()),
        "dlt working files": "\n".join(p.read_text(errors="ignore") for p in Path(warehouse.pipelines_dir).rglob("*")
                                       if p.is_file()),
    }
    # the haystacks are not empty: the failures were logged and recorded
    assert "alert delivery failed" in haystacks["dagster events"]
    assert "not delivered to slack (route default): HTTP 500 internal_error" in haystacks["logs"]
    assert "not tried after an earlier failure in this run: HTTP 500 internal_error" in haystacks["warehouse"]
    for where, text in haystacks.items():
        assert SECRET not in text, where
        assert SMTP_PASSWORD not in text, where


def warehouse_text(warehouse: Warehouse) -> list[str]:
    """Every text value of every table (the delivery log included)."""
    con = duckdb.connect(warehouse.duckdb_path, read_only=True)
    try:
        found = []
        for schema, table, column in con.execute("select table_schema, table_name, column_name from "
                                                 "information_schema.columns where data_type = 'VARCHAR'").fetchall():
            values = con.execute(f'select distinct "{column}" from "{schema}"."{table}"').fetchall()
            found += [str(v) for (v,) in values]
        return found
    finally:
        con.close()


def test_only_the_log_sink_when_nothing_is_configured(warehouse, monkeypatch, tmp_path):
    monkeypatch.setenv("FINOPS_EXPORT_DIR", str(tmp_path / "exports"))
    instance = DagsterInstance.ephemeral()
    result = run_alerts(warehouse, instance)
    assert result.success
    assert {(s, r) for _, s, r in sent(warehouse)} == {("log", "default")}
    logged = [entry.user_message for entry in instance.all_logs(result.run_id)]
    assert any(m.startswith("ALERT [high] team payments: High cost anomaly · developer_daily_spend · team payments: "
                            "f-payments: Dana's spend") for m in logged)
    [jsonl] = (tmp_path / "exports" / "alerts").glob("*.jsonl")
    assert len(jsonl.read_text().splitlines()) == 5


def _stub(key: AssetKey):
    @asset(key=key, partitions_def=daily_partitions, backfill_policy=BackfillPolicy.single_run(),
           group_name="marts_alerts", owners=["team:finops"], description="stand-in for the dbt mart")
    def stub() -> MaterializeResult:
        return MaterializeResult()

    return stub


def test_findings_and_breaches_are_warn_checks_with_sentence_and_figures(warehouse):
    result = materialize([_stub(ANOMALIES), _stub(BUDGETS), no_new_anomalies, no_budget_breaches],
                         partition_key=DAY.isoformat(), resources={"warehouse": warehouse})
    checks = {e.check_name: e for e in result.get_asset_check_evaluations()}
    anomalies, budgets = checks["no_new_anomalies"], checks["no_budget_breaches"]
    assert not anomalies.passed and anomalies.severity == AssetCheckSeverity.WARN
    metadata = {k: v.value for k, v in anomalies.metadata.items()}
    assert metadata["count"] == 4  # neither the continuing episode, nor the suppressed one, nor last month's
    assert metadata["top_sentence"].startswith("f-payments: Dana's spend") and "6.3x her 28-day median" in \
        metadata["top_sentence"]
    assert metadata["top_impact_usd"] == 347.0 and metadata["top_ratio"] == 6.3
    assert metadata["impact_usd_total"] == 347.0 + 120.0 + 40.0 + 80.0
    assert metadata["by_severity"] == {"high": 1, "medium": 2, "low": 1}
    assert [row["key"] for row in metadata["top"]][0] == "anomaly:f-payments"
    assert "**High cost anomaly · developer_daily_spend · team payments**" in metadata["summary"]

    assert not budgets.passed and budgets.severity == AssetCheckSeverity.WARN
    metadata = {k: v.value for k, v in budgets.metadata.items()}
    assert metadata["over"] == 1 and metadata["watch"] == 0  # search is back on track on its latest day
    assert metadata["top_sentence"].startswith("checkout-assistant is over its monthly budget")
    assert metadata["top_pct_of_budget"] == 1.04

    # a day without findings and with every budget on track: both pass
    quiet = DAY - dt.timedelta(days=20)
    con = duckdb.connect(warehouse.duckdb_path)
    insert(con, "marts.fct_budget_status", [budget("platform", None, quiet, "on_track", 20.0, "On track")])
    con.close()
    result = materialize([_stub(ANOMALIES), _stub(BUDGETS), no_new_anomalies, no_budget_breaches],
                         partition_key=quiet.isoformat(), resources={"warehouse": warehouse})
    assert all(e.passed for e in result.get_asset_check_evaluations())
    assert result.success  # a WARN never fails or blocks a run either way


def test_alerts_are_wired_into_the_daily_job():
    """Registered in the code location once the dbt project has the alert marts; until then, nothing is (a check or
    dependency on a missing mart would put an undescribed stub asset in the graph). With the marts, the asset and the
    checks join the daily job, which stays a single-run backfill."""
    from orchestration.assets.transform import ai_finops_dbt_assets
    from orchestration.definitions import DAILY_JOB_NAME, defs

    graph = defs.resolve_asset_graph()
    marts_present = {ANOMALIES, BUDGETS} & set(ai_finops_dbt_assets.keys)
    checks = {c.to_user_string() for c in graph.asset_check_keys}
    if marts_present == {ANOMALIES, BUDGETS}:
        node = graph.get(NOTIFICATIONS)
        assert {ANOMALIES, BUDGETS} <= set(node.parent_keys)
        assert node.group_name == "alerts" and node.owners == ["team:finops"] and node.description
        assert {"marts/fct_cost_anomalies:no_new_anomalies", "marts/fct_budget_status:no_budget_breaches"} <= checks
        job = defs.resolve_job_def(DAILY_JOB_NAME)
        assert NOTIFICATIONS in job.asset_layer.executable_asset_keys
        assert job.backfill_policy == BackfillPolicy.single_run()
    else:
        assert not graph.has(NOTIFICATIONS)
        assert not {c for c in checks if c.endswith((":no_new_anomalies", ":no_budget_breaches"))}

    # the same wiring against stand-in marts: the graph, the checks and the job resolve
    assets, alert_checks = alert_definitions([ANOMALIES, BUDGETS])
    job = define_asset_job("daily", selection=AssetSelection.all(), partitions_def=daily_partitions)
    stand_in = Definitions(assets=[_stub(ANOMALIES), _stub(BUDGETS), *assets], asset_checks=alert_checks, jobs=[job],
                           resources={"warehouse": Warehouse(duckdb_path=":memory:")})
    graph = stand_in.resolve_asset_graph()
    assert set(graph.get(NOTIFICATIONS).parent_keys) == {ANOMALIES, BUDGETS}
    assert {c.to_user_string() for c in graph.asset_check_keys} == {
        "marts/fct_cost_anomalies:no_new_anomalies", "marts/fct_budget_status:no_budget_breaches"}
    resolved = stand_in.resolve_job_def("daily")
    assert resolved.backfill_policy == BackfillPolicy.single_run()
    assert NOTIFICATIONS in resolved.asset_layer.executable_asset_keys
    # with only one of the marts, only its check and dependency
    assets, alert_checks = alert_definitions([BUDGETS])
    assert {dep.asset_key for dep in assets[0].specs_by_key[NOTIFICATIONS].deps} == {BUDGETS}
    assert [spec.name for c in alert_checks for spec in c.check_specs] == ["no_budget_breaches"]


def test_formats_and_config_names():
    n = anomaly_notification({**finding("f<1>", "payments", "high"), "sentence": "Spend <tripled> & more"})
    payload = slack_payload(n)
    assert "Spend &lt;tripled&gt; &amp; more" in payload["blocks"][0]["text"]["text"]  # Slack's control characters
    assert payload["text"].endswith("Spend <tripled> & more")  # the plain-text fallback stays as written
    mail = email_message(budget_notification(BUDGETS_ROWS[1]), "finops@x", ["a@x", "b@x"])
    assert mail["To"] == "a@x, b@x"
    assert mail["Subject"] == ("[AI spend] Budget over budget · team payments · project checkout-assistant · "
                               f"{MONTH:%B %Y}")
    assert re.search(r"\nOf budget +104%\n", mail.get_content())
    # env variables cannot hold '-': ALERTS__ROUTES__DATA_SCIENCE__... reaches team data-science
    assert team_sections("data-science") == ["data-science", "data_science"]
    assert team_sections("team.x") == ["team_x"]

    values = {"alerts.slack.webhook_url": "https://hooks.slack.test/T/B/x",
              "alerts.routes.payments.smtp.to": ["p@x", "q@x"], "alerts.smtp.host": "mail.test",
              "alerts.smtp.ssl": "true"}
    settings = AlertSettings.load(Path("/tmp"), lambda key, secret: values.get(key))
    assert settings.smtp.port == 465 and settings.smtp.ssl and not settings.smtp.starttls
    assert settings.destinations("payments") == {"log": Destination("default"), "slack": Destination("default"),
                                                 "email": Destination("payments")}
    assert settings.destinations("payments")["email"].target == ("p@x", "q@x")
    assert "hooks.slack.test" not in repr(settings) and "hooks.slack.test" not in repr(settings.destinations("x"))


def test_the_delivery_log_table_is_created_in_each_engines_own_types():
    # BigQuery and Databricks (Spark SQL) know neither varchar nor `timestamp with time zone`: string, and TIMESTAMP,
    # which is an instant there. The statement must still be one the engine's dialect reads.
    for dialect in ("bigquery", "databricks"):
        ddl = " ".join(log_table_ddl(dialect).upper().split())
        assert "VARCHAR" not in ddl and "TIME ZONE" not in ddl and "TIMESTAMPTZ" not in ddl, ddl
        assert "NOTIFICATION_KEY STRING NOT NULL" in ddl and "ATTEMPTED_AT TIMESTAMP NOT NULL" in ddl, ddl
        assert "DAY DATE" in ddl and "RUN_ID STRING" in ddl, ddl
        sqlglot.parse_one(ddl, read=dialect)
    # PostgreSQL gets the statement as written; Snowflake keeps a time zone type
    assert "attempted_at timestamp with time zone not null" in log_table_ddl("postgres")
    assert "ATTEMPTED_AT TIMESTAMPTZ NOT NULL" in log_table_ddl("snowflake").upper()
    # DuckDB runs it: an instant with a time zone and text columns
    con = duckdb.connect()
    con.execute("create schema alerts")
    con.execute(log_table_ddl("duckdb"))
    described = {row[0]: row[1] for row in con.execute("describe alerts.sent_notifications").fetchall()}
    assert described["attempted_at"] == "TIMESTAMP WITH TIME ZONE" and described["kind"] == "VARCHAR"
    assert len(described) == 11
