"""The benchmark's split of ingestion time: what the demo spends making data is counted apart from our client."""

from __future__ import annotations

import time

import requests
from requests.adapters import BaseAdapter

import ingestion.settings as settings
from bench import run
from bench.columnar import ColumnarCursorEvents
from ingestion.demo.telemetry import DemoCloudBill, DemoTelemetry


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
