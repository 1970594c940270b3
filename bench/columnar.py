"""Per-request events for the benchmark's large sizes, generated as Arrow columns and landed through dlt.

At M and L an organisation makes tens to hundreds of millions of per-request events a year. Serving them as JSON
through the demo API (the path `make bench` uses for the daily reports) is bounded by Python building and parsing
one dict per event (~9k events/s here), and Cursor's real Admin API is paced far below that. A year of events at
that scale arrives in bulk, as files or exports, so the benchmark lands them the way a bulk load would: each day's
events generated with numpy as whole columns in the Cursor source's own table schema (`EVENT_SCHEMA`) and loaded by
the production wrapper (`daily_bucket_resource`: the same incremental cursor, merge by day and quarantine table)
into the same pipeline, dataset and dlt schema (`cursor` / `raw_cursor`) that the API client loads into. dbt then
reads them exactly as it reads events from the API.

As the client does, each day's events are stored with an md5 standing for the day's daily usage report
(`daily_usage_md5`; here an md5 of each member's calls and cents that day), and a day the warehouse already holds
beside the same md5 is not loaded again: the daily run's restatement lookback costs the drawing of its days, not
their load.

The numbers follow the demo Cursor team (`ingestion.demo.cursor`): its members, each member's rate (scaled by
`rate_scale` so L reaches its 100M+ events), the model mixes, token shapes, prices, Max mode surcharge and the
plan's included cents per member and month, after which calls are usage-based and chargeable. Drawn per day from
(seed, 90, day), so a day is the same whichever window asks for it. Not the same draws as the per-event demo
generator: a benchmark needs the volumes and shapes, not the tests' exact records.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Iterator

import dlt
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ingestion._common import SCHEMA_CONTRACT, SourceWindow, daily_bucket_resource, loaded_day_md5s
from ingestion.cursor import EVENT_SCHEMA, MAX_RANGE_DAYS, PROVIDER, SPEND_SCHEMA, resolve_cursor_model
from ingestion.demo.cursor import (
    CURSOR_MODEL_PRICES, INCLUDED_CENTS_PER_MONTH, MAX_MODE_SURCHARGE, MIX_OTHER, MIX_POWER, MODELS,
    NON_TOKEN_SHARE, SHAPES, WORKDAY_SPAN_MS, WORKDAY_START_MS, DemoCursorTeam, epoch_ms,
)
from ingestion.pricing import MODEL_REFS_SCHEMA

_PRICES = np.array([CURSOR_MODEL_PRICES[m] for m in MODELS]) / 1e6  # USD per token: in, out, cache write, read
_MEAN_IN = np.array([SHAPES[m][0] for m in MODELS], dtype=np.float64)
_MEAN_OUT = np.array([SHAPES[m][1] for m in MODELS], dtype=np.float64)
_MAX_MODE_P = np.where(np.arange(len(MODELS)) == MODELS.index("claude-4.1-opus"), 0.9, 0.08)
_MODEL_NAMES = pa.array(MODELS)
_KINDS = pa.array(["Included in Business", "Usage-based"])


class ColumnarCursorEvents:
    """A year of Cursor usage events for a demo team, one Arrow table per day, in `EVENT_SCHEMA`."""

    def __init__(self, team: DemoCursorTeam, rate_scale: float = 1.0) -> None:
        self.seed = team.seed
        self.today = team.today
        members = [m for m in team.active if m.rate > 0]
        self.emails = pa.array([m.email for m in members])
        self.rates = np.array([m.rate for m in members]) * rate_scale
        self.power = np.array([m.power for m in members])
        self._month: tuple[int, int] = (0, 0)
        self._spent = np.zeros(len(members))  # each member's token-based cents this month before the day drawn next

    def day(self, day: dt.date) -> pa.Table:
        """The day's events. Days must be asked for in ascending order within a month (the included-usage rule
        carries each member's cents from one day to the next); a month is restarted from its first day if needed."""
        if day >= self.today:
            return EVENT_SCHEMA.empty_table()
        if (day.year, day.month) != self._month:
            self._month = (day.year, day.month)
            self._spent[:] = 0
            for earlier in range(1, day.day):  # a window starting mid-month: replay the month's earlier days
                self._draw(day.replace(day=earlier))
        return self._draw(day)

    def _draw(self, day: dt.date) -> pa.Table:
        rng = np.random.default_rng([self.seed, 90, day.toordinal()])
        weekend = day.weekday() >= 5
        counts = rng.poisson(self.rates * (0.1 if weekend else 1.0))
        who = np.repeat(np.arange(len(counts)), counts)  # grouped by member, as the month's running sum needs
        n = len(who)
        offsets = rng.integers(0, WORKDAY_SPAN_MS, n)
        offsets = offsets[np.lexsort((offsets, who))]  # each member's calls in time order (the running sum's order)
        mix = np.where(self.power[who, None], np.cumsum(MIX_POWER)[None, :], np.cumsum(MIX_OTHER)[None, :])
        model = np.minimum((rng.random(n)[:, None] > mix).sum(axis=1), len(MODELS) - 1)
        max_mode = rng.random(n) < _MAX_MODE_P[model]
        token_based = rng.random(n) >= NON_TOKEN_SHARE
        tokens_in = np.maximum(1, np.rint(_MEAN_IN[model] * rng.lognormal(0.0, 0.6, n))).astype(np.int64)
        tokens_out = np.maximum(1, np.rint(_MEAN_OUT[model] * rng.lognormal(0.0, 0.5, n))).astype(np.int64)
        cache_read = np.rint(tokens_in * rng.uniform(1.0, 8.0, n)).astype(np.int64)
        cache_write = np.rint(tokens_in * rng.uniform(0.05, 0.6, n)).astype(np.int64)
        usd = (tokens_in * _PRICES[model, 0] + tokens_out * _PRICES[model, 1] + cache_write * _PRICES[model, 2]
               + cache_read * _PRICES[model, 3])
        cents = np.round(usd * 100 * np.where(max_mode, MAX_MODE_SURCHARGE, 1.0), 5)
        cents = np.where(token_based, cents, 0.0)
        # included vs usage-based: a call is usage-based once the member's month-to-date cents before it reached
        # the plan's included amount (the running sum restarts at each member's first call of the day)
        running = np.cumsum(cents)
        first = np.concatenate([[0], np.cumsum(counts)[:-1]])[counts > 0]
        starts = np.repeat(running[first] - cents[first], counts[counts > 0])
        before = self._spent[who] + running - cents - starts
        usage_based = token_based & (before >= INCLUDED_CENTS_PER_MONTH)
        np.add.at(self._spent, who, cents)
        event_ms = epoch_ms(day) + WORKDAY_START_MS + offsets
        nulls_where_not_tokens = ~token_based

        def tokens(values: np.ndarray) -> pa.Array:
            return pa.array(values, mask=nulls_where_not_tokens)

        arrays = {
            "bucket_date": pa.array(np.full(n, day), pa.date32()),
            "event_at": pa.array(event_ms * 1000, pa.int64()).cast(pa.timestamp("us", tz="UTC")),
            "user_email": self.emails.take(pa.array(who)),
            "model": _MODEL_NAMES.take(pa.array(model)),
            "kind": _KINDS.take(pa.array(usage_based.astype(np.int8))),
            "max_mode": pa.array(max_mode),
            "is_token_based_call": pa.array(token_based),
            "is_chargeable": pa.array(usage_based),
            "is_headless": pa.nulls(n, pa.bool_()),
            "is_free_bugbot": pa.array(np.zeros(n, dtype=bool)),
            "requests_costs": pa.array(np.where(token_based, np.round(cents / 4, 2), 1.0)),
            "input_tokens": tokens(tokens_in),
            "output_tokens": tokens(tokens_out),
            "cache_write_tokens": tokens(cache_write),
            "cache_read_tokens": tokens(cache_read),
            "total_cents": pa.array(cents, mask=nulls_where_not_tokens).cast(pa.decimal128(38, 12), safe=False),
            "charged_cents": pa.nulls(n, pa.decimal128(38, 12)),
            "cursor_token_fee_cents": pa.nulls(n, pa.decimal128(38, 12)),
            "discount_percent_off": pa.nulls(n, pa.float64()),
            **{name: pa.nulls(n, pa.string()) for name in (
                "conversation_id", "service_account_id", "service_account_name", "cloud_agent_id", "automation_id",
                "extra_fields")},
            # unique by construction: the day and the event's position in it
            "row_key": pc.binary_join_element_wise(
                pa.array(np.full(n, f"bench:{day.isoformat()}")), pa.array(np.arange(n)).cast(pa.string()), ":"),
        }
        return pa.Table.from_arrays([arrays[name] for name in EVENT_SCHEMA.names], schema=EVENT_SCHEMA)


