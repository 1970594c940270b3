"""dbt_project/profiles.yml's DuckDB output, through real dbt: the memory cap (DUCKDB_MEMORY_LIMIT) and the
insertion-order setting reach the connection dbt's models run on."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import duckdb
import yaml

from orchestration.resources import VENV_DBT
from tests.dbt_project.small_project import write_dbt_project_yml

ROOT = Path(__file__).resolve().parents[2]
PROFILES_DIR = ROOT / "dbt_project"


def test_the_duckdb_output_caps_memory_and_drops_insertion_order_on_every_models_connection(tmp_path):
    # a project of the test's own that uses the real profile (parsing the real project would take ~5 s more)
    (tmp_path / "models").mkdir()
    write_dbt_project_yml(tmp_path, "profile_check", profile="ai_finops")
    # two models, built on dbt's two threads: each model runs on a cursor of its own
    for name in ("settings_a", "settings_b"):
        (tmp_path / "models" / f"{name}.sql").write_text(
            "{{ config(materialized='table') }}\n"
            "select current_setting('memory_limit') as memory_limit,\n"
            "       cast(current_setting('preserve_insertion_order') as varchar) as preserve_insertion_order")
    warehouse = tmp_path / "warehouse.duckdb"
    env = {**os.environ, "DBT_TARGET": "duckdb", "WAREHOUSE_PATH": str(warehouse), "DUCKDB_MEMORY_LIMIT": "1GB"}
    done = subprocess.run([str(VENV_DBT), "run", "--project-dir", str(tmp_path), "--profiles-dir", str(PROFILES_DIR),
                           "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]

    # how DuckDB itself reports a 1GB cap (953.6 MiB), from a connection of the test's own
    with duckdb.connect(config={"memory_limit": "1GB"}) as con:
        capped = con.execute("select current_setting('memory_limit')").fetchone()[0]
    with duckdb.connect(str(warehouse), read_only=True) as con:
        seen = {con.execute(f"select memory_limit, preserve_insertion_order from main.{name}").fetchone()
                for name in ("settings_a", "settings_b")}
    assert seen == {(capped, "false")}


def test_the_duckdb_settings_are_set_when_dbt_connects_not_on_each_cursor():
    """dbt-duckdb runs a profile's `settings` as SET statements on every cursor it opens (~370 in a daily build),
    ~1 s a build on the demo; `config_options` are given to DuckDB once, when dbt opens the database."""
    duckdb_output = yaml.safe_load((PROFILES_DIR / "profiles.yml").read_text())["ai_finops"]["outputs"]["duckdb"]
    assert "settings" not in duckdb_output
    assert set(duckdb_output["config_options"]) == {"memory_limit", "preserve_insertion_order"}
