"""The days a run's loads changed, so that the daily dbt build starts at the earliest of them, not at the lookback's.

Every daily run fetches the last `FINOPS_LOOKBACK_DAYS` days again (providers restate them), and dbt's window used
to start at the first of them whatever came back. Most days a re-fetched day comes back exactly as it was loaded,
and rebuilding it costs ~2.5-3 s a day at L (docs/performance-history.md, stop 48). Here each raw table dbt reads is
fingerprinted (row count and a sum of row hashes, dlt's own columns left out) per day of the window's lookback, and
compared with the fingerprints recorded after the last successful dbt build. dbt's window starts at:

* the first day of the lookback when an undated table changed (the org directory, the price book, model lists:
  what a change there does to the lookback's days is what it always did), when a dated table has rows without a
  day that changed, or when there is nothing recorded to compare with (a first run, a new table);
* else the earliest day whose rows changed, or the partition's first day when none did.

The day of a table is the day its loader fetches it by, the day the restatement lookback re-fetches, set on its
dbt source: `meta: finops_changes: {day: <a column, or SQL over the table's columns where {schema} is its schema>}`.
The models already rebuild correctly from whatever day a window starts at as long as no row of an earlier day
changed, which is what the comparison checks. A snapshot table (`latest: <column>`) is compared by its latest
snapshot, and `exclude: [...]` leaves out columns no incremental model reads (a snapshot's date, a time stamped on
every load). Fingerprints are taken before the build and recorded after a build of every model succeeds, so a
build that fails, one of a few models picked in the UI, or a load that lands while dbt builds, leaves a difference
that the next run rebuilds. A table dbt reads only into models it rebuilds whole (no incremental model downstream)
is not watched. The records are in the warehouse (`finops_state.dbt_built_fingerprints`): a rebuilt warehouse
starts without them.

DuckDB and Postgres only (their row hashes); elsewhere dbt keeps the whole lookback window.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional

logger = logging.getLogger(__name__)

META_KEY = "finops_changes"
STATE_DATASET = "finops_state"
STATE_TABLE = "dbt_built_fingerprints"
UNDATED = ""  # the day of an undated table's one fingerprint
NO_DAY = "none"  # the rows of a dated table whose day is null
EMPTY = "0:0"  # a day without rows
ENGINES = ("duckdb", "postgres")

Fingerprints = dict[tuple[str, str], str]  # (schema.table, day) -> "rows:hash sum"


@dataclass(frozen=True)
class WatchedTable:
    """A raw table dbt reads into an incremental model, and how to fingerprint it."""

    schema: str
    name: str
    day: Optional[str] = None  # SQL over its columns: the day its loader fetches a row by; None: undated
    latest: Optional[str] = None  # only the rows holding this column's latest value (a snapshot table)
    exclude: tuple[str, ...] = ()  # columns no incremental model reads (a snapshot's own bookkeeping)

    @property
    def key(self) -> str:
        return f"{self.schema}.{self.name}"


def watched_tables(manifest: Mapping[str, Any]) -> list[WatchedTable]:
    """The dbt sources with an incremental model downstream, with their `finops_changes` meta."""
    nodes, children = manifest.get("nodes", {}), manifest.get("child_map", {})
    incremental = {uid for uid, node in nodes.items() if node.get("config", {}).get("materialized") == "incremental"}

    def feeds_incremental(uid: str) -> bool:
        seen, todo = set(), list(children.get(uid, []))
        while todo:
            child = todo.pop()
            if child in incremental:
                return True
            if child not in seen:
                seen.add(child)
                todo.extend(children.get(child, []))
        return False

    watched = []
    for uid, source in sorted(manifest.get("sources", {}).items()):
        if not feeds_incremental(uid):
            continue
        meta = (source.get("meta") or source.get("config", {}).get("meta") or {}).get(META_KEY) or {}
        watched.append(WatchedTable(schema=source["schema"], name=source.get("identifier") or source["name"],
                                    day=meta.get("day"), latest=meta.get("latest"),
                                    exclude=tuple(meta.get("exclude", ()))))
    return watched


def watched_tables_of(manifest_path: Path) -> list[WatchedTable]:
    path = Path(manifest_path)
    return list(_watched_tables_of(str(path), path.stat().st_mtime_ns))


@lru_cache(maxsize=4)
def _watched_tables_of(path: str, modified: int) -> tuple[WatchedTable, ...]:
    """Read once per version of the manifest: the raw checks ask for every table they check (~0.05 s a read)."""
    return tuple(watched_tables(json.loads(Path(path).read_text())))


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _row_hash(engine: str, columns: list[str]) -> str:
    listed = ", ".join(_quoted(c) for c in columns)
    if engine == "duckdb":
        return f"hash({listed})::hugeint"
    # Postgres: the row's text form, md5, its first 60 bits as a number
    return f"('x' || substr(md5(row({listed})::text), 1, 15))::bit(60)::bigint"


def _row_hash_sum(engine: str, columns: list[str]) -> str:
    return f"coalesce(sum({_row_hash(engine, columns)}), 0)"


def merged(ranges: Iterable[tuple[dt.date, dt.date]]) -> list[tuple[dt.date, dt.date]]:
    """Inclusive day ranges, overlapping or adjacent ones merged, in order."""
    result: list[tuple[dt.date, dt.date]] = []
    for first, last in sorted(ranges):
        if result and first <= result[-1][1] + dt.timedelta(days=1):
            result[-1] = (result[-1][0], max(result[-1][1], last))
        else:
            result.append((first, last))
    return result


def fingerprint_sql(engine: str, table: WatchedTable, columns: list[str], ranges: list[tuple[dt.date, dt.date]]) -> str:
    """One query: (day, rows, hash sum) per day of the inclusive `ranges`, and (null, rows, hash sum) for the rows
    without a day (a dated table), or one row (null, rows, hash sum) for an undated table. The days and the rows
    without one are read apart: DuckDB skips the blocks outside a plain range (or without nulls), not an `or`."""
    relation = f"{_quoted(table.schema)}.{_quoted(table.name)}"
    where = "true"
    if table.latest:
        where = f"{_quoted(table.latest)} = (select max({_quoted(table.latest)}) from {relation})"
    measures = f"count(*), {_row_hash_sum(engine, columns)}"
    if table.day is None:
        return f"select null, {measures} from {relation} where {where}"
    within = [f"between cast('{first.isoformat()}' as date) and cast('{last.isoformat()}' as date)"
              for first, last in merged(ranges)]
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", table.day):  # an expression (a join): worked out once, in one scan
        day = table.day.format(schema=_quoted(table.schema))
        return (f"select cast(row_day as varchar(10)), count(*), coalesce(sum(row_hash), 0) from "
                f"(select ({day}) as row_day, {_row_hash(engine, columns)} as row_hash from {relation} "
                f"where {where}) as rows_with_days "
                f"where {' or '.join(f'row_day {w}' for w in within)} or row_day is null group by 1")
    day = _quoted(table.day)
    selects = [f"select cast({day} as varchar(10)), {measures} from {relation} where {where} and {day} {w} group by 1"
               for w in within]
    selects.append(f"select null, {measures} from {relation} where {where} and {day} is null")
    return " union all ".join(selects)


def days(ranges: Iterable[tuple[dt.date, dt.date]]) -> list[str]:
    """The ISO days of inclusive ranges, each once, in order."""
    return sorted({(a + dt.timedelta(days=i)).isoformat() for a, b in ranges for i in range((b - a).days + 1)})


def fingerprints(client, engine: str, tables: Iterable[WatchedTable],
                 ranges: list[tuple[dt.date, dt.date]]) -> Fingerprints:
    """Each watched table's fingerprint per day of the inclusive `ranges` (dated) or whole (undated), read through a
    dlt SQL client. A table not there yet fingerprints as empty."""
    tables = list(tables)
    schemas = sorted({t.schema for t in tables})
    columns: dict[tuple[str, str], list[str]] = {}
    placeholders = ", ".join(["%s"] * len(schemas))
    rows = client.execute_sql(
        "select table_schema, table_name, column_name from information_schema.columns "
        f"where table_schema in ({placeholders}) order by table_schema, table_name, ordinal_position", *schemas)
    for schema, name, column in rows or []:
        columns.setdefault((schema, name), []).append(column)
    result: Fingerprints = {}
    for table in tables:
        kept = [c for c in columns.get((table.schema, table.name), [])
                if not c.startswith("_dlt_") and c not in table.exclude]
        if table.day is None:
            result[(table.key, UNDATED)] = EMPTY
        else:
            result.update({(table.key, day): EMPTY for day in days(ranges)})
            result[(table.key, NO_DAY)] = EMPTY
        if not kept:
            continue
        for day, count, hashed in client.execute_sql(fingerprint_sql(engine, table, kept, ranges)) or []:
            result[(table.key, UNDATED if table.day is None else day or NO_DAY)] = f"{int(count)}:{int(hashed)}"
    return result


def rebuild_start(current: Mapping[tuple[str, str], str], built: Mapping[tuple[str, str], str],
                  first: dt.date, partition_start: dt.date) -> dt.date:
    """The day dbt's window must start at (pure): `first` (the lookback's first day) when an undated table, or a
    dated table's rows without a day, differ from what was built or were never recorded; else the earliest day
    before `partition_start` whose fingerprint differs or was never recorded; else `partition_start`. Days from
    `partition_start` on are rebuilt anyway."""
    start = partition_start
    for (table, day), value in current.items():
        if built.get((table, day)) == value:
            continue
        if day in (UNDATED, NO_DAY):
            return first
        changed = dt.date.fromisoformat(day)
        if first <= changed < start:
            start = changed
    return start


def _state_client(warehouse):
    return warehouse.pipeline("dbt_state", STATE_DATASET).sql_client()


def read_built(warehouse, client=None) -> Fingerprints:
    """What the last successful builds recorded; nothing when there is no record yet. Read on `client` (a dlt SQL
    client of the same warehouse, open) when given: opening one costs ~0.06 s on a warehouse of tens of GB."""
    try:
        if client is None:
            with _state_client(warehouse) as own:
                return _read_built(own)
        with client.with_alternative_dataset_name(STATE_DATASET):
            return _read_built(client)
    except Exception as error:  # noqa: BLE001 - no record (a first run) or no table: the whole lookback is rebuilt
        logger.info("no fingerprints of earlier builds to compare with (%s)", type(error).__name__)
        return {}


def _read_built(client) -> Fingerprints:
    if not client.has_dataset():
        return {}
    rows = client.execute_sql(f"select table_key, day, fingerprint from {_qualified(client)}")
    return {(table, day): value for table, day, value in rows or []}


def _qualified(client) -> str:
    return client.make_qualified_table_name(STATE_TABLE)


def record_built(warehouse, current: Fingerprints, keep_from: dt.date) -> None:
    """Record the fingerprints a build succeeded with (replacing the same tables' and days'), and forget the days
    before `keep_from`."""
    if not current:
        return
    with _state_client(warehouse) as client:
        if not client.has_dataset():
            client.create_dataset()
        table = _qualified(client)
        client.execute_sql(f"create table if not exists {table} (table_key varchar(400) not null, "
                           "day varchar(10) not null, fingerprint varchar(80) not null)")
        recorded = sorted({day for _, day in current})
        placeholders = ", ".join(["%s"] * len(recorded))
        client.execute_sql(f"delete from {table} where day in ({placeholders}) or "
                           f"(day not in (%s, %s) and day < %s)", *recorded, UNDATED, NO_DAY, keep_from.isoformat())
        rows = sorted(current.items())
        for start in range(0, len(rows), 500):
            batch = rows[start:start + 500]
            values = ", ".join(["(%s, %s, %s)"] * len(batch))
            client.execute_sql(f"insert into {table} (table_key, day, fingerprint) values {values}",
                               *[part for (key, day), value in batch for part in (key, day, value)])


@dataclass
class NarrowedWindow:
    """dbt's window for a run, and what to record once its build succeeds (None: nothing to record)."""

    window: dict[str, str]
    record: Optional[Fingerprints]
    keep_from: dt.date

    def recorded(self, warehouse) -> None:
        """Call once the build of every model over `window` succeeded. A record that fails is only logged: what was
        recorded is still true (a fingerprint is only ever recorded for a day built from it), and a day left out is
        rebuilt by the next run."""
        if self.record is None:
            return
        try:
            record_built(warehouse, self.record, self.keep_from)
        except Exception as error:  # noqa: BLE001 - the build itself succeeded
            logger.warning("fingerprints of this build not recorded, the next run rebuilds its lookback: %s", error)


