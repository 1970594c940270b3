"""Another warehouse by configuration only (docs/warehouses.md): the document, profiles.yml, the dispatched macros,
pyproject's extras and the Warehouse resource must agree. Offline and fast: nothing here reaches a warehouse, and no
adapter beyond the lock is needed (dlt resolves destination configuration without the engines' drivers)."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "warehouses.md"
PROFILES = ROOT / "dbt_project" / "profiles.yml"
MACROS = ROOT / "dbt_project" / "macros"
ENGINES = ("duckdb", "postgres", "snowflake", "bigquery", "databricks")
# dbt's dispatch search order beyond the adapter itself (dbt-databricks declares dbt-spark as its parent)
PARENTS = {"databricks": ("spark",)}


def doc_table(first_header: str) -> list[dict[str, str]]:
    """The markdown table of docs/warehouses.md whose first column header is `first_header`, as dicts."""
    lines = DOC.read_text().splitlines()
    for i, line in enumerate(lines):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] == first_header:
            rows = []
            for row in lines[i + 2:]:
                if not row.startswith("|"):
                    break
                rows.append(dict(zip(cells, [c.strip() for c in row.strip().strip("|").split("|")])))
            return rows
    raise AssertionError(f"no table headed {first_header!r} in {DOC}")


def profiles() -> dict:
    return yaml.safe_load(PROFILES.read_text())["ai_finops"]["outputs"]


def macros() -> dict[str, str]:
    """Every macro of the project: name -> body."""
    found = {}
    for path in MACROS.glob("*.sql"):
        text = path.read_text()
        for match in re.finditer(r"{%-?\s*macro\s+(\w+)\s*\(", text):
            end = text.find("endmacro", match.end())
            found[match.group(1)] = text[match.end():end]
    return found


def documented_warehouses() -> dict[str, str]:
    """`WAREHOUSE` value -> engine name, from the at-a-glance table."""
    return {row["`WAREHOUSE`"].strip("`"): row["engine"] for row in doc_table("engine")}


def test_the_document_covers_every_engine_of_the_brief():
    assert set(documented_warehouses()) == set(ENGINES)


def test_every_documented_warehouse_is_a_dbt_output_of_its_own_type():
    outputs = profiles()
    for warehouse in documented_warehouses():
        assert warehouse in outputs, f"profiles.yml has no '{warehouse}' output"
        assert outputs[warehouse]["type"] == warehouse
    assert set(outputs) == set(documented_warehouses()), "an output that docs/warehouses.md does not document"


def test_no_output_needs_an_environment_variable_to_parse():
    """Every env_var in profiles.yml has a default, so `dbt parse` works for any target without credentials."""
    calls = re.findall(r"env_var\(([^)]*)\)", PROFILES.read_text())
    assert calls
    without_default = [call for call in calls if "," not in call]
    assert not without_default, without_default


@pytest.mark.parametrize("warehouse", [w for w in ENGINES if w != "duckdb"])
def test_each_output_variable_is_documented(warehouse):
    names = re.findall(r"env_var\('(\w+)'", str(profiles()[warehouse]))
    text = DOC.read_text()
    assert names
    assert [n for n in names if f"`{n}`" not in text] == []


def test_the_dispatch_table_matches_the_macros():
    defined = macros()
    dispatched = set(re.findall(r"adapter\.dispatch\('(\w+)'", "\n".join(p.read_text() for p in MACROS.glob("*.sql"))))
    rows = {row["macro"].strip("`"): row for row in doc_table("macro")}
    assert set(rows) == dispatched, "docs/warehouses.md's dispatch table and adapter.dispatch calls differ"
    for name, row in rows.items():
        for engine in ENGINES:
            cell = row[engine]
            own = [f"{engine}__{name}", *(f"{parent}__{name}" for parent in PARENTS.get(engine, ()))]
            if cell == "default":
                assert f"default__{name}" in defined, name
                assert not [m for m in own if m in defined], f"{engine} is documented as default for {name}"
                continue
            named = re.findall(r"`(\w+)__`", cell)
            assert named and named[0] == engine, f"{engine} / {name}: {cell}"
            for prefix in named:
                assert f"{prefix}__{name}" in defined, f"{prefix}__{name} is documented but not defined"
            if "raises" in cell:
                assert "raise_compiler_error" in defined[f"{engine}__{name}"]
            else:
                assert "raise_compiler_error" not in defined[f"{engine}__{name}"]


def test_every_engine_variant_says_why_it_differs():
    """Each adapter-specific variant of a dispatched macro is preceded by a comment (or delegates to one that is)."""
    for path in MACROS.glob("*.sql"):
        text = path.read_text()
        for match in re.finditer(r"{%-?\s*macro\s+((snowflake|bigquery|spark|databricks)__\w+)\s*\(", text):
            before = text[:match.start()].rstrip()
            body = text[match.end():text.find("endmacro", match.end())]
            delegates = re.search(r"{{\s*spark__\w+\(", body)
            assert before.endswith("-#}") or delegates, f"{match.group(1)} in {path.name} has no comment"


@pytest.mark.parametrize("warehouse", ["postgres", "snowflake", "bigquery", "databricks"])
def test_each_engine_has_an_extra_with_its_adapter_and_dlt_destination(warehouse):
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    requirements = " ".join(extras[warehouse])
    assert f"dbt-{warehouse}" in requirements
    assert f"dlt[{warehouse}]" in requirements


def documented_dlt_variables() -> dict[str, dict[str, str]]:
    """engine -> {DESTINATION__... variable: value} from the `export` lines of docs/warehouses.md."""
    found: dict[str, dict[str, str]] = {}
    for name, value in re.findall(r'^export (DESTINATION__\w+)=("[^"]*"|\S+)', DOC.read_text(), flags=re.M):
        engine = name.split("__")[1].lower()
        found.setdefault(engine, {})[name] = value.strip('"')
    return found


def resolve(engine: str, monkeypatch, variables: dict[str, str]):
    import dlt

    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    destination = getattr(dlt.destinations, engine)()
    return destination.configuration(destination.spec()._bind_dataset_name(dataset_name="raw_openai"))


@pytest.mark.parametrize("engine", ["postgres", "snowflake", "bigquery", "databricks"])
def test_the_documented_dlt_variables_are_what_dlt_reads(engine, monkeypatch):
    """dlt resolves the documented exports into a complete destination configuration, field by field (no driver
    is needed for that); a documented whole connection string resolves on its own too."""
    for name in [n for n in os.environ if n.startswith(f"DESTINATION__{engine.upper()}__")]:
        monkeypatch.delenv(name)  # only what the document says
    variables = documented_dlt_variables()[engine]
    whole = {name: value for name, value in variables.items() if name.endswith("__CREDENTIALS")}
    parts = {name: value for name, value in variables.items() if name not in whole}
    assert parts, f"no DESTINATION__{engine.upper()}__... export documented"
    config = resolve(engine, monkeypatch, parts)
    for name, value in parts.items():
        section, field = name.split("__")[2], name.split("__")[-1].lower()
        target = config.credentials if section == "CREDENTIALS" else config
        assert field in type(target).get_resolvable_fields(), f"{name}: dlt's {engine} destination has no '{field}'"
        if field != "private_key":  # dlt may normalise a key's line breaks
            assert str(getattr(target, field)) == value, name
    for name, value in whole.items():
        for part in parts:
            monkeypatch.delenv(part, raising=False)
        assert resolve(engine, monkeypatch, {name: value}).credentials.is_resolved()


def test_warehouse_postgres_switches_both_dlt_and_dbt(monkeypatch):
    from orchestration.resources import Warehouse

    monkeypatch.setenv("WAREHOUSE", "postgres")
    warehouse = Warehouse.from_env()
    assert warehouse.dbt_env() == {"DBT_TARGET": "postgres"}
    assert warehouse.destination() == "postgres"


@pytest.mark.parametrize("engine", ["snowflake", "bigquery", "databricks"])
def test_warehouse_names_the_dbt_output_and_the_dlt_destination(engine, monkeypatch):
    from orchestration.resources import Warehouse

    monkeypatch.setenv("WAREHOUSE", engine.upper())  # case and blanks do not matter
    warehouse = Warehouse.from_env()
    assert warehouse.dbt_env() == {"DBT_TARGET": engine}
    assert warehouse.dbt_env()["DBT_TARGET"] in profiles()
    assert warehouse.destination() == engine
