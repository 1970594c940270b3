"""`make bench`: how fast is the pipeline for a large organisation on this machine?

Generates an organisation (default 2,000 developers) and serves a year of its usage through the same demo API the
tests use, then measures, in a temporary warehouse:

* ingestion rows/s per source (HTTP response -> JSON -> Arrow -> DuckDB, exactly the production path), also
  without the time the demo spends making the data (a real provider's servers do that part),
* the full dbt build (every model and test) over the whole year,
* one daily incremental run (one partition: dlt with its lookback window, then dbt for those days; that dbt build
  then runs again at once, to compare a first build after the day's loads with the same build warm), and the next
  day's partition through Dagster as the schedule runs it (in a new process, as Dagster's run launcher starts each
  run; raw-table checks, dagster-dbt, exports, the brief and Dagster's own bookkeeping included), with where its
  seconds went,
* peak memory of the ingestion process and of dbt (DuckDB runs inside dbt's process).
* what else the machine was doing meanwhile, by phase (CPU time in iowait and stolen by the hypervisor, wall time
  with a task stalled on the disk): machines of one kind here run the same code 30-40% apart, and a disturbed run
  shows in these rather than only in slower numbers.

Sizes (`--size`, or `make bench SIZE=S|M|L`): S = 50 developers x 90 days, M = 2,000 x 365, L = 10,000 x 365;
`--developers` / `--days` override. Also measured: the *floor*, the same top-level aggregates (billed USD and tokens
per provider per day) computed by one hand-written DuckDB query straight over the raw tables, and the full dbt
build as a multiple of it.

It prints a Markdown table, writes it to bench/results/<developers>x<days>.md and records it under its size in
docs/performance.md. Not a test: numbers depend on the machine.
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
SIZES = {"S": (50, 90), "M": (2000, 365), "L": (10000, 365)}
# the floor: what any engine must at least do, one query over the raw landings (no pricing, no allocation, no tests)
FLOOR_SQL = """
with usage as (
    select 'anthropic' as provider, bucket_date as day,
           sum(uncached_input_tokens + output_tokens + cache_creation_5m_input_tokens
               + cache_creation_1h_input_tokens + cache_read_input_tokens) as tokens
    from raw_anthropic.usage_messages group by all
    union all
    select 'openai', bucket_date, sum(input_tokens + output_tokens) from raw_openai.usage_completions group by all
    union all
    select 'cursor', bucket_date, sum(coalesce(input_tokens, 0) + coalesce(output_tokens, 0)
                                      + coalesce(cache_write_tokens, 0) + coalesce(cache_read_tokens, 0))
    from raw_cursor.usage_events group by all
), billed as (
    select 'anthropic' as provider, bucket_date as day, sum(amount_cents) / 100 as usd
    from raw_anthropic.cost_report group by all
    union all
    select 'openai', bucket_date, sum(amount_usd) from raw_openai.costs group by all
    union all
    select 'cursor', bucket_date, sum(total_cents) / 100 from raw_cursor.usage_events group by all
)
select provider, day, tokens, usd from usage full join billed using (provider, day)
"""


def machine_counters(proc_stat: str, io_pressure: str | None) -> dict[str, int]:
    """The machine's own counters, from /proc/stat's first line (time of all CPUs together in USER_HZ ticks: user nice
    system idle iowait irq softirq steal ...) and /proc/pressure/io (`some ... total=`: microseconds during which at
    least one task waited for the disk; absent on kernels without PSI)."""
    ticks = [int(field) for field in proc_stat.splitlines()[0].split()[1:9]]
    counters = {"cpu_ticks": sum(ticks), "iowait_ticks": ticks[4], "steal_ticks": ticks[7]}
    for line in (io_pressure or "").splitlines():
        if line.startswith("some "):
            counters["io_stall_us"] = int(line.rsplit("total=", 1)[1])
    return counters


def machine_noise(before: dict[str, int], after: dict[str, int], wall_seconds: float) -> dict[str, float]:
    """What else the machine was doing while a phase ran, in percent: of the CPUs' time, waiting for the disk
    (iowait) and taken by the hypervisor for other guests (steal); of the phase's wall time, with some task stalled on
    the disk (io_stall)."""
    ticks = max(after["cpu_ticks"] - before["cpu_ticks"], 1)
    noise = {"iowait_pct": round(100 * (after["iowait_ticks"] - before["iowait_ticks"]) / ticks, 1),
             "steal_pct": round(100 * (after["steal_ticks"] - before["steal_ticks"]) / ticks, 1)}
    if "io_stall_us" in before and "io_stall_us" in after:
        stalled = (after["io_stall_us"] - before["io_stall_us"]) / 1e6
        noise["io_stall_pct"] = round(100 * stalled / max(wall_seconds, 1e-9), 1)
    return noise


def read_machine_counters() -> dict[str, int] | None:
    """This machine's counters now, or None where /proc does not have them (not Linux)."""
    try:
        proc_stat = Path("/proc/stat").read_text()
    except OSError:
        return None
    try:
        io_pressure = Path("/proc/pressure/io").read_text()
    except OSError:
        io_pressure = None
    return machine_counters(proc_stat, io_pressure)


_DEMO_SECONDS = [0.0]


def demo_seconds() -> float:
    """Seconds spent so far making demo data (see `time_the_demo`)."""
    return _DEMO_SECONDS[0]


