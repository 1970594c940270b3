"""dbt_project/macros/duckdb.sql (and full_build_batches.sql, which it calls) on a small dbt project of its own
(real dbt, real DuckDB file)."""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path

import duckdb

from orchestration.resources import VENV_DBT
from tests.dbt_project.small_project import write_project_files

ROOT = Path(__file__).resolve().parents[2]


def write_project(folder: Path, models: dict[str, str]) -> None:
    (folder / "models").mkdir(parents=True, exist_ok=True)
    (folder / "macros").mkdir(exist_ok=True)
    for macros in ("duckdb.sql", "full_build_batches.sql"):
        shutil.copy(ROOT / "dbt_project" / "macros" / macros, folder / "macros" / macros)
    write_project_files(folder, "macro_check")
    for old in (folder / "models").glob("*.sql"):
        old.unlink()
    for name, sql in models.items():
        (folder / "models" / f"{name}.sql").write_text(sql)


def dbt_run(folder: Path, *args: str) -> str:
    """`dbt run`; returns the statements dbt sent (its debug log of this run)."""
    log = folder / "logs" / "dbt.log"
    if log.exists():
        log.unlink()
    done = subprocess.run([str(VENV_DBT), "run", "--project-dir", str(folder), "--profiles-dir", str(folder), *args],
                          cwd=folder, capture_output=True, text=True, timeout=300)  # telemetry off: tests/conftest.py
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    return log.read_text()


def relations(folder: Path) -> dict[str, str]:
    with duckdb.connect(str(folder / "warehouse.duckdb"), read_only=True) as con:
        return dict(con.execute("select table_name, table_type from information_schema.tables "
                                "where table_schema = 'main'").fetchall())


def test_a_view_is_replaced_in_one_statement_and_its_dependents_see_the_new_columns(tmp_path):
    hook = "{{ config(materialized='view', post_hook=\"create or replace table hook_ran as select '{{ this.name }}' as model\") }}\n"
    write_project(tmp_path, {
        "base": "{{ config(materialized='table') }}\nselect 1 as id, 'ann' as name union all select 2, 'bob'",
        "v_base": hook + "select id from {{ ref('base') }}",
        "v_dependent": "{{ config(materialized='view') }}\nselect * from {{ ref('v_base') }}",
        "was_a_table": "{{ config(materialized='table') }}\nselect 7 as answer",
    })
    dbt_run(tmp_path)
    assert relations(tmp_path) == {"base": "BASE TABLE", "v_base": "VIEW", "v_dependent": "VIEW",
                                   "was_a_table": "BASE TABLE", "hook_ran": "BASE TABLE"}

    # the view gains a column; the table becomes a view
    write_project(tmp_path, {
        "base": "{{ config(materialized='table') }}\nselect 1 as id, 'ann' as name union all select 2, 'bob'",
        "v_base": hook + "select id, upper(name) as name from {{ ref('base') }} where id = 2",
        "v_dependent": "{{ config(materialized='view') }}\nselect * from {{ ref('v_base') }}",
        "was_a_table": "{{ config(materialized='view') }}\nselect 8 as answer",
    })
    log = dbt_run(tmp_path)

    # no temporary or backup relation left behind, the table replaced by the view, the hook ran
    assert relations(tmp_path) == {"base": "BASE TABLE", "v_base": "VIEW", "v_dependent": "VIEW",
                                   "was_a_table": "VIEW", "hook_ran": "BASE TABLE"}
    with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
        assert con.execute("select * from v_dependent").fetchall() == [(2, "BOB")]
        assert [c[0] for c in con.execute("select * from v_dependent").description] == ["id", "name"]
        assert con.execute("select * from was_a_table").fetchall() == [(8,)]
        assert con.execute("select model from hook_ran").fetchall() == [("v_base",)]
    # each view in one statement: no view created under a temporary name, renamed or dropped
    assert log.count('create or replace view "warehouse"."main"') == 3
    assert "__dbt_tmp" not in log.replace("base__dbt_tmp", "")  # the table model `base` keeps dbt's own way
    assert "__dbt_backup" not in log.replace("base__dbt_backup", "")
    assert 'drop table if exists "warehouse"."main"."was_a_table"' in log


