"""`make bench` end to end on a tiny organisation: every phase runs (ingestion, the repeat-back, the full build with
all data tests, the rollup path, the floor, the daily run the bench's way and through Dagster) and the size's table
is written. Times are not asserted: speed is measured by the bench itself, never by a test.

Five developers put every directory team below min_group_size, so the unit-economics data tests run with every team
suppressed (a singular test once failed there: it compared the suppressed teams' null figures with their spend)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_bench_runs_through_on_a_tiny_organisation(tmp_path):
    doc = tmp_path / "performance.md"
    env = {**os.environ, "RUNTIME__DLTHUB_TELEMETRY": "false", "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
           "DO_NOT_TRACK": "1", "GX_ANALYTICS_ENABLED": "false", "TMPDIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--size", "S", "--developers", "5", "--days", "14",
         "--sources", "cursor_events", "--sample-days", "3", "--doc", str(doc)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=840)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    text = doc.read_text()
    assert text.count("<!-- bench:5x14 -->") == 1 and "### Size 5x14" in text
    rows = dict(re.findall(r"^\| (.+?) \| (.+?) \|$", text, flags=re.M))
    ledger_rows = int(next(v for k, v in rows.items() if k.startswith("ledger rows")).split(" / ")[0].replace(",", ""))
    assert ledger_rows > 0
    # both repeat-back steps ran (the sampled sources are all but Cursor's events)
    assert any(k.startswith("engineering output for the period") for k in rows)
    assert any(k.startswith("agent telemetry for the period") for k in rows)
    assert "the next day through Dagster" in text
    # the temporary warehouse is removed without --keep
    assert not list(tmp_path.glob("finops-bench-*"))