def _timed(call):
    def timed(*args, **kwargs):
        began = time.perf_counter()
        try:
            return call(*args, **kwargs)
        finally:
            _DEMO_SECONDS[0] += time.perf_counter() - began
    return timed


def time_the_demo() -> None:
    """Count the time spent inside the demo: its APIs answering (simulating the organisation, encoding the JSON),
    its telemetry and FOCUS files being written, and the columnar generator drawing each day's events. Against a
    real provider that work happens on its servers (or its exporter's), so each ingestion is also reported without
    it: the rate of our client path (requests, JSON or file parsing, validation, Arrow, dlt's normalize and load)."""
    import ingestion.settings as settings
    from bench.columnar import ColumnarCursorEvents
    from ingestion.demo.telemetry import DemoCloudBill, DemoTelemetry

    make_adapter = settings.demo_adapter

    def demo_adapter(provider: str):
        adapter = _timed(make_adapter)(provider)  # building the demo organisation counts too
        adapter.send = _timed(adapter.send)
        return adapter

    settings.demo_adapter = demo_adapter
    ColumnarCursorEvents.day = _timed(ColumnarCursorEvents.day)
    DemoTelemetry.write_telemetry = _timed(DemoTelemetry.write_telemetry)
    DemoCloudBill.write_focus = _timed(DemoCloudBill.write_focus)


