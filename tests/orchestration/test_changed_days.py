"""The daily dbt window starts at the earliest day the loads changed (orchestration/changed_days.py): the rules on
hand-made fingerprints, then on a small DuckDB warehouse whose raw tables are reloaded, restated and drifted."""

import datetime as dt
import json

import duckdb
import pytest

from orchestration.changed_days import (EMPTY, NO_DAY, UNDATED, WatchedTable, merged, narrowed_window,
                                        read_built, rebuild_start, watched_tables)
from orchestration.resources import Warehouse
from tests.orchestration.conftest import execute

D = dt.date(2026, 11, 20)  # the partition's day; the lookback of 3 is D-3..D-1


def day(offset: int) -> str:
    return (D + dt.timedelta(days=offset)).isoformat()


def test_nothing_changed_starts_at_the_partition():
    built = {("raw.t", day(-3)): "1:5", ("raw.t", day(-2)): "2:7", ("raw.t", day(-1)): EMPTY, ("raw.u", UNDATED): "3:9"}
    current = {**built, ("raw.t", day(0)): "4:1"}  # the partition's own day is new: rebuilt anyway
    assert rebuild_start(current, built, D - dt.timedelta(days=3), D) == D


def test_the_earliest_changed_or_unrecorded_day_starts_the_window():
    built = {("raw.t", day(-3)): "1:5", ("raw.t", day(-2)): "2:7", ("raw.t", day(-1)): "1:1"}
    first = D - dt.timedelta(days=3)
    assert rebuild_start({**built, ("raw.t", day(-1)): "1:2"}, built, first, D) == D - dt.timedelta(days=1)
    assert rebuild_start({**built, ("raw.t", day(-2)): "2:8", ("raw.t", day(-1)): "1:2"}, built, first, D) \
        == D - dt.timedelta(days=2)
    # a table never recorded (new, or its build failed) on D-3: from D-3
    assert rebuild_start({**built, ("raw.v", day(-3)): EMPTY}, built, first, D) == first
    # a day before the window's first is not this run's to rebuild
    assert rebuild_start({**built, ("raw.t", day(-5)): "9:9"}, built, first, D) == D


def test_an_undated_change_or_a_dateless_row_takes_the_whole_lookback():
    built = {("raw.t", day(-1)): "1:1", ("raw.t", NO_DAY): EMPTY, ("raw.org", UNDATED): "3:3"}
    first = D - dt.timedelta(days=3)
    assert rebuild_start({**built, ("raw.org", UNDATED): "3:4"}, built, first, D) == first
    assert rebuild_start({**built, ("raw.t", NO_DAY): "1:8"}, built, first, D) == first
    assert rebuild_start(built, {}, first, D) == first  # nothing recorded: a first run


def _manifest(sources: dict, nodes: dict, children: dict) -> dict:
    return {"sources": sources, "nodes": nodes, "child_map": children}


def test_watched_tables_are_the_sources_an_incremental_model_reads_through_views():
    sources = {
        "source.p.raw.usage": {"schema": "raw", "name": "usage", "identifier": "usage",
                               "meta": {"finops_changes": {"day": "bucket_date"}}},
        "source.p.raw.org": {"schema": "raw", "name": "org", "identifier": "org_people", "meta": {}},
        "source.p.raw.files": {"schema": "raw", "name": "files", "meta": {"finops_changes": {"day": "d"}}},
    }
    nodes = {"model.p.stg": {"config": {"materialized": "view"}},
             "model.p.ledger": {"config": {"materialized": "incremental"}},
             "model.p.whole": {"config": {"materialized": "table"}}}
    children = {"source.p.raw.usage": ["model.p.stg"], "model.p.stg": ["model.p.ledger"],
                "source.p.raw.org": ["model.p.ledger"], "source.p.raw.files": ["model.p.whole"],
                "model.p.ledger": [], "model.p.whole": []}
    assert watched_tables(_manifest(sources, nodes, children)) == [
        WatchedTable("raw", "org_people"), WatchedTable("raw", "usage", day="bucket_date")]


# ------------------------------------------------------------------------------------- on a DuckDB warehouse

