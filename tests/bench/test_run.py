"""The benchmark's helpers: what the demo spends making data is counted apart from our client, the machine's noise,
dbt's run results, and a size's table written into docs/performance.md without the notes around it."""

from __future__ import annotations

import datetime as dt
import json
import re
import time
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import requests
from requests.adapters import BaseAdapter

import ingestion.settings as settings
from bench import run
from bench.columnar import ColumnarCursorEvents
from ingestion.demo.telemetry import DemoCloudBill, DemoTelemetry

ROOT = Path(__file__).resolve().parents[2]


class SlowDemoAdapter(BaseAdapter):
    """A demo API that takes 0.3 s to answer."""

    def send(self, request, **kwargs):
        time.sleep(0.3)
        response = requests.Response()
        response.status_code, response._content, response.request = 200, b'{"ok": true}', request
        return response

    def close(self) -> None:
        pass


def test_the_demo_apis_time_is_counted_and_the_clients_is_not(monkeypatch):
    # time_the_demo replaces these; monkeypatch puts the originals back after the test
    for owner, name in ((ColumnarCursorEvents, "day"), (DemoTelemetry, "write_telemetry"),
                        (DemoCloudBill, "write_focus")):
        monkeypatch.setattr(owner, name, getattr(owner, name))

    def build_adapter(provider: str) -> BaseAdapter:
        time.sleep(0.1)  # simulating the demo organisation counts too
        return SlowDemoAdapter()

    monkeypatch.setattr(settings, "demo_adapter", build_adapter)
    monkeypatch.setattr(run, "_DEMO_SECONDS", [0.0])
    run.time_the_demo()

    session = requests.Session()
    session.mount("https://demo.invalid/", settings.demo_adapter("openai"))
    assert session.get("https://demo.invalid/v1/usage").json() == {"ok": True}  # answers pass through unchanged
    time.sleep(0.2)  # the client's own work after the answer
    # 0.1 s building + 0.3 s answering; the client's 0.2 s would make it 0.6
    assert 0.4 <= run.demo_seconds() < 0.5


# /proc/stat's first line sums every CPU: user nice system idle iowait irq softirq steal guest guest_nice (guest time
# is already inside user, so only the first eight fields make the total)
STAT_BEFORE = "cpu  100 0 50 800 20 0 5 25 7 3\ncpu0 50 0 25 400 10 0 2 12 3 1\nintr 12345\n"
STAT_AFTER = "cpu  300 0 150 1300 120 0 5 75 40 9\ncpu0 150 0 75 650 60 0 2 37 20 4\nintr 23456\n"
PSI_BEFORE = "some avg10=0.00 avg60=0.00 avg300=0.00 total=1000000\nfull avg10=0.00 avg60=0.00 avg300=0.00 total=500000\n"
PSI_AFTER = "some avg10=9.00 avg60=3.00 avg300=1.00 total=4000000\nfull avg10=4.00 avg60=1.00 avg300=0.50 total=2000000\n"


def test_machine_noise_is_each_counters_share_of_the_phase():
    before = run.machine_counters(STAT_BEFORE, PSI_BEFORE)
    after = run.machine_counters(STAT_AFTER, PSI_AFTER)
    # CPU ticks 1000 -> 1950 (guest columns left out): iowait +100 of 950 = 10.5%, steal +50 of 950 = 5.3%;
    # IO stall ("some", not "full") 3 s of a 12 s phase = 25%
    assert before == {"cpu_ticks": 1000, "iowait_ticks": 20, "steal_ticks": 25, "io_stall_us": 1000000}
    assert run.machine_noise(before, after, wall_seconds=12.0) == {
        "iowait_pct": 10.5, "steal_pct": 5.3, "io_stall_pct": 25.0}


def test_without_pressure_stall_information_only_the_cpu_shares_are_given():
    before = run.machine_counters(STAT_BEFORE, None)
    after = run.machine_counters(STAT_AFTER, PSI_AFTER)  # one side without PSI: no stall figure rather than a wrong one
    assert run.machine_noise(before, after, wall_seconds=12.0) == {"iowait_pct": 10.5, "steal_pct": 5.3}


def test_the_nodes_slower_the_first_time_come_largest_difference_first():
    first = {"model.a": 8.4, "model.b": 2.0, "test.c": 0.9, "model.d": 1.0, "model.only_first": 9.0}
    again = {"model.a": 5.1, "model.b": 2.5, "test.c": 0.2, "model.d": 0.7, "model.only_again": 4.0}
    # first minus again: a +3.3, c +0.7, d +0.3, b -0.5 (slower again: left out); nodes one run lacks are left out
    assert run.slower_first(first, again) == [("model.a", 8.4, 5.1), ("test.c", 0.9, 0.2), ("model.d", 1.0, 0.7)]
    assert run.slower_first(first, again, top=1) == [("model.a", 8.4, 5.1)]


