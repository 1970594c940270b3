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


def test_a_day_loaded_beside_the_same_report_md5_is_not_loaded_again(world, pipeline):
    """As the Cursor client: the lookback's days already in the warehouse cost no load, a new day and a day whose
    stored md5 is gone are loaded, and every day still holds exactly the generator's events."""
    from bench.columnar import columnar_cursor_events
    from tests.conftest import query

    team = cursor_team(world)
    pipe = pipeline("bench_cursor", "raw_cursor")
    first, new = DAYS[0], DAYS[3]

    def run(start: dt.date, end: dt.date) -> str:
        info = pipe.run(columnar_cursor_events(team, start.isoformat(), end.isoformat(), rate_scale=0.2))
        return info.loads_ids[0]

    def loads_by_day() -> dict[dt.date, set[str]]:
        rows = query(pipe, "select bucket_date, _dlt_load_id from raw_cursor.usage_events group by all")
        by_day: dict[dt.date, set[str]] = defaultdict(set)
        for day, load_id in rows:
            by_day[day].add(load_id)
        return dict(by_day)

    def counts() -> dict[dt.date, int]:
        return dict(query(pipe, "select bucket_date, count(*) from raw_cursor.usage_events group by all"))

    generator = ColumnarCursorEvents(team, rate_scale=0.2)
    expected = {day: generator.day(day).num_rows for day in DAYS[:4]}
    assert all(expected.values())

    once = run(first, new)  # three days
    again = run(first, DAYS[4])  # the same three as lookback, and a new day
    assert loads_by_day() == {DAYS[0]: {once}, DAYS[1]: {once}, DAYS[2]: {once}, new: {again}}
    assert counts() == expected
    assert query(pipe, "select data_type from information_schema.columns where table_schema = 'raw_cursor' "
                       "and table_name = 'usage_events' and column_name = 'daily_usage_md5'") == [("VARCHAR",)]

    query(pipe, f"update raw_cursor.usage_events set daily_usage_md5 = null where bucket_date = '{DAYS[1]}'")
    third = run(first, DAYS[4])
    assert loads_by_day() == {DAYS[0]: {once}, DAYS[1]: {third}, DAYS[2]: {once}, new: {again}}
    assert counts() == expected


def test_the_days_report_md5_ignores_the_events_order_and_sees_a_changed_member(world):
    from bench.columnar import day_report_md5

    table = ColumnarCursorEvents(cursor_team(world), rate_scale=0.2).day(DAYS[0])
    md5 = day_report_md5(DAYS[0], table)
    assert day_report_md5(DAYS[0], table.take(list(reversed(range(table.num_rows))))) == md5
    assert day_report_md5(DAYS[0], table.slice(1)) != md5  # one call fewer for one member
    assert day_report_md5(DAYS[1], table) != md5
    assert day_report_md5(DAYS[0], ColumnarCursorEvents(cursor_team(world), rate_scale=0.2).day(DAYS[0])) == md5
