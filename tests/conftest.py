"""Shared fixtures: a demo organisation with a fixed 'today', transports that script faults, temporary warehouses."""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional
from urllib.parse import parse_qs, urlparse

os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
# keep retry waits short in tests; Retry-After still wins where a test sends it
os.environ.setdefault("RUNTIME__REQUEST_BACKOFF_FACTOR", "0.05")

import dlt  # noqa: E402
import pytest  # noqa: E402
import requests  # noqa: E402
from requests.adapters import BaseAdapter  # noqa: E402

from ingestion.demo.engineering import DemoEngineering  # noqa: E402
from ingestion.demo.generator import DemoWorld  # noqa: E402
from ingestion.demo.output_server import DEMO_JIRA_EMAIL, GitHubDemoAdapter, JiraDemoAdapter  # noqa: E402
from ingestion.demo.server import DEMO_API_KEY, AnthropicDemoAdapter, OpenAIDemoAdapter  # noqa: E402
from ingestion.org_directory import DEMO_ORG_DIRECTORY, load_org_directory  # noqa: E402
from ingestion.settings import ProviderConnection  # noqa: E402

# The suite runs on two processes (pytest-xdist, one test file per process at a time). The slow files go first so
# the two processes finish close together; everything else fills in behind them.
SLOW_FILES_FIRST = ("test_end_to_end.py", "test_planted_anomalies.py", "test_crash_safety.py", "test_postgres.py")


def pytest_configure(config) -> None:
    """Parse the dbt project once, before any worker starts: two workers parsing into the same target/ at once would
    race (the controller has no `workerinput`; each worker then finds the manifest fresh)."""
    if not hasattr(config, "workerinput"):
        from orchestration.resources import ensure_dbt_manifest

        ensure_dbt_manifest()


def pytest_collection_modifyitems(config, items) -> None:
    def rank(item) -> int:
        name = item.path.name
        return SLOW_FILES_FIRST.index(name) if name in SLOW_FILES_FIRST else len(SLOW_FILES_FIRST)

    items.sort(key=rank)  # stable: the order inside each file is kept


TODAY = dt.date(2026, 11, 20)
TEST_URLS = {"anthropic": "https://anthropic.test", "openai": "https://openai.test/v1",
             "github": "https://github.test/api/v3", "jira": "https://jira.test"}


@pytest.fixture(scope="session")
def demo_org():
    return load_org_directory(DEMO_ORG_DIRECTORY)


@pytest.fixture(scope="session")
def world(demo_org) -> DemoWorld:
    return DemoWorld(demo_org, seed=42, today=TODAY)


@pytest.fixture(scope="session")
def engineering(demo_org) -> DemoEngineering:
    return DemoEngineering(demo_org, seed=42, today=TODAY)


@dataclass
class Recorded:
    method: str
    path: str
    params: dict[str, list[str]]
    headers: dict[str, str]


