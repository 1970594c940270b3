"""Run-wide settings: demo or live mode, the run window, where transports come from.

Mode: `FINOPS_MODE=demo|live`. Unset, the project runs the demo when no provider admin key is configured and
live as soon as one is (then providers without a key are skipped, never filled with demo data).
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Optional

import dlt
import requests
from dlt.common.configuration import configspec, resolve_configuration
from dlt.common.configuration.specs import BaseConfiguration
from dlt.common.typing import TSecretStrValue

from ingestion import _common, http

PROVIDERS = ("anthropic", "openai", "github", "jira", "cursor", "copilot")
# the secret each source authenticates with: SOURCES__<PROVIDER>__<NAME> or [sources.<provider>] in secrets.toml
SECRET_NAMES = {"anthropic": "admin_api_key", "openai": "admin_api_key", "github": "token", "jira": "api_token",
                "cursor": "admin_api_key", "copilot": "token"}  # Copilot also needs SOURCES__COPILOT__ORGANIZATION
DEFAULT_LOOKBACK_DAYS = 3


@configspec
class _ProviderSecrets(BaseConfiguration):
    """The secrets a source may have. Declared as secrets, so dlt resolves them like any source credential and never
    records their values (dlt's run traces keep the values of plain config verbatim)."""

    admin_api_key: Optional[TSecretStrValue] = None
    token: Optional[TSecretStrValue] = None
    api_token: Optional[TSecretStrValue] = None


def provider_key(provider: str) -> Optional[str]:
    """The provider's key from env (e.g. `SOURCES__ANTHROPIC__ADMIN_API_KEY`) or `.dlt/secrets.toml`; never logged."""
    secrets = resolve_configuration(_ProviderSecrets(), sections=("sources", provider))
    value = getattr(secrets, SECRET_NAMES[provider])
    return str(value) if value else None


def pipelines_dir() -> Path:
    """dlt's working state (`FINOPS_PIPELINES_DIR`, default `data/dlt_pipelines` in the project): each pipeline's
    folder, and beside them the demo's files and the org directory's parsed copies."""
    configured = os.environ.get("FINOPS_PIPELINES_DIR")
    return Path(configured) if configured else Path(__file__).resolve().parent.parent / "data" / "dlt_pipelines"


def finops_mode() -> str:
    mode = os.environ.get("FINOPS_MODE", "").strip().lower()
    if mode and mode not in ("demo", "live"):
        raise ValueError(f"FINOPS_MODE must be 'demo' or 'live', not {mode!r}")
    mode = mode or ("live" if any(provider_key(p) for p in PROVIDERS) else "demo")
    if mode == "live" and os.environ.get(_common.CLOCK_ENV, "").strip():
        raise ValueError(f"{_common.CLOCK_ENV} pins the clock of the demo organisation and is refused in live mode: "
                         "the providers' APIs answer for the real today. Unset it.")
    return mode


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
    username: Optional[str] = None  # Jira: the account email that goes with the API token

    @property
    def enabled(self) -> bool:
        return bool(self.api_key)

    def session(self) -> requests.Session:
        adapter = demo_adapter(self.provider) if self.demo else TRANSPORTS.get(self.base_url)
        return http.make_session(adapter, self.base_url if adapter else "")


# Transport adapters registered for a base URL (a recorded-traffic replayer, a corporate gateway's client, a test's
# fake API). The live code path is unchanged above the socket; nothing is registered by default.
TRANSPORTS: dict[str, requests.adapters.BaseAdapter] = {}


def connection(provider: str) -> ProviderConnection:
    from ingestion.demo.copilot_server import DEMO_COPILOT_URL
    from ingestion.demo.cursor_server import DEMO_CURSOR_URL
    from ingestion.demo.output_server import DEMO_GITHUB_URL, DEMO_JIRA_EMAIL, DEMO_JIRA_URL
    from ingestion.demo.server import DEMO_ANTHROPIC_URL, DEMO_API_KEY, DEMO_OPENAI_URL

    if finops_mode() == "demo":
        url = {"anthropic": DEMO_ANTHROPIC_URL, "openai": DEMO_OPENAI_URL, "github": DEMO_GITHUB_URL,
               "jira": DEMO_JIRA_URL, "cursor": DEMO_CURSOR_URL, "copilot": DEMO_COPILOT_URL}[provider]
        return ProviderConnection(provider, url, DEMO_API_KEY, demo=True,
                                  username=DEMO_JIRA_EMAIL if provider == "jira" else None)
    base_url = dlt.config.get(f"sources.{provider}.base_url", str)
    if not base_url:
        raise ValueError(f"sources.{provider}.base_url is not configured (SOURCES__{provider.upper()}__BASE_URL)")
    username = dlt.config.get(f"sources.{provider}.email", str) if provider == "jira" else None
    return ProviderConnection(provider, base_url.rstrip("/"), provider_key(provider), demo=False, username=username)


def demo_seed() -> int:
    return int(os.environ.get("FINOPS_DEMO_SEED", "42"))


def demo_revisions() -> tuple[tuple[dt.date, float], ...]:
    """`FINOPS_DEMO_REVISIONS=2026-11-20=1.1,...`: the demo provider restates those days' bills by the factors
    (how the restatement guarantee is demonstrated and tested)."""
    raw = os.environ.get("FINOPS_DEMO_REVISIONS", "").strip()
    pairs = [item.split("=") for item in raw.split(",") if item.strip()]
    return tuple((dt.date.fromisoformat(day.strip()), float(factor)) for day, factor in pairs)


@lru_cache(maxsize=4)
def _world(org_path: str, seed: int, today: dt.date, revisions: tuple[tuple[dt.date, float], ...]):
    from ingestion.demo.generator import DemoWorld
    from ingestion.org_directory import load_org_directory

    return DemoWorld(load_org_directory(org_path), seed=seed, today=today, revisions=dict(revisions))


def demo_world():
    """The demo organisation for the configured directory and seed, as of today (UTC, or FINOPS_TODAY)."""
    from ingestion.org_directory import default_org_directory_path

    return _world(str(default_org_directory_path()), demo_seed(), _common.today_utc(), demo_revisions())


@lru_cache(maxsize=4)
def _engineering(org_path: str, seed: int, today: dt.date):
    from ingestion.demo.engineering import DemoEngineering
    from ingestion.org_directory import load_org_directory

    return DemoEngineering(load_org_directory(org_path), seed=seed, today=today)


def demo_engineering():
    """The demo organisation's pull requests, deployments and Jira issues, as of today (UTC, or FINOPS_TODAY)."""
    from ingestion.org_directory import default_org_directory_path

    return _engineering(str(default_org_directory_path()), demo_seed(), _common.today_utc())


def demo_adapter(provider: str):
    from ingestion.demo.cursor import cursor_team
    from ingestion.demo.cursor_server import CursorDemoAdapter
    from ingestion.demo.output_server import GitHubDemoAdapter, JiraDemoAdapter
    from ingestion.demo.server import AnthropicDemoAdapter, OpenAIDemoAdapter

    if provider == "cursor":
        return CursorDemoAdapter(cursor_team(demo_world()))
    if provider == "copilot":
        from ingestion.demo.copilot import copilot_org
        from ingestion.demo.copilot_server import CopilotDemoAdapter

        return CopilotDemoAdapter(copilot_org(demo_world()))
    if provider in ("github", "jira"):
        return {"github": GitHubDemoAdapter, "jira": JiraDemoAdapter}[provider](demo_engineering())
    return {"anthropic": AnthropicDemoAdapter, "openai": OpenAIDemoAdapter}[provider](demo_world())
