"""One Dagster asset per dlt resource: raw/<source>/<table>, grouped by source.

Provider sources are daily-partitioned; a run over a partition range is one dlt run over the whole window
(`BackfillPolicy.single_run`). The org directory and the price book are configuration, not time series: they are
reloaded whole on every run.
"""


from typing import Callable, Iterator

from dagster import AssetExecutionContext, AssetKey, AssetSpec, BackfillPolicy, MaterializeResult
from dagster_dlt import DagsterDltResource, DagsterDltTranslator, dlt_assets
from dagster_dlt.translator import DltResourceTranslatorData

from ingestion import settings
from ingestion._files import resolve_location
from ingestion.agent_telemetry import agent_telemetry_source
from ingestion.anthropic import anthropic_source
from ingestion.copilot import copilot_source
from ingestion.cursor import cursor_source
from ingestion.focus_files import focus_files_source
from ingestion.github import github_source
from ingestion.jira import jira_source
from ingestion.openai import openai_source
from ingestion.org_directory import DEMO_ORG_DIRECTORY, org_directory_source
from ingestion.pricing import pricing_source
from orchestration.partitions import daily_partitions, ingestion_window
from orchestration.resources import Warehouse

SOURCE_DESCRIPTIONS = {
    "anthropic": "Anthropic Admin API (usage report, cost report)",
    "openai": "OpenAI Administration API (completions usage, costs)",
    "github": "GitHub (merged pull requests, production deployments)",
    "jira": "Jira Cloud (resolved issues)",
    "org_directory": "The org directory (people, teams, projects, provider accounts)",
    "pricing": "List prices from genai-prices",
    "cursor": "Cursor Admin API (team members, daily usage, per-request usage events, spend)",
    "copilot": "GitHub Copilot (seats, usage-metrics reports, premium requests, billing usage)",
    "agent_telemetry": "Coding agents' OpenTelemetry logs and spans (JSON-lines files an OTel collector writes)",
    "focus_files": "FOCUS cost exports (CSV/Parquet files from cloud providers and other vendors)",
}


class RawTranslator(DagsterDltTranslator):
    """raw/<source>/<resource>, group ingest_<source>, no upstream: the provider APIs are outside Dagster."""

    def get_asset_spec(self, data: DltResourceTranslatorData) -> AssetSpec:
        spec = super().get_asset_spec(data)
        source = data.resource.source_name
        return spec.replace_attributes(
            key=AssetKey(["raw", source, data.resource.name]),
            deps=[],
            group_name=f"ingest_{source}",
            description=f"{SOURCE_DESCRIPTIONS.get(source, source)}: `{data.resource.name}`, landed by dlt.",
            owners=["team:data-platform"],
        )


_DEFINITION_ONLY = settings.ProviderConnection("definition", "https://definition.invalid", None, demo=False)


def _provider_assets(provider: str, make_source: Callable, dataset: str):
    @dlt_assets(
        dlt_source=make_source(connection=_DEFINITION_ONLY),
        dlt_pipeline=Warehouse.from_env().pipeline(provider, dataset),
        name=f"ingest_{provider}",
        dagster_dlt_translator=RawTranslator(),
        partitions_def=daily_partitions,
        backfill_policy=BackfillPolicy.single_run(),
    )
    def _assets(context: AssetExecutionContext, dlt: DagsterDltResource, warehouse: Warehouse) -> Iterator:
        window = context.partition_time_window
        start, end = ingestion_window(window.start, window.end)
        lookback = settings.lookback_days()
        connection = settings.connection(provider)
        context.log.info(
            f"{provider}: {'demo organisation' if connection.demo else connection.base_url}"
            f"{'' if connection.enabled else ' (no credentials configured: loads nothing)'}, "
            f"days {start}..{end} (exclusive) plus {lookback} lookback day(s) for restatements"
        )
        source = make_source(start_date=start, end_date=end, lookback_days=lookback, connection=connection)
        yield from load(context, dlt, warehouse, source, provider, dataset)

    return _assets


anthropic_assets = _provider_assets("anthropic", anthropic_source, "raw_anthropic")
openai_assets = _provider_assets("openai", openai_source, "raw_openai")
github_assets = _provider_assets("github", github_source, "raw_github")
jira_assets = _provider_assets("jira", jira_source, "raw_jira")
cursor_assets = _provider_assets("cursor", cursor_source, "raw_cursor")
copilot_assets = _provider_assets("copilot", copilot_source, "raw_copilot")


