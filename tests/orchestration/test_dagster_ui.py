"""Dagster's UI as a newcomer meets it: `dagster dev` on this workspace, opened in a real headless browser.

The asset catalog must show the groups a newcomer thinks in (one ingest group per source, staging, intermediate,
the marts by domain, the exports) and the assets' descriptions, all served by the same workspace.yaml `make dev`
uses. A screenshot is kept in test-artifacts/ for a person to look at."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.browser import artifact, browser_page, require_chromium

ROOT = Path(__file__).resolve().parents[2]
GROUPS = ["ingest_anthropic", "ingest_openai", "ingest_github", "ingest_jira", "ingest_org_directory",
          "ingest_pricing", "ingest_cursor", "ingest_copilot", "ingest_agent_telemetry", "ingest_focus_files",
          "staging", "intermediate", "marts_core", "marts_spend", "marts_unit_economics", "marts_agents",
          "marts_quality", "marts_focus", "exports"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def dagster_ui(tmp_path_factory):
    require_chromium()
    home = tmp_path_factory.mktemp("dagster_home")
    shutil.copy(ROOT / "dagster.yaml", home / "dagster.yaml")
    port = free_port()
    env = {**os.environ, "DAGSTER_HOME": str(home), "WAREHOUSE_PATH": str(home / "warehouse.duckdb"),
           "FINOPS_MODE": "demo"}
    dagster = Path(sys.executable).with_name("dagster")
    log = open(home / "dagster_dev.log", "w")
    process = subprocess.Popen([str(dagster), "dev", "-w", "workspace.yaml", "-h", "127.0.0.1", "-p", str(port)],
                               cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                if requests.get(f"{url}/server_info", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"dagster dev did not start:\n{(home / 'dagster_dev.log').read_text()[-3000:]}")
            time.sleep(1)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


def dismiss_welcome(page) -> None:
    """A first visit gets Dagster's community sign-up dialog; a newcomer would press Skip."""
    skip = page.get_by_role("button", name="Skip")
    try:
        skip.wait_for(timeout=5_000)
        skip.click()
    except Exception:  # noqa: BLE001 - no dialog this time
        pass


def test_the_ui_shows_the_asset_groups_a_newcomer_expects(dagster_ui):
    with browser_page() as page:
        page.goto(f"{dagster_ui}/asset-groups", wait_until="networkidle")
        # the code location loads in the background: wait for the last group to be listed
        page.get_by_text("marts_unit_economics", exact=True).first.wait_for(timeout=120_000)
        dismiss_welcome(page)
        text = page.inner_text("body")
        missing = [group for group in GROUPS if group not in text]
        assert missing == [], f"groups not shown in the UI: {missing}"
        page.screenshot(path=str(artifact("dagster_ui_asset_groups.png")), full_page=True)


def test_the_catalog_shows_what_each_asset_is(dagster_ui):
    with browser_page() as page:
        page.goto(f"{dagster_ui}/assets", wait_until="networkidle")
        page.get_by_text("exports / focus_daily", exact=False).first.wait_for(timeout=120_000)
        dismiss_welcome(page)
        text = page.inner_text("body")
        # descriptions written in the code (a Dagster asset) and in dbt's yml (a dbt model) both reach the UI
        assert "FOCUS 1.2 cost-and-usage files per day" in text
        page.screenshot(path=str(artifact("dagster_ui_catalog.png")))
        # the catalog list is virtualized (only the rows on screen are in the page): open the dbt model's own page
        page.goto(f"{dagster_ui}/assets/intermediate/int_billed_cost_lines", wait_until="networkidle")
        page.get_by_text("One row per provider cost-report line", exact=False).first.wait_for(timeout=120_000)
        assert "int_billed_cost_lines" in page.inner_text("body")
