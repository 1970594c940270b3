"""The event log dagster.yaml configures: Dagster's SQLite one, same files and events, fewer connections."""

import os
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import event
from dagster import (AssetCheckResult, BackfillPolicy, DagsterInstance, DailyPartitionsDefinition, Definitions,
                     MaterializeResult, asset, asset_check, define_asset_job, materialize)

import orchestration.storage as storage_module
from orchestration.resources import PROJECT_ROOT
from orchestration.storage import KEPT_ENGINES, ReusedEngineSqliteEventLogStorage


@asset
def spend():
    return 3


@asset_check(asset=spend)
def spend_is_positive():
    return AssetCheckResult(passed=True)


def _instance(home: Path, monkeypatch, yaml_text: str) -> DagsterInstance:
    home.mkdir()
    (home / "dagster.yaml").write_text(yaml_text)
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return DagsterInstance.get()


def _project_yaml() -> str:
    return (PROJECT_ROOT / "dagster.yaml").read_text()


def _events(instance: DagsterInstance, run_id: str) -> list[str]:
    return [r.dagster_event.event_type_value for r in instance.all_logs(run_id) if r.dagster_event]


def test_the_project_instance_keeps_dagsters_files_and_stores_the_same_events(tmp_path, monkeypatch):
    # Dagster's default storage, the same yaml without the event_log_storage block
    stock_yaml = _project_yaml().split("event_log_storage:")[0]
    stock = _instance(tmp_path / "stock", monkeypatch, stock_yaml)
    stock_run = materialize([spend, spend_is_positive], instance=stock)
    stock_dir = Path(stock.event_log_storage._base_dir).relative_to(tmp_path / "stock")

    ours = _instance(tmp_path / "ours", monkeypatch, _project_yaml())
    assert isinstance(ours.event_log_storage, ReusedEngineSqliteEventLogStorage)
    run = materialize([spend, spend_is_positive], instance=ours)
    # the same folder under DAGSTER_HOME (an instance's history carries over), the same events in the same order
    assert Path(ours.event_log_storage._base_dir).relative_to(tmp_path / "ours") == stock_dir
    assert (tmp_path / "ours" / stock_dir / f"{run.run_id}.db").exists()
    assert _events(ours, run.run_id) == _events(stock, stock_run.run_id)
    assert "ASSET_MATERIALIZATION" in _events(ours, run.run_id)
    # the cross-run index has them too: the asset's latest materialization and the check's evaluation
    latest = ours.get_latest_materialization_event(spend.key)
    assert latest is not None and latest.run_id == run.run_id
    check = ours.event_log_storage.get_latest_asset_check_execution_by_key([spend_is_positive.check_key])
    assert check[spend_is_positive.check_key].run_id == run.run_id
    stock.dispose()
    ours.dispose()


def test_one_engine_and_one_kept_connection_per_database_file(tmp_path, monkeypatch):
    made, opened = [], Counter()
    real = storage_module.create_engine

    def counting_create_engine(url, **kwargs):
        made.append(url)
        engine = real(url, **kwargs)
        name = url.rsplit("/", 1)[1]
        event.listen(engine, "connect", lambda *_: opened.update([name]))
        return engine

    monkeypatch.setattr(storage_module, "create_engine", counting_create_engine)
    instance = _instance(tmp_path / "home", monkeypatch, _project_yaml())
    run = materialize([spend, spend_is_positive], instance=instance)
    events = _events(instance, run.run_id)
    stored = len(events)
    # two databases written (the run's, the index), two engines for all the run's events and reads
    run_db = f"{run.run_id}.db"
    assert sorted(url.rsplit("/", 1)[1] for url in made) == sorted([run_db, "index.db"])
    # and a connection or two to each, kept open for them all: Dagster's storage opens one per write
    assert opened[run_db] <= 2 and opened["index.db"] <= 2 and stored >= 10
    # the events are committed to the run's write-ahead log (which a watch follows), not yet checkpointed into the
    # file: the connection that keeps the log is still open ...
    wal = Path(instance.event_log_storage._base_dir) / f"{run_db}-wal"
    assert wal.exists() and wal.stat().st_size > 0
    # ... until the instance lets go of it: the last connection's close checkpoints the log and removes it
    instance.dispose()
    assert not wal.exists()
    with DagsterInstance.from_config(str(tmp_path / "home")) as again:
        assert _events(again, run.run_id) == events


