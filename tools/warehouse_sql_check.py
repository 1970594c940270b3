"""Compile every dbt model and data test for another engine without reaching it, and read the SQL in its dialect.

    make check-warehouses                      # BigQuery, Snowflake and Databricks, one virtualenv per adapter
    make check-warehouses ENGINES=bigquery

Run by `make check-warehouses` with the engine's own virtualenv (dbt-<engine> and sqlglot; nothing of this project is
imported, since the adapters move some of the lock's versions). No credentials and no network are needed: the
adapter's relation lookups are replaced, so the project compiles twice, once as if nothing existed yet (the first
build's SQL) and once as if every model existed as a table (the incremental runs' SQL). Then:

* every compiled statement must parse with sqlglot in the engine's dialect (a bare `union`, a `'''` literal on
  BigQuery, a function call with a wrong shape: what stops a model before it reaches the engine);
* every incremental model's strategy must be one the adapter accepts.

What this proves: the Jinja renders and the SQL is well formed for that engine. What it does not: that the engine
knows every function and cast, or that the numbers match (only a run against the engine shows that).
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import sqlglot
from sqlglot.errors import ParseError, TokenError

PROJECT_DIR = Path(__file__).resolve().parent.parent / "dbt_project"

# env: the profile's variables all have defaults except these, which the adapters refuse to be empty when they read
# the profile (values that reach nothing: nothing is connected to). strategies: what each adapter's incremental
# materialization accepts, written out because the adapters' valid_incremental_strategies() is not that list
# (dbt-bigquery's says ['append'], the one strategy its materialization refuses).
ENGINES = {
    "bigquery": {"dialect": "bigquery", "env": {"BIGQUERY_PROJECT": "offline-check"},
                 "strategies": {"merge", "insert_overwrite", "microbatch"}},
    "snowflake": {"dialect": "snowflake", "env": {"SNOWFLAKE_ACCOUNT": "offline-check", "SNOWFLAKE_USER": "offline"},
                  "strategies": {"append", "merge", "delete+insert", "insert_overwrite", "microbatch"}},
    "databricks": {"dialect": "databricks",
                   "env": {"DATABRICKS_HOST": "offline-check.invalid", "DATABRICKS_TOKEN": "offline",
                           "DATABRICKS_HTTP_PATH": "/sql/1.0/warehouses/offline"},
                   "strategies": {"append", "merge", "insert_overwrite", "replace_where", "microbatch"}},
}


def _all_subclasses(cls: type) -> list[type]:
    out = []
    for sub in cls.__subclasses__():
        out += [sub] + _all_subclasses(sub)
    return out


def fake_relations(exists: bool) -> None:
    """Replace the adapter's catalogue lookups: no relation exists, or every one is a table."""
    from dbt.adapters.base.impl import BaseAdapter

    def get_relation(self, database, schema, identifier):
        if not exists:
            return None
        return self.Relation.create(database=database, schema=schema, identifier=identifier, type="table")

    for cls in [BaseAdapter] + _all_subclasses(BaseAdapter):
        cls.get_relation = get_relation
        cls.list_relations_without_caching = lambda self, schema_relation: []


def compile_project(engine: str, exists: bool, target_path: Path) -> dict:
    from dbt.cli.main import dbtRunner

    # the adapter's module must be imported before its class can be patched
    __import__(f"dbt.adapters.{engine}")
    fake_relations(exists)
    result = dbtRunner().invoke(["compile", "--project-dir", str(PROJECT_DIR), "--profiles-dir", str(PROJECT_DIR),
                                 "--target", engine, "--target-path", str(target_path), "--no-populate-cache",
                                 "--exclude", "resource_type:unit_test", "--quiet"])
    if not result.success:
        raise SystemExit(f"{engine}: dbt compile failed ({'existing' if exists else 'new'} relations): "
                         f"{result.exception}")
    return json.loads((target_path / "manifest.json").read_text())


def parse_failures(dialect: str, compiled_dir: Path) -> list[str]:
    failures = []
    for path in sorted(compiled_dir.rglob("*.sql")):
        try:
            sqlglot.parse(path.read_text(), read=dialect, error_level=sqlglot.ErrorLevel.RAISE)
        except (ParseError, TokenError) as error:
            failures.append(f"{path.relative_to(compiled_dir)}: {' '.join(str(error).split())[:240]}")
    return failures


def offline_bigquery_key(tmp: Path) -> dict[str, str]:
    """dbt-bigquery builds its client (credentials included) whenever a node is compiled: a service-account key made
    up on the spot lets it do so without Application Default Credentials. The key signs nothing: no request is sent."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    pem = rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    keyfile = tmp / "offline-service-account.json"
    keyfile.write_text(json.dumps({
        "type": "service_account", "project_id": "offline-check", "private_key_id": "offline", "private_key": pem,
        "client_email": "offline@offline-check.iam.gserviceaccount.com", "client_id": "0",
        "token_uri": "https://oauth2.googleapis.com/token"}))
    return {"BIGQUERY_METHOD": "service-account", "BIGQUERY_KEYFILE": str(keyfile)}


def main(engine: str) -> int:
    spec = ENGINES[engine]
    problems: list[str] = []
    counted = 0
    with tempfile.TemporaryDirectory(prefix=f"warehouse-check-{engine}-") as tmp:
        os.environ.update({"DBT_TARGET": engine, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", **spec["env"],
                           **(offline_bigquery_key(Path(tmp)) if engine == "bigquery" else {})})
        for exists in (False, True):
            target = Path(tmp) / ("existing" if exists else "new")
            manifest = compile_project(engine, exists, target)
            files = list((target / "compiled").rglob("*.sql"))
            counted += len(files)
            problems += [f"[{target.name}] {line}" for line in parse_failures(spec["dialect"], target / "compiled")]
        for node in manifest["nodes"].values():
            config = node["config"]
            if node["resource_type"] == "model" and config.get("materialized") == "incremental":
                strategy = config.get("incremental_strategy")
                if strategy not in spec["strategies"]:
                    problems.append(f"{node['name']}: incremental_strategy {strategy!r} is not one dbt-{engine} "
                                    f"accepts ({', '.join(sorted(spec['strategies']))})")
    for line in problems:
        print(f"{engine}: {line}")
    print(f"{engine}: {counted} compiled statements (new and existing relations) read in sqlglot's "
          f"{spec['dialect']} dialect; {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in ENGINES:
        raise SystemExit(f"usage: warehouse_sql_check.py {{{'|'.join(ENGINES)}}}")
    sys.exit(main(sys.argv[1]))
