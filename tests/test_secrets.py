"""Secrets never leave the request headers: not in logs, Dagster events, dlt's working files, the warehouse, or errors.

The whole graph runs in live mode for one partition, with recognisable keys in the documented environment
variables, against fake provider APIs registered as transports for the configured base URLs (the live code path
above the socket). Then everything the run left behind is searched for the keys.
"""

from __future__ import annotations

import datetime as dt
import traceback
from pathlib import Path

import duckdb
import pytest
from dagster import DagsterInstance, materialize
from dlt.pipeline.exceptions import PipelineStepFailed

from ingestion import settings
from ingestion.demo.copilot import DEMO_COPILOT_ORG, copilot_org
from ingestion.demo.copilot_server import CopilotDemoAdapter
from ingestion.demo.cursor import cursor_team
from ingestion.demo.cursor_server import CursorDemoAdapter
from ingestion.demo.output_server import GitHubDemoAdapter, JiraDemoAdapter
from ingestion.demo.server import AnthropicDemoAdapter, OpenAIDemoAdapter
from tests.conftest import ScriptedTransport

KEYS = {
    "anthropic": "sk-ant-admin01-TESTSECRETanthropic0000000000",
    "openai": "sk-admin-TESTSECRETopenai000000000000",
    "github": "ghp_TESTSECRETgithub00000000000000000",
    "jira": "TESTSECRETjiratoken0000",
    "cursor": "key_TESTSECRETcursor000000000000",
    "copilot": "ghp_TESTSECRETcopilot0000000000000",
}
URLS = {"anthropic": "https://anthropic.secret.test", "openai": "https://openai.secret.test/v1",
        "github": "https://github.secret.test", "jira": "https://jira.secret.test",
        "cursor": "https://cursor.secret.test", "copilot": "https://copilot.secret.test"}
JIRA_EMAIL = "finops-reader@northwind.example"
DAY = dt.date(2026, 11, 12)


@pytest.fixture
def live(monkeypatch, tmp_path, world, engineering):
    names = settings.SECRET_NAMES
    for provider, key in KEYS.items():
        monkeypatch.setenv(f"SOURCES__{provider.upper()}__{names[provider].upper()}", key)
        monkeypatch.setenv(f"SOURCES__{provider.upper()}__BASE_URL", URLS[provider])
    monkeypatch.setenv("SOURCES__JIRA__EMAIL", JIRA_EMAIL)
    monkeypatch.setenv("SOURCES__COPILOT__ORGANIZATION", DEMO_COPILOT_ORG)
    monkeypatch.setenv("FINOPS_MODE", "live")
    monkeypatch.setenv("WAREHOUSE_PATH", str(tmp_path / "warehouse.duckdb"))  # the dbt asset sets it too
    recorders = {
        "anthropic": ScriptedTransport(AnthropicDemoAdapter(world, URLS["anthropic"], KEYS["anthropic"])),
        "openai": ScriptedTransport(OpenAIDemoAdapter(world, URLS["openai"], KEYS["openai"])),
        "github": ScriptedTransport(GitHubDemoAdapter(engineering, URLS["github"], KEYS["github"])),
        "jira": ScriptedTransport(JiraDemoAdapter(engineering, URLS["jira"], KEYS["jira"], JIRA_EMAIL)),
        "cursor": ScriptedTransport(CursorDemoAdapter(cursor_team(world), URLS["cursor"], KEYS["cursor"])),
        "copilot": ScriptedTransport(CopilotDemoAdapter(copilot_org(world), URLS["copilot"], KEYS["copilot"])),
    }
    for provider, recorder in recorders.items():
        monkeypatch.setitem(settings.TRANSPORTS, URLS[provider], recorder)
    return recorders