@dataclass
class ScriptedTransport(BaseAdapter):
    """Wraps a demo adapter; `faults[n]` (1-based call number) replaces that call's answer:
    an int status (with Retry-After for 429), "timeout", "bad-json", or a callable(body, path) -> body;
    `faults["*"]` applies to every call without a fault of its own.

    Calls to a path ending with one of `passthrough` are answered by the inner adapter as they are, recorded in
    `passed` instead of `calls`, and never faulted (call numbers count the other calls only)."""

    inner: BaseAdapter
    faults: dict[int, Any] = field(default_factory=dict)
    calls: list[Recorded] = field(default_factory=list)
    passthrough: tuple[str, ...] = ()
    passed: list[Recorded] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__()

    def send(self, request, **kwargs):
        url = urlparse(request.url)
        recorded = Recorded(request.method, url.path, parse_qs(url.query), dict(request.headers))
        if self.passthrough and url.path.endswith(self.passthrough):
            self.passed.append(recorded)
            return self.inner.send(request, **kwargs)
        self.calls.append(recorded)
        fault = self.faults.get(len(self.calls), self.faults.get("*"))
        if fault == "timeout":
            raise requests.exceptions.ReadTimeout("read timed out (scripted)")
        if isinstance(fault, int):
            response = self.inner.send(request, **kwargs)
            response.status_code = fault
            response._content = json.dumps({"type": "error", "error": {"type": "scripted", "message": f"scripted {fault}"}}).encode()
            if fault == 429:
                response.headers["Retry-After"] = "1"
            return response
        response = self.inner.send(request, **kwargs)
        if fault == "bad-json":
            response._content = response._content[: len(response._content) // 2]
        elif callable(fault):
            response._content = json.dumps(fault(json.loads(response._content), url.path)).encode()
        return response

    def close(self) -> None:
        pass


@pytest.fixture
def transport(world, engineering) -> Callable[[str, Optional[dict]], tuple[ProviderConnection, requests.Session, ScriptedTransport]]:
    """(connection, session, scripted transport) for a provider, speaking the demo's API behind a test URL.

    Anthropic's Claude Code report (one call per day, its own tests in test_claude_code_source.py) is served but
    passed through by default (`ScriptedTransport.passthrough`): call counts and call-numbered faults stay about the
    usage and cost reports. `passthrough=()` scripts every call."""
    from ingestion.anthropic import CLAUDE_CODE_PATH
    from ingestion.http import make_session

    def build(provider: str, faults: Optional[dict] = None, passthrough: Optional[tuple[str, ...]] = None):
        url = TEST_URLS[provider]
        adapters = {"anthropic": (AnthropicDemoAdapter, world), "openai": (OpenAIDemoAdapter, world),
                    "github": (GitHubDemoAdapter, engineering), "jira": (JiraDemoAdapter, engineering)}
        adapter, demo = adapters[provider]
        if passthrough is None:
            passthrough = (CLAUDE_CODE_PATH,) if provider == "anthropic" else ()
        scripted = ScriptedTransport(adapter(demo, url), faults or {}, passthrough=passthrough)
        connection = ProviderConnection(provider, url, DEMO_API_KEY, demo=False,
                                        username=DEMO_JIRA_EMAIL if provider == "jira" else None)
        return connection, make_session(scripted, url), scripted

    return build


@dataclass
class Call:
    """One request as the API received it: its query parameters and, for a POST, its JSON body."""

    method: str
    path: str
    params: dict[str, list[str]]
    body: Optional[dict[str, Any]]
    headers: dict[str, str]


class Recorder(BaseAdapter):
    """Records each request and may tamper with the raw response (`tamper(call, response)`)."""

    def __init__(self, inner: BaseAdapter, tamper: Optional[Callable[[Call, requests.Response], None]] = None):
        super().__init__()
        self.inner, self.tamper = inner, tamper
        self.calls: list[Call] = []

    def send(self, request, **kwargs):
        url = urlparse(request.url)
        call = Call(request.method, url.path, parse_qs(url.query), json.loads(request.body) if request.body else None,
                    dict(request.headers))
        self.calls.append(call)
        response = self.inner.send(request, **kwargs)
        if self.tamper:
            self.tamper(call, response)
        return response

    def close(self) -> None:
        pass

    def to(self, path: str) -> list[Call]:
        return [c for c in self.calls if c.path == path]

    def under(self, prefix: str) -> list[Call]:
        return [c for c in self.calls if c.path.startswith(prefix)]


def recorded_provider(provider: str, url: str, adapter: BaseAdapter, faults: Optional[dict] = None,
                      tamper: Optional[Callable[[Call, requests.Response], None]] = None,
                      api_key: Optional[str] = DEMO_API_KEY) -> tuple[ProviderConnection, requests.Session, Recorder]:
    """(connection, session, recorder) for a live-mode `provider` whose API is the demo `adapter` behind `url`,
    with scripted `faults` (`ScriptedTransport`) and every request recorded (`Recorder`)."""
    from ingestion.http import make_session

    recorder = Recorder(adapter, tamper)
    session = make_session(ScriptedTransport(recorder, faults or {}), url)
    return ProviderConnection(provider, url, api_key, demo=False), session, recorder


@pytest.fixture
def pipeline(tmp_path: Path) -> Callable[[str, str], dlt.Pipeline]:
    def build(name: str, dataset: str) -> dlt.Pipeline:
        return dlt.pipeline(
            pipeline_name=f"test_{name}",
            destination=dlt.destinations.duckdb(str(tmp_path / "warehouse.duckdb")),
            dataset_name=dataset,
            pipelines_dir=str(tmp_path / "pipelines"),
        )

    return build


def query(pipeline: dlt.Pipeline, sql: str) -> list[tuple]:
    with pipeline.sql_client() as client:
        return [tuple(r) for r in client.execute_sql(sql)]


def damaged_gzip(packed: bytes) -> bytes:
    """gzip bytes with 40 bytes of the deflate stream past the header flipped: reading them fails in zlib itself
    (`zlib.error`, which is not an OSError), not at the header."""
    return packed[:20] + bytes(b ^ 0x55 for b in packed[20:60]) + packed[60:]


def table_exists(pipeline: dlt.Pipeline, table: str) -> bool:
    with pipeline.sql_client() as client:
        rows = client.execute_sql(
            "select count(*) from information_schema.tables where table_schema = %s and table_name = %s",
            pipeline.dataset_name, table)
    return rows[0][0] > 0