def test_a_watcher_sees_a_running_runs_events_as_they_are_stored(tmp_path, monkeypatch):
    """What the UI does to follow a run launched in another process: it watches the run's database file, and here
    its write-ahead log (the writer keeps its connection open, so its commits change only the log)."""
    from dagster._core.storage.event_log.base import EventLogCursor

    instance = _instance(tmp_path / "home", monkeypatch, _project_yaml())
    run = materialize([spend], instance=instance)
    records = instance.get_records_for_run(run.run_id).records
    after_the_run = str(EventLogCursor.from_storage_id(records[-1].storage_id))
    seen = []

    def callback(entry, cursor):
        seen.append(entry)

    instance.event_log_storage.watch(run.run_id, after_the_run, callback)
    try:
        # two more events under that run id, stored as a run worker stores them
        for record in records[:2]:
            instance.event_log_storage.store_event(record.event_log_entry)
        deadline = time.monotonic() + 20
        while len(seen) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [entry.dagster_event.event_type_value for entry in seen] == \
            [record.event_log_entry.dagster_event.event_type_value for record in records[:2]]
    finally:
        instance.event_log_storage.end_watch(run.run_id, callback)
        instance.dispose()


def test_the_pooled_index_serves_several_threads_and_old_engines_are_let_go(tmp_path, monkeypatch):
    instance = _instance(tmp_path / "home", monkeypatch, _project_yaml())
    run = materialize([spend], instance=instance)
    materialized = [r.event_log_entry for r in instance.get_records_for_run(run.run_id).records
                    if r.event_log_entry.dagster_event_type and
                    r.event_log_entry.dagster_event_type.value == "ASSET_MATERIALIZATION"]
    assert len(materialized) == 1
    errors = []

    def store_twenty():  # the index's pooled connections, checked out by one thread after another
        try:
            for _ in range(20):
                instance.event_log_storage.store_event(materialized[0])
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=store_twenty) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    # the run's one materialization and the 60 stored again, all in the cross-run index
    assert len(instance.fetch_materializations(spend.key, limit=1000).records) == 61
    # more runs than engines kept: the oldest engines are disposed, every run still reads back
    run_ids = [run.run_id] + [materialize([spend], instance=instance).run_id for _ in range(KEPT_ENGINES)]
    assert len(instance.event_log_storage._engines) <= KEPT_ENGINES
    for run_id in run_ids:
        assert "ASSET_MATERIALIZATION" in _events(instance, run_id)
    instance.dispose()


def test_wipe_lets_go_of_the_deleted_files_and_the_storage_keeps_working(tmp_path, monkeypatch):
    instance = _instance(tmp_path / "home", monkeypatch, _project_yaml())
    old = materialize([spend], instance=instance)
    base = Path(instance.event_log_storage._base_dir)
    instance.event_log_storage.wipe()
    assert not (base / f"{old.run_id}.db").exists()
    assert instance.get_latest_materialization_event(spend.key) is None
    new = materialize([spend], instance=instance)
    assert instance.get_latest_materialization_event(spend.key).run_id == new.run_id
    instance.dispose()


def test_an_instance_loaded_from_its_folder_keeps_its_log_there_whatever_dagster_home_says(tmp_path, monkeypatch):
    """A script (or a test) opening an instance by its folder while DAGSTER_HOME names another one."""
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(_project_yaml())
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "elsewhere"))
    with DagsterInstance.from_config(str(home)) as instance:
        run = materialize([spend], instance=instance)
        assert (home / "history" / "runs" / f"{run.run_id}.db").exists()
    with DagsterInstance.from_config(str(home)) as instance:
        assert instance.get_latest_materialization_event(spend.key).run_id == run.run_id
    assert not (tmp_path / "elsewhere").exists()


def test_base_dir_from_config(tmp_path):
    storage = ReusedEngineSqliteEventLogStorage.from_config_value(None, {"base_dir": str(tmp_path / "log")})
    assert Path(storage._base_dir) == tmp_path / "log"
    assert (tmp_path / "log" / "index.db").exists()


def _synchronous(storage: ReusedEngineSqliteEventLogStorage, shard: str) -> int:
    with storage._connect(shard) as conn:
        return conn.exec_driver_sql("PRAGMA synchronous").scalar()


def test_sqlite_waits_for_the_disk_at_checkpoints_not_at_every_commit_unless_configured(tmp_path, monkeypatch):
    # SQLite numbers the levels OFF=0, NORMAL=1, FULL=2, EXTRA=3; a new connection's default is FULL
    instance = _instance(tmp_path / "home", monkeypatch, _project_yaml())
    run = materialize([spend], instance=instance)
    storage = instance.event_log_storage
    assert _synchronous(storage, run.run_id) == 1
    assert _synchronous(storage, "index") == 1
    # the write-ahead log Dagster sets up is what makes NORMAL safe: still on
    with storage._connect(run.run_id) as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    instance.dispose()

    full = _instance(tmp_path / "full", monkeypatch,
                     _project_yaml() + "  config:\n    synchronous: FULL\n")
    run = materialize([spend], instance=full)
    assert _synchronous(full.event_log_storage, run.run_id) == 2
    assert _synchronous(full.event_log_storage, "index") == 2
    assert "ASSET_MATERIALIZATION" in _events(full, run.run_id)
    full.dispose()

    with pytest.raises(ValueError, match="synchronous must be one of NORMAL, FULL, EXTRA, not 'OFF'"):
        ReusedEngineSqliteEventLogStorage(base_dir=str(tmp_path / "off"), synchronous="OFF")