def day_report_md5(day: dt.date, table: pa.Table) -> str:
    """The md5 the client would store beside the day's events, over what the day's daily usage report tells of
    them: each member's calls and cents that day (the same rows in any order give the same md5). Hashed from the
    summary's Arrow IPC bytes, not one JSON record per member as the client's `daily_report_md5s` does: at L that
    is ~10,000 records a day, which would add ~20 s to the year's load."""
    summary = (table.group_by("user_email").aggregate([("row_key", "count"), ("total_cents", "sum")])
               .sort_by("user_email"))
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, summary.schema) as writer:
        writer.write_table(summary)
    return hashlib.md5(day.isoformat().encode() + sink.getvalue().to_pybytes()).hexdigest()


@dlt.source(name=PROVIDER, max_table_nesting=0, schema_contract=SCHEMA_CONTRACT)
def columnar_cursor_events(team: DemoCursorTeam, start_date: str, end_date: str, rate_scale: float = 1.0,
                           empty_spend: bool = False):
    """`usage_events` and `model_refs` for [start_date, end_date), as the Cursor source lands them; with
    `empty_spend`, an empty `spend` table too (when the API's resources are not loaded)."""
    window = SourceWindow(start_date, end_date, 0, MAX_RANGE_DAYS)
    generator = ColumnarCursorEvents(team, rate_scale)

    def fetch(start: dt.date, end: dt.date) -> Iterator[pa.Table]:
        loaded = loaded_day_md5s("usage_events", "daily_usage_md5", start, end)
        day = start
        while day < end:
            table = generator.day(day)  # every day drawn, in order: a member's month carries from day to day
            if table.num_rows:
                md5 = day_report_md5(day, table)
                if loaded.get(day) != md5:
                    # one value a day, as a dictionary: a plain string column would copy it onto every event
                    yield table.append_column("daily_usage_md5", pa.DictionaryArray.from_arrays(
                        pa.array(np.zeros(table.num_rows, np.int32)), pa.array([md5])))
            day += dt.timedelta(days=1)

    usage_events = daily_bucket_resource("usage_events", window, EVENT_SCHEMA, fetch)

    @dlt.resource(name="model_refs", write_disposition="merge", primary_key=("provider", "model_ref"))
    def model_refs() -> Iterator[pa.Table]:
        yield pa.Table.from_pylist([{"provider": PROVIDER, "model_ref": ref, **resolve_cursor_model(ref)}
                                    for ref in MODELS], schema=MODEL_REFS_SCHEMA)

    @dlt.resource(name="spend", write_disposition="append")
    def spend() -> Iterator[pa.Table]:
        yield SPEND_SCHEMA.empty_table()

    return (usage_events, model_refs, spend) if empty_spend else (usage_events, model_refs)

