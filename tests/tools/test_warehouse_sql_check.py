"""tools/warehouse_sql_check.py reads compiled SQL in an engine's dialect (the dbt side runs in `make
check-warehouses`, with each adapter's own virtualenv; here only the reading, which needs nothing but sqlglot)."""

from __future__ import annotations

from pathlib import Path

from tools.warehouse_sql_check import parse_failures


def test_sql_one_engine_cannot_read_is_reported_for_that_engine_only(tmp_path: Path):
    models = tmp_path / "ai_finops" / "models"
    models.mkdir(parents=True)
    (models / "fine.sql").write_text("select a from t union distinct select a from u")
    # a doubled quote opening a literal: "'s" to most engines, the start of a triple-quoted string to BigQuery
    (models / "apostrophe.sql").write_text("select name || '''s spend' as sentence from people")
    # a bare `union`: BigQuery wants `union distinct` or `union all`
    (models / "bare_union.sql").write_text("select 1 union select 2")

    bigquery = parse_failures("bigquery", tmp_path)
    assert [line.split(":")[0] for line in bigquery] == ["ai_finops/models/apostrophe.sql",
                                                         "ai_finops/models/bare_union.sql"]
    assert parse_failures("duckdb", tmp_path) == []
    assert parse_failures("snowflake", tmp_path) == []
