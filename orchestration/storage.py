"""Dagster's SQLite event log (the local default `make run`, `make dev` and the schedule use), with fewer connections.

Dagster stores every event of a run (each dbt model's materialization, each dbt test's check result, their planned
events, each step's start and end: ~1,300 for a daily run) as it happens. Its SQLite event log builds a new
SQLAlchemy engine for every write and opens and closes a connection on it; an asset event is written to the run's own
database and mirrored to the cross-run index, ~4 connections an event. Each new engine compiles its statements again
(its compiled-statement cache dies with it), and the last connection to close checkpoints the database's
write-ahead log. Profiled at L, in the daily job's dbt step (1,075 events): 12.9-15.0 s storing them, on the two cores
dbt builds on.

This subclass changes five things, and nothing in what is stored or where:

* one engine per database file, kept for the process (the most recent few), so statements compile once;
* connections are pooled (kept open between writes), the run's own database's as well as the cross-run index's.
  Dagster's opens and closes one per write, and the close checkpoints the write-ahead log into the database file,
  which is what Dagster's UI watches to follow a running run. The 1,308 events of a daily run, stored again: 6.2-6.5 s
  with a connection per write, 2.5-2.8 s with it kept (docs/performance-history.md, stop 64). Kept open, a
  connection's commits change only the write-ahead log (SQLite checkpoints it into the file itself every ~4 MB), so a
  watch here follows that file too: an event is seen as soon as it is committed. Each process keeps its own
  connections (a webserver reading a run, the run's worker writing it): SQLite's write-ahead log is made for readers
  beside one writer;
* SQLite's `synchronous` is NORMAL instead of SQLite's default FULL (configurable: `synchronous: FULL` gives Dagster's
  behaviour back). Dagster keeps these files in write-ahead-log mode, where FULL waits for the disk (fsync) at every
  commit, ~3 commits an event, and NORMAL only when the log is checkpointed into the file. SQLite documents NORMAL
  as the usual choice with a write-ahead log: the database cannot be corrupted, and a crash of the process loses
  nothing; only a power cut or an operating-system crash may lose the last events stored before it;
* whether the index has one of Dagster's tables (asked ~2 times an event, each time on a new engine), or the asset
  table one of its columns (asked at each asset event), is remembered once it is there: Dagster's migrations add
  tables and columns, never drop them (a wipe forgets what was remembered);
* a batch of events is stored in one transaction per database file. Dagster hands a storage batches when
  `DAGSTER_EVENT_BATCH_SIZE` is set (this storage sets it to `event_batch_size`, 10,000, unless the environment
  has it): a run's planned events (one per asset and partition: a 90-day run plans ~12,900 before its first step)
  and the materializations of a multi-partition output (one per partition). Dagster's SQLite storage stores a batch
  one event at a time. Measured for the daily job's plan over 90 days (11,878 events): 71.6 s with Dagster's class,
  14.6-15.7 s with this one (docs/performance-history.md, stop 39).

The same dbt step, this class (its first two changes, the run's database then still opened per write) and Dagster's
alternated on one warehouse: 7.4-7.6 s storing the events against 12.9-15.0 s, the step's wall time 50.8-52.4 s
against 57.0-59.5 s (docs/performance-history.md, stop 27).

Enabled in dagster.yaml (`event_log_storage`). The files are Dagster's own: the instance's event-log folder
(`history/runs/` in its directory, by Dagster's own rule), unless `base_dir` is configured, so an instance's history
carries over either way.
"""

from __future__ import annotations

import os
from collections import OrderedDict
from contextlib import contextmanager
from itertools import groupby
from typing import Iterator, Optional, Sequence

from dagster import Enum, EnumValue, Field, IntSource, StringSource
from dagster._core.errors import DagsterInvariantViolationError
from dagster._core.events import ASSET_CHECK_EVENTS, ASSET_EVENTS, EVENT_TYPE_TO_PIPELINE_RUN_STATUS
from dagster._core.events.log import EventLogEntry
from dagster._core.instance.ref import _event_logs_directory
from dagster._core.storage.event_log import SqliteEventLogStorage
from dagster._core.storage.event_log.schema import AssetKeyTable
from dagster._core.storage.event_log.base import EventHandlerFn
from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME, SqliteEventLogStorageWatchdog
from dagster._core.storage.sqlalchemy_compat import db_result
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._serdes import ConfigurableClassData
from sqlalchemy import create_engine, event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import QueuePool
from watchdog.events import FileSystemEvent
from watchdog.observers import Observer

