"""The price book against public list prices written out by hand (USD per million tokens)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from ingestion.pricing import price_book_rows, resolve_model


@pytest.fixture(scope="module")
def book():
    rows = price_book_rows(("anthropic", "openai"))
    return {(r["provider"], r["price_model_id"], r["valid_from"], r["price_context"], r["context_tier"], r["price_key"]): r
            for r in rows}


def price(book, provider, model, day, context, tier, key):
    for (p, m, valid_from, c, t, k), row in book.items():
        if (p, m, c, t, k) == (provider, model, context, tier, key) and valid_from <= day < row["valid_to"]:
            return row
    raise KeyError((provider, model, day, context, tier, key))


def test_sonnet_4_5_list_prices(book):
    day = dt.date(2026, 11, 1)
    assert price(book, "anthropic", "claude-sonnet-4-5", day, "standard", "base", "input")["usd_per_million_tokens"] == 3
    assert price(book, "anthropic", "claude-sonnet-4-5", day, "standard", "base", "output")["usd_per_million_tokens"] == 15
    assert price(book, "anthropic", "claude-sonnet-4-5", day, "standard", "base", "cache_write_5m")["usd_per_million_tokens"] == Decimal("3.75")
    assert price(book, "anthropic", "claude-sonnet-4-5", day, "standard", "base", "cache_write_1h")["usd_per_million_tokens"] == 6
    assert price(book, "anthropic", "claude-sonnet-4-5", day, "standard", "base", "cache_read")["usd_per_million_tokens"] == Decimal("0.3")
    # long-context requests (over 200k input tokens) pay $6 / $22.50
    assert price(book, "anthropic", "claude-sonnet-4-5", day, "standard", "long", "input")["usd_per_million_tokens"] == 6
    assert price(book, "anthropic", "claude-sonnet-4-5", day, "standard", "long", "output")["usd_per_million_tokens"] == Decimal("22.5")


def test_batch_is_half_price_even_before_the_package_lists_it(book):
    before = price(book, "anthropic", "claude-haiku-4-5", dt.date(2026, 9, 1), "batch", "base", "input")
    after = price(book, "anthropic", "claude-haiku-4-5", dt.date(2026, 11, 1), "batch", "base", "input")
    assert (before["usd_per_million_tokens"], before["is_derived_price"]) == (Decimal("0.5"), True)
    assert (after["usd_per_million_tokens"], after["is_derived_price"]) == (Decimal("0.5"), False)


def test_openai_cached_input_and_missing_keys_fall_back_sensibly(book):
    day = dt.date(2026, 11, 1)
    assert price(book, "openai", "gpt-5", day, "standard", "base", "input")["usd_per_million_tokens"] == Decimal("1.25")
    assert price(book, "openai", "gpt-5", day, "standard", "base", "cache_read")["usd_per_million_tokens"] == Decimal("0.125")
    # OpenAI lists no cache-write price for gpt-5: cache writes are input tokens, charged at the input rate
    cache_write = price(book, "openai", "gpt-5", day, "standard", "base", "cache_write_5m")
    assert (cache_write["usd_per_million_tokens"], cache_write["is_derived_price"]) == (Decimal("1.25"), True)


def test_versions_change_only_when_prices_do(book):
    sonnet = [r for r in book.values() if r["price_model_id"] == "claude-sonnet-4-5" and r["provider"] == "anthropic"
              and r["price_context"] == "standard" and r["context_tier"] == "base"]
    by_interval = {r["valid_from"]: r["price_version"] for r in sonnet}
    assert len(set(by_interval.values())) == len(by_interval)  # one version per interval...
    assert {v.split("-")[1] for v in by_interval.values()} == {sonnet[0]["price_version"].split("-")[1]}  # ...same prices


@pytest.mark.parametrize("provider, ref, expected", [
    ("anthropic", "claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
    ("anthropic", "claude-4-opus", "claude-opus-4-0"),
    ("openai", "gpt-5-mini-2025-08-07", "gpt-5-mini"),
    ("anthropic", "claude-nebula-preview", None),
])
def test_model_ids_resolve_through_aliases_and_dates(provider, ref, expected):
    assert resolve_model(provider, ref)["price_model_id"] == expected
