"""dbt_project/macros/duckdb.sql on a small dbt project of its own (real dbt, real DuckDB file)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import duckdb

from orchestration.resources import VENV_DBT

ROOT = Path(__file__).resolve().parents[2]


def write_project(folder: Path, models: dict[str, str]) -> None:
    (folder / "models").mkdir(parents=True, exist_ok=True)
    (folder / "macros").mkdir(exist_ok=True)
    shutil.copy(ROOT / "dbt_project" / "macros" / "duckdb.sql", folder / "macros" / "duckdb.sql")
    (folder / "dbt_project.yml").write_text(
        "name: macro_check\nversion: '1.0'\nconfig-version: 2\nprofile: macro_check\n"
        "flags:\n  send_anonymous_usage_stats: false\n")
    (folder / "profiles.yml").write_text(
        f"macro_check:\n  target: duckdb\n  outputs:\n    duckdb:\n      type: duckdb\n"
        f"      path: '{folder / 'warehouse.duckdb'}'\n      schema: main\n      threads: 1\n")
    for old in (folder / "models").glob("*.sql"):
        old.unlink()
    for name, sql in models.items():
        (folder / "models" / f"{name}.sql").write_text(sql)


def dbt_run(folder: Path) -> str:
    """`dbt run`; returns the statements dbt sent (its debug log of this run)."""
    log = folder / "logs" / "dbt.log"
    if log.exists():
        log.unlink()
    done = subprocess.run([str(VENV_DBT), "run", "--project-dir", str(folder), "--profiles-dir", str(folder)],
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
