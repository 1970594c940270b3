"""Which days' export files are out of date: the days a dbt build rebuilt since an export last wrote them.

The daily FOCUS export used to write every day of its run's window, the restatement lookback's included, whether
or not anything in them changed. Since dbt's window starts at the first day the loads changed
(orchestration/changed_days.py), most days of the lookback are not rebuilt at all, and writing their files again
costs ~1.3 s a day at 10,000 developers and makes every tool that syncs the folder take the unchanged files again.

So the dbt asset marks the days of its window pending for each export before dbt runs (a build that fails halfway
may still have changed some of them), and an export clears a day's mark once it has written the day. An export
that runs in the same run as the build of its mart writes the days of its window that are pending or whose files
are missing; run on its own (picked in the UI, a backfill of the export alone) it writes its whole window, as asked.
A mark is a token of its own: a day marked again by a build that runs while the export writes is not cleared by
that export, so the next one writes it.

The marks are in the warehouse (`finops_state.export_days_pending`), beside dbt's fingerprints, on the engines the
window is narrowed on (DuckDB and Postgres); elsewhere the exports write their whole window.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from typing import Iterable, Optional

from orchestration.changed_days import ENGINES, STATE_DATASET

logger = logging.getLogger(__name__)

PENDING_TABLE = "export_days_pending"
FOCUS = "focus"  # the FOCUS daily files (orchestration/assets/exports.py)

Marks = dict[dt.date, str]  # day -> the token of the build that marked it


def tracked(warehouse) -> bool:
    return warehouse.kind in ENGINES


def _table(client) -> str:
    return client.make_qualified_table_name(PENDING_TABLE)


def mark(warehouse, exports: Iterable[str], first: dt.date, last: dt.date) -> None:
    """Mark the days `first`..`last` pending for each of `exports` (replacing earlier marks of those days). Raises
    when the warehouse refuses: a build that could not mark its days must not run, or its changes would not reach
    the files."""
    if not tracked(warehouse):
        return
    token = uuid.uuid4().hex
    days = [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
    rows = [(export, day, token) for export in sorted(set(exports)) for day in days]
    if not rows:
        return
    with warehouse.pipeline("export_state", STATE_DATASET).sql_client() as client:
        if not client.has_dataset():
            client.create_dataset()
        table = _table(client)
        client.execute_sql(f"create table if not exists {table} (export_name varchar(40) not null, "
                           "day date not null, marked_by varchar(40) not null)")
        with client.begin_transaction():
            for export in sorted(set(exports)):
                client.execute_sql(f"delete from {table} where export_name = %s and day between %s and %s",
                                   export, first, last)
            for start in range(0, len(rows), 500):
                batch = rows[start:start + 500]
                client.execute_sql(f"insert into {table} (export_name, day, marked_by) values "
                                   + ", ".join(["(%s, %s, %s)"] * len(batch)),
                                   *[part for row in batch for part in row])


def read(client, export: str, first: dt.date, last: dt.date) -> Optional[Marks]:
    """The marks of `export` between `first` and `last`, read on an open dlt SQL client of the warehouse; an empty
    dict when nothing was ever marked, None when the marks cannot be read (the export then writes its whole window)."""
    try:
        with client.with_alternative_dataset_name(STATE_DATASET):
            if not client.has_dataset():
                return {}
            found = client.execute_sql(
                "select table_name from information_schema.tables where table_schema = %s and table_name = %s",
                STATE_DATASET, PENDING_TABLE)
            if not found:
                return {}
            rows = client.execute_sql(f"select day, marked_by from {_table(client)} "
                                      "where export_name = %s and day between %s and %s", export, first, last)
    except Exception as error:  # noqa: BLE001 - unreadable marks cost the narrowing, never the export
        logger.warning("pending export days not read, the whole window is written: %s", error)
        return None
    return {day: token for day, token in rows or []}  # a date column: a datetime.date on both engines


def clear(client, export: str, written: Marks) -> None:
    """Clear the marks an export read for the days it has written, unless a build marked a day again meanwhile."""
    if not written:
        return
    with client.with_alternative_dataset_name(STATE_DATASET):
        table = _table(client)
        items = sorted(written.items())
        for start in range(0, len(items), 500):
            batch = items[start:start + 500]
            client.execute_sql(f"delete from {table} where export_name = %s and ("
                               + " or ".join(["(day = %s and marked_by = %s)"] * len(batch)) + ")",
                               export, *[part for item in batch for part in item])