def test_a_table_found_in_the_index_is_not_looked_up_again_and_a_missing_one_is(tmp_path, monkeypatch):
    from dagster._core.storage.event_log import SqliteEventLogStorage

    asked = []
    real = SqliteEventLogStorage.has_table

    def counting_has_table(self, table_name):
        asked.append(table_name)
        return real(self, table_name)

    monkeypatch.setattr(SqliteEventLogStorage, "has_table", counting_has_table)
    storage = ReusedEngineSqliteEventLogStorage(base_dir=str(tmp_path / "log"))
    assert storage.has_table("asset_check_executions") and storage.has_table("asset_check_executions")
    assert asked == ["asset_check_executions"]
    # not there: asked every time, so a table a migration adds later is seen
    assert not storage.has_table("table_from_a_later_migration")
    with storage._connect("index") as conn:
        conn.exec_driver_sql("CREATE TABLE table_from_a_later_migration (id INTEGER)")
    assert storage.has_table("table_from_a_later_migration")
    assert asked == ["asset_check_executions", "table_from_a_later_migration", "table_from_a_later_migration"]
    # a wipe deletes the files: what was remembered goes with them (the table is looked up in the new files)
    del asked[:]
    storage.wipe()
    assert storage.has_table("asset_check_executions")
    assert asked.count("asset_check_executions") == 1
    storage.dispose()


DAYS = DailyPartitionsDefinition(start_date="2026-11-01")
FAILING = {"daily_spend": False}


@asset(partitions_def=DAYS, backfill_policy=BackfillPolicy.single_run())
def daily_spend() -> MaterializeResult:
    if FAILING["daily_spend"]:
        raise RuntimeError("planted failure")
    return MaterializeResult()


@asset_check(asset=daily_spend)
def daily_spend_is_positive():
    return AssetCheckResult(passed=True)


def _range_run(instance: DagsterInstance, first: str, last: str, fail: bool = False):
    from dagster._core.storage.tags import ASSET_PARTITION_RANGE_END_TAG, ASSET_PARTITION_RANGE_START_TAG

    FAILING["daily_spend"] = fail
    try:
        defs = Definitions(assets=[daily_spend], asset_checks=[daily_spend_is_positive],
                           jobs=[define_asset_job("days", partitions_def=DAYS)])
        return defs.resolve_job_def("days").execute_in_process(
            instance=instance, raise_on_error=False,
            tags={ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last})
    finally:
        FAILING["daily_spend"] = False


def _logged(instance: DagsterInstance, run_id: str) -> list[tuple]:
    return [(r.dagster_event.event_type_value, r.dagster_event.partition) for r in instance.all_logs(run_id)
            if r.dagster_event and r.dagster_event.event_type_value not in ("LOGS_CAPTURED",)]