def main() -> None:
    parser = argparse.ArgumentParser(description="benchmark the pipeline on a large generated organisation")
    parser.add_argument("--size", choices=sorted(SIZES), default="M")
    parser.add_argument("--developers", type=int, help="overrides the size's developers")
    parser.add_argument("--days", type=int, help="overrides the size's days")
    parser.add_argument("--sources", default="anthropic,openai,cursor,copilot,github,jira",
                        help="sources ingested over the whole period; the others land empty tables (so dbt builds). "
                             "`cursor_events` (without `cursor`): only Cursor's per-request events, in bulk")
    parser.add_argument("--events", choices=("columnar", "api"), default=None,
                        help="how a year of Cursor per-request events lands: generated as Arrow columns and loaded by "
                             "dlt (default for M and L) or served one JSON event at a time through the demo API "
                             "(default for S)")
    parser.add_argument("--rate-scale", type=float, default=None,
                        help="multiplies each Cursor member's daily calls in the columnar events (L: 1.5, so a year "
                             "holds 100M+ events)")
    parser.add_argument("--sample-days", type=int, default=0,
                        help="the sources not in --sources land (and are measured over) the last N days instead of "
                             "nothing, and take part in the daily run (L: 7, so every source kind has a rate at L)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary warehouse")
    # the bench's own: the day through Dagster in a process of its own (dagster_daily_in_own_process)
    parser.add_argument("--dagster-day", type=dt.date.fromisoformat, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--report", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--cursor-apart", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--launched", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--doc", type=Path, default=ROOT / "docs" / "performance.md",
                        help="the file the size's table is written into")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results",
                        help="the folder the run's table and figures (JSON) are written into")
    args = parser.parse_args()
    if args.dagster_day:
        dagster_day_main(args.dagster_day, args.work, args.cursor_apart, args.report, args.launched)
        return
    size_developers, size_days = SIZES[args.size]
    args.developers = args.developers or size_developers
    args.days = args.days or size_days
    args.events = args.events or ("api" if args.size == "S" else "columnar")
    args.rate_scale = args.rate_scale or (1.5 if args.size == "L" else 1.0)
    size_label = args.size if (args.developers, args.days) == SIZES[args.size] else f"{args.developers}x{args.days}"

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
    from ingestion._common import CLOCK_ENV, today_utc

    # one today for the whole bench (FINOPS_TODAY if set; an L bench runs ~45 minutes): a bench crossing midnight UTC
    # would otherwise serve its daily runs from another demo organisation than its history (seats, FOCUS files)
    today = today_utc()
    os.environ[CLOCK_ENV] = today.isoformat()

    from ingestion.agent_telemetry import agent_telemetry_source
    from ingestion.anthropic import anthropic_source
    from ingestion.copilot import copilot_source
    from ingestion.cursor import cursor_source
    from ingestion.focus_files import focus_files_source
    from ingestion.github import github_source
    from ingestion.jira import jira_source
    from ingestion.openai import openai_source
    from ingestion.org_directory import org_directory_source
    from ingestion.pricing import pricing_source
    from ingestion.settings import demo_engineering, demo_world, lookback_days
    from orchestration.changed_days import narrowed_window
    from orchestration.partitions import DBT_BUILD, dbt_window, dbt_window_env
    from orchestration.resources import DBT_PROJECT_DIR, Warehouse, ensure_dbt_manifest

    warehouse = Warehouse.from_env()
    time_the_demo()
    began = time.perf_counter()
    demo_world(), demo_engineering()  # simulated once per process; not counted in any source's ingestion
    print(f"demo organisation simulated in {time.perf_counter() - began:.1f}s", flush=True)
    # usage reports (daily buckets, JSON) and per-request events (Cursor), each through its real client, engineering
    # output (GitHub, Jira), which unit economics needs, and the file sources (agent telemetry, FOCUS exports; the
    # demo writes its files, the source reads them as it reads a bucket)
    PROVIDERS = (("anthropic", anthropic_source, "raw_anthropic"), ("openai", openai_source, "raw_openai"),
                 ("cursor", cursor_source, "raw_cursor"), ("copilot", copilot_source, "raw_copilot"),
                 ("github", github_source, "raw_github"), ("jira", jira_source, "raw_jira"),
                 ("agent_telemetry", agent_telemetry_source, "raw_agent_telemetry"),
                 ("focus_files", lambda start_date, end_date, lookback_days: focus_files_source(
                     lookback_days=lookback_days), "raw_focus_files"))
    end = today - dt.timedelta(days=2)  # the history; then one new day the bench's way, and yesterday through Dagster
    start = end - dt.timedelta(days=args.days)
    results: dict[str, object] = {}
    noise: dict[str, dict[str, float]] = {}  # phase: machine_noise() while it ran
    results["machine_noise"] = noise

    def phase_start() -> tuple[float, dict[str, int] | None]:
        return time.perf_counter(), read_machine_counters()

    def phase_end(name: str, started: tuple[float, dict[str, int] | None]) -> float:
        """Record the machine's noise over the phase; return the phase's seconds."""
        seconds, after = time.perf_counter() - started[0], read_machine_counters()
        if started[1] is not None and after is not None:
            noise[name] = machine_noise(started[1], after, seconds)
        return seconds

    def load(name: str, dataset: str, source) -> tuple[int, float]:
        pipe = warehouse.pipeline(name, dataset)
        began = time.perf_counter()
        with warehouse.held_open():  # as the Dagster assets run it
            pipe.run(source)
        seconds = time.perf_counter() - began
        rows = sum(m.row_counts.get(t, 0) for m in [pipe.last_trace.last_normalize_info] for t in m.row_counts
                   if not t.startswith("_dlt"))
        return rows, seconds

    def measure(key: str, name: str, dataset: str, source, label: str) -> None:
        """Load and record rows, seconds, the seconds the demo spent making the data (a real provider's servers
        do that part) and the rate of our client path without them."""
        demo_before = demo_seconds()
        rows, seconds = load(name, dataset, source)
        demo = demo_seconds() - demo_before
        client = max(seconds - demo, 1e-9)
        results[key] = {"rows": rows, "seconds": round(seconds, 1), "demo_seconds": round(demo, 1),
                        "rows_per_s": round(rows / seconds), "client_rows_per_s": round(rows / client)}
        measures.append((label, key))
        print(f"  ingest {label}: {rows:,} rows in {seconds:.1f}s ({demo:.1f}s making demo data; "
              f"{rows / client:,.0f} rows/s without it)", flush=True)

    print(f"organisation: {args.developers} developers, {args.days} days ({start} .. {end - dt.timedelta(days=1)})",
          flush=True)
    load("org_directory", "raw_org", org_directory_source())
    load("pricing", "raw_pricing", pricing_source())
    measured = set(args.sources.split(","))
    sample = dt.timedelta(days=args.sample_days)
    # `cursor_events` without `cursor`: the year's per-request events in bulk; Cursor's API resources land empty
    events_only = "cursor_events" in measured and "cursor" not in measured
    measures = []  # (label, results key) of each ingestion measured, in order
    ingestion_phase = phase_start()

    def sources(provider: str, make, first: dt.date, stop: dt.date, lookback: int) -> tuple[object, object]:
        """The provider's source for [first - lookback, stop), and for Cursor in columnar mode the per-request
        events apart (bench/columnar.py): members, daily usage and spend still come through the API."""
        source = make(start_date=first.isoformat(), end_date=stop.isoformat(), lookback_days=lookback)
        if provider != "cursor" or args.events != "columnar":
            return source, None
        return source.with_resources("team_members", "daily_usage", "spend"), columnar_events(first - dt.timedelta(
            days=lookback), stop)

    def columnar_events(first: dt.date, stop: dt.date):
        from bench.columnar import columnar_cursor_events
        from ingestion.demo.cursor import cursor_team

        return columnar_cursor_events(cursor_team(demo_world()), first.isoformat(), stop.isoformat(), args.rate_scale,
                                      empty_spend=events_only)

    def parts(provider: str, name: str, source) -> list[tuple[str, str, object]]:
        """(results key suffix, label, source) of each ingestion measured apart: Copilot's usage-metrics report
        files (most of its rows, read in bulk) apart from its API calls (seats, and premium requests asked per seat
        holder and day: thousands of small answers a day at L)."""
        if provider != "copilot":
            return [("", name, source)]
        return [("_reports", f"{name} usage-metrics report files", source.with_resources("usage_metrics")),
                ("_api", f"{name} seats, premium requests, billing usage (API)",
                 source.with_resources("seats", "premium_requests", "billing_usage"))]

    events_label = f"cursor per-request events (numpy -> Arrow -> dlt, rate x{args.rate_scale:g})"
    cursor_api_label = "cursor members, daily usage, spend (API)"
    if events_only:
        measure("ingest_cursor_events_columnar", "cursor", "raw_cursor", columnar_events(start, end), events_label)
    for provider, make, dataset in [p for p in PROVIDERS if p[0] not in measured]:
        # the last `sample` days, or no day at all: empty tables, so that dbt finds every table it reads
        # (Cursor's API resources never in events-only mode: the demo derives daily usage and the billing cycle's
        # spend from its per-event generator, a month of per-event draws per call at L; measured at M)
        sampled = sample and not (provider == "cursor" and events_only)
        source, _ = sources(provider, make, end - sample if sampled else end, end, 0)
        if provider == "cursor" and events_only:  # spend lands empty from the columnar source
            source = source.with_resources("team_members", "daily_usage")
        if not sampled:
            load(provider, dataset, source)
            print(f"  ingest {provider}: not measured (empty tables only)", flush=True)
            continue
        name = cursor_api_label if provider == "cursor" and args.events == "columnar" else provider
        for part, label, one in parts(provider, name, source):
            measure(f"ingest_{provider}{part}_sample", provider, dataset, one, "focus_files (the demo's whole export)"
                    if provider == "focus_files" else f"{label}, last {args.sample_days} days only")
    daily_providers = tuple(p for p in PROVIDERS if p[0] in measured or (
        sample and not (p[0] == "cursor" and events_only)))
    for provider, make, dataset in [p for p in PROVIDERS if p[0] in measured]:
        source, events = sources(provider, make, start, end, 0)
        if events is not None:
            measure("ingest_cursor_events_columnar", "cursor", "raw_cursor", events, events_label)
        for part, label, one in parts(provider, cursor_api_label if provider == "cursor" and args.events == "columnar"
                                      else provider, source):
            measure(f"ingest_{provider}{part}", provider, dataset, one, label)

    phase_end("ingestion", ingestion_phase)
    # the sampled days repeated back over the period (bench/history.py), as a real organisation has a year of them:
    # the models that share AI cost over work in flight read every pull request and ticket of the history, and the
    # agent sessions and their anomaly rules every agent request
    import duckdb

    from bench.history import sampled_repeats

    for result, what, repeat in sampled_repeats(measured, args.sample_days):
        began = time.perf_counter()
        with duckdb.connect(warehouse.duckdb_path) as con:
            results[result] = repeat(con, start, args.sample_days)
        print(f"  {what} for the period (the last {args.sample_days} days repeated back): "
              + ", ".join(f"{rows:,} {table}" for table, rows in results[result].items())
              + f" ({time.perf_counter() - began:.1f}s, not measured)", flush=True)
    env = {**os.environ, **warehouse.dbt_env()}
    dbt_peaks: list[int] = []

    def run_dbt(*extra: str, command: tuple[str, ...] = tuple(DBT_BUILD), window_env: dict[str, str] | None = None) -> None:
        dbt = [sys.executable, str(ROOT / "bench" / "peak_rss_dbt.py"), *command, "--project-dir",
               str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR), "--quiet", *extra]
        done = subprocess.run(dbt, env={**env, **(window_env or {})}, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"dbt {' '.join(command + extra)} failed:\n{done.stdout[-4000:]}{done.stderr[-2000:]}")
        out = done.stdout
        dbt_peaks.append(int(out.rsplit("PEAK_RSS_MIB=", 1)[1].split()[0]))

    # the history's last days fingerprinted before the build and recorded after it, as a scheduled build records
    # them (orchestration/changed_days.py): the daily runs below compare their lookback with them (not timed)
    history_window = {"min_date": start.isoformat(), "max_date": (end - dt.timedelta(days=1)).isoformat()}
    history_built = narrowed_window(warehouse, history_window, start, lookback_days(), ensure_dbt_manifest())
    phase = phase_start()
    run_dbt("--full-refresh")
    results["dbt_full_build_s"] = round(phase_end("full build", phase), 1)
    history_built.recorded(warehouse)
    print(f"  dbt build (full, all data tests): {results['dbt_full_build_s']}s", flush=True)
    # the floor's aggregates the way the project makes them: the finance rollup and every model upstream of it
    # (staging, pricing, identity, allocation, the ledger), models only, no tests, nothing else downstream
    phase = phase_start()
    run_dbt("--select", "+fct_ai_spend_by_period", "--full-refresh", command=("run",))
    results["dbt_rollup_path_s"] = round(phase_end("rollup path", phase), 1)
    print(f"  dbt run +fct_ai_spend_by_period (full, models only): {results['dbt_rollup_path_s']}s", flush=True)

    import duckdb

    con = duckdb.connect(str(warehouse_path := Path(warehouse.duckdb_path)), read_only=True)
    results["ledger_rows"] = con.execute("select count(*) from marts.fct_ai_usage_daily").fetchone()[0]
    results["allocated_lines"] = con.execute("select count(*) from intermediate.int_usage_allocated").fetchone()[0]
    results["raw_rows"] = sum(con.execute(f"select count(*) from {t}").fetchone()[0] for t in (
        "raw_anthropic.usage_messages", "raw_anthropic.cost_report", "raw_openai.usage_completions",
        "raw_openai.costs", "raw_cursor.usage_events"))
    con.execute(f"set memory_limit = '{os.environ.get('DUCKDB_MEMORY_LIMIT', '4GB')}'")
    phase = phase_start()
    con.execute(FLOOR_SQL).fetchall()
    results["floor_s"] = round(phase_end("floor", phase), 3)
    # the same query twice more, its data now in the page cache and DuckDB's buffers: the first run, what the builds
    # are divided by, reads the raw tables from wherever the builds left them; these say how much of it was the disk
    results["floor_again_s"] = []
    for _ in range(2):
        began = time.perf_counter()
        con.execute(FLOOR_SQL).fetchall()
        results["floor_again_s"].append(round(time.perf_counter() - began, 3))
    results["full_build_over_floor"] = round(results["dbt_full_build_s"] / max(results["floor_s"], 0.01), 1)
    results["rollup_path_over_floor"] = round(results["dbt_rollup_path_s"] / max(results["floor_s"], 0.01), 1)
    print(f"  floor (one DuckDB query over the raw tables): {results['floor_s']}s (run again: "
          f"{', '.join(f'{s}s' for s in results['floor_again_s'])}); the full build is "
          f"{results['full_build_over_floor']}x the first", flush=True)
    con.close()

    # one daily partition, as the schedule runs it: yesterday (a day the history above left out, so the run loads a
    # new day as the schedule's does), with the restatement lookback over days already loaded
    day, end = end, end + dt.timedelta(days=1)
    began, demo_before = time.perf_counter(), demo_seconds()
    phase = phase_start()
    daily_loads: dict[str, list[float]] = {}  # provider: [seconds, of which making demo data]

    def daily_load(provider: str, dataset: str, source) -> None:
        demo_began, load_began = demo_seconds(), time.perf_counter()
        load(provider, dataset, source)
        spent = daily_loads.setdefault(provider, [0.0, 0.0])
        spent[0] += time.perf_counter() - load_began
        spent[1] += demo_seconds() - demo_began

    if events_only:
        daily_load("cursor", "raw_cursor", columnar_events(day - dt.timedelta(days=lookback_days()), end))
    for provider, make, dataset in daily_providers:
        source, events = sources(provider, make, day, end, lookback_days())
        for one in (source, None if events_only else events):
            if one is not None:
                daily_load(provider, dataset, one)
    results["daily_dlt_s"] = round(time.perf_counter() - began, 1)
    results["daily_dlt_by_provider"] = {p: {"seconds": round(t, 1), "demo_seconds": round(d, 1)}
                                        for p, (t, d) in daily_loads.items()}
    results["daily_demo_s"] = round(demo_seconds() - demo_before, 1)
    phase_end("daily dlt", phase)
    # the lookback's days the loads left as they were built are not rebuilt: fingerprinted, timed with dbt's part
    phase = phase_start()
    fingerprinting = time.perf_counter()
    narrowed = narrowed_window(warehouse, dbt_window(day, end, lookback_days()), day, lookback_days(),
                               ensure_dbt_manifest())
    results["daily_fingerprint_s"] = round(time.perf_counter() - fingerprinting, 2)
    window = narrowed.window
    run_dbt(window_env=dbt_window_env(window))
    narrowed.recorded(warehouse)
    phase_end("daily dbt", phase)
    results["daily_incremental_s"] = round(time.perf_counter() - began, 1)
    results["daily_dbt_s"] = round(results["daily_incremental_s"] - results["daily_dlt_s"], 1)
    # the same build again at once, nothing new loaded: dbt's own elapsed time (without its start and parse) for
    # both, and the nodes that took longest beyond their second run, tell a first build after the day's loads from
    # the build's run-to-run spread (docs/performance-history.md, stops 36 and 42)
    dbt_target = dbt_target_dir()
    first_elapsed, first_nodes = run_results(dbt_target)
    again_began = time.perf_counter()
    run_dbt(window_env=dbt_window_env(window))
    results["daily_dbt_again_s"] = round(time.perf_counter() - again_began, 1)
    again_elapsed, again_nodes = run_results(dbt_target)
    results["daily_dbt_elapsed_s"] = {"first": round(first_elapsed, 1), "again": round(again_elapsed, 1)}
    results["daily_dbt_slower_first"] = [list(node) for node in slower_first(first_nodes, again_nodes)]
    print(f"  daily incremental run (dlt {results['daily_dlt_s']}s, {results['daily_demo_s']}s of it making demo data, + dbt build for {window['min_date']}.."
          f"{window['max_date']} {results['daily_dbt_s']}s): {results['daily_incremental_s']}s", flush=True)
    print(f"  the same dbt build again: {results['daily_dbt_again_s']}s (dbt's own elapsed time: first "
          f"{results['daily_dbt_elapsed_s']['first']}s, again {results['daily_dbt_elapsed_s']['again']}s)", flush=True)

    # the next day, yesterday, as the schedule runs it: the daily job through Dagster in a new process (as Dagster's
    # run launcher starts each run), on a Dagster instance of its own with the SQLite storage `make run` and the
    # schedule use, so its start-up, its event bookkeeping, the raw tables' Great Expectations checks, dbt through
    # dagster-dbt (its tests as asset checks), the exports and the brief are in it. Where Cursor's per-request events
    # come in bulk (columnar), they and Cursor's API resources land the bench's way first (the demo API would take
    # minutes a day at L) and Cursor's assets are left out of the job; its raw checks still run. The alert
    # notifications are left out: a bench pages nobody.
    day, end = end, end + dt.timedelta(days=1)
    cursor_apart = args.events == "columnar"
    written = previous_focus_files(day, work)
    print(f"  FOCUS files the day before's run leaves (not timed): {written}", flush=True)
    demo_before, phase = demo_seconds(), phase_start()
    if cursor_apart:
        source, events = sources("cursor", cursor_source, day, end, lookback_days())
        for one in (None if events_only else source, events):
            if one is not None:
                load("cursor", "raw_cursor", one)
    results["dagster_cursor_apart_s"] = round(time.perf_counter() - phase[0], 1) if cursor_apart else None
    results["dagster_daily"] = dagster_daily_in_own_process(day, work, cursor_apart)
    results["dagster_daily"]["demo_seconds"] = round(  # with Cursor's, loaded apart
        results["dagster_daily"].get("demo_seconds", 0.0) + demo_seconds() - demo_before, 1)
    phase_seconds = phase_end("daily via Dagster", phase)
    # to the job's end: the process's exit after it delays no run (Dagster records the run's end before)
    results["dagster_daily_s"] = round(phase_seconds - results["dagster_daily"].get("exit_s", 0.0), 1)
    print(f"  the next day through Dagster ({day}): {results['dagster_daily_s']}s "
          f"({results['dagster_daily']['demo_seconds']}s making demo data): {results['dagster_daily']}", flush=True)

    own = max(own_peak_mib(), results["dagster_daily"].get("process_peak_mib", 0))  # and the Dagster day's process
    children = max(dbt_peaks)
    worker = results["dagster_daily"].get("suites_worker_peak_mib", 0)
    results["peak_rss_mib"] = {"pipeline_process": round(own), "largest_dbt_process": children,
                               "dagster_suites_worker": worker}
    results["warehouse_mib"] = round(warehouse_path.stat().st_size / 2**20)

    table = "\n".join([
        f"| measure ({args.developers} developers x {args.days} days, {os.cpu_count()} cores, "
        f"{platform.python_version()}; sources: {args.sources.replace(',', ', ')}) | value |",
        "|---|---|",
        *[f"| ingestion, {name}: rows, seconds (of which making demo data), rows/s (without it) | "
          f"{results[key]['rows']:,}, {results[key]['seconds']} s ({results[key]['demo_seconds']} s), "
          f"{results[key]['rows_per_s']:,} rows/s ({results[key]['client_rows_per_s']:,}) |" for name, key in measures],
        f"| dbt build, full refresh (all models and data tests) | {results['dbt_full_build_s']} s |",
        f"| floor: billed USD and tokens per provider per day, one DuckDB query over {results['raw_rows']:,} raw rows "
        f"| {results['floor_s']} s (full build = {results['full_build_over_floor']}x); run again at once: "
        f"{' s, '.join(str(s) for s in results['floor_again_s'])} s |",
        f"| the same aggregates our way: `dbt run --select +fct_ai_spend_by_period --full-refresh` (the finance rollup "
        f"and every model upstream of it, no tests) | {results['dbt_rollup_path_s']} s "
        f"(= {results['rollup_path_over_floor']}x the floor) |",
        f"| ledger rows (fct_ai_usage_daily) / allocated token lines | {results['ledger_rows']:,} / "
        f"{results['allocated_lines']:,} |",
        *([f"| engineering output for the period: the last {args.sample_days} days of GitHub and Jira repeated back "
           f"with keys of their own (pull requests / deployments / issues) | " + " / ".join(
               f"{rows:,}" for rows in results["engineering_output_rows"].values()) + " |"]
          if "engineering_output_rows" in results else []),
        *([f"| agent telemetry for the period: the last {args.sample_days} days of agent requests repeated back with "
           f"ids of their own (requests) | {results['agent_telemetry_rows']['raw_agent_telemetry.agent_requests']:,} |"]
          if "agent_telemetry_rows" in results else []),
        f"| one daily incremental run: dlt (every provider, 1 day + lookback; of which making demo data) + dbt build"
        f" (of which fingerprinting the lookback; dbt's window) | {results['daily_dlt_s']} s "
        f"({results['daily_demo_s']} s) + {results['daily_dbt_s']} s ({results['daily_fingerprint_s']} s; "
        f"{window['min_date']}..{window['max_date']}) = {results['daily_incremental_s']} s |",
        f"| the same daily dbt build run again at once (nothing new loaded): seconds; dbt's own elapsed time (no "
        f"start or parse), the first build / again; the nodes slowest the first time beyond their second run "
        f"(first / again) | {results['daily_dbt_again_s']} s; {results['daily_dbt_elapsed_s']['first']} s / "
        f"{results['daily_dbt_elapsed_s']['again']} s; " + ", ".join(
            f"{node.split('.')[2][:60]} {first:.2f} / {again:.2f} s"  # a test's name without its hash, cut short
            for node, first, again in results["daily_dbt_slower_first"])
        + " |",
        "| the daily run's dlt by provider: seconds (of which making demo data) | " + ", ".join(
            f"{p} {v['seconds']} s ({v['demo_seconds']} s)" for p, v in results["daily_dlt_by_provider"].items()) + " |",
        dagster_line(results),
        f"| peak memory: pipeline process / largest dbt process | {own:,.0f} MiB / {children:,.0f} MiB"
        + (f" (the Dagster run's Great Expectations worker beside it: {worker:,.0f} MiB)" if worker else "") + " |",
        f"| warehouse file | {results['warehouse_mib']:,} MiB |",
        "| the machine meanwhile, by phase: CPU time waiting for the disk / taken by the hypervisor, wall time with a "
        "task stalled on the disk (a disturbed run shows here) | " + (", ".join(
            f"{name} {v['iowait_pct']}% / {v['steal_pct']}% / "
            + (f"{v['io_stall_pct']}%" if "io_stall_pct" in v else "n/a")
            for name, v in noise.items()) or "not available (no /proc)") + " |",
    ])
    print("\n" + table)
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{args.developers}x{args.days}.md").write_text(table + "\n")
    (out / f"{args.developers}x{args.days}.json").write_text(json.dumps(results, indent=2))
    record(size_label, table, dt.date.today(), args.doc)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    else:
        print(f"warehouse kept in {work}")