def warehouse_text(path: Path) -> list[str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        columns = con.execute("""
            select table_schema, table_name, column_name from information_schema.columns
            where data_type = 'VARCHAR'""").fetchall()
        found = []
        for schema, table, column in columns:
            found += [v for (v,) in con.execute(
                f'select distinct "{column}" from "{schema}"."{table}" where "{column}" like \'%TESTSECRET%\'').fetchall()]
        return found
    finally:
        con.close()


def test_keys_appear_nowhere_but_in_request_headers(live, tmp_path, caplog, capfd):
    from dagster_dlt import DagsterDltResource

    from orchestration.assets.ingest import (
        agent_telemetry_assets, anthropic_assets, copilot_assets, cursor_assets, focus_files_assets, github_assets,
        jira_assets, openai_assets, org_directory_assets, pricing_assets,
    )
    from orchestration.assets.transform import ai_finops_dbt_assets
    from orchestration.resources import Warehouse, dbt_resource

    caplog.set_level("DEBUG")
    instance = DagsterInstance.ephemeral()
    warehouse = Warehouse(duckdb_path=str(tmp_path / "warehouse.duckdb"), pipelines_dir=str(tmp_path / "pipelines"))
    result = materialize(
        [org_directory_assets, pricing_assets, anthropic_assets, openai_assets, cursor_assets, copilot_assets,
         github_assets, jira_assets, agent_telemetry_assets, focus_files_assets, ai_finops_dbt_assets],
        partition_key=DAY.isoformat(),
        resources={"dlt": DagsterDltResource(), "dbt": dbt_resource(), "warehouse": warehouse},
        instance=instance,
    )
    assert result.success

    # the keys were used, in headers, and nothing was ever written to a provider
    calls = [c for recorder in live.values() for c in recorder.calls]
    assert {c.method for c in calls if c not in live["cursor"].calls} == {"GET"}
    # Cursor's Admin API queries usage with POST bodies (date ranges); those three endpoints only read
    assert {c.path for c in live["cursor"].calls if c.method == "POST"} <= {
        "/teams/daily-usage-data", "/teams/filtered-usage-events", "/teams/spend"}
    assert any(KEYS["anthropic"] == c.headers.get("x-api-key") for c in live["anthropic"].calls)
    assert all(KEYS["openai"] in c.headers.get("Authorization", "") for c in live["openai"].calls)
    assert live["cursor"].calls and live["copilot"].calls

    # the fake APIs really served the data: the run is not vacuous
    con = duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True)
    assert con.execute("select count(*) from marts.fct_ai_usage_daily").fetchone()[0] > 0
    assert con.execute("select count(*) from raw_jira.issues").fetchone()[0] > 0
    assert con.execute("select count(*) from raw_cursor.usage_events").fetchone()[0] > 0
    assert con.execute("select count(*) from raw_copilot.seats").fetchone()[0] > 0
    con.close()

    haystacks = {
        "logs": caplog.text,
        "console": "".join(capfd.readouterr()),
        "dagster events": "\n".join(repr(entry) for entry in instance.all_logs(result.run_id)),
        "warehouse": "\n".join(warehouse_text(tmp_path / "warehouse.duckdb")),
        "dlt working files": "\n".join(p.read_text(errors="ignore") for p in (tmp_path / "pipelines").rglob("*")
                                       if p.is_file() and p.stat().st_size < 20_000_000),
    }
    for where, text in haystacks.items():
        for provider, key in KEYS.items():
            assert key not in text, f"{provider} key found in {where}"
        assert "TESTSECRET" not in text, where


def test_an_authentication_error_names_the_provider_not_the_key(live, pipeline):
    from ingestion.anthropic import anthropic_source

    wrong = settings.ProviderConnection("anthropic", URLS["anthropic"], "sk-ant-admin01-TESTSECRETwrongkey000", False)
    with pytest.raises(PipelineStepFailed) as failure:
        pipeline("anthropic", "raw_anthropic").run(anthropic_source(start_date=DAY.isoformat(),
                                                                    end_date=(DAY + dt.timedelta(days=1)).isoformat(),
                                                                    connection=wrong))
    text = "".join(traceback.format_exception(failure.value))
    assert "anthropic /v1/organizations/usage_report/messages: HTTP 401" in text
    assert "TESTSECRET" not in text