def test_a_runs_batches_are_stored_together_with_the_rows_dagster_stores_one_at_a_time(tmp_path, monkeypatch):
    # Dagster's own storage with batches off: every event stored on its own
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "0")
    stock = _instance(tmp_path / "stock", monkeypatch, _project_yaml().split("event_log_storage:")[0])
    stock_runs = [_range_run(stock, "2026-11-01", "2026-11-03"), _range_run(stock, "2026-11-04", "2026-11-05", True)]

    monkeypatch.delenv("DAGSTER_EVENT_BATCH_SIZE")
    batches = []
    real = ReusedEngineSqliteEventLogStorage.store_event_batch

    def recording(self, events):
        batches.append(sorted((e.dagster_event.event_type_value, e.dagster_event.partition) for e in events))
        return real(self, events)

    monkeypatch.setattr(ReusedEngineSqliteEventLogStorage, "store_event_batch", recording)
    ours = _instance(tmp_path / "ours", monkeypatch, _project_yaml())
    assert os.environ["DAGSTER_EVENT_BATCH_SIZE"] == "10000"  # the storage turned Dagster's batches on
    runs = [_range_run(ours, "2026-11-01", "2026-11-03"), _range_run(ours, "2026-11-04", "2026-11-05", True)]
    assert [r.success for r in runs] == [r.success for r in stock_runs] == [True, False]

    # the plan (a planned event per partition, one for the check) and the three days' materializations came as
    # batches, then the failed run's plan; the failed run materialized nothing
    planned = "ASSET_MATERIALIZATION_PLANNED"
    assert batches == [
        [("ASSET_CHECK_EVALUATION_PLANNED", None)] + [(planned, f"2026-11-0{d}") for d in (1, 2, 3)],
        [("ASSET_MATERIALIZATION", f"2026-11-0{d}") for d in (1, 2, 3)],
        [("ASSET_CHECK_EVALUATION_PLANNED", None)] + [(planned, f"2026-11-0{d}") for d in (4, 5)],
    ]
    # each run's log holds the same events in the same order as Dagster's storage stored them
    for run, stock_run in zip(runs, stock_runs):
        assert _logged(ours, run.run_id) == _logged(stock, stock_run.run_id)
    # and the cross-run index answers the same: the days materialized, the failed run's days failed (from the planned
    # events indexed per partition), the latest materialization, the check's planned execution
    for instance, (ok, failed) in ((stock, stock_runs), (ours, runs)):
        assert instance.get_materialized_partitions(daily_spend.key) == {"2026-11-01", "2026-11-02", "2026-11-03"}
        storage = instance.event_log_storage
        attempts = storage.get_latest_asset_partition_materialization_attempts_without_materializations(daily_spend.key)
        assert {day: run_id for day, (run_id, _) in attempts.items()} == {"2026-11-04": failed.run_id,
                                                                          "2026-11-05": failed.run_id}
        # the materializations' tags (their data versions) indexed for each day
        assert [set(tags) for tags in storage.get_event_tags_for_asset(daily_spend.key)] == \
            [{"dagster/data_version"}] * 3
        latest = instance.get_latest_materialization_event(daily_spend.key)
        assert (latest.run_id, latest.dagster_event.partition) == (ok.run_id, "2026-11-03")
        # the check's executions: planned per day of each run, and the first run's one evaluation over its range
        executions = instance.event_log_storage.get_asset_check_execution_history(
            daily_spend_is_positive.check_key, limit=10)
        assert sorted((e.run_id == ok.run_id, e.partition or "", e.status.value) for e in executions) == [
            (False, "2026-11-04", "PLANNED"), (False, "2026-11-05", "PLANNED"), (True, "", "SUCCEEDED"),
            (True, "2026-11-01", "PLANNED"), (True, "2026-11-02", "PLANNED"), (True, "2026-11-03", "PLANNED")]
    stock.dispose()
    ours.dispose()


def test_the_batch_size_is_configured_and_an_explicit_environment_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_EVENT_BATCH_SIZE", "7")
    ReusedEngineSqliteEventLogStorage(base_dir=str(tmp_path / "a"), event_batch_size=500).dispose()
    assert os.environ["DAGSTER_EVENT_BATCH_SIZE"] == "7"
    monkeypatch.delenv("DAGSTER_EVENT_BATCH_SIZE")
    ReusedEngineSqliteEventLogStorage(base_dir=str(tmp_path / "b"), event_batch_size=0).dispose()
    assert "DAGSTER_EVENT_BATCH_SIZE" not in os.environ  # 0: Dagster's one event at a time
    ReusedEngineSqliteEventLogStorage(base_dir=str(tmp_path / "c"), event_batch_size=500).dispose()
    assert os.environ["DAGSTER_EVENT_BATCH_SIZE"] == "500"
    with pytest.raises(ValueError, match="event_batch_size must be 0"):
        ReusedEngineSqliteEventLogStorage(base_dir=str(tmp_path / "d"), event_batch_size=-1)


def test_a_column_found_in_the_asset_table_is_not_looked_up_again(tmp_path, monkeypatch):
    from dagster._core.storage.event_log import SqliteEventLogStorage

    asked = []
    real = SqliteEventLogStorage._has_asset_key_col_on_connection

    def counting(self, conn, column_name):
        asked.append(column_name)
        return real(self, conn, column_name)

    monkeypatch.setattr(SqliteEventLogStorage, "_has_asset_key_col_on_connection", counting)
    instance = _instance(tmp_path / "home", monkeypatch, _project_yaml())
    assert _range_run(instance, "2026-11-01", "2026-11-03").success
    # Dagster asks at every asset event stored (three planned, three materialized); each column is looked up once
    assert sorted(asked) == ["cached_status_data", "last_materialization_timestamp"]
    storage = instance.event_log_storage
    with storage.index_connection() as conn:
        assert not storage._has_asset_key_col_on_connection(conn, "column_from_a_later_migration")
        assert not storage._has_asset_key_col_on_connection(conn, "column_from_a_later_migration")
    assert asked.count("column_from_a_later_migration") == 2  # not there: asked every time
    instance.dispose()