def narrowed_window(warehouse, window: Mapping[str, str], partition_start: dt.date, lookback_days: int,
                    manifest_path: Path) -> NarrowedWindow:
    """`window` (dbt's min_date/max_date: the partitions and the lookback before them) starting at the earliest day
    the raw tables changed since the last successful build (`rebuild_start`). On an engine without a row hash here,
    or when the tables cannot be read, the window is kept whole and nothing is recorded."""
    first, last = dt.date.fromisoformat(window["min_date"]), dt.date.fromisoformat(window["max_date"])
    kept = NarrowedWindow(dict(window), None, first)
    if warehouse.kind not in ENGINES:
        return kept
    # the days compared now (the lookback before the partitions) and the days a later daily run compares (the
    # window's last and the lookback before it): a long backfill is not fingerprinted whole
    ranges = [(first, min(last, partition_start)), (max(first, last - dt.timedelta(days=lookback_days)), last)]
    try:
        tables = watched_tables_of(manifest_path)
        with _state_client(warehouse) as client:
            current = fingerprints(client, warehouse.kind, tables, ranges)
    except Exception as error:  # noqa: BLE001 - an unreadable table costs this run its narrowing, never the run
        logger.warning("raw tables not fingerprinted, dbt rebuilds the whole window: %s", error)
        return kept
    start = rebuild_start(current, read_built(warehouse), first, partition_start)
    return NarrowedWindow({**window, "min_date": start.isoformat()}, current, first)