def dagster_daily_in_own_process(day: dt.date, work: Path, cursor_apart: bool) -> dict[str, float]:
    """`dagster_daily` in a new Python process, as Dagster's run launcher starts every scheduled run (`dagster api
    execute_run`), so the run pays for its interpreter, imports and definitions. Its seconds and where they went:
    `process_s` from the launch to the job's end, of which `startup_s` before the job (interpreter, imports,
    definitions, resolving the job), `world_s` the demo organisation's simulation (counted in `demo_seconds` too: a
    provider's servers do that) and `wall_s` the job; `exit_s`, the process's exit after the job, is not counted."""
    report = work / f"dagster_day_{day}.json"
    launched, began = time.time(), time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "bench.run", "--dagster-day", day.isoformat(), "--work", str(work),
                           "--report", str(report), "--launched", repr(launched),
                           *(["--cursor-apart"] if cursor_apart else [])], cwd=ROOT)
    process = time.perf_counter() - began
    if done.returncode != 0 or not report.exists():
        return {"failed_steps": [f"the Dagster day's process (exit code {done.returncode})"]}
    result = json.loads(report.read_text())
    if "failed_steps" not in result:
        result["startup_s"] = round(result["process_s"] - result["wall_s"] - result["world_s"], 1)
        result["exit_s"] = round(process - result["process_s"], 1)
    return result


