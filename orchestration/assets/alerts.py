"""Alerts in Dagster: anomaly findings and budget breaches as WARN checks on their marts, and `alerts/notifications`,
the asset that tells the owning teams (orchestration/alerts.py: sinks, routing, the delivery log).

Why an asset in the daily job and not a sensor or a run hook: it runs where the findings are made, right after the
dbt build of the same run (a sensor would need Dagster's daemon, which `make run` does not start), it takes its turn
as DuckDB's single writer like every other step of the in-process run (a sensor would race the next run for the
file), and a backfill of any range is one run of it. "Once" does not rely on Dagster's run history either: it is the
delivery log in the warehouse, so it holds across re-runs, backfills, and a wiped Dagster instance.
"""

import datetime as dt
from typing import Any, Iterable, Optional

from dagster import (
    AssetCheckExecutionContext, AssetCheckResult, AssetCheckSeverity, AssetExecutionContext, AssetKey, BackfillPolicy,
    Failure, MaterializeResult, MetadataValue, asset, asset_check,
)

from ingestion._common import today_utc
from orchestration.alerts import (
    ANOMALIES_TABLE, BUDGETS_TABLE, LOG_TABLE, AlertSettings, DeliveryLog, Notification, budget_alerts, candidates,
    deliver, latest_day, make_sinks, new_findings, sql_query,
)
from orchestration.assets.exports import export_dir
from orchestration.partitions import daily_partitions
from orchestration.resources import Warehouse

ANOMALIES = AssetKey(["marts", ANOMALIES_TABLE])
BUDGETS = AssetKey(["marts", BUDGETS_TABLE])
NOTIFICATIONS = AssetKey(["alerts", "notifications"])
ALERT_MARTS = (ANOMALIES, BUDGETS)
RANGE_START, RANGE_END, PARTITION = "dagster/asset_partition_range_start", "dagster/asset_partition_range_end", \
    "dagster/partition"
TOP = 5  # findings shown in a check's metadata


def alerts_folder():
    return export_dir() / "alerts"


def _client(warehouse: Warehouse):
    # the marts schema exists once dbt has run (DuckDB refuses a search path to a schema that does not); every table
    # is named with its schema anyway
    return warehouse.pipeline("alerts", "marts").sql_client()


# ------------------------------------------------------------------------------------------------------------ checks

def check_window(context: AssetCheckExecutionContext, query, table: str) -> Optional[tuple[dt.date, dt.date]]:
    """The run's partition days (no lookback: each finding shows on the run of its own day); outside a partitioned
    run (a check launched alone from the UI), the mart's latest day."""
    tags = context.run.tags
    first = tags.get(RANGE_START) or tags.get(PARTITION)
    last = tags.get(RANGE_END) or tags.get(PARTITION)
    if first and last:
        return dt.date.fromisoformat(first[:10]), dt.date.fromisoformat(last[:10])
    day = latest_day(query, table)
    return (day, day) if day else None


def _money(value: Any) -> Optional[float]:
    try:
        return None if value is None else round(float(value), 2)
    except (TypeError, ValueError):
        return None


def findings_metadata(found: list[Notification], first: dt.date, last: dt.date) -> dict[str, Any]:
    """What a person sees on the check: how many, by severity and team, and the top findings' sentences and
    figures."""
    top = found[:TOP]
    by_severity: dict[str, int] = {}
    for n in found:
        by_severity[n.severity] = by_severity.get(n.severity, 0) + 1
    rows = [{"key": n.key, "team_id": n.team_id, "severity": n.severity, "title": n.title, "sentence": n.sentence,
             "impact_usd": _money(n.record.get("impact_usd")), "ratio": _money(n.record.get("ratio")),
             **({"pct_of_budget": _money(n.record.get("pct_of_budget")),
                 "forecast_usd": _money(n.record.get("forecast_usd"))} if n.kind == "budget" else {})}
            for n in top]
    lines = [f"- **{n.title}**: {n.sentence} ({', '.join(f'{k} {v}' for k, v in n.figures[:4])})" for n in top]
    if len(found) > len(top):
        lines.append(f"- ... and {len(found) - len(top)} more")
    metadata: dict[str, Any] = {
        "window": f"{first.isoformat()} .. {last.isoformat()}",
        "count": len(found),
        "by_severity": MetadataValue.json(by_severity),
        "teams": MetadataValue.json(sorted({n.team_id for n in found})),
        "top": MetadataValue.json(rows),
        "summary": MetadataValue.md("\n".join(lines)),
    }
    if top:
        metadata["top_sentence"] = top[0].sentence
        for name in ("impact_usd", "ratio", "pct_of_budget"):
            if rows[0].get(name) is not None:
                metadata[f"top_{name}"] = rows[0][name]
    if found and found[0].kind == "anomaly":
        metadata["impact_usd_total"] = round(sum(n.impact_usd for n in found), 2)
    return metadata


@asset_check(asset=ANOMALIES, name="no_new_anomalies",
             description="Warns when the run's days have new cost anomaly findings (not suppressed), with their "
                         "count, and the top findings' sentences, impact in USD and ratio. Never blocks anything.")
