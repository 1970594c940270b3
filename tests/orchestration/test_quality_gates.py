"""Great Expectations gates on the raw landings: what they refuse, and that a blocking failure stops dbt."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from orchestration.raw_suites import RAW_TABLES, blocking_expectations, validate, warning_expectations

USAGE = next(t for t in RAW_TABLES if t.table == "usage_messages")
COSTS = next(t for t in RAW_TABLES if t.table == "cost_report")


def usage_frame(**changes) -> pd.DataFrame:
    start = pd.Timestamp("2026-11-20", tz="UTC")
    row = {"bucket_date": pd.Timestamp("2026-11-20"), "bucket_start": start, "bucket_end": start + pd.Timedelta(days=1),
           "row_key": "a", "model": "claude-sonnet-4-5", "service_tier": "standard", "context_window": "0-200k",
           "uncached_input_tokens": 10, "output_tokens": 5, "cache_creation_5m_input_tokens": 0,
           "cache_creation_1h_input_tokens": 0, "cache_read_input_tokens": 0, "web_search_requests": 0}
    second = {**row, "row_key": "b"}
    frame = pd.DataFrame([row, second])
    for column, value in changes.items():
        frame.loc[0, column] = value
    frame["bucket_hours"] = (frame["bucket_end"] - frame["bucket_start"]).dt.total_seconds() / 3600
    frame["starts_at_midnight"] = frame["bucket_start"].dt.strftime("%H:%M:%S") == "00:00:00"
    frame["days_before_window_end"] = 0
    return frame


def test_clean_rows_pass_both_suites():
    assert validate(USAGE, usage_frame(), blocking_expectations(USAGE), "t1")[0]
    assert validate(USAGE, usage_frame(), warning_expectations(USAGE), "t2")[0]


@pytest.mark.parametrize("changes, failed", [
    ({"output_tokens": -5}, "expect_column_values_to_be_between(output_tokens)"),
    ({"row_key": "b"}, "expect_column_values_to_be_unique(row_key)"),
    ({"bucket_end": pd.Timestamp("2026-11-20 01:00", tz="UTC")}, "expect_column_values_to_be_in_set(bucket_hours)"),
    ({"bucket_start": pd.Timestamp("2026-11-20 05:00", tz="UTC"),
      "bucket_end": pd.Timestamp("2026-11-21 05:00", tz="UTC")}, "expect_column_values_to_be_in_set(starts_at_midnight)"),
])
def test_what_would_corrupt_the_marts_blocks(changes, failed):
    passed, metadata = validate(USAGE, usage_frame(**changes), blocking_expectations(USAGE), "t3")
    assert not passed
    assert list(metadata["failed"]) == [failed]
    # how many rows: the one changed, or for a repeated key both rows holding it
    assert metadata["failed"][failed] == ("2" if "row_key" in changes else "1")


def test_a_window_is_validated_without_fingerprinting_its_rows(monkeypatch):
    """Great Expectations would hash every row of a window each time it fetches the batch (three times a table);
    the checks skip that fingerprint, and the suites still see every row: a repeated key is still found."""
    from great_expectations.execution_engine import pandas_execution_engine

    hashed = []
    monkeypatch.setattr(pandas_execution_engine, "hash_pandas_dataframe", lambda df: hashed.append(len(df)) or "x")
    assert validate(USAGE, usage_frame(), blocking_expectations(USAGE), "t10")[0]
    passed, metadata = validate(USAGE, usage_frame(row_key="b"), blocking_expectations(USAGE), "t11")
    assert not passed and list(metadata["failed"]) == ["expect_column_values_to_be_unique(row_key)"]
    assert hashed == []


def test_a_missing_column_blocks():
    passed, metadata = validate(USAGE, usage_frame().drop(columns=["output_tokens"]), blocking_expectations(USAGE), "t4")
    assert not passed and "expect_table_columns_to_match_set()" in metadata["failed"]


def test_unknown_enum_values_and_stale_data_only_warn():
    frame = usage_frame(service_tier="turbo")
    frame["days_before_window_end"] = 2  # nothing for the window's last day
    assert validate(USAGE, frame, blocking_expectations(USAGE), "t5")[0]
    passed, metadata = validate(USAGE, frame, warning_expectations(USAGE), "t6")
    assert not passed
    assert set(metadata["failed"]) == {"expect_column_values_to_be_in_set(service_tier)",
                                       "expect_column_min_to_be_between(days_before_window_end)"}


def test_the_window_is_read_with_only_the_checked_columns(tmp_path):
    """A wide raw table is read with the columns the suites check; a checked column the table lacks fails the suite
    (the column-set expectation) instead of the query."""
    from orchestration.checks import read_window
    from orchestration.resources import Warehouse

    path = tmp_path / "w.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create schema raw_anthropic")
    con.execute("""create table raw_anthropic.usage_messages as select * from (values
        ('2026-11-19'::date, '2026-11-19 00:00:00+00'::timestamptz, '2026-11-20 00:00:00+00'::timestamptz, 'k1',
         'claude-sonnet-4-5', 'standard', '0-200k', 10, 5, 0, 0, 0, 0, 'a wide payload nobody checks'),
        ('2026-11-20', '2026-11-20 00:00:00+00', '2026-11-21 00:00:00+00', 'k2',
         'claude-sonnet-4-5', 'batch', '0-200k', 7, 3, 0, 0, 0, 0, 'x'),
        ('2026-11-21', '2026-11-21 00:00:00+00', '2026-11-22 00:00:00+00', 'k3',
         'claude-sonnet-4-5', 'batch', '0-200k', 1, 1, 0, 0, 0, 0, 'outside the window'))
        t(bucket_date, bucket_start, bucket_end, row_key, model, service_tier, context_window, uncached_input_tokens,
          output_tokens, cache_creation_5m_input_tokens, cache_creation_1h_input_tokens, cache_read_input_tokens,
          web_search_requests, raw_payload)""")
    con.close()
    warehouse = Warehouse(duckdb_path=str(path), pipelines_dir=str(tmp_path / "p"))
    import datetime as dt

    frame = read_window(warehouse, USAGE, dt.date(2026, 11, 19), dt.date(2026, 11, 20))
    assert sorted(frame["row_key"]) == ["k1", "k2"]
    assert "raw_payload" not in frame.columns
    assert list(frame["bucket_hours"]) == [24.0, 24.0] and list(frame["starts_at_midnight"]) == [True, True]
    assert sorted(frame["days_before_window_end"]) == [0, 1]
    assert validate(USAGE, frame, blocking_expectations(USAGE), "t7")[0]

    # a count with a null (pandas' nullable Int64 from the driver) is compared as float64: the null is skipped, a
    # negative value is still caught
    con = duckdb.connect(str(path))
    con.execute("update raw_anthropic.usage_messages set uncached_input_tokens = null where row_key = 'k2'")
    con.execute("update raw_anthropic.usage_messages set cache_read_input_tokens = -3 where row_key = 'k1'")
    con.close()
    frame = read_window(warehouse, USAGE, dt.date(2026, 11, 19), dt.date(2026, 11, 20))
    assert str(frame["uncached_input_tokens"].dtype) == "float64"
    assert sorted(frame["uncached_input_tokens"].fillna(-1)) == [-1.0, 10.0]
    passed, metadata = validate(USAGE, frame, blocking_expectations(USAGE), "t9")
    assert not passed and metadata["failed"] == {"expect_column_values_to_be_between(cache_read_input_tokens)": "1"}

    con = duckdb.connect(str(path))
    con.execute("alter table raw_anthropic.usage_messages drop column output_tokens")
    con.close()
    frame = read_window(warehouse, USAGE, dt.date(2026, 11, 19), dt.date(2026, 11, 20))
    passed, metadata = validate(USAGE, frame, blocking_expectations(USAGE), "t8")
    assert not passed and "expect_table_columns_to_match_set()" in metadata["failed"]


def test_a_blocking_failure_stops_the_runs_dbt_models(monkeypatch, tmp_path, world):
    """Defence in depth: with the ingestion quarantine switched off, a negative token count reaches the raw table;
    the blocking suite fails and dbt does not build anything from it."""
    from dagster import DagsterInstance, materialize
    from dagster_dlt import DagsterDltResource

    import ingestion.anthropic as anthropic
    from ingestion import settings
    from ingestion.demo.server import AnthropicDemoAdapter
    from orchestration.assets.ingest import anthropic_assets
    from orchestration.assets.transform import ai_finops_dbt_assets
    import orchestration.checks as checks_module
    from orchestration.checks import RawSuites, raw_table_checks
    from orchestration.resources import Warehouse, dbt_resource
    from tests.conftest import ScriptedTransport

    def negative(body, path):
        if path.endswith("/usage_report/messages"):
            body["data"][0]["results"][0]["output_tokens"] = -1000
        return body

    url = "https://anthropic.gate.test"
    monkeypatch.setenv("FINOPS_MODE", "live")
    monkeypatch.setenv("SOURCES__ANTHROPIC__ADMIN_API_KEY", "gate-key")
    monkeypatch.setenv("SOURCES__ANTHROPIC__BASE_URL", url)
    monkeypatch.setenv("WAREHOUSE_PATH", str(tmp_path / "w.duckdb"))
    monkeypatch.setitem(settings.TRANSPORTS, url,
                        ScriptedTransport(AnthropicDemoAdapter(world, url, "gate-key"), {"*": negative}))
    monkeypatch.setattr(anthropic, "accept", lambda *args: True)  # the quarantine, switched off
    warehouse = Warehouse(duckdb_path=str(tmp_path / "w.duckdb"), pipelines_dir=str(tmp_path / "p"))
    checks = [c for c in raw_table_checks if "anthropic" in c.check_keys.__iter__().__next__().asset_key.to_user_string()]
    # the suites run in the resource's worker process, not in the run's: this process's function is never called
    in_run_process = []
    monkeypatch.setattr(checks_module, "suite_results", lambda *args: in_run_process.append(args))
    peaks_before = len(checks_module.WORKER_PEAKS_MIB)
    result = materialize([anthropic_assets, ai_finops_dbt_assets, *checks], partition_key="2026-11-12",
                         resources={"dlt": DagsterDltResource(), "dbt": dbt_resource(), "warehouse": warehouse,
                                    "raw_suites": RawSuites()},
                         instance=DagsterInstance.ephemeral(), raise_on_error=False)
    evaluations = {e.asset_check_evaluation_data.check_name: e.asset_check_evaluation_data.passed
                   for e in result.all_events if e.event_type_value == "ASSET_CHECK_EVALUATION"}
    assert evaluations.get("ge_blocking") is False
    assert evaluations.get("ge_warnings") is True  # read once with the blocking suite, still reported
    assert in_run_process == [] and len(checks_module.WORKER_PEAKS_MIB) == peaks_before + 1  # the worker was closed
    steps = {(e.step_key, e.event_type_value) for e in result.all_events if e.step_key}
    assert ("ingest_anthropic", "STEP_SUCCESS") in steps
    assert ("ai_finops_dbt_assets", "STEP_START") not in steps  # dbt never started
    assert ("raw__anthropic__usage_messages_ge", "STEP_FAILURE") in steps
    assert not {event for step, event in steps if step == "ai_finops_dbt_assets"}  # not started, not failed: held back
    con = duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True)
    assert con.execute("select min(output_tokens) from raw_anthropic.usage_messages").fetchone()[0] == -1000
    con.close()