def dagster_day_main(day: dt.date, work: Path, cursor_apart: bool, report: Path, launched: float) -> None:
    """The child of `dagster_daily_in_own_process`, launched at `launched` (the epoch's seconds): the environment is
    the bench's (inherited), the demo timed as the bench times it; writes the job's figures, the process's seconds
    from its launch to the job's end, its demo seconds and its peak memory to `report`."""
    import orchestration.definitions  # noqa: F401  the code location first, as a run worker loads it
    from ingestion.settings import demo_engineering, demo_world

    time_the_demo()
    world_began = time.perf_counter()
    _timed(lambda: (demo_world(), demo_engineering()))()  # the demo's simulation: a provider's servers do that
    world = time.perf_counter() - world_began
    result: dict = dagster_daily(day, work, cursor_apart)
    process = time.time() - launched
    if "failed_steps" not in result:
        result.update(process_s=round(process, 1), world_s=round(world, 1))
    result["demo_seconds"] = round(demo_seconds(), 1)
    result["process_peak_mib"] = round(own_peak_mib())
    from orchestration.checks import WORKER_PEAKS_MIB  # the raw-table suites' process beside it (raw_suites.py)

    result["suites_worker_peak_mib"] = round(max(filter(None, WORKER_PEAKS_MIB), default=0))
    report.write_text(json.dumps(result))