TABLES = [WatchedTable("raw_t", "usage", day="bucket_date"), WatchedTable("raw_t", "people"),
          WatchedTable("raw_t", "seats", latest="snapshot_date", exclude=("snapshot_date", "observed_at")),
          # a table whose day is its parent's (GitHub's issue links: their pull request's merge day)
          WatchedTable("raw_t", "links", day="(select merged from {schema}.prs as p where p.pr = links.pr)")]


@pytest.fixture
def warehouse(blank_warehouse, tmp_path):
    """The same raw tables on DuckDB, or in a database of their own on PostgreSQL (the row hashes differ)."""
    warehouse = blank_warehouse
    execute(warehouse, "create schema raw_t",
            "create table raw_t.usage (bucket_date date, model varchar, tokens bigint, _dlt_load_id varchar)",
            *[f"insert into raw_t.usage values (date '{day(offset)}', 'm1', {100 + offset}, 'load1'), "
              f"(date '{day(offset)}', 'm2', 7, 'load1')" for offset in range(-3, 1)],
            "create table raw_t.people (email varchar, team varchar)",
            "insert into raw_t.people values ('a@x', 'red'), ('b@x', 'blue')",
            "create table raw_t.seats (snapshot_date date, observed_at timestamp, login varchar, plan varchar)",
            f"insert into raw_t.seats values (date '{day(-1)}', now(), 'a', 'business')",
            "create table raw_t.prs (pr varchar, merged date)",
            f"insert into raw_t.prs values ('p1', date '{day(-3)}'), ('p2', date '{day(-2)}'), ('p3', null)",
            "create table raw_t.links (pr varchar, issue varchar)",
            "insert into raw_t.links values ('p1', 'JIRA-1'), ('p2', 'JIRA-2')")
    manifest = tmp_path / "manifest.json"
    incremental = {"model.p.ledger": {"config": {"materialized": "incremental"}}}
    sources = {f"source.p.{t.name}": {"schema": t.schema, "name": t.name, "meta": {"finops_changes": {
        key: value for key, value in (("day", t.day), ("latest", t.latest), ("exclude", list(t.exclude))) if value}}}
        for t in TABLES}
    manifest.write_text(json.dumps(_manifest(sources, incremental, {uid: ["model.p.ledger"] for uid in sources})))
    return warehouse, manifest


def daily(warehouse, manifest) -> str:
    """One daily run's window start for partition D (lookback 3), recorded as a successful build."""
    window = {"min_date": day(-3), "max_date": day(0)}
    narrowed = narrowed_window(warehouse, window, D, 3, manifest)
    assert narrowed.window["max_date"] == day(0)
    narrowed.recorded(warehouse)
    return narrowed.window["min_date"]


def test_a_first_run_takes_the_lookback_and_an_identical_reload_only_the_partition(warehouse):
    warehouse, manifest = warehouse
    assert daily(warehouse, manifest) == day(-3)  # nothing recorded yet
    # dlt reloads every re-fetched day: same rows, new load ids (dlt's own columns are not compared)
    execute(warehouse, "update raw_t.usage set _dlt_load_id = 'load2'",
            # a new seat snapshot listing the same seats: its date and observation time are not compared
            f"insert into raw_t.seats values (date '{day(0)}', now(), 'a', 'business')")
    assert daily(warehouse, manifest) == day(0)


def test_a_restated_day_starts_the_window_at_that_day(warehouse):
    warehouse, manifest = warehouse
    daily(warehouse, manifest)
    execute(warehouse,
            f"update raw_t.usage set tokens = tokens + 1 where bucket_date = date '{day(-2)}' and model = 'm2'")
    assert daily(warehouse, manifest) == day(-2)
    assert daily(warehouse, manifest) == day(0)  # recorded: the next run leaves it
    execute(warehouse, f"delete from raw_t.usage where bucket_date = date '{day(-1)}' and model = 'm1'")
    assert daily(warehouse, manifest) == day(-1)  # a row gone is a change too