@dlt_assets(
    dlt_source=agent_telemetry_source(path_or_url="definition-only"),
    dlt_pipeline=Warehouse.from_env().pipeline("agent_telemetry", "raw_agent_telemetry"),
    name="ingest_agent_telemetry",
    dagster_dlt_translator=RawTranslator(),
    partitions_def=daily_partitions,
    backfill_policy=BackfillPolicy.single_run(),
)
def agent_telemetry_assets(context: AssetExecutionContext, dlt: DagsterDltResource,
                           warehouse: Warehouse) -> Iterator:
    """Partitioned like the APIs: a window reads every file modified since its first day (minus the lookback) and
    keeps only the events of its days, so backfills run in any order and a re-run replaces events by key."""
    window = context.partition_time_window
    start, end = ingestion_window(window.start, window.end)
    lookback = settings.lookback_days()
    location, demo = resolve_location("agent_telemetry", None)
    context.log.info(f"agent_telemetry: {'demo files in ' if demo else ''}{location or 'no path configured'}, "
                     f"events of {start}..{end} (exclusive) plus {lookback} lookback day(s)")
    source = agent_telemetry_source(start_date=start, end_date=end, lookback_days=lookback)
    yield from load(context, dlt, warehouse, source, "agent_telemetry", "raw_agent_telemetry")


@dlt_assets(
    dlt_source=focus_files_source(path_or_url="definition-only"),
    dlt_pipeline=Warehouse.from_env().pipeline("focus_files", "raw_focus_files"),
    name="ingest_focus_files",
    dagster_dlt_translator=RawTranslator(),
)
def focus_files_assets(context: AssetExecutionContext, dlt: DagsterDltResource, warehouse: Warehouse) -> Iterator:
    """Not partitioned: an export file restates whole months, so each run reads the files modified since the last
    run (dlt keeps the cursor) and replaces their rows; dbt then rebuilds the FOCUS models whole."""
    location, demo = resolve_location("focus_files", None)
    context.log.info(f"focus_files: {'demo export in ' if demo else ''}{location or 'no path configured'}")
    source = focus_files_source(lookback_days=settings.lookback_days())
    yield from load(context, dlt, warehouse, source, "focus_files", "raw_focus_files")


@dlt_assets(
    dlt_source=org_directory_source(str(DEMO_ORG_DIRECTORY)),
    dlt_pipeline=Warehouse.from_env().pipeline("org_directory", "raw_org"),
    name="ingest_org_directory",
    dagster_dlt_translator=RawTranslator(),
)
def org_directory_assets(context: AssetExecutionContext, dlt: DagsterDltResource, warehouse: Warehouse) -> Iterator:
    from ingestion.org_directory import default_org_directory_path

    context.log.info(f"org directory: {default_org_directory_path()}")
    yield from load(context, dlt, warehouse, org_directory_source(), "org_directory", "raw_org",
                    quarantine_counts=False)


@dlt_assets(
    dlt_source=pricing_source(),
    dlt_pipeline=Warehouse.from_env().pipeline("pricing", "raw_pricing"),
    name="ingest_pricing",
    dagster_dlt_translator=RawTranslator(),
)
def pricing_assets(context: AssetExecutionContext, dlt: DagsterDltResource, warehouse: Warehouse) -> Iterator:
    import genai_prices

    context.log.info(f"price book: genai-prices {genai_prices.__version__}")
    yield from load(context, dlt, warehouse, pricing_source(), "pricing", "raw_pricing", quarantine_counts=False)


def load(context: AssetExecutionContext, dlt: DagsterDltResource, warehouse: Warehouse, source, name: str,
         dataset: str, quarantine_counts: bool = True) -> Iterator:
    """dlt's run of `source` into `dataset`, the warehouse held open for the whole load (Warehouse.held_open), with
    each raw table's quarantine count in its materialization (`with_quarantine_counts`) unless told otherwise."""
    pipeline = warehouse.pipeline(name, dataset)
    with warehouse.held_open():
        results = dlt.run(context=context, dlt_source=source, dlt_pipeline=pipeline)
        yield from with_quarantine_counts(results, pipeline) if quarantine_counts else results


def with_quarantine_counts(results: Iterator, pipeline) -> Iterator:
    """Each raw table with a quarantine beside it says, in its materialization metadata, how many records this run
    quarantined or normalized (`<table>_quarantine`), so a bad day shows in the run, not only in the warehouse."""
    for result in results:
        table = result.asset_key.path[-1] if isinstance(result, MaterializeResult) and result.asset_key else None
        if table and f"{table}_quarantine" in pipeline.default_schema.tables:
            info = pipeline.last_trace.last_normalize_info if pipeline.last_trace else None
            count = (info.row_counts.get(f"{table}_quarantine", 0) if info else 0)
            result = MaterializeResult(asset_key=result.asset_key,
                                       metadata={**(result.metadata or {}), "quarantine_records": count},
                                       check_results=result.check_results, data_version=result.data_version,
                                       tags=result.tags)
        yield result