def own_peak_mib() -> float:
    """This process's own peak memory (VmHWM), whatever it forked."""
    from orchestration.raw_suites import own_peak_mib as peak

    return peak() or 0.0


def dagster_daily(day: dt.date, work: Path, cursor_apart: bool) -> dict[str, float]:
    """Run the daily job for `day`'s partition through Dagster; return its wall time and where it went (seconds)."""
    from dagster import AssetKey, DagsterInstance

    from orchestration.definitions import DAILY_JOB_NAME, defs

    home = dagster_home(work)
    graph = defs.resolve_asset_graph()
    assets = {key for key in graph.get_all_asset_keys() if key != AssetKey(["alerts", "notifications"])
              and not (cursor_apart and key.path[:2] == ["raw", "cursor"])}
    job = defs.resolve_job_def(DAILY_JOB_NAME).get_subset(asset_selection=assets,
                                                          asset_check_selection=set(graph.asset_check_keys))
    began = time.perf_counter()
    with DagsterInstance.local_temp(tempdir=str(home)) as instance:
        result = job.execute_in_process(  # logged at INFO, as `make run` logs
            instance=instance, partition_key=day.isoformat(), raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}})
        wall = time.perf_counter() - began
        steps = step_seconds(instance.all_logs(result.run_id))
    if not result.success:  # the table is still written, saying so; the log above says why
        return {"failed_steps": sorted(e.step_key for e in result.all_events if e.event_type_value == "STEP_FAILURE")}
    dbt_log = next(dbt_target_dir().glob(f"ai_finops_dbt_assets-{result.run_id[:7]}-*/dbt.log"), None)
    parts = {"wall_s": wall, "ingestion_s": 0.0, "raw_checks_s": 0.0, "dbt_step_s": 0.0,
             "dbt_itself_s": log_span(dbt_log) if dbt_log else float("nan"), "exports_and_checks_s": 0.0}
    for step, seconds in steps.items():
        part = ("ingestion_s" if step.startswith("ingest_") else "raw_checks_s" if step.startswith("raw__")
                else "dbt_step_s" if step == "ai_finops_dbt_assets" else "exports_and_checks_s")
        parts[part] += seconds
    parts["between_steps_s"] = wall - sum(steps.values())
    return {name: round(value, 1) for name, value in parts.items()}