def no_new_anomalies(context: AssetCheckExecutionContext, warehouse: Warehouse) -> AssetCheckResult:
    with _client(warehouse) as client:
        query = sql_query(client)
        window = check_window(context, query, ANOMALIES_TABLE)
        found = new_findings(query, *window) if window else []
    if not window:
        return AssetCheckResult(passed=True, metadata={"count": 0, "window": "the mart is empty"})
    metadata = findings_metadata(found, *window)
    return AssetCheckResult(passed=not found, severity=AssetCheckSeverity.WARN, metadata=metadata,
                            description=None if not found else f"{len(found)} new anomaly finding(s): "
                                                                  f"{found[0].sentence}")


@asset_check(asset=BUDGETS, name="no_budget_breaches",
             description="Warns when a budget's latest status in the run's days is 'watch' or 'over', with the "
                         "budget's message, spend, forecast and % of budget. Never blocks anything.")
def no_budget_breaches(context: AssetCheckExecutionContext, warehouse: Warehouse) -> AssetCheckResult:
    with _client(warehouse) as client:
        query = sql_query(client)
        window = check_window(context, query, BUDGETS_TABLE)
        found = budget_alerts(query, *window) if window else []
    if not window:
        return AssetCheckResult(passed=True, metadata={"count": 0, "window": "the mart is empty"})
    metadata = findings_metadata(found, *window)
    statuses = [str(n.record.get("status")) for n in found]
    metadata.update({"over": statuses.count("over"), "watch": statuses.count("watch")})
    return AssetCheckResult(passed=not found, severity=AssetCheckSeverity.WARN, metadata=metadata,
                            description=None if not found else f"{statuses.count('over')} over, "
                                                                  f"{statuses.count('watch')} on watch: "
                                                                  f"{found[0].sentence}")


ALERT_CHECKS = {ANOMALIES: no_new_anomalies, BUDGETS: no_budget_breaches}


# ------------------------------------------------------------------------------------------------------------- asset

def build_notifications_asset(marts: Iterable[AssetKey]):
    """`alerts/notifications`, reading the alert marts among `marts` (those the dbt project has)."""
    marts = set(marts)
    present = [key for key in ALERT_MARTS if key in marts]
    tables = [key.path[-1] for key in present]

    @asset(
        key=NOTIFICATIONS,
        deps=present,
        partitions_def=daily_partitions,
        backfill_policy=BackfillPolicy.single_run(),  # a backfill range is one run, like the dlt and dbt assets
        group_name="alerts",
        owners=["team:finops"],
        description="Sends new cost anomaly findings and budget watch/over statuses, once each, to the owning team's "
                    "sinks (Slack webhook, JSON webhook, e-mail; always a log line and JSON lines under "
                    "FINOPS_EXPORT_DIR/alerts/), recording every attempt in alerts.sent_notifications. Fails after "
                    "trying every sink when one could not deliver; the failed ones are retried on the next run.",
    )
    def alert_notifications(context: AssetExecutionContext, warehouse: Warehouse) -> MaterializeResult:
        window = context.partition_time_window
        first, last = window.start.date(), window.end.date() - dt.timedelta(days=1)
        today = today_utc()
        settings = AlertSettings.load(alerts_folder())
        configured = ["log", *sorted(settings.default)]  # team routes may add more
        with _client(warehouse) as client:
            found, too_old = candidates(sql_query(client), tables, first, today, settings.max_age_days)
            delivery_log = DeliveryLog(client)
            delivery_log.ensure()
            report = deliver(found, settings, make_sinks(settings, context.log.info), delivery_log, context.run_id)
        context.log.info(
            f"alerts for {first} .. {last}: {len(found)} recent notification(s) ({too_old} older than "
            f"{settings.max_age_days} days not sent); {len(report.sent)} delivered, {report.already_sent} already "
            f"delivered before, {len(report.failed)} failed; default sinks: {', '.join(configured)}")
        metadata = {
            "notifications": len(found),
            "delivered": len(report.sent),
            "already_delivered": report.already_sent,
            "failed": len(report.failed),
            "too_old_not_sent": too_old,
            "delivered_by_sink": MetadataValue.json({sink: sum(1 for _, s, _ in report.sent if s == sink)
                                                     for sink in sorted({s for _, s, _ in report.sent})}),
            "delivery_log": LOG_TABLE,
            "alert_files": MetadataValue.path(str(settings.log_dir)),
        }
        if report.failed:
            failures = report.failures_by_destination()
            lines = [f"{sink} (route {route}): {count} not delivered, {error}"
                     for (sink, route), (count, error) in sorted(failures.items())]
            for line in lines:
                context.log.error(f"alert delivery failed: {line}")
            # fail the step after every sink was tried: a broken Slack webhook must be seen, not just logged
            raise Failure(
                description=f"{len(report.failed)} alert deliveries failed (recorded in {LOG_TABLE}, retried on the "
                            "next run): " + "; ".join(lines),
                metadata={**metadata, "failures": MetadataValue.json(lines)},
            )
        return MaterializeResult(metadata=metadata)

    return alert_notifications


def alert_definitions(marts: Iterable[AssetKey]) -> tuple[list, list]:
    """The alert asset and checks for the alert marts the dbt project has: nothing for a mart it does not have (a
    check or a dependency on a missing asset would put an undescribed, unowned stub asset in the graph)."""
    marts = set(marts)
    present = [key for key in ALERT_MARTS if key in marts]
    if not present:
        return [], []
    return [build_notifications_asset(present)], [ALERT_CHECKS[key] for key in present]