def test_run_results_give_dbts_elapsed_time_and_each_nodes(tmp_path):
    (tmp_path / "run_results.json").write_text(json.dumps({"elapsed_time": 31.5, "results": [
        {"unique_id": "model.ai_finops.fct_x", "execution_time": 4.25, "status": "success"},
        {"unique_id": "test.ai_finops.pk_x", "execution_time": 0.5, "status": "pass"}]}))
    assert run.run_results(tmp_path) == (31.5, {"model.ai_finops.fct_x": 4.25, "test.ai_finops.pk_x": 0.5})


def test_a_run_replaces_its_sizes_table_and_keeps_the_notes_around_it(tmp_path):
    doc = tmp_path / "performance.md"
    doc.write_text("# Performance\n\nintro\n\n<!-- bench:L -->\n### Size L (measured 2026-01-01)\n\n| old | 1 |\n"
                   "<!-- /bench:L -->\n\nnotes on L\n\n<!-- bench:S -->\n### Size S\n\n| s | 2 |\n<!-- /bench:S -->\n")
    run.record("L", "| new | 3 |", dt.date(2026, 2, 1), doc)
    assert doc.read_text() == (
        "# Performance\n\nintro\n\n<!-- bench:L -->\n### Size L (measured 2026-02-01)\n\n| new | 3 |\n"
        "<!-- /bench:L -->\n\nnotes on L\n\n<!-- bench:S -->\n### Size S\n\n| s | 2 |\n<!-- /bench:S -->\n")
    run.record("M", "| m | 4 |", dt.date(2026, 2, 2), doc)  # a size not there yet goes at the end
    assert doc.read_text().endswith("<!-- /bench:S -->\n\n<!-- bench:M -->\n### Size M (measured 2026-02-02)\n\n"
                                    "| m | 4 |\n<!-- /bench:M -->\n")


def test_the_committed_tables_hold_nothing_a_bench_run_would_delete():
    # `make bench` replaces everything between a size's markers: the notes written about a table (readings against
    # the targets, what a stop changed) must stay outside them, or the next run of that size deletes them (until
    # stop 43 ~1,000 lines of L notes and M's reading sat inside)
    text = (ROOT / "docs" / "performance.md").read_text()
    sizes = re.findall(r"<!-- bench:(\w+) -->\n(.*?)<!-- /bench:\1 -->", text, flags=re.S)
    assert {size for size, _ in sizes} >= {"S", "M", "L"}
    for size, block in sizes:
        heading, blank, *table = block.rstrip("\n").split("\n")
        assert heading.startswith(f"### Size {size} (measured ") and blank == "", size
        assert table and all(line.startswith("|") for line in table), size


def test_the_days_before_the_timed_run_get_the_focus_files_the_day_befores_run_leaves(tmp_path, monkeypatch):
    # a FOCUS mart with rows on five days; the timed run is for Dec 5 with a 3-day lookback (Dec 2..5): the day
    # before's run, Dec 4 with its lookback, writes Dec 1..4, so the timed run finds its lookback's files there
    warehouse = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as con:
        con.execute("create schema marts")
        con.execute('create table marts.fct_focus_cost_and_usage (x_usage_date date, "BilledCost" decimal(18, 6))')
        con.execute("insert into marts.fct_focus_cost_and_usage values ('2026-11-30', 9), ('2026-12-01', 1.5), "
                    "('2026-12-02', 2), ('2026-12-02', 0.25), ('2026-12-04', 3), ('2026-12-05', 7)")
    monkeypatch.setenv("WAREHOUSE", "duckdb")
    monkeypatch.setenv("WAREHOUSE_PATH", str(warehouse))
    monkeypatch.setenv("FINOPS_PIPELINES_DIR", str(tmp_path / "pipelines"))
    monkeypatch.setenv("FINOPS_EXPORT_DIR", "")  # set by the bench: its work folder's exports/
    monkeypatch.setenv("FINOPS_LOOKBACK_DAYS", "3")
    assert run.previous_focus_files(dt.date(2026, 12, 5), tmp_path) == "2026-12-01..2026-12-04"
    folder = tmp_path / "exports" / "focus"
    assert sorted(p.name for p in folder.iterdir()) == [f"2026-12-0{d}.{s}" for d in (1, 2, 3, 4)
                                                        for s in ("csv", "parquet")]
    billed = {d: sum(float(v) for v in pq.read_table(folder / f"2026-12-0{d}.parquet")["BilledCost"].to_pylist())
              for d in (1, 2, 3, 4)}
    assert billed == {1: 1.5, 2: 2.25, 3: 0.0, 4: 3.0}