def dagster_home(work: Path) -> Path:
    """The bench's Dagster instance folder (with the project's dagster.yaml) and export folder, inside `work`."""
    home = work / "dagster_home"
    home.mkdir(exist_ok=True)
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    os.environ["FINOPS_EXPORT_DIR"] = str(work / "exports")
    return home


def previous_focus_files(day: dt.date, work: Path) -> str:
    """The FOCUS files the day before's scheduled run leaves, written before the run through Dagster is timed: that
    partition's export run on its own, so it writes its whole window, `day` - 1 - lookback .. `day` - 1. The phases
    before built those days without Dagster and wrote no file, and the export writes every day of its window whose
    file is missing: without them the timed run would write its lookback's days too, which no scheduled run after
    the first does (pending_exports.py). It also creates the instance's storage, as a scheduled run finds it.
    Returns the days written, as the export's metadata gives them."""
    from dagster import DagsterInstance, materialize

    from orchestration.assets.exports import focus_export
    from orchestration.resources import Warehouse

    with DagsterInstance.local_temp(tempdir=str(dagster_home(work))) as instance:
        result = materialize([focus_export], partition_key=(day - dt.timedelta(days=1)).isoformat(),
                             instance=instance, resources={"warehouse": Warehouse.from_env()})
        materialization = result.asset_materializations_for_node(focus_export.op.name)[0]
    return str(materialization.metadata["days_written"].value)


