"""The export files' values: what a query returns (DuckDB's Arrow columns as they are) and how timestamps are
written to CSV (ISO 8601 UTC, whole seconds)."""

import datetime as dt
from decimal import Decimal

import duckdb
import pyarrow as pa
import pytest

from orchestration.assets.exports import _client, _for_csv, _read
from orchestration.resources import Warehouse


def test_timestamps_are_written_as_utc_whole_seconds():
    berlin = dt.timezone(dt.timedelta(hours=1))
    table = pa.table({
        "naive": pa.array([dt.datetime(2026, 11, 20, 13, 45, 59, 999_999), None], pa.timestamp("us")),
        "aware": pa.array([dt.datetime(2026, 11, 20, 0, 30, tzinfo=berlin),
                           dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)], pa.timestamp("us", "Europe/Berlin")),
        "cost": pa.array([Decimal("1.500000000"), None], pa.decimal128(38, 9)),
    })
    written = _for_csv(table)
    assert written.column("naive").to_pylist() == ["2026-11-20T13:45:59Z", None]
    assert written.column("aware").to_pylist() == ["2026-11-19T23:30:00Z", "2026-01-01T00:00:00Z"]
    assert written.column("cost").to_pylist() == [Decimal("1.500000000"), None]  # untouched


def test_a_duckdb_query_keeps_its_columns_types(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    con.execute("""create table marts.charges as select * from (values
        (date '2026-11-20', 1.5::decimal(38, 9), '{"team": "payments"}'::json, null::varchar),
        (date '2026-11-21', 0.000000001::decimal(38, 9), null::json, null::varchar)) t(day, cost, tags, unused)""")
    con.close()
    warehouse = Warehouse(kind="duckdb", duckdb_path=str(path), pipelines_dir=str(tmp_path / "pipelines"))
    with _client(warehouse) as client:
        table = _read(warehouse, client, "select * from marts.charges where day >= %s order by day",
                      dt.date(2026, 11, 20))
    assert table.schema.field("cost").type == pa.decimal128(38, 9)
    assert table.schema.field("unused").type == pa.string()  # all null, still the column's type (not Arrow's null)
    assert table.to_pylist() == [
        {"day": dt.date(2026, 11, 20), "cost": Decimal("1.5"), "tags": '{"team": "payments"}', "unused": None},
        {"day": dt.date(2026, 11, 21), "cost": Decimal("0.000000001"), "tags": None, "unused": None},
    ]


def test_repeated_timestamps_in_several_chunks_are_each_written_as_themselves():
    # each distinct second is formatted once and put back in place: nulls, chunk borders and row order must survive
    values = [dt.datetime(2026, 11, 30, 0, 0), None, dt.datetime(2026, 12, 1, 0, 0), dt.datetime(2026, 11, 30, 0, 0),
              dt.datetime(2026, 11, 30, 23, 59, 59, 500_000)]
    chunks = [pa.array(values[:2] * 3, pa.timestamp("us")), pa.array(values[2:] * 4 + values[:1], pa.timestamp("us"))]
    table = pa.Table.from_batches([pa.record_batch([chunk], names=["ChargePeriodStart"]) for chunk in chunks])
    assert table.column("ChargePeriodStart").num_chunks == 2
    expected = [None if value is None else value.strftime("%Y-%m-%dT%H:%M:%SZ")
                for value in values[:2] * 3 + values[2:] * 4 + values[:1]]
    assert _for_csv(table).column("ChargePeriodStart").to_pylist() == expected
    assert expected[-2] == "2026-11-30T23:59:59Z"  # the half second is cut, not rounded up to the next day


def _focus_warehouse(tmp_path, days):
    path = tmp_path / "warehouse.duckdb"
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    con.execute("create table marts.fct_focus_cost_and_usage (x_usage_date date, BilledCost decimal(38, 9), "
                "ChargePeriodStart timestamp)")
    for n, day in enumerate(days):  # day n holds n + 1 rows of n + 1 dollars each
        for _ in range(n + 1):
            con.execute("insert into marts.fct_focus_cost_and_usage values (?, ?, ?)",
                        [day, Decimal(n + 1), dt.datetime.combine(day, dt.time())])
    con.close()
    return Warehouse(kind="duckdb", duckdb_path=str(path), pipelines_dir=str(tmp_path / "pipelines"))


def test_focus_export_writes_each_day_of_the_window_with_its_own_rows(tmp_path, monkeypatch):
    # a day's files are written while the next day is read: every file must still hold its own day
    import pyarrow.parquet as pq
    from dagster import build_asset_context

    from orchestration.assets.exports import focus_export

    days = [dt.date(2026, 11, 27) + dt.timedelta(days=n) for n in range(4)]
    warehouse = _focus_warehouse(tmp_path, days)
    monkeypatch.setenv("FINOPS_EXPORT_DIR", str(tmp_path / "exports"))
    monkeypatch.setenv("FINOPS_LOOKBACK_DAYS", "3")
    with build_asset_context(partition_key="2026-11-30", resources={"warehouse": warehouse}) as context:
        result = focus_export(context)
    assert result.metadata["rows"] == 1 + 2 + 3 + 4
    assert result.metadata["billed_cost_usd"] == 1 * 1 + 2 * 2 + 3 * 3 + 4 * 4
    assert result.metadata["files"] == 8
    for n, day in enumerate(days):
        table = pq.read_table(tmp_path / "exports" / "focus" / f"{day}.parquet")
        assert table.column("BilledCost").to_pylist() == [Decimal(n + 1)] * (n + 1)
        assert "x_usage_date" not in table.column_names
        csv = (tmp_path / "exports" / "focus" / f"{day}.csv").read_text().splitlines()
        assert csv[1:] == [f'{n + 1}.000000000,"{day}T00:00:00Z"'] * (n + 1)


def test_focus_export_fails_when_a_days_files_cannot_be_written(tmp_path, monkeypatch):
    from dagster import build_asset_context

    from orchestration.assets.exports import focus_export

    days = [dt.date(2026, 11, 29), dt.date(2026, 11, 30)]
    warehouse = _focus_warehouse(tmp_path, days)
    monkeypatch.setenv("FINOPS_EXPORT_DIR", str(tmp_path / "exports"))
    monkeypatch.setenv("FINOPS_LOOKBACK_DAYS", "1")
    (tmp_path / "exports" / "focus" / "2026-11-29.parquet").mkdir(parents=True)  # a folder where the file goes
    with build_asset_context(partition_key="2026-11-30", resources={"warehouse": warehouse}) as context:
        with pytest.raises(OSError):
            focus_export(context)


def test_a_run_rebuilt_its_window_and_the_lookback_days_before_it(monkeypatch):
    # a two-day backfill of December 1-2 with a three-day lookback re-fetched and rebuilt November 28 to December 2
    from dagster import TimeWindow

    from orchestration.assets.exports import days, rebuilt_days

    monkeypatch.setenv("FINOPS_LOOKBACK_DAYS", "3")
    utc = dt.timezone.utc
    window = TimeWindow(dt.datetime(2026, 12, 1, tzinfo=utc), dt.datetime(2026, 12, 3, tzinfo=utc))
    first, last = rebuilt_days(window)
    assert (first, last) == (dt.date(2026, 11, 28), dt.date(2026, 12, 2))
    assert list(days(first, last)) == [dt.date(2026, 11, 28), dt.date(2026, 11, 29), dt.date(2026, 11, 30),
                                       dt.date(2026, 12, 1), dt.date(2026, 12, 2)]
