"""The benchmark's columnar Cursor events: the Cursor source's schema, and the plan's included-usage rule recomputed
here one event at a time (each member's calls in time order, cents summed through the month)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

import pytest

from bench.columnar import ColumnarCursorEvents
from ingestion.cursor import EVENT_SCHEMA
from ingestion.demo.cursor import CURSOR_MODEL_PRICES, INCLUDED_CENTS_PER_MONTH, MAX_MODE_SURCHARGE, cursor_team

DAYS = [dt.date(2026, 10, 1) + dt.timedelta(days=i) for i in range(20)]


@pytest.fixture(scope="module")
def tables(world):
    generator = ColumnarCursorEvents(cursor_team(world), rate_scale=3.0)  # enough calls to cross the included cents
    return [generator.day(day) for day in DAYS]


def test_days_have_the_sources_schema_unique_keys_and_only_their_own_day(tables):
    keys = set()
    for day, table in zip(DAYS, tables):
        assert table.schema == EVENT_SCHEMA
        assert table.num_rows > 0
        assert set(table.column("bucket_date").to_pylist()) == {day}
        assert {t.date() for t in table.column("event_at").to_pylist()} == {day}
        keys.update(table.column("row_key").to_pylist())
    assert len(keys) == sum(t.num_rows for t in tables)


def test_token_cents_follow_the_price_list_and_non_token_calls_carry_no_tokens(tables):
    for row in tables[3].to_pylist():
        if not row["is_token_based_call"]:
            assert row["input_tokens"] is None and row["total_cents"] is None and row["requests_costs"] == 1.0
            continue
        p_in, p_out, p_cw, p_cr = CURSOR_MODEL_PRICES[row["model"]]
        usd = (row["input_tokens"] * p_in + row["output_tokens"] * p_out + row["cache_write_tokens"] * p_cw
               + row["cache_read_tokens"] * p_cr) / 1e6
        cents = usd * 100 * (MAX_MODE_SURCHARGE if row["max_mode"] else 1.0)
        assert float(row["total_cents"]) == pytest.approx(cents, abs=1e-5)


def test_calls_are_usage_based_once_the_members_month_passed_the_included_cents(tables):
    spent: dict[str, Decimal] = defaultdict(Decimal)
    crossed = 0
    for table in tables:
        for row in sorted(table.to_pylist(), key=lambda r: (r["user_email"], r["event_at"])):
            if not row["is_token_based_call"]:
                assert row["kind"] == "Included in Business" and not row["is_chargeable"]
                continue
            usage_based = spent[row["user_email"]] >= INCLUDED_CENTS_PER_MONTH
            assert row["kind"] == ("Usage-based" if usage_based else "Included in Business")
            assert row["is_chargeable"] is usage_based
            spent[row["user_email"]] += row["total_cents"]
            crossed += usage_based
    assert crossed > 0  # the fixture's volume does reach the rule


def test_a_window_starting_mid_month_classifies_its_days_as_a_whole_month_would(world, tables):
    later = ColumnarCursorEvents(cursor_team(world), rate_scale=3.0).day(DAYS[10])
    assert later.equals(tables[10])
