"""Keys and base URLs come from dlt's config conventions under exactly the documented environment names."""

from __future__ import annotations

import datetime as dt

import pytest

from ingestion import _common, settings
from orchestration.partitions import default_run_window
from orchestration.run import resolve_window

NAMES = ["SOURCES__ANTHROPIC__ADMIN_API_KEY", "SOURCES__ANTHROPIC__BASE_URL", "SOURCES__OPENAI__ADMIN_API_KEY",
         "SOURCES__OPENAI__BASE_URL", "FINOPS_MODE", "FINOPS_TODAY"]


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in NAMES:
        monkeypatch.delenv(name, raising=False)


def test_no_keys_means_the_demo(monkeypatch):
    assert settings.finops_mode() == "demo"
    conn = settings.connection("anthropic")
    assert conn.demo and conn.base_url.startswith("https://demo.invalid")


def test_documented_environment_names_switch_to_the_real_api(monkeypatch):
    monkeypatch.setenv("SOURCES__ANTHROPIC__ADMIN_API_KEY", "sk-ant-admin01-test-key")
    monkeypatch.setenv("SOURCES__ANTHROPIC__BASE_URL", "https://proxy.example/anthropic/")
    monkeypatch.setenv("SOURCES__OPENAI__BASE_URL", "https://openai-gw.example/v1")
    assert settings.finops_mode() == "live"
    anthropic = settings.connection("anthropic")
    assert (anthropic.base_url, anthropic.api_key, anthropic.demo) == (
        "https://proxy.example/anthropic", "sk-ant-admin01-test-key", False)
    openai = settings.connection("openai")
    # live mode without an OpenAI key: the source is skipped, never filled with demo data
    assert (openai.base_url, openai.enabled, openai.demo) == ("https://openai-gw.example/v1", False, False)


def test_default_base_urls_are_the_vendors(monkeypatch):
    monkeypatch.setenv("SOURCES__OPENAI__ADMIN_API_KEY", "sk-admin-test-key")
    assert settings.connection("openai").base_url == "https://api.openai.com/v1"
    assert settings.connection("anthropic").base_url == "https://api.anthropic.com"


def test_a_wrong_mode_is_an_error(monkeypatch):
    monkeypatch.setenv("FINOPS_MODE", "staging")
    with pytest.raises(ValueError, match="FINOPS_MODE"):
        settings.finops_mode()


def test_the_clock_is_the_utc_date_unless_pinned(monkeypatch):
    before = dt.datetime.now(dt.timezone.utc).date()
    today = _common.today_utc()
    assert today in (before, dt.datetime.now(dt.timezone.utc).date())
    assert settings.demo_world().today == today


def test_a_pinned_clock_moves_the_demo_and_the_run_window_together(monkeypatch):
    monkeypatch.setenv("FINOPS_TODAY", "2026-03-10")
    assert _common.today_utc() == dt.date(2026, 3, 10)
    assert settings.finops_mode() == "demo"
    # the demo organisation serves whole days before its today; the default windows end there too
    assert settings.demo_world().today == dt.date(2026, 3, 10)
    assert settings.demo_engineering().today == dt.date(2026, 3, 10)
    assert not settings.demo_world().has_data(dt.date(2026, 3, 10))
    assert settings.demo_world().has_data(dt.date(2026, 3, 9))
    assert default_run_window(3) == (dt.date(2026, 3, 7), dt.date(2026, 3, 10))
    assert resolve_window(None, None, 7) == (dt.date(2026, 3, 3), dt.date(2026, 3, 10))
    # START..END past the pinned today stops at its yesterday, as it would at the real today
    assert resolve_window("2026-03-08", "2026-03-20", 7) == (dt.date(2026, 3, 8), dt.date(2026, 3, 10))


def test_a_pinned_clock_is_refused_with_live_apis(monkeypatch):
    monkeypatch.setenv("FINOPS_TODAY", "2026-03-10")
    monkeypatch.setenv("FINOPS_MODE", "live")
    with pytest.raises(ValueError, match="FINOPS_TODAY .* refused in live mode"):
        settings.finops_mode()
    monkeypatch.delenv("FINOPS_MODE")
    monkeypatch.setenv("SOURCES__ANTHROPIC__ADMIN_API_KEY", "sk-ant-admin01-test-key")  # live by its key
    with pytest.raises(ValueError, match="refused in live mode"):
        settings.connection("anthropic")


def test_a_malformed_pinned_clock_is_a_clear_error(monkeypatch):
    monkeypatch.setenv("FINOPS_TODAY", "10/03/2026")
    with pytest.raises(ValueError, match="FINOPS_TODAY must be a date like"):
        _common.today_utc()
