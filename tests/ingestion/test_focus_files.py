"""FOCUS cost exports (CSV, gzipped CSV, Parquet) through the real dlt source.

Amounts are hand-checked sums of the values written here; the demo's totals are the demo generator's own rows,
summed in plain Python.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import io
import json
import os
import time
from decimal import Decimal
from pathlib import Path
from typing import Any, Optional

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ingestion import settings
from ingestion.demo.telemetry import DemoCloudBill
from ingestion.focus_files import focus_files_source, map_columns, to_decimals, to_timestamps
from tests.conftest import damaged_gzip, query, table_exists

UTC = dt.timezone.utc
HEADER = ["BillingAccountId", "BillingCurrency", "BillingPeriodStart", "BillingPeriodEnd", "ChargePeriodStart",
          "ChargePeriodEnd", "ChargeCategory", "BilledCost", "EffectiveCost", "ListCost", "ProviderName",
          "ServiceName", "ServiceCategory", "SubAccountId", "SubAccountName", "ResourceId", "Tags"]


def focus_row(day: str, billed: str, **overrides: Any) -> dict[str, Any]:
    row = {"BillingAccountId": "710000000001", "BillingCurrency": "USD", "BillingPeriodStart": "2026-11-01T00:00:00Z",
           "BillingPeriodEnd": "2026-12-01T00:00:00Z", "ChargePeriodStart": f"{day}T00:00:00Z",
           "ChargePeriodEnd": f"{day}T23:59:59Z", "ChargeCategory": "Usage", "BilledCost": billed,
           "EffectiveCost": billed, "ListCost": billed, "ProviderName": "AWS", "ServiceName": "Amazon Bedrock",
           "ServiceCategory": "AI and Machine Learning", "SubAccountId": "343456216323",
           "SubAccountName": "northwind-payments", "ResourceId": "arn:aws:bedrock:us-east-1:343456216323:model/x",
           "Tags": '{"team": "payments", "project": "checkout-assistant"}'}
    row.update(overrides)
    return row


def write_csv(path: Path, rows: list[dict[str, Any]], mtime: Optional[float] = None,
              header: Optional[list[str]] = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    columns = header or list(dict.fromkeys(k for r in rows for k in r))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    data = buffer.getvalue().encode()
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def run(pipeline, folder: Path, **kwargs):
    pipe = pipeline("focus_files", "raw_focus_files")
    pipe.run(focus_files_source(str(folder), lookback_days=0, **kwargs))
    return pipe


def quarantine(pipe) -> list[tuple]:
    return query(pipe, "select action, reason from focus_costs_quarantine order by reason")


# ------------------------------------------------------------------------------------------------- values

def test_decimals_and_timestamps_from_text_and_typed_columns():
    assert to_decimals(pa.array(["0.1", " 2 ", "", None, "1E-5", "abc", "NaN", "0.00000000000049"])).to_pylist() == [
        Decimal("0.1"), Decimal("2"), None, None, Decimal("0.00001"), None, None, Decimal("0E-12")]
    assert to_decimals(pa.array([0.1, 0.2])).to_pylist() == [Decimal("0.1"), Decimal("0.2")]  # shortest repr
    assert to_decimals(pa.array([Decimal("1.23456789012345")], pa.decimal128(20, 14))).to_pylist() == [
        Decimal("1.234567890123")]
    assert to_timestamps(pa.array(["2026-11-10T00:00:00Z", "2026-11-10 02:00:00+02:00", "2026-11-10", None,
                                   "tuesday"])).to_pylist() == [
        dt.datetime(2026, 11, 10, tzinfo=UTC), dt.datetime(2026, 11, 10, tzinfo=UTC),
        dt.datetime(2026, 11, 10, tzinfo=UTC), None, None]
    assert to_timestamps(pa.array([dt.datetime(2026, 11, 10, 5)], pa.timestamp("ms"))).to_pylist() == [
        dt.datetime(2026, 11, 10, 5, tzinfo=UTC)]


def test_column_names_of_any_focus_version_and_spelling():
    mapped, x_columns, others = map_columns(["billed_cost", "ChargePeriodStart", "AmortizedCost", "ChargeType",
                                             "x_UsageType", "X_Operation", "UsageQuantity", "custom_owner",
                                             "BILLINGCURRENCY"])
    assert mapped == {"BilledCost": "billed_cost", "ChargePeriodStart": "ChargePeriodStart",
                      "BillingCurrency": "BILLINGCURRENCY", "EffectiveCost": "AmortizedCost",
                      "ChargeCategory": "ChargeType", "ConsumedQuantity": "UsageQuantity"}
    assert (x_columns, others) == (["x_UsageType", "X_Operation"], ["custom_owner"])
    # the current name wins over an alias
    assert map_columns(["EffectiveCost", "AmortizedCost"])[0] == {"EffectiveCost": "EffectiveCost"}


# ------------------------------------------------------------------------------------------------- CSV and Parquet

def test_csv_and_parquet_land_the_same_focus_columns_with_exact_decimals(tmp_path, pipeline):
    write_csv(tmp_path / "exports" / "aws" / "focus.csv", [
        {**focus_row("2026-11-10", "0.1"), "x_UsageType": "USE1-Claude-input", "MyOwnColumn": "abc"},
        {**focus_row("2026-11-10", "0.2"), "x_UsageType": "USE1-Claude-output", "MyOwnColumn": ""},
        {**focus_row("2026-11-11", "1.0000000001", ListCost="1.25"), "x_UsageType": "", "MyOwnColumn": ""},
    ])
    table = pa.table({
        "ChargePeriodStart": pa.array([dt.datetime(2026, 11, 10), dt.datetime(2026, 11, 11)], pa.timestamp("us")),
        "ChargePeriodEnd": pa.array([dt.datetime(2026, 11, 11), dt.datetime(2026, 11, 12)],
                                    pa.timestamp("us", tz="UTC")),
        "BilledCost": pa.array([0.1, 0.2], pa.float64()),  # doubles, as some exporters write them
        "EffectiveCost": pa.array([Decimal("0.1000000000"), Decimal("0.2000000000")], pa.decimal128(38, 10)),
        "BillingCurrency": ["USD", "USD"],
        "ProviderName": ["Google Cloud", "Google Cloud"],
        "ServiceName": ["Vertex AI", "Vertex AI"],
        "SubAccountId": ["nw-forecasting", "nw-forecasting"],
        "Tags": pa.array([[("team", "data-science"), ("project", "forecasting")], []],
                         pa.map_(pa.string(), pa.string())),
        "x_SkuDescription": ["Gemini input", None],
    })
    (tmp_path / "exports" / "gcp").mkdir(parents=True)
    pq.write_table(table, tmp_path / "exports" / "gcp" / "focus.parquet")
    (tmp_path / "exports" / "aws" / "manifest.json").write_text("{}")  # beside the export: skipped
    pipe = run(pipeline, tmp_path / "exports")
    sums = query(pipe, """select provider_name, count(*), sum(billed_cost), sum(effective_cost), sum(list_cost)
                          from focus_costs group by 1 order by 1""")
    # 0.1 + 0.2 + 1.0000000001 = 1.3000000001 exactly; list 0.1 + 0.2 + 1.25 = 1.55; doubles 0.1 + 0.2 = 0.3
    assert sums == [("AWS", 3, Decimal("1.300000000100"), Decimal("1.300000000100"), Decimal("1.550000000000")),
                    ("Google Cloud", 2, Decimal("0.300000000000"), Decimal("0.300000000000"), None)]
    aws = query(pipe, """select charge_date, charge_period_start, charge_period_end, billing_period_start, tags,
                                x_columns, extra_fields, sub_account_name, service_category, source_row
                         from focus_costs where provider_name = 'AWS' order by source_row""")
    assert aws[0] == (dt.date(2026, 11, 10), dt.datetime(2026, 11, 10, tzinfo=UTC),
                      dt.datetime(2026, 11, 10, 23, 59, 59, tzinfo=UTC), dt.datetime(2026, 11, 1, tzinfo=UTC),
                      '{"project":"checkout-assistant","team":"payments"}', '{"x_UsageType":"USE1-Claude-input"}',
                      '{"MyOwnColumn":"abc"}', "northwind-payments", "AI and Machine Learning", 1)
    assert [r[5:7] for r in aws[1:]] == [('{"x_UsageType":"USE1-Claude-output"}', None), (None, None)]
    gcp = query(pipe, """select charge_date, charge_period_start, tags, x_columns from focus_costs
                         where provider_name = 'Google Cloud' order by source_row""")
    assert gcp == [(dt.date(2026, 11, 10), dt.datetime(2026, 11, 10, tzinfo=UTC),
                    '{"project":"forecasting","team":"data-science"}', '{"x_SkuDescription":"Gemini input"}'),
                   (dt.date(2026, 11, 11), dt.datetime(2026, 11, 11, tzinfo=UTC), "{}", None)]
    assert {r[0].rsplit("/", 2)[-2] for r in query(pipe, "select distinct source_file from focus_costs")} == {
        "aws", "gcp"}
    assert quarantine(pipe) == []


def test_gzipped_csv_and_snake_case_headers(tmp_path, pipeline):
    rows = [{"billed_cost": "12.5", "charge_period_start": "2026-11-10 00:00:00", "provider_name": "Acme SaaS",
             "billing_currency": "usd", "tags": ""}]
    write_csv(tmp_path / "exports" / "acme.csv.gz", rows)
    pipe = run(pipeline, tmp_path / "exports")
    assert query(pipe, "select provider_name, billed_cost, charge_date, tags from focus_costs") == [
        ("Acme SaaS", Decimal("12.500000000000"), dt.date(2026, 11, 10), None)]


# ------------------------------------------------------------------------------------------------- idempotency

def test_a_re_exported_file_replaces_its_rows(tmp_path, pipeline):
    folder = tmp_path / "exports"
    now = time.time()
    write_csv(folder / "aws-2026-11.csv", [focus_row("2026-11-10", "1.10"), focus_row("2026-11-10", "2.20"),
                                           focus_row("2026-11-11", "3.30")], mtime=now - 600)
    write_csv(folder / "gcp-2026-11.csv", [focus_row("2026-11-10", "5.00", ProviderName="Google Cloud")],
              mtime=now - 600)
    pipe = run(pipeline, folder)
    assert query(pipe, "select count(*), sum(billed_cost) from focus_costs")[0] == (4, Decimal("11.6"))
    pipe = run(pipeline, folder)  # nothing new: nothing read, nothing changes
    assert pipe.last_trace.last_normalize_info.row_counts.get("focus_costs", 0) == 0
    # the provider restates its month: a row removed, one changed, a day added
    write_csv(folder / "aws-2026-11.csv", [focus_row("2026-11-10", "1.15"), focus_row("2026-11-11", "3.30"),
                                           focus_row("2026-11-12", "4.00")], mtime=now - 60)
    pipe = run(pipeline, folder)
    assert pipe.last_trace.last_normalize_info.row_counts.get("focus_costs", 0) == 3  # only the changed file
    by_provider = query(pipe, """select provider_name, count(*), sum(billed_cost) from focus_costs
                                 group by 1 order by 1""")
    # 1.15 + 3.30 + 4.00 = 8.45; the other file's row for the same day is untouched
    assert by_provider == [("AWS", 3, Decimal("8.45")), ("Google Cloud", 1, Decimal("5"))]
    assert query(pipe, "select count(distinct row_key) from focus_costs")[0][0] == 4


# ------------------------------------------------------------------------------------------------- bad input

def test_rows_without_a_start_or_a_number_are_quarantined(tmp_path, pipeline):
    write_csv(tmp_path / "exports" / "bad.csv", [
        focus_row("2026-11-10", "1.00"),
        focus_row("2026-11-10", "", ChargePeriodStart=""),
        focus_row("2026-11-10", "2.00", ChargePeriodStart="last tuesday"),
        focus_row("2026-11-10", "three dollars"),
        focus_row("2026-11-10", ""),
        focus_row("2026-11-10", "4.00", EffectiveCost="n/a"),
        focus_row("2026-11-10", "5.00", BillingCurrency="EUR"),
        focus_row("2026-11-10", "-0.50", ChargeCategory="Credit"),  # negative costs are credits, not errors
        focus_row("2026-11-10", "6.00", Tags="team=payments"),  # not JSON: kept aside, the row loads
    ])
    write_csv(tmp_path / "exports" / "notes.csv", [{"name": "not a cost export", "value": "1"}])
    pipe = run(pipeline, tmp_path / "exports")
    assert query(pipe, "select count(*), sum(billed_cost) from focus_costs")[0] == (3, Decimal("6.5"))
    assert quarantine(pipe) == [
        ("quarantined", "BilledCost is empty"),
        ("quarantined", "BilledCost is not a number: 'three dollars'"),
        ("quarantined", "ChargePeriodStart is not a timestamp: 'last tuesday'"),
        ("quarantined", "EffectiveCost is not a number: 'n/a'"),
        ("normalized", "Tags is not a JSON object: kept in extra_fields, tags left null"),
        ("quarantined", "currency EUR is not USD (no exchange rate is applied)"),
        ("quarantined", "no ChargePeriodStart"),
        ("quarantined", "not a FOCUS export: no ChargePeriodStart / BilledCost column"),
    ]
    assert query(pipe, "select tags, extra_fields from focus_costs where billed_cost = 6")[0] == (
        None, '{"Tags":"team=payments"}')
    records = dict(query(pipe, "select reason, record from focus_costs_quarantine"))
    assert json.loads(records["BilledCost is not a number: 'three dollars'"])["BilledCost"] == "three dollars"
    pipe = run(pipeline, tmp_path / "exports")
    assert len(quarantine(pipe)) == 8


def ragged(data: bytes) -> bytes:
    return data + b"1,2,3\n"  # a row with more fields than the header names


def not_utf8(data: bytes) -> bytes:
    return data + ",".join(["Caf\xe9"] * len(HEADER)).encode("latin-1") + b"\n"


def parquet_cut(data: bytes) -> bytes:
    return data[:-40]  # the footer gone: an upload cut short


@pytest.mark.parametrize("name, breakage, expected", [
    ("b.csv.gz", damaged_gzip, "(error: Error -3 while decompressing data"),  # zlib's own error
    ("b.csv.gz", lambda data: data[:-30], "(EOFError: Compressed file ended before the end-of-stream marker"),
    ("b.csv.gz", gzip.decompress, "(BadGzipFile: Not a gzipped file"),
    ("b.csv", ragged, "(ArrowInvalid: CSV parse error: Expected 17 columns, got 3: 1,2,3)"),
    ("b.csv", not_utf8, "(ArrowInvalid: In CSV column #0: CSV conversion error to string: invalid UTF8 data)"),
    ("b.parquet", parquet_cut, "(ArrowInvalid: Parquet magic bytes not found in footer."),
])
def test_an_unreadable_file_fails_the_run_naming_it_and_loads_nothing(tmp_path, pipeline, name, breakage,
                                                                      expected):
    folder = tmp_path / "exports"
    write_csv(folder / "a-good.csv", [focus_row("2026-11-10", "1.25")])
    rows = [focus_row("2026-11-10", f"{i}.50", ResourceId=f"r{i}") for i in range(300)]  # 44,850 + 300 x 0.50
    broken = folder / name
    if name.endswith(".parquet"):
        pq.write_table(pa.Table.from_pylist(rows), broken)
    else:
        write_csv(broken, rows, header=HEADER)
    whole = broken.read_bytes()
    broken.write_bytes(breakage(whole))
    with pytest.raises(Exception) as raised:
        run(pipeline, folder)
    message = str(raised.value)
    assert f"focus_files: {broken.as_uri()} cannot be read {expected}" in message, message
    assert "nothing from this run was loaded" in message
    pipe = pipeline("focus_files", "raw_focus_files")
    assert not table_exists(pipe, "focus_costs")  # not the good file's row, nor the broken file's first rows
    broken.write_bytes(whole)  # the export is written again, whole
    run(pipeline, folder)
    # 300 rows summing to 45,000.00, and the good file's 1.25
    assert query(pipe, "select count(*), sum(billed_cost) from focus_costs")[0] == (301, Decimal("45001.25"))


# ------------------------------------------------------------------------------------------------- demo and modes

def test_the_demo_export_loads_exactly_the_generators_rows(world, tmp_path, pipeline, monkeypatch):
    monkeypatch.setenv("FINOPS_MODE", "demo")
    monkeypatch.setenv("FINOPS_DEMO_FILES_DIR", str(tmp_path / "demo_files"))
    monkeypatch.setattr(settings, "demo_world", lambda: world)
    pipe = pipeline("focus_files", "raw_focus_files")
    pipe.run(focus_files_source())
    bill = DemoCloudBill(world)
    expected = {}
    for month in bill.months():
        for provider in ("aws", "gcp"):
            rows = bill.month_rows(provider, month)
            name = "AWS" if provider == "aws" else "Google Cloud"
            n, total = expected.get(name, (0, Decimal(0)))
            expected[name] = (n + len(rows), total + sum(r["BilledCost"] for r in rows))
    loaded = {p: (n, total) for p, n, total in query(
        pipe, "select provider_name, count(*), sum(billed_cost) from focus_costs group by 1")}
    assert loaded == expected
    assert query(pipe, "select min(charge_date), max(charge_date) from focus_costs")[0] == (
        dt.date(2026, 10, 1), dt.date(2026, 11, 19))
    # AI beside cloud: the hosted-model services, tagged with team and project
    ai = query(pipe, """select count(*), count(*) filter (where tags like '%"team"%') from focus_costs
                        where service_category = 'AI and Machine Learning'""")[0]
    assert ai[0] > 0 and ai[0] == ai[1]
    assert query(pipe, "select count(*) from focus_costs where charge_category = 'Credit'")[0][0] == 2
    assert quarantine(pipe) == []
    files = sorted(p.relative_to(tmp_path / "demo_files").as_posix()
                   for p in (tmp_path / "demo_files").rglob("*") if p.is_file())
    assert files == ["focus_files/aws/focus-aws-2026-10.csv", "focus_files/aws/focus-aws-2026-11.csv",
                     "focus_files/gcp/focus-gcp-2026-10.parquet", "focus_files/gcp/focus-gcp-2026-11.parquet"]


def test_live_mode_without_a_path_creates_empty_tables(pipeline, monkeypatch):
    monkeypatch.setenv("FINOPS_MODE", "live")
    monkeypatch.delenv("SOURCES__FOCUS_FILES__PATH", raising=False)
    pipe = pipeline("focus_files", "raw_focus_files")
    pipe.run(focus_files_source())
    assert table_exists(pipe, "focus_costs") and table_exists(pipe, "focus_costs_quarantine")
    assert query(pipe, "select count(*) from focus_costs")[0][0] == 0


def test_json_columns_x_columns_and_extra_fields_column_by_column():
    """normalize builds the JSON texts per column (each distinct value rendered once); what it writes, by hand."""
    from ingestion.focus_files import FocusFile

    utc = dt.timezone.utc
    tags = '{"b":1,"a":"\u00e9"}'
    batch = pa.table({
        "ChargePeriodStart": ["2026-11-20T00:00:00Z"] * 4,
        "BilledCost": ["1", "2", "3", "4"],
        "BillingCurrency": ["USD"] * 4,
        "Tags": [tags, "oops", "  ", tags],
        "x_Zeta": ['say "hi"', "", None, None],
        "x_alpha": pa.array([5, None, None, None], pa.int64()),
        "x_Flag": pa.array([True, None, None, None], pa.bool_()),
        "x_When": pa.array([dt.datetime(2026, 11, 20, 10, tzinfo=utc), None, None, None], pa.timestamp("us", "UTC")),
        "x_Ratio": pa.array([-0.0, 0.0, None, None], pa.float64()),
        "x_List": pa.array([[1, 2], None, None, None], pa.list_(pa.int64())),
        "custom_owner": ["ann", None, "", None],
        "Another": pa.array([Decimal("1.50"), None, None, None], pa.decimal128(5, 2)),
    })
    focus = FocusFile("s3://bucket/focus.csv", None, None)
    table = focus.normalize(batch)
    assert table.column("x_columns").to_pylist() == [
        '{"x_Flag":true,"x_List":[1,2],"x_Ratio":-0.0,"x_When":"2026-11-20T10:00:00+00:00",'
        '"x_Zeta":"say \\"hi\\"","x_alpha":5}',
        '{"x_Ratio":0.0}',
        None,
        None,
    ]
    # keys sorted, the text kept as it was (not escaped); the value that is not an object goes to extra_fields
    assert table.column("tags").to_pylist() == ['{"a":"\u00e9","b":1}', None, None, '{"a":"\u00e9","b":1}']
    assert table.column("extra_fields").to_pylist() == [
        '{"Another":"1.50","custom_owner":"ann"}', '{"Tags":"oops"}', None, None]
    assert focus.json_repaired == {"Tags": [1, "oops"]}
    # each row once, all four loaded
    assert table.column("source_row").to_pylist() == [1, 2, 3, 4]
