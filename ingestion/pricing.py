"""List prices from the `genai-prices` package, as a dated price book the warehouse can join on.

Two tables land in `raw_pricing`:

* `model_prices`: one row per (provider, model, valid_from, price context, context tier, price key) with the price in
  USD per million tokens. Dated intervals come from the package's `StartDateConstraint`s (prices change over time);
  the price context is `standard`, `batch`, `flex` or `priority` (the package's request variants); the context tier
  is `base` or `long` (the package's tiered prices: the long-context rate applies per *request*, so the warehouse only
  uses it where the provider reports the request's context window, never on a day's aggregated tokens).
  Each row carries a content-addressed `price_version`; rows are merged, never deleted, so a price the package later
  revises keeps its old version beside the new one and facts priced earlier keep the version they used.
* `model_refs` (one per provider dataset): every model id seen in usage, resolved to the package's model, or left
  unresolved (then the warehouse keeps its tokens and flags it unpriced).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from decimal import Decimal
from typing import Any, Iterable, Optional

import dlt
import genai_prices
import pyarrow as pa
from genai_prices import data_snapshot, types

PRICED_PROVIDERS = ("anthropic", "openai", "google")
PRICE_CONTEXTS: dict[str, Optional[dict[str, str]]] = {
    "standard": None,
    "batch": {"processing": "batch"},
    "flex": {"service_tier": "flex"},
    "priority": {"service_tier": "priority"},
}
# our token types -> the package's price attribute, and what to charge when a model has no price of its own for it
PRICE_KEYS: dict[str, tuple[str, tuple[str, ...]]] = {
    "input": ("input_mtok", ()),
    "output": ("output_mtok", ()),
    "cache_write_5m": ("cache_write_mtok", ("input_mtok",)),
    "cache_write_1h": ("cache_write_1h_mtok", ("cache_write_mtok", "input_mtok")),
    "cache_read": ("cache_read_mtok", ("input_mtok",)),
}
HALF_PRICE_BATCH = {"anthropic", "openai", "google"}
BATCH_FACTOR = Decimal("0.5")
OPEN_END = dt.date(9999, 12, 31)
EPOCH = dt.date(2000, 1, 1)


def _start_dates(model: types.ModelInfo) -> list[dt.date]:
    dates = {EPOCH}
    if isinstance(model.prices, list):
        dates |= {c.constraint.start_date for c in model.prices if isinstance(c.constraint, types.StartDateConstraint)}
    for variant in model.price_variants or ():
        if isinstance(variant.constraint, types.StartDateConstraint):
            dates.add(variant.constraint.start_date)
    return sorted(dates)


def _has_time_of_day_prices(model: types.ModelInfo) -> bool:
    conditions = list(model.prices) if isinstance(model.prices, list) else []
    constraints = [c.constraint for c in conditions] + [v.constraint for v in model.price_variants or ()]
    return any(isinstance(c, types.TimeOfDateConstraint) for c in constraints)


def _tier_values(price: Any) -> tuple[Optional[Decimal], Optional[Decimal], Optional[int]]:
    """(base, long-context, threshold) for a plain or tiered price."""
    if price is None:
        return None, None, None
    if isinstance(price, types.TieredPrices):
        if not price.tiers:
            return price.base, price.base, None
        first = price.tiers[0]
        return price.base, first.price, first.start
    return price, price, None


def price_book_rows(providers: Iterable[str] = PRICED_PROVIDERS) -> list[dict[str, Any]]:
    snapshot = data_snapshot.get_snapshot()
    package_version = genai_prices.__version__
    rows: list[dict[str, Any]] = []
    for provider in snapshot.providers:
        if provider.id not in providers:
            continue
        for model in provider.models:
            if _has_time_of_day_prices(model):
                continue  # off-peak pricing cannot be applied to daily buckets; such models stay unpriced
            starts = _start_dates(model)
            for i, valid_from in enumerate(starts):
                valid_to = starts[i + 1] if i + 1 < len(starts) else OPEN_END
                at = dt.datetime(valid_from.year, valid_from.month, valid_from.day, tzinfo=dt.timezone.utc)
                standard = model.get_prices(at, None)
                for context_name, context in PRICE_CONTEXTS.items():
                    prices = model.get_prices(at, context)
                    # Batch is documented at half price by every provider we price; where the package has no batch
                    # variant for the date, derive it instead of charging batch work at the interactive rate.
                    halve = context_name == "batch" and provider.id in HALF_PRICE_BATCH and prices == standard
                    for tier in ("base", "long"):
                        values: dict[str, tuple[Decimal, bool, Optional[int]]] = {}
                        for key, (attr, fallbacks) in PRICE_KEYS.items():
                            chosen, derived = None, False
                            for candidate in (attr, *fallbacks):
                                base, long, threshold = _tier_values(getattr(prices, candidate, None))
                                if base is not None:
                                    value = base if tier == "base" else long
                                    chosen = (value * BATCH_FACTOR if halve else value, threshold)
                                    derived = candidate != attr or halve
                                    break
                            if chosen is not None:
                                values[key] = (chosen[0], derived, chosen[1])
                        if not values:
                            continue
                        fingerprint = "|".join(f"{k}={v[0]}" for k, v in sorted(values.items()))
                        version = f"{valid_from:%Y%m%d}-{hashlib.sha1(fingerprint.encode()).hexdigest()[:10]}"
                        for key, (usd, derived, threshold) in values.items():
                            rows.append({
                                "provider": provider.id,
                                "price_model_id": model.id,
                                "price_model_name": model.name,
                                "valid_from": valid_from,
                                "valid_to": valid_to,
                                "price_context": context_name,
                                "context_tier": tier,
                                "long_context_threshold_tokens": threshold,
                                "price_key": key,
                                "usd_per_million_tokens": usd,
                                "is_derived_price": derived,
                                "price_version": version,
                                "source": f"genai-prices {package_version}",
                            })
    return rows


PRICE_SCHEMA = pa.schema([
    pa.field("provider", pa.string(), nullable=False),
    pa.field("price_model_id", pa.string(), nullable=False),
    ("price_model_name", pa.string()),
    pa.field("valid_from", pa.date32(), nullable=False),
    ("valid_to", pa.date32()),
    pa.field("price_context", pa.string(), nullable=False),
    pa.field("context_tier", pa.string(), nullable=False),
    ("long_context_threshold_tokens", pa.int64()),
    pa.field("price_key", pa.string(), nullable=False),
    ("usd_per_million_tokens", pa.decimal128(38, 12)),
    ("is_derived_price", pa.bool_()),
    pa.field("price_version", pa.string(), nullable=False),
    ("source", pa.string()),
    ("observed_at", pa.timestamp("us", tz="UTC")),
])


@dlt.source(name="pricing", max_table_nesting=0)
def pricing_source(providers: tuple[str, ...] = PRICED_PROVIDERS):
    @dlt.resource(
        name="model_prices",
        write_disposition="merge",
        primary_key=("provider", "price_model_id", "valid_from", "price_context", "context_tier", "price_key",
                     "price_version"),
    )
    def model_prices():
        # every current row is stamped with this run's time; a version the package no longer gives keeps its older
        # stamp, which is how staging tells the current version of an interval from a superseded one
        observed_at = dt.datetime.now(dt.timezone.utc)
        rows = [{**row, "observed_at": observed_at} for row in price_book_rows(providers)]
        yield pa.Table.from_pylist(rows, schema=PRICE_SCHEMA)

    return model_prices


def resolve_model(provider: str, model_ref: str) -> dict[str, Optional[str]]:
    """The package's model for a provider's model id (aliases and dated ids included), or nulls if unknown."""
    try:
        found_provider, model = data_snapshot.get_snapshot().find_provider_model(model_ref, None, provider, None)
    except LookupError:
        return {"price_provider": None, "price_model_id": None, "price_model_name": None}
    return {"price_provider": found_provider.id, "price_model_id": model.id, "price_model_name": model.name}


MODEL_REFS_SCHEMA = pa.schema([
    pa.field("provider", pa.string(), nullable=False),
    pa.field("model_ref", pa.string(), nullable=False),
    ("price_provider", pa.string()),
    ("price_model_id", pa.string()),
    ("price_model_name", pa.string()),
])


def model_refs_resource(provider: str, parent: Any, model_column: str = "model") -> Any:
    """A transformer on a usage resource: the distinct model ids of each page, resolved against the price book."""

    @dlt.transformer(data_from=parent, name="model_refs", write_disposition="merge",
                     primary_key=("provider", "model_ref"))
    def model_refs(page: pa.Table):
        if model_column not in page.column_names:  # the parent's quarantine tables pass through here too
            return
        refs = sorted({m for m in page.column(model_column).to_pylist() if m})
        rows = [{"provider": provider, "model_ref": ref, **resolve_model(provider, ref)} for ref in refs]
        yield pa.Table.from_pylist(rows, schema=MODEL_REFS_SCHEMA)

    return model_refs
