"""Where things live: the warehouse (DuckDB file by default, any dlt destination / dbt target by config),
dlt's pipeline folder, and the dbt project. Nothing here is specific to the demo."""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import sys
from functools import cached_property
from pathlib import Path
from typing import Iterator, Mapping, Sequence

import dlt
from dagster import ConfigurableResource
from dagster_dbt import DbtCliResource, DbtProject
from packaging import version

from ingestion import settings

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
DEFAULT_WAREHOUSE_PATH = PROJECT_ROOT / "data" / "warehouse.duckdb"
PARTIAL_PARSE = "partial_parse.msgpack"  # dbt's saved parse, in a target folder
VENV_DBT = Path(sys.executable).parent / "dbt"  # the dbt installed beside this interpreter (the project's venv)

# nothing phones home, whichever entry point imported us first
os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")


def warehouse_kind() -> str:
    """`WAREHOUSE`: `duckdb` (default) or any dlt destination with a matching dbt target in profiles.yml."""
    return os.environ.get("WAREHOUSE", "duckdb").strip().lower()


def duckdb_memory_limit() -> str:
    return os.environ.get("DUCKDB_MEMORY_LIMIT", "4GB")


def warehouse_path() -> Path:
    return Path(os.environ.get("WAREHOUSE_PATH", str(DEFAULT_WAREHOUSE_PATH))).resolve()


class Warehouse(ConfigurableResource):
    """The destination every dlt pipeline loads into and dbt builds in."""

    kind: str = "duckdb"
    duckdb_path: str = str(DEFAULT_WAREHOUSE_PATH)
    pipelines_dir: str = str(PROJECT_ROOT / "data" / "dlt_pipelines")

    @classmethod
    def from_env(cls) -> "Warehouse":
        return cls(
            kind=warehouse_kind(),
            duckdb_path=str(warehouse_path()),
            pipelines_dir=str(settings.pipelines_dir()),
        )

    def destination(self):
        if self.kind == "duckdb":
            from dlt.destinations.impl.duckdb.configuration import DuckDbCredentials

            Path(self.duckdb_path).parent.mkdir(parents=True, exist_ok=True)
            # the same memory bound dbt uses (profiles.yml): DuckDB spills to disk instead of taking 80% of RAM
            credentials = DuckDbCredentials(self.duckdb_path, global_config={"memory_limit": duckdb_memory_limit()})
            return dlt.destinations.duckdb(credentials=credentials)
        return self.kind  # credentials from dlt config: DESTINATION__<KIND>__CREDENTIALS

    def pipeline(self, name: str, dataset: str) -> dlt.Pipeline:
        return dlt.pipeline(
            pipeline_name=f"ai_finops_{name}",
            destination=self.destination(),
            dataset_name=dataset,
            pipelines_dir=self.pipelines_dir,
        )

    @contextlib.contextmanager
    def held_open(self) -> Iterator[None]:
        """On DuckDB, keeps the warehouse file open for the block; other engines: nothing to do.

        A dlt run opens and closes a DuckDB connection about five times (state and schema, the load jobs, the merge,
        a source's look at rows already loaded). When the last connection closes DuckDB checkpoints and forgets the
        database, and the next one reads the file's catalog again. While a connection is held, DuckDB hands every
        other connection to the same file in this process the database already open (its instance cache), so the
        block opens and checkpoints once: on the 17 GB L warehouse a daily provider load takes 0.3-0.6 s less
        (docs/performance-history.md, stop 27). Opened with no settings, like dlt's own
        connections (DuckDB refuses a second connection to one file with different ones). Never hold it around dbt:
        dbt runs in another process, and DuckDB lets one process at a time write the file."""
        if self.kind != "duckdb":
            yield
            return
        import duckdb

        Path(self.duckdb_path).parent.mkdir(parents=True, exist_ok=True)
        connection = duckdb.connect(self.duckdb_path)
        try:
            yield
        finally:
            connection.close()

    def dbt_env(self) -> dict[str, str]:
        env = {"DBT_TARGET": self.kind}
        if self.kind == "duckdb":
            env["WAREHOUSE_PATH"] = self.duckdb_path
        return env


dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR, target=warehouse_kind())