# A full build a month at a time (dbt_project/macros/full_build_batches.sql): a per-day model and a day/week/month
# rollup shaped like fct_ai_spend_by_period, over rows spread around the batches' edges.
DAILY = """{{ config(materialized='incremental', incremental_strategy='append') }}
select d, sum(v) as v from {{ ref('base') }}
{% if is_incremental() %}where false{% else %}where {{ full_build_batch('d') }}{% endif %}
group by d
"""
ROLLUP = """{{ config(materialized='incremental', incremental_strategy='append') }}
with days as (
    select d as period_start, sum(v) as v from {{ ref('base') }}
    where {{ full_build_batch('d', spill_days=6) }}
    group by d
)
select 'day' as period_type, period_start, v from days where {{ full_build_batch('period_start') }}
{% for grain in ['week', 'month'] %}
{%- set start = "cast(date_trunc('" ~ grain ~ "', period_start) as date)" %}
union all
select '{{ grain }}', {{ start }}, sum(v) from days where {{ full_build_batch(start) }} group by {{ start }}
{% endfor %}
"""


def month_start(day: dt.date, back: int = 0) -> dt.date:
    index = day.year * 12 + day.month - 1 - back
    return dt.date(index // 12, index % 12 + 1, 1)


def test_a_full_build_goes_a_month_at_a_time_in_date_order_and_equals_one_statement(tmp_path):
    today = dt.datetime.now(dt.timezone.utc).date()
    # a month boundary inside the 13 months' horizon that falls mid-week, so a week spans two batches
    edge = next(month_start(today, back) for back in range(2, 12) if month_start(today, back).weekday() != 0)
    rows = [(edge - dt.timedelta(days=3), 1), (edge - dt.timedelta(days=1), 2), (edge, 4),
            (edge + dt.timedelta(days=2), 8), (edge + dt.timedelta(days=2), 16),
            (dt.date(2001, 3, 14), 32), (dt.date(2001, 3, 20), 64),        # before the horizon: the first batch
            (None, 128),                                                     # no date: the first batch too
            (today, 256), (today + dt.timedelta(days=400), 512),             # this month and later: the last batch
            (month_start(today, 12), 1024), (month_start(today, 13) + dt.timedelta(days=27), 2048)]
    values = " union all ".join(
        f"select {'null' if d is None else repr(d.isoformat())}::date as d, {v} as v" for d, v in rows)
    write_project(tmp_path, {"base": "{{ config(materialized='table') }}\n" + values,
                             "daily": DAILY, "rollup": ROLLUP})

    # expected, added up here
    daily: dict = defaultdict(int)
    rollup: dict = defaultdict(int)
    for d, v in rows:
        daily[d] += v
        rollup[("day", d)] += v
        rollup[("week", d and d - dt.timedelta(days=d.weekday()))] += v
        rollup[("month", d and d.replace(day=1))] += v

    def built():
        with duckdb.connect(str(tmp_path / "warehouse.duckdb"), read_only=True) as con:
            return (sorted(con.execute("select d, v from daily").fetchall(), key=str),
                    sorted(con.execute("select period_type, period_start, v from rollup").fetchall(), key=str),
                    [d for (d,) in con.execute("select d from daily order by rowid").fetchall()])

    def batch_of(day):  # 0: before the horizon (and no date), 1-12: the twelve months before this one, 13: the rest
        if day is None or day < month_start(today, 12):
            return 0
        return next((13 - back for back in range(12, 0, -1) if day < month_start(today, back - 1)), 13)

    log = dbt_run(tmp_path)
    daily_rows, rollup_rows, in_table_order = built()
    assert daily_rows == sorted(daily.items(), key=str)
    assert rollup_rows == sorted(((p, d, v) for (p, d), v in rollup.items()), key=str)
    # the table holds its batches in date order, and each model ran as a create and 13 inserts
    assert [batch_of(d) for d in in_table_order] == sorted(batch_of(d) for d in in_table_order)
    assert {batch_of(d) for d in in_table_order} == {0, 1, 13, batch_of(edge), batch_of(edge) - 1}
    assert log.count('create  table\n      "warehouse"."main"."daily"') == 1
    assert log.count('insert into "warehouse"."main"."daily" select * from (') == 13
    assert log.count('insert into "warehouse"."main"."rollup" select * from (') == 13

    # --full-refresh over the tables built: the same rows; one statement when batching is off: the same again
    dbt_run(tmp_path, "--full-refresh")
    assert built()[:2] == (daily_rows, rollup_rows)
    log = dbt_run(tmp_path, "--full-refresh", "--vars", "{full_build_batch_months: 0}")
    assert built()[:2] == (daily_rows, rollup_rows)
    assert "as full_build_batch" not in log and "(1 = 1 /*full_build_batch:" in log