def step_seconds(records) -> dict[str, float]:
    """Each step's seconds from STEP_START to STEP_SUCCESS (or STEP_FAILURE) in a run's event log."""
    started, seconds = {}, {}
    for record in records:
        event = record.dagster_event
        if event is None:
            continue
        if event.event_type_value == "STEP_START":
            started[record.step_key] = record.timestamp
        elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE") and record.step_key in started:
            seconds[record.step_key] = record.timestamp - started[record.step_key]
    return seconds


def dbt_target_dir() -> Path:
    """dbt's target folder, where the bench's dbt and dagster-dbt's run folders write: DBT_TARGET_PATH when set
    (relative to the dbt project), else the project's target/."""
    from orchestration.resources import DBT_PROJECT_DIR

    return DBT_PROJECT_DIR / os.environ.get("DBT_TARGET_PATH", "target")


def run_results(target: Path) -> tuple[float, dict[str, float]]:
    """dbt's elapsed seconds and each node's seconds, from the run_results.json its last invocation wrote."""
    data = json.loads((target / "run_results.json").read_text())
    return data["elapsed_time"], {node["unique_id"]: node["execution_time"] for node in data["results"]}


def slower_first(first: dict[str, float], again: dict[str, float], top: int = 5) -> list[tuple[str, float, float]]:
    """The `top` nodes that took longest beyond their second run, (node, first seconds, again seconds), the largest
    difference first; only nodes slower the first time, and only nodes both runs ran."""
    slower = [(node, seconds, again[node]) for node, seconds in first.items()
              if node in again and seconds > again[node]]
    return sorted(slower, key=lambda item: (item[2] - item[1], item[0]))[:top]


def log_span(path: Path) -> float:
    """Seconds from the first to the last line of a dbt.log written as JSON lines (DBT_LOG_FORMAT=json)."""
    stamps = [json.loads(line)["info"]["ts"] for line in path.read_text().splitlines() if line.startswith("{")]
    first, last = (dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")) for stamp in (stamps[0], stamps[-1]))
    return (last - first).total_seconds()


def dagster_line(results: dict) -> str:
    d = results["dagster_daily"]
    apart = results["dagster_cursor_apart_s"]
    if "failed_steps" in d:
        return f"| the next day through Dagster, as the schedule runs it | failed in {', '.join(d['failed_steps'])} |"
    return ("| the next day through Dagster, as the schedule runs it (in a process of its own; every provider, 1 day +"
            " lookback; raw-table checks, dbt build, exports, brief; no alerts sent): seconds (of which making demo"
            " data) and where they went | "
            + (f"{apart} s Cursor loaded the bench's way + " if apart is not None else "")
            + f"{d['process_s']} s the run's own process to the job's end (its start-up {d['startup_s']} s, the demo "
            f"organisation simulated {d['world_s']} s, the job {d['wall_s']} s; its exit {d['exit_s']} s not "
            f"counted) = {results['dagster_daily_s']} s "
            f"({d['demo_seconds']} s): ingestion steps "
            f"{d['ingestion_s']} s, raw-table checks {d['raw_checks_s']} s, dbt step {d['dbt_step_s']} s (dbt's own "
            f"log {d['dbt_itself_s']} s), exports, brief and mart checks {d['exports_and_checks_s']} s, between "
            f"steps {d['between_steps_s']} s |")


def record(label: str, table: str, day: dt.date, doc: Path) -> None:
    """Put this size's table into `doc` (docs/performance.md), replacing the previous run of the same size."""
    text = doc.read_text() if doc.exists() else "# Performance\n"
    begin, end = f"<!-- bench:{label} -->", f"<!-- /bench:{label} -->"
    block = f"{begin}\n### Size {label} (measured {day})\n\n{table}\n{end}"
    if begin in text:
        text = text[:text.index(begin)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    doc.write_text(text)


if __name__ == "__main__":
    main()
