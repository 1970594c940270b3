"""`exports/daily_brief`: the daily brief for finance and team leads, built from the marts after each run.

A static page (inline SVG charts, no network) for the last day of the partition window, written as
`<FINOPS_EXPORT_DIR>/brief/<day>.html` and `latest.html`, plus `<day>.pdf` when Chromium is installed. It reads
through dlt's SQL client (as the exports do), so it works on any warehouse.
"""

import datetime as dt

from dagster import AssetExecutionContext, AssetKey, BackfillPolicy, MaterializeResult, MetadataValue, asset

from delivery.brief import gather, render, write_brief
from orchestration.assets.exports import _client, _read, export_dir
from orchestration.partitions import daily_partitions
from orchestration.resources import Warehouse


@asset(
    key=AssetKey(["exports", "daily_brief"]),
    deps=[AssetKey(["marts", "fct_team_spend_daily"]), AssetKey(["marts", "fct_ai_usage_daily"]),
          AssetKey(["marts", "fct_unit_economics"]), AssetKey(["marts", "fct_allocation_coverage_daily"])],
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),  # a backfill range is one run, like the dlt and dbt assets
    group_name="exports",
    owners=["team:finops"],
    description="The daily brief (HTML with inline charts, and PDF when Chromium is installed) for the last day of "
                "the window: headline spend, spend by team, model mix, month-to-date burn, biggest changes and cost "
                "per PR / ticket, under FINOPS_EXPORT_DIR/brief/.",
)
def daily_brief(context: AssetExecutionContext, warehouse: Warehouse) -> MaterializeResult:
    day = context.partition_time_window.end.date() - dt.timedelta(days=1)
    with _client(warehouse) as client:  # its seven queries on one connection
        data = gather(lambda sql, *params: _read(warehouse, client, sql, *params), day)
    written = write_brief(render(data), export_dir(), day)
    headline = data["headline"]
    context.log.info(f"daily brief for {day}: ${headline['spend_7d']:,.2f} in the last 7 days, "
                     f"${headline['spend_mtd']:,.2f} month to date -> {written['html']}"
                     + ("" if "pdf" in written else " (no PDF)"))
    money = {f"{name}_usd": float(headline[name]) for name in ("spend_day", "spend_7d", "spend_prev_7d", "spend_mtd")}
    coverage = headline["allocation_coverage"]
    return MaterializeResult(metadata={
        "day": day.isoformat(),
        "path": MetadataValue.path(str(written["html"])),
        "pdf": MetadataValue.path(str(written["pdf"])) if "pdf" in written else "not made",
        **money,
        "change_7d": float(headline["change_7d"]) if headline["change_7d"] is not None else None,
        "allocation_coverage": float(coverage) if coverage is not None else None,
    })