def _manifest_is_stale() -> bool:
    manifest = dbt_project.manifest_path
    if not manifest.exists():
        return True
    built = manifest.stat().st_mtime
    sources = [DBT_PROJECT_DIR / "dbt_project.yml", DBT_PROJECT_DIR / "profiles.yml"]
    for folder in ("models", "macros", "tests"):
        sources.extend(p for p in (DBT_PROJECT_DIR / folder).rglob("*") if p.suffix in (".sql", ".yml", ".yaml"))
    return any(p.stat().st_mtime > built for p in sources)


def ensure_dbt_manifest() -> Path:
    """Parse the dbt project when its manifest is missing (a fresh clone) or older than any model, macro or test.

    Done with our own dbt resource (the venv's dbt), not DbtProject's preparer, which looks for `dbt` on PATH."""
    if _manifest_is_stale():
        # parsed with the warehouse settings the dbt asset builds with: dagster-dbt starts each build from this
        # parse (target/partial_parse.msgpack), and dbt parses the whole project again (~5 s) when the profile it
        # renders differs, as the DuckDB path did (relative here, absolute in the asset)
        with environment(Warehouse.from_env().dbt_env()):
            dbt_resource().cli(["parse", "--quiet"], target_path=dbt_project.target_path).wait()
    return dbt_project.manifest_path


def keep_partial_parse(run_folder: Path) -> bool:
    """dagster-dbt gives each build a folder of its own inside the target folder and copies the target folder's
    `partial_parse.msgpack` into it, so that dbt parses only what changed. When dbt had to parse again anyway (the
    project changed, or the file was written under another profile: a `dbt` command run by hand, the bench, another
    warehouse setting), the build's newer file replaces the shared one, so the next build starts from a parse that
    matches instead of parsing the whole project again. Returns whether it replaced the file; a file it cannot write
    costs the next build a whole parse, not the run (this runs while a failed build's error propagates)."""
    built, shared = run_folder / PARTIAL_PARSE, run_folder.parent / PARTIAL_PARSE
    temporary = shared.with_name(f".{PARTIAL_PARSE}.{os.getpid()}.tmp")  # builds in other processes read it meanwhile
    try:
        if not built.is_file():
            return False
        content = built.read_bytes()
        if shared.is_file() and shared.read_bytes() == content:
            return False
        temporary.write_bytes(content)
        os.replace(temporary, shared)
        return True
    except OSError:
        temporary.unlink(missing_ok=True)
        return False


@contextlib.contextmanager
def environment(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for the duration of a block, then put back what was there."""
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class ProjectDbtCliResource(DbtCliResource):
    """dagster-dbt's dbt resource without two start-up costs it pays on every invocation (each scheduled build, each
    parse), which this project does not need when dbt is the one beside this interpreter (the project's venv):
    * `dbt --version` in a subprocess, to learn which dbt the executable is (~1.9 s here): dbt-core of this very
      environment, whose version the installed package's metadata gives;
    * an in-process adapter handle (~1.6 s: the profile rendered, the adapter's macros loaded), used by dagster-dbt
      only for its row-count and column-metadata fetches, which this project does not ask for (each mart logs its
      own figures inside the build, dbt_project/macros/mart_figures.sql).
    Another dbt executable (on PATH, or a dbt Fusion binary) keeps dagster-dbt's own behaviour."""

    def _is_beside_interpreter(self) -> bool:
        return Path(self.dbt_executable) == VENV_DBT

    @cached_property
    def _cli_version(self) -> version.Version:
        if self._is_beside_interpreter():
            return version.parse(importlib.metadata.version("dbt-core"))
        return super()._cli_version

    def _initialize_dbt_core_adapter(self, args: Sequence[str]):
        if self._is_beside_interpreter():
            return None
        return super()._initialize_dbt_core_adapter(args)


def dbt_resource() -> DbtCliResource:
    # the dbt beside this interpreter (the project's venv), so nothing depends on PATH
    return ProjectDbtCliResource(project_dir=dbt_project, profiles_dir=str(DBT_PROJECT_DIR), target=warehouse_kind(),
                                 dbt_executable=str(VENV_DBT) if VENV_DBT.exists() else "dbt")
