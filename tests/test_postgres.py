"""The same pipeline on a second, real engine: PostgreSQL, chosen by configuration only (WAREHOUSE=postgres).

`.ci/run` installs and starts PostgreSQL from Debian's packages and sets FINOPS_TEST_POSTGRES_DSN (and
FINOPS_REQUIRE_POSTGRES=1, so CI cannot skip this silently). The demo pipeline runs through Dagster into a fresh
database with every dbt test green, and the marts must hold the same numbers as a DuckDB run of the same window.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import uuid
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse

import duckdb
import pyarrow.csv as pa_csv
import pytest

ROOT = Path(__file__).resolve().parent.parent
DSN = os.environ.get("FINOPS_TEST_POSTGRES_DSN")
TODAY = dt.datetime.now(dt.timezone.utc).date()
LAST = TODAY - dt.timedelta(days=2)
FIRST = LAST - dt.timedelta(days=2)

pytestmark = pytest.mark.e2e

if not DSN:
    if os.environ.get("FINOPS_REQUIRE_POSTGRES") == "1":
        raise RuntimeError("FINOPS_REQUIRE_POSTGRES=1 but FINOPS_TEST_POSTGRES_DSN is not set")
    pytest.skip("no PostgreSQL configured (FINOPS_TEST_POSTGRES_DSN); .ci/run starts one", allow_module_level=True)

# what is compared, per mart: the grain and the measures
COMPARED = {
    "fct_team_spend_daily": ("usage_date, team_id", "billed_cost_usd, list_cost_usd, token_count, unpriced_token_count"),
    "fct_allocation_coverage_daily": ("usage_date, provider", "billed_cost_usd, allocated_billed_cost_usd"),
    "fct_ai_usage_daily": ("provider, model_ref, token_type", "sum(token_count), sum(billed_cost_usd), count(*)"),
    "fct_unit_economics": ("team_id, period_type, period_start", "ai_cost_usd, prs_merged, tickets_closed, cost_per_pr"),
    "fct_feature_costs": ("feature_key, month_start", "attributed_ai_cost_usd, people"),
    "fct_engineering_output_daily": ("output_date, team_id, person_key", "prs_merged, tickets_closed, deployments"),
}


def run(env: dict[str, str]) -> None:
    result = subprocess.run([sys.executable, "-m", "orchestration.run", "--start", FIRST.isoformat(),
                             "--end", LAST.isoformat()], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-3000:]


def normalise(rows) -> list[tuple]:
    """Same numbers, engine-neutral: decimals to 6 places, floats to Decimal, dates as ISO text."""
    def value(v):
        if isinstance(v, (float, Decimal)):
            return Decimal(str(v)).quantize(Decimal("0.000001"))
        if isinstance(v, (dt.date, dt.datetime)):
            return v.isoformat()[:10]
        return v
    return sorted(tuple(value(v) for v in row) for row in rows)


def query(mart: str) -> str:
    keys, measures = COMPARED[mart]
    if "sum(" in measures:
        return f"select {keys}, {measures} from marts.{mart} group by {keys}"
    return f"select {keys}, {measures} from marts.{mart}"


@pytest.fixture(scope="module")
def database():
    import psycopg2

    name = f"ai_finops_ci_{uuid.uuid4().hex[:8]}"
    admin = psycopg2.connect(DSN)
    admin.autocommit = True
    admin.cursor().execute(f"create database {name}")
    yield name
    admin.cursor().execute(f"drop database if exists {name} with (force)")
    admin.close()


def test_the_pipeline_on_postgres_matches_duckdb(database, tmp_path_factory):
    import psycopg2

    tmp = tmp_path_factory.mktemp("engines")
    url = urlparse(DSN)
    base = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}
    # one today for both runs (the demo's organisation depends on it), whichever side of midnight UTC each runs on
    base.update({"FINOPS_MODE": "demo", "FINOPS_LOOKBACK_DAYS": "1", "FINOPS_TODAY": TODAY.isoformat()})
    postgres_env = {**base, "WAREHOUSE": "postgres", "FINOPS_PIPELINES_DIR": str(tmp / "pg-pipelines"),
                    "DESTINATION__POSTGRES__CREDENTIALS": url._replace(path=f"/{database}").geturl(),
                    "POSTGRES_HOST": url.hostname or "localhost", "POSTGRES_PORT": str(url.port or 5432),
                    "POSTGRES_USER": url.username or "postgres", "POSTGRES_PASSWORD": url.password or "",
                    "POSTGRES_DB": database, "FINOPS_EXPORT_DIR": str(tmp / "pg-exports")}
    duckdb_env = {**base, "WAREHOUSE": "duckdb", "WAREHOUSE_PATH": str(tmp / "w.duckdb"),
                  "FINOPS_PIPELINES_DIR": str(tmp / "duck-pipelines"), "FINOPS_EXPORT_DIR": str(tmp / "duck-exports")}
    run(postgres_env)  # dbt build with every test: a failing test fails the run
    run(duckdb_env)

    pg = psycopg2.connect(url._replace(path=f"/{database}").geturl())
    duck = duckdb.connect(duckdb_env["WAREHOUSE_PATH"], read_only=True)
    try:
        for mart in COMPARED:
            cursor = pg.cursor()
            cursor.execute(query(mart))
            on_postgres = normalise(cursor.fetchall())
            on_duckdb = normalise(duck.execute(query(mart)).fetchall())
            assert on_postgres, mart
            assert on_postgres == on_duckdb, mart
        # the keys too: md5 of the same text on both engines, though DuckDB joins the parts with concat_ws and
        # PostgreSQL with || (macros/portable.sql surrogate_key); the ledger's key includes the usage date, the
        # finance rollup's names, principals and periods
        for mart, key in (("fct_ai_usage_daily", "usage_key"), ("fct_ai_spend_by_period", "spend_period_key")):
            cursor = pg.cursor()
            cursor.execute(f"select {key} from marts.{mart}")
            on_postgres = sorted(row[0] for row in cursor.fetchall())
            assert on_postgres, mart
            assert on_postgres == sorted(row[0] for row in duck.execute(f"select {key} from marts.{mart}").fetchall())
        # the FOCUS files too: the same charges, with Tags as JSON text on both engines (Postgres hands JSON columns
        # to Python as dicts, which once broke the CSV export)
        files = {engine: pa_csv.read_csv(tmp / f"{engine}-exports" / "focus" / f"{LAST}.csv")
                 for engine in ("pg", "duck")}
        # whole JSON objects compared: a key whose value is null is left out on both engines (DuckDB's json_object
        # once kept `"person": null` where Postgres dropped it)
        charges = {engine: sorted((row["x_UseCase"], row["Tags"] and json.dumps(json.loads(row["Tags"]), sort_keys=True),
                                   json.dumps(json.loads(row["SkuPriceDetails"]), sort_keys=True), str(row["BilledCost"]))
                                  for row in table.to_pylist()) for engine, table in files.items()}
        assert charges["pg"] and charges["pg"] == charges["duck"]
    finally:
        pg.close()
        duck.close()
        shutil.rmtree(tmp, ignore_errors=True)
