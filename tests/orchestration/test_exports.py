"""The export files' values: what a query returns (DuckDB's Arrow columns as they are) and how timestamps are
written to CSV (ISO 8601 UTC, whole seconds)."""

import datetime as dt
from decimal import Decimal

import duckdb
import pyarrow as pa

from orchestration.assets.exports import _for_csv, _query
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
    table = _query(warehouse, "select * from marts.charges where day >= %s order by day", dt.date(2026, 11, 20))
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
