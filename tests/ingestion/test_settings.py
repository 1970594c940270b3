"""Keys and base URLs come from dlt's config conventions under exactly the documented environment names."""

from __future__ import annotations

import pytest

from ingestion import settings

NAMES = ["SOURCES__ANTHROPIC__ADMIN_API_KEY", "SOURCES__ANTHROPIC__BASE_URL", "SOURCES__OPENAI__ADMIN_API_KEY",
         "SOURCES__OPENAI__BASE_URL", "FINOPS_MODE"]


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