def test_directory_changes_seat_changes_and_schema_drift_take_the_whole_lookback(warehouse):
    warehouse, manifest = warehouse
    daily(warehouse, manifest)
    execute(warehouse, "update raw_t.people set team = 'green' where email = 'b@x'")
    assert daily(warehouse, manifest) == day(-3)
    execute(warehouse, f"insert into raw_t.seats values (date '{day(0)}', now(), 'a', 'enterprise')")
    assert daily(warehouse, manifest) == day(-3)  # the latest snapshot says another plan
    execute(warehouse, "alter table raw_t.usage add column region varchar default 'eu'")
    assert daily(warehouse, manifest) == day(-3)
    execute(warehouse, f"insert into raw_t.usage values (null, 'm3', 1, 'load3', 'eu')")
    assert daily(warehouse, manifest) == day(-3)  # a row without a day could be any day's
    assert daily(warehouse, manifest) == day(0)


def test_a_build_that_fails_records_nothing_so_the_next_run_rebuilds_its_days(warehouse):
    warehouse, manifest = warehouse
    daily(warehouse, manifest)
    execute(warehouse, f"update raw_t.usage set tokens = 0 where bucket_date = date '{day(-1)}'")
    window = {"min_date": day(-3), "max_date": day(0)}
    failed = narrowed_window(warehouse, window, D, 3, manifest)
    assert failed.window["min_date"] == day(-1)  # and the build fails: `recorded` is never called
    assert daily(warehouse, manifest) == day(-1)


def test_recorded_days_are_the_compared_ones_and_older_days_are_forgotten(warehouse):
    warehouse, manifest = warehouse
    daily(warehouse, manifest)
    recorded = read_built(warehouse)
    if warehouse.kind == "duckdb":
        assert recorded[("raw_t.usage", day(-2))] == "2:" + str(sum_of_hashes(warehouse, day(-2)))
    assert recorded[("raw_t.usage", day(-2))].startswith("2:")
    assert recorded[("raw_t.usage", NO_DAY)] == EMPTY and recorded[("raw_t.people", UNDATED)].startswith("2:")
    assert {d for _, d in recorded} == {day(-3), day(-2), day(-1), day(0), NO_DAY, UNDATED}
    # the next day's run: D-3 falls out of what any later run compares
    later = D + dt.timedelta(days=1)
    narrowed = narrowed_window(warehouse, {"min_date": (later - dt.timedelta(days=3)).isoformat(),
                                          "max_date": later.isoformat()}, later, 3, manifest)
    assert narrowed.window["min_date"] == later.isoformat()
    narrowed.recorded(warehouse)
    assert {d for _, d in read_built(warehouse)} == {day(-2), day(-1), day(0), day(1), NO_DAY, UNDATED}


def sum_of_hashes(warehouse: Warehouse, iso_day: str) -> int:
    """The day's row hashes summed, computed here from the rows' own columns (not the load id)."""
    con = duckdb.connect(warehouse.duckdb_path, read_only=True)
    try:
        rows = con.execute("select hash(bucket_date, model, tokens) from raw_t.usage where bucket_date = ?",
                           [dt.date.fromisoformat(iso_day)]).fetchall()
    finally:
        con.close()
    return sum(int(h) for (h,) in rows)


def test_another_engine_keeps_the_whole_window_and_records_nothing(tmp_path):
    other = Warehouse(kind="snowflake", duckdb_path=str(tmp_path / "x.duckdb"), pipelines_dir=str(tmp_path))
    narrowed = narrowed_window(other, {"min_date": day(-3), "max_date": day(0)}, D, 3, tmp_path / "missing.json")
    assert narrowed.window == {"min_date": day(-3), "max_date": day(0)} and narrowed.record is None


def test_day_ranges_merge_when_they_touch():
    a, b = dt.date(2026, 11, 1), dt.date(2026, 11, 30)
    assert merged([(b, b), (a, a + dt.timedelta(days=2))]) == [(a, a + dt.timedelta(days=2)), (b, b)]
    assert merged([(a, a + dt.timedelta(days=2)), (a + dt.timedelta(days=3), b)]) == [(a, b)]  # adjacent
    assert merged([(a, b), (a + dt.timedelta(days=5), a + dt.timedelta(days=6))]) == [(a, b)]  # inside


