"""The primary_key generic test (dbt_project/tests/generic/primary_key.sql) on a small dbt project of its own (real
dbt, real DuckDB file, the project's own macro): on DuckDB its failing rows are found through the values' hashes
first when the test says hash_first, and they must be exactly the rows a plain grouping of the values gives, with
and without a window."""

from __future__ import annotations

import shutil
from pathlib import Path

import duckdb

from tests.dbt_project.small_project import write_project_files
from tests.dbt_project.test_sums_match import dbt, failures

ROOT = Path(__file__).resolve().parents[2]

# 'b' twice, 'c' three times, two nulls, 'a' and 'd' once; the day column lets a test read a window of the rows.
KEYS = """{{ config(materialized='table') }}
select * from (values
    ('a', 1), ('b', 1), ('b', 2), ('c', 1), ('c', 2), ('c', 2), (null, 1), (null, 2), ('d', 2)
) as keys (key_value, day_number)
"""
# one null, nothing repeated
ONE_NULL = """{{ config(materialized='table') }}
select * from (values ('a'), (null), ('b')) as keys (key_value)
"""
UNIQUE = """{{ config(materialized='table') }}
select 'k' || cast(range as varchar) as key_value from range(1000)
"""
SCHEMA = """
version: 2
models:
  - name: keys
    columns:
      - name: key_value
        data_tests:
          - primary_key:
              name: pk_keys
              arguments:
                hash_first: true
          - primary_key:
              name: pk_keys_of_day_2
              arguments:
                hash_first: true
              config:
                where: "day_number = 2"
          - primary_key:
              name: pk_keys_plain
  - name: one_null
    columns:
      - name: key_value
        data_tests:
          - primary_key:
              name: pk_one_null
              arguments:
                hash_first: true
  - name: unique_keys
    columns:
      - name: key_value
        data_tests:
          - primary_key:
              name: pk_unique_keys
              arguments:
                hash_first: true
"""


def write_project(folder: Path) -> None:
    for sub in ("models", "macros", "tests/generic"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    shutil.copy(ROOT / "dbt_project" / "macros" / "primary_key.sql", folder / "macros")
    shutil.copy(ROOT / "dbt_project" / "tests" / "generic" / "primary_key.sql", folder / "tests" / "generic")
    write_project_files(folder, "primary_key_check")
    (folder / "models" / "keys.sql").write_text(KEYS)
    (folder / "models" / "one_null.sql").write_text(ONE_NULL)
    (folder / "models" / "unique_keys.sql").write_text(UNIQUE)
    (folder / "models" / "schema.yml").write_text(SCHEMA)


def failing_rows(folder: Path, test: str, hashed: bool = True) -> tuple[int, list[tuple]]:
    """dbt's failure count for the test, and the rows its compiled SQL returns (sorted, nulls last)."""
    count, compiled = failures(folder, "--select", test)
    assert ("hash(" in compiled) == hashed, compiled
    with duckdb.connect(str(folder / "warehouse.duckdb"), read_only=True) as con:
        rows = con.execute(f"select * from ({compiled}) as failing order by key_value nulls last").fetchall()
    return count, rows


def test_the_hashed_primary_key_fails_with_each_repeated_value_and_the_null_group(tmp_path):
    write_project(tmp_path)
    built = dbt(tmp_path, "run")
    assert built.returncode == 0, built.stdout[-3000:]
    # every row: 'b' twice, 'c' three times, the two nulls in one group; 'a' and 'd' once each pass
    assert failing_rows(tmp_path, "pk_keys") == (3, [("b", 2), ("c", 3), (None, 2)])
    # without hash_first the values are grouped once: the same rows
    assert failing_rows(tmp_path, "pk_keys_plain", hashed=False) == (3, [("b", 2), ("c", 3), (None, 2)])
    # day 2 only (the test's where, a subquery read by both passes): 'b' once, 'c' twice, one null, 'd' once
    assert failing_rows(tmp_path, "pk_keys_of_day_2") == (2, [("c", 2), (None, 1)])
    # a single null fails on its own, though no hash repeats
    assert failing_rows(tmp_path, "pk_one_null") == (1, [(None, 1)])
    assert failing_rows(tmp_path, "pk_unique_keys") == (0, [])
