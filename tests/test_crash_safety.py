"""Crash safety: `make run`'s process (and its dbt child) is killed with SIGKILL at 8 points spread over extract,
normalize/load and transform; runs resume from whatever each kill left behind; the marts end up exactly those of an
uninterrupted run. Kills are chained (each killed run starts from the previous one's debris) and the warehouse is
checked against the reference after the last kill.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb
import pytest

ROOT = Path(__file__).resolve().parent.parent
TODAY = dt.datetime.now(dt.timezone.utc).date()
LAST = TODAY - dt.timedelta(days=2)
FIRST = LAST - dt.timedelta(days=1)

# (a line the run prints, seconds to wait after it): the kill lands inside extract, load or dbt
KILL_POINTS = [
    ("org directory:", 0.2),
    ("ingest_anthropic - anthropic:", 1.0),
    ("ingest_copilot - copilot:", 0.5),
    ("ingest_agent_telemetry - agent_telemetry:", 0.5),
    ("dbt build for", 0.5),
    ("START sql incremental model intermediate.int_usage_allocated", 0.05),
    ("START sql incremental model marts.fct_ai_usage_daily", 0.05),
    ("Finished running", 0.0),
]
CHECK_EVERY = len(KILL_POINTS)

pytestmark = pytest.mark.e2e


def environment(tmp: Path, name: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME"}  # an in-memory instance: nothing to clean up
    env.update({"WAREHOUSE_PATH": str(tmp / f"{name}.duckdb"), "FINOPS_PIPELINES_DIR": str(tmp / f"{name}-pipelines"),
                "FINOPS_MODE": "demo", "FINOPS_LOOKBACK_DAYS": "1", "PYTHONUNBUFFERED": "1",
                # the demo's seats and FOCUS files depend on its today: every run, before or after midnight UTC,
                # must see the same organisation as the reference run
                "FINOPS_TODAY": TODAY.isoformat()})
    return env


def command() -> list[str]:
    return [sys.executable, "-m", "orchestration.run", "--start", FIRST.isoformat(), "--end", LAST.isoformat()]


def complete_run(env) -> float:
    began = time.monotonic()
    result = subprocess.run(command(), cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return time.monotonic() - began


def killed_run(env, trigger: str, delay: float) -> bool:
    """Start a run, SIGKILL its whole process group `delay` s after `trigger` is printed; True if it was killed."""
    process = subprocess.Popen(command(), cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, start_new_session=True)
    killed = threading.Event()

    def kill():
        try:
            os.killpg(process.pid, signal.SIGKILL)
            killed.set()
        except ProcessLookupError:
            pass

    for line in process.stdout:
        if trigger in line and not killed.is_set():
            if delay:
                threading.Timer(delay, kill).start()
            else:
                kill()
    process.wait(timeout=600)
    return killed.is_set() and process.returncode == -signal.SIGKILL


def marts(path: str) -> dict[str, list[tuple]]:
    con = duckdb.connect(path, read_only=True)
    try:
        tables = [r[0] for r in con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' order by 1").fetchall()]
        return {t: con.execute(f"select * from marts.{t} order by all").fetchall() for t in tables}
    finally:
        con.close()


def test_killed_runs_resume_to_exactly_the_uninterrupted_marts(tmp_path):
    reference_env = environment(tmp_path, "reference")
    complete_run(reference_env)
    reference = marts(reference_env["WAREHOUSE_PATH"])
    assert reference["fct_ai_usage_daily"] and reference["fct_unit_economics"]

    env = environment(tmp_path, "crashed")
    kills, recoveries = 0, []
    for index, (trigger, delay) in enumerate(KILL_POINTS, start=1):
        kills += killed_run(env, trigger, delay)
        if index % CHECK_EVERY == 0:
            recoveries.append(complete_run(env))
            assert marts(env["WAREHOUSE_PATH"]) == reference, f"after kill point {index} ({trigger} +{delay}s)"
    assert kills >= len(KILL_POINTS) - 2, f"only {kills} of {len(KILL_POINTS)} runs were still running at their kill point"
    print(f"\ncrash safety: {kills} kills survived; recovery runs took {', '.join(f'{s:.0f}s' for s in recoveries)}")
