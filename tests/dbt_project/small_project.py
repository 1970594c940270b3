"""A small dbt project of a test's own on a DuckDB file: its dbt_project.yml and profiles.yml (telemetry off)."""

from pathlib import Path


def write_dbt_project_yml(folder: Path, name: str, profile: str) -> None:
    """dbt_project.yml for project `name` in `folder`, on the profile named `profile`."""
    (folder / "dbt_project.yml").write_text(
        f"name: {name}\nversion: '1.0'\nconfig-version: 2\nprofile: {profile}\n"
        "flags:\n  send_anonymous_usage_stats: false\n")


def write_project_files(folder: Path, name: str) -> None:
    """dbt_project.yml and profiles.yml for project `name` in `folder`, building into `folder`/warehouse.duckdb."""
    write_dbt_project_yml(folder, name, profile=name)
    (folder / "profiles.yml").write_text(
        f"{name}:\n  target: duckdb\n  outputs:\n    duckdb:\n      type: duckdb\n"
        f"      path: '{folder / 'warehouse.duckdb'}'\n      schema: main\n      threads: 1\n")