KEPT_ENGINES = 16  # a run's database and the index in a run worker; the runs a webserver shows, most recent first
# SQLite's settings that keep a database consistent in write-ahead-log mode (OFF could corrupt it on a power cut)
SYNCHRONOUS_LEVELS = ("NORMAL", "FULL", "EXTRA")
DEFAULT_SYNCHRONOUS = "NORMAL"
EVENT_BATCH_SIZE_VARIABLE = "DAGSTER_EVENT_BATCH_SIZE"
DEFAULT_EVENT_BATCH_SIZE = 10_000


def _is(entry: EventLogEntry, types) -> bool:
    return entry.is_dagster_event and entry.dagster_event_type in types


class ReusedEngineSqliteEventLogStorage(SqliteEventLogStorage):
    """Dagster's `SqliteEventLogStorage`; engines kept per database file and their connections pooled, SQLite's
    `synchronous` configurable (NORMAL by default), the index's tables remembered once found."""

    def __init__(self, base_dir: Optional[str] = None, inst_data: Optional[ConfigurableClassData] = None,
                 synchronous: str = DEFAULT_SYNCHRONOUS, event_batch_size: int = DEFAULT_EVENT_BATCH_SIZE):
        if synchronous.upper() not in SYNCHRONOUS_LEVELS:
            raise ValueError(f"synchronous must be one of {', '.join(SYNCHRONOUS_LEVELS)}, not {synchronous!r}")
        if event_batch_size < 0:
            raise ValueError(f"event_batch_size must be 0 (no batches) or more, not {event_batch_size}")
        # Dagster's instance reads this variable at each event it is handed with a batch id (a run's planned events,
        # a multi-partition output's materializations) and passes such events on together, up to this many, to
        # store_event_batch below; it is off unless set. An explicit setting in the environment wins.
        if event_batch_size:
            os.environ.setdefault(EVENT_BATCH_SIZE_VARIABLE, str(event_batch_size))
        self._synchronous = synchronous.upper()
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._tables_present: set[str] = set()
        self._inst_data = inst_data
        self._base_dir_configured = bool(base_dir)
        if base_dir:
            super().__init__(base_dir, inst_data=inst_data)

    def register_instance(self, instance) -> None:
        # Without base_dir, the event-log folder of the instance being built, by the rule Dagster's default storage
        # follows (`history/runs/` in the instance's directory). Dagster registers the storage with its instance first
        # thing, before anything reads or writes through it.
        if not self._base_dir_configured:
            super().__init__(_event_logs_directory(instance.root_directory), inst_data=self._inst_data)
        super().register_instance(instance)

    @classmethod
    def config_type(cls):
        return {
            "base_dir": Field(StringSource, is_required=False),
            "synchronous": Field(Enum("SqliteSynchronous", [EnumValue(level) for level in SYNCHRONOUS_LEVELS]),
                                 is_required=False, default_value=DEFAULT_SYNCHRONOUS),
            "event_batch_size": Field(IntSource, is_required=False, default_value=DEFAULT_EVENT_BATCH_SIZE),
        }

    @classmethod
    def from_config_value(cls, inst_data: Optional[ConfigurableClassData], config_value) -> \
            "ReusedEngineSqliteEventLogStorage":
        return cls(inst_data=inst_data, **config_value)

    def _engine(self, shard: str) -> Engine:
        engine = self._engines.get(shard)
        if engine is None:
            engine = create_engine(
                self.conn_string_for_shard(shard),
                poolclass=QueuePool,
                # a run's database: one connection kept idle (a webserver reads many runs' files; the engines of the
                # most recent KEPT_ENGINES are kept), as many more as threads ask for at once, closed when returned
                **({} if shard == INDEX_SHARD_NAME else {"pool_size": 1, "max_overflow": -1}),
                connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
            )
            event.listen(engine, "connect", self._set_synchronous)
            self._engines[shard] = engine
            while len(self._engines) > KEPT_ENGINES:
                self._engines.popitem(last=False)[1].dispose()
        self._engines.move_to_end(shard)
        return engine

    def _set_synchronous(self, dbapi_connection, _record) -> None:
        # per connection: SQLite does not store this setting in the file
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA synchronous={self._synchronous}")
        cursor.close()

    def _has_asset_key_col_on_connection(self, conn: Connection, column_name: str) -> bool:
        # asked for every asset event stored (Dagster inspects the table's columns each time); remembered as tables
        # are, once there
        remembered = f"{AssetKeyTable.name}.{column_name}"
        if remembered in self._tables_present:
            return True
        present = super()._has_asset_key_col_on_connection(conn, column_name)
        if present:
            self._tables_present.add(remembered)
        return present

    def has_table(self, table_name: str) -> bool:
        if table_name in self._tables_present:
            return True
        present = super().has_table(table_name)
        if present:
            self._tables_present.add(table_name)
        return present

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        # Dagster's own _connect, with the engine kept instead of made and disposed each time
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:
                self._initdb(engine)
                self._initialized_dbs.add(shard)
            with engine.connect() as conn:
                with conn.begin():
                    yield conn

    def watch(self, run_id: str, cursor: Optional[str], callback: EventHandlerFn) -> None:
        # Dagster's watch, its handler woken by the run's write-ahead log as well as by its database file
        if not self._obs:
            self._obs = Observer()
            self._obs.start()
        handler = RunLogWatchdog(self, run_id, callback, cursor)
        self._watchers[run_id][callback] = (handler, self._obs.schedule(handler, self._base_dir, recursive=True))

    def store_event_batch(self, events: Sequence[EventLogEntry]) -> None:
        """A batch Dagster hands over at once (a run's planned events; the materializations of a multi-partition
        output, one per partition) in one transaction per database, where Dagster's SQLite storage stores each event
        on its own (~9 ms an event here: a 90-day run plans ~12,900 events before its first step). The same rows as
        `store_event`: the run's database first, then the cross-run index. When a batch fails, Dagster stores it
        again one event at a time: nothing of it is stored twice if the run's transaction failed; if the index's
        failed, the run's log holds the batch twice (the index rolled back holds it once), as SQLite gives no
        transaction over the two files."""
        for run_id, batch in groupby(events, key=lambda entry: entry.run_id):
            statements = [(entry, self.prepare_insert_event(entry)) for entry in batch]
            with self.run_connection(run_id) as conn:
                for _, statement in statements:
                    conn.execute(statement)
            assets = [(entry, statement) for entry, statement in statements if _is(entry, ASSET_EVENTS)]
            with self.index_transaction() as conn:
                ids = []
                for entry, statement in assets:
                    with db_result(conn, statement) as result:
                        ids.append(result.inserted_primary_key[0])
                    if ids[-1] is None:
                        raise DagsterInvariantViolationError("Cannot store asset event tags for null event id.")
                    self._store_asset_event(conn, entry, ids[-1])
                self._store_asset_event_tags(conn, [entry for entry, _ in assets], ids)
            for entry, statement in statements:
                if _is(entry, ASSET_CHECK_EVENTS):
                    with self.index_connection() as conn, db_result(conn, statement) as result:
                        event_id = result.inserted_primary_key[0]
                    self.store_asset_check_event(entry, event_id)
                if _is(entry, EVENT_TYPE_TO_PIPELINE_RUN_STATUS):
                    with self.index_connection() as conn:
                        conn.execute(statement)

    def _dispose_engines(self) -> None:
        self._tables_present.clear()
        with self._db_lock:
            while self._engines:
                self._engines.popitem()[1].dispose()

    def wipe(self) -> None:
        # wipe deletes the runs' database files: no engine may keep a connection to a deleted file
        self._dispose_engines()
        super().wipe()

    def upgrade(self) -> None:
        self._dispose_engines()
        super().upgrade()
        self._dispose_engines()

    def dispose(self) -> None:
        super().dispose()
        self._dispose_engines()


class RunLogWatchdog(SqliteEventLogStorageWatchdog):
    """Dagster's handler for a watched run (it reads the run's new events and hands them to the watcher), woken when
    the run's write-ahead log changes too: with the writer's connection kept open, a commit changes that file and not
    the database file until SQLite's next checkpoint."""

    def __init__(self, event_log_storage: SqliteEventLogStorage, run_id: str, callback: EventHandlerFn,
                 cursor: Optional[str]):
        super().__init__(event_log_storage, run_id, callback, cursor)
        self._watched = {self._log_path, f"{self._log_path}-wal"}
        self._patterns = sorted(self._watched)  # watchdog's PatternMatchingEventHandler filters the events on these

    def on_modified(self, event: FileSystemEvent) -> None:
        if event.src_path in self._watched:
            self._process_log()
