"""`make bench`: how fast is the pipeline for a large organisation on this machine?

Generates an organisation (default 2,000 developers) and serves a year of its usage through the same demo API the
tests use, then measures, in a temporary warehouse:

* ingestion rows/s per source (HTTP response -> JSON -> Arrow -> DuckDB, exactly the production path),
* the full dbt build (every model and test) over the whole year,
* one daily incremental run (one partition: dlt with its lookback window, then dbt for those days),
* peak memory of the ingestion process and of dbt (DuckDB runs inside dbt's process).

It prints a Markdown table and writes it to bench/results/<developers>x<days>.md. Not a test: numbers depend on the
machine; README.md quotes a run on the reference machine (2 cores, 24 GiB).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description="benchmark the pipeline on a large generated organisation")
    parser.add_argument("--developers", type=int, default=2000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--keep", action="store_true", help="keep the temporary warehouse")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="finops-bench-"))
    from ingestion.demo.org import write_demo_org

    org_file = write_demo_org(work / "org_directory.yml", developers=args.developers)
    os.environ.update({
        "FINOPS_ORG_DIRECTORY": str(org_file),
        "FINOPS_MODE": "demo",
        "WAREHOUSE_PATH": str(work / "warehouse.duckdb"),
        "FINOPS_PIPELINES_DIR": str(work / "pipelines"),
        "RUNTIME__DLTHUB_TELEMETRY": "false",
        "RUNTIME__LOG_LEVEL": "ERROR",
    })

    from ingestion.anthropic import anthropic_source
    from ingestion.openai import openai_source
    from ingestion.org_directory import org_directory_source
    from ingestion.pricing import pricing_source
    from ingestion.settings import lookback_days
    from orchestration.partitions import dbt_vars
    from orchestration.resources import DBT_PROJECT_DIR, Warehouse

    warehouse = Warehouse.from_env()
    today = dt.datetime.now(dt.timezone.utc).date()
    end = today - dt.timedelta(days=1)
    start = end - dt.timedelta(days=args.days)
    results: dict[str, object] = {}

    def load(name: str, dataset: str, source) -> tuple[int, float]:
        pipe = warehouse.pipeline(name, dataset)
        began = time.perf_counter()
        pipe.run(source)
        seconds = time.perf_counter() - began
        rows = sum(m.row_counts.get(t, 0) for m in [pipe.last_trace.last_normalize_info] for t in m.row_counts
                   if not t.startswith("_dlt"))
        return rows, seconds

    print(f"organisation: {args.developers} developers, {args.days} days ({start} .. {end - dt.timedelta(days=1)})",
          flush=True)
    load("org_directory", "raw_org", org_directory_source())
    load("pricing", "raw_pricing", pricing_source())
    for provider, make, dataset in (("anthropic", anthropic_source, "raw_anthropic"),
                                    ("openai", openai_source, "raw_openai")):
        rows, seconds = load(provider, dataset, make(start_date=start.isoformat(), end_date=end.isoformat(),
                                                      lookback_days=0))
        results[f"ingest_{provider}"] = {"rows": rows, "seconds": round(seconds, 1), "rows_per_s": round(rows / seconds)}
        print(f"  ingest {provider}: {rows:,} rows in {seconds:.1f}s ({rows / seconds:,.0f} rows/s)", flush=True)

    dbt = [sys.executable, str(ROOT / "bench" / "peak_rss_dbt.py"), "build", "--project-dir", str(DBT_PROJECT_DIR),
           "--profiles-dir", str(DBT_PROJECT_DIR), "--quiet"]
    env = {**os.environ, **warehouse.dbt_env()}
    dbt_peaks: list[int] = []

    def run_dbt(*extra: str) -> None:
        out = subprocess.run(dbt + list(extra), env=env, check=True, capture_output=True, text=True).stdout
        dbt_peaks.append(int(out.rsplit("PEAK_RSS_MIB=", 1)[1].split()[0]))

    began = time.perf_counter()
    run_dbt("--full-refresh")
    results["dbt_full_build_s"] = round(time.perf_counter() - began, 1)
    print(f"  dbt build (full, all tests): {results['dbt_full_build_s']}s", flush=True)

    import duckdb

    con = duckdb.connect(str(warehouse_path := Path(warehouse.duckdb_path)), read_only=True)
    results["ledger_rows"] = con.execute("select count(*) from marts.fct_ai_usage_daily").fetchone()[0]
    results["allocated_lines"] = con.execute("select count(*) from intermediate.int_usage_allocated").fetchone()[0]
    con.close()

    # one daily partition, as the schedule runs it: yesterday, with the restatement lookback
    day = end - dt.timedelta(days=1)
    began = time.perf_counter()
    for provider, make, dataset in (("anthropic", anthropic_source, "raw_anthropic"),
                                    ("openai", openai_source, "raw_openai")):
        load(provider, dataset, make(start_date=day.isoformat(), end_date=end.isoformat(), lookback_days=lookback_days()))
    results["daily_dlt_s"] = round(time.perf_counter() - began, 1)
    window = dbt_vars(day, end, lookback_days())
    run_dbt("--vars", json.dumps(window))
    results["daily_incremental_s"] = round(time.perf_counter() - began, 1)
    results["daily_dbt_s"] = round(results["daily_incremental_s"] - results["daily_dlt_s"], 1)
    print(f"  daily incremental run (dlt {results['daily_dlt_s']}s + dbt build for {window['min_date']}.."
          f"{window['max_date']} {results['daily_dbt_s']}s): {results['daily_incremental_s']}s", flush=True)

    with open("/proc/self/status") as status:  # VmHWM: this process's own peak, whatever it forked
        own = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:")) / 1024
    children = max(dbt_peaks)
    results["peak_rss_mib"] = {"pipeline_process": round(own), "largest_dbt_process": children}
    results["warehouse_mib"] = round(warehouse_path.stat().st_size / 2**20)

    table = "\n".join([
        f"| measure ({args.developers} developers x {args.days} days, {os.cpu_count()} cores, "
        f"{platform.python_version()}) | value |",
        "|---|---|",
        *[f"| ingestion, {p}: rows, seconds, rows/s | {results[f'ingest_{p}']['rows']:,}, "
          f"{results[f'ingest_{p}']['seconds']} s, {results[f'ingest_{p}']['rows_per_s']:,} rows/s |"
          for p in ("anthropic", "openai")],
        f"| dbt build, full refresh (all models and tests) | {results['dbt_full_build_s']} s |",
        f"| ledger rows (fct_ai_usage_daily) / allocated token lines | {results['ledger_rows']:,} / "
        f"{results['allocated_lines']:,} |",
        f"| one daily incremental run: dlt (both providers, 1 day + lookback) + dbt build | "
        f"{results['daily_dlt_s']} s + {results['daily_dbt_s']} s = {results['daily_incremental_s']} s |",
        f"| peak memory: pipeline process / largest dbt process | {own:,.0f} MiB / {children:,.0f} MiB |",
        f"| warehouse file | {results['warehouse_mib']:,} MiB |",
    ])
    print("\n" + table)
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{args.developers}x{args.days}.md").write_text(table + "\n")
    (out / f"{args.developers}x{args.days}.json").write_text(json.dumps(results, indent=2))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"warehouse kept in {work}")


if __name__ == "__main__":
    main()
