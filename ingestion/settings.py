"""Run-wide settings: demo or live mode, the run window, where transports come from.

Mode: `FINOPS_MODE=demo|live`. Unset, the project runs the demo when no provider admin key is configured and
live as soon as one is (then providers without a key are skipped, never filled with demo data).
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from functools import lru_cache
from typing import Optional

import dlt
import requests

from ingestion import http

PROVIDERS = ("anthropic", "openai")
DEFAULT_LOOKBACK_DAYS = 3


def provider_key(provider: str) -> Optional[str]:
    """The admin key from env (`SOURCES__<PROVIDER>__ADMIN_API_KEY`) or `.dlt/secrets.toml`; never logged."""
    value = dlt.secrets.get(f"sources.{provider}.admin_api_key", str)
    return str(value) if value else None


def finops_mode() -> str:
    mode = os.environ.get("FINOPS_MODE", "").strip().lower()
    if mode in ("demo", "live"):
        return mode
    if mode:
        raise ValueError(f"FINOPS_MODE must be 'demo' or 'live', not {mode!r}")
    return "live" if any(provider_key(p) for p in PROVIDERS) else "demo"


def lookback_days() -> int:
    """Days re-fetched before each window so providers' late revisions replace what we loaded (FINOPS_LOOKBACK_DAYS)."""
    return int(os.environ.get("FINOPS_LOOKBACK_DAYS", DEFAULT_LOOKBACK_DAYS))


@dataclass(frozen=True)
class ProviderConnection:
    """Everything a provider source needs to talk to its API (or to the demo behind the same shapes)."""

    provider: str
    base_url: str
    api_key: Optional[str]
    demo: bool

    @property
    def enabled(self) -> bool:
        return bool(self.api_key)

    def session(self) -> requests.Session:
        adapter = demo_adapter(self.provider) if self.demo else None
        return http.make_session(adapter, self.base_url if adapter else "")


def connection(provider: str) -> ProviderConnection:
    from ingestion.demo.server import DEMO_ANTHROPIC_URL, DEMO_API_KEY, DEMO_OPENAI_URL

    if finops_mode() == "demo":
        url = {"anthropic": DEMO_ANTHROPIC_URL, "openai": DEMO_OPENAI_URL}[provider]
        return ProviderConnection(provider, url, DEMO_API_KEY, demo=True)
    base_url = dlt.config.get(f"sources.{provider}.base_url", str)
    if not base_url:
        raise ValueError(f"sources.{provider}.base_url is not configured (SOURCES__{provider.upper()}__BASE_URL)")
    return ProviderConnection(provider, base_url.rstrip("/"), provider_key(provider), demo=False)


def demo_seed() -> int:
    return int(os.environ.get("FINOPS_DEMO_SEED", "42"))


@lru_cache(maxsize=4)
def _world(org_path: str, seed: int, today: dt.date):
    from ingestion.demo.generator import DemoWorld
    from ingestion.org_directory import load_org_directory

    return DemoWorld(load_org_directory(org_path), seed=seed, today=today)


def demo_world():
    """The demo organisation for the configured directory and seed, as of today (UTC)."""
    from ingestion.org_directory import default_org_directory_path

    today = dt.datetime.now(dt.timezone.utc).date()
    return _world(str(default_org_directory_path()), demo_seed(), today)


def demo_adapter(provider: str):
    from ingestion.demo.server import AnthropicDemoAdapter, OpenAIDemoAdapter

    world = demo_world()
    return {"anthropic": AnthropicDemoAdapter, "openai": OpenAIDemoAdapter}[provider](world)