def test_a_backfill_compares_the_lookback_before_it_and_records_the_days_a_next_run_compares(warehouse):
    """Partitions D-1..D (lookback 3: D-4..D-2 compared); recorded: the compared days and the last 3 + 1."""
    warehouse, manifest = warehouse
    execute(warehouse, f"insert into raw_t.usage values (date '{day(-4)}', 'm1', 1, 'load1')")
    narrowed = narrowed_window(warehouse, {"min_date": day(-4), "max_date": day(0)}, D - dt.timedelta(days=1), 3,
                               manifest)
    assert narrowed.window["min_date"] == day(-4)  # nothing recorded yet
    narrowed.recorded(warehouse)
    assert {d for _, d in read_built(warehouse)} == {day(-4), day(-3), day(-2), day(-1), day(0), NO_DAY, UNDATED}
    execute(warehouse, f"update raw_t.usage set tokens = 2 where bucket_date = date '{day(-3)}' and model = 'm2'")
    again = narrowed_window(warehouse, {"min_date": day(-4), "max_date": day(0)}, D - dt.timedelta(days=1), 3,
                            manifest)
    assert again.window["min_date"] == day(-3)


def test_a_table_dated_by_its_parent_changes_on_the_parents_day(warehouse):
    warehouse, manifest = warehouse
    daily(warehouse, manifest)
    execute(warehouse, "insert into raw_t.links values ('p2', 'JIRA-9')")  # a link added to p2 (merged D-2)
    assert daily(warehouse, manifest) == day(-2)
    execute(warehouse, "insert into raw_t.links values ('p3', 'JIRA-3')")  # its pull request has no merge day
    assert daily(warehouse, manifest) == day(-3)
    assert daily(warehouse, manifest) == day(0)


# ------------------------------------------------------------------------ the raw tables' checks (checks.py)

def test_the_raw_checks_read_the_lookback_from_the_tables_own_first_changed_day(warehouse, tmp_path):
    """The Great Expectations suites of a raw table leave out the lookback's days the last successful build recorded
    as they are now (its run checked them); which days count is the table's own, not every table's as for dbt."""
    from orchestration.checks import RawTable, checked_from

    warehouse, manifest = warehouse
    usage = RawTable("t", "usage", ("bucket_date", "model", "tokens"), key_column="model", daily_buckets=False)
    first = D - dt.timedelta(days=3)
    assert checked_from(warehouse, usage, first, D, manifest) == first  # nothing recorded yet
    daily(warehouse, manifest)
    assert checked_from(warehouse, usage, first, D, manifest) == D
    execute(warehouse,
            f"update raw_t.usage set tokens = tokens + 1 where bucket_date = date '{day(-2)}' and model = 'm2'")
    assert checked_from(warehouse, usage, first, D, manifest) == D - dt.timedelta(days=2)
    daily(warehouse, manifest)
    execute(warehouse, "update raw_t.people set team = 'green' where email = 'b@x'")
    assert daily(warehouse, manifest) == day(-3)  # dbt takes the whole lookback for the directory...
    assert checked_from(warehouse, usage, first, D, manifest) == D  # ...the usage table's rows are as checked
    execute(warehouse, "insert into raw_t.usage values (null, 'm3', 1, 'load3')")
    assert checked_from(warehouse, usage, first, D, manifest) == first  # a row without a day could be any day's
    # the whole window where the suites' day is not the one the table is watched by, or cannot be fingerprinted
    daily(warehouse, manifest)
    assert checked_from(warehouse, usage, first, D, manifest) == D
    by_model = RawTable("t", "usage", ("bucket_date", "model"), day_column="model", daily_buckets=False)
    assert checked_from(warehouse, by_model, first, D, manifest) == first
    assert checked_from(warehouse, usage, first, D, tmp_path / "no_manifest.json") == first
    other = Warehouse(kind="snowflake", duckdb_path=warehouse.duckdb_path, pipelines_dir=str(tmp_path))
    assert checked_from(other, usage, first, D, manifest) == first
