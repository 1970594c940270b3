"""A blank warehouse on each engine the state tables live on: DuckDB, and PostgreSQL when one is configured."""

import os
import uuid
from urllib.parse import urlparse

import duckdb
import pytest

from orchestration.resources import Warehouse

POSTGRES_DSN = os.environ.get("FINOPS_TEST_POSTGRES_DSN")
ENGINES = ["duckdb", pytest.param("postgres", marks=pytest.mark.skipif(
    not POSTGRES_DSN, reason="no PostgreSQL configured (FINOPS_TEST_POSTGRES_DSN); .ci/run starts one"))]


@pytest.fixture(params=ENGINES)
def blank_warehouse(request, tmp_path, monkeypatch) -> Warehouse:
    """An empty DuckDB file, or a database of its own on PostgreSQL, dropped afterwards."""
    if request.param == "duckdb":
        return Warehouse(kind="duckdb", duckdb_path=str(tmp_path / "warehouse.duckdb"),
                         pipelines_dir=str(tmp_path / "pipelines"))
    import psycopg2

    name = f"finops_test_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(POSTGRES_DSN)
    admin.autocommit = True
    admin.cursor().execute(f"create database {name}")
    request.addfinalizer(lambda: (admin.cursor().execute(f"drop database if exists {name} with (force)"),
                                  admin.close()))
    database = urlparse(POSTGRES_DSN)._replace(path=f"/{name}").geturl()
    monkeypatch.setenv("DESTINATION__POSTGRES__CREDENTIALS", database)
    return Warehouse(kind="postgres", pipelines_dir=str(tmp_path / "pipelines"))


def execute(warehouse: Warehouse, *statements: str) -> list:
    """Run statements on the warehouse directly (not through the code under test); the last one's rows."""
    if warehouse.kind == "duckdb":
        con = duckdb.connect(warehouse.duckdb_path)
        try:
            rows = []
            for statement in statements:
                cursor = con.execute(statement)
                rows = cursor.fetchall() if cursor.description else []
            return rows
        finally:
            con.close()
    import psycopg2

    con = psycopg2.connect(os.environ["DESTINATION__POSTGRES__CREDENTIALS"])
    try:
        with con, con.cursor() as cursor:
            rows = []
            for statement in statements:
                cursor.execute(statement)
                rows = cursor.fetchall() if cursor.description else []
            return rows
    finally:
        con.close()
