"""Coding agents' OpenTelemetry logs and spans, as files, into `raw_agent_telemetry.agent_requests`.

What is read: the JSON-lines files an OpenTelemetry collector's `file` exporter writes (each line one OTLP JSON
export: `resourceLogs[].resource.attributes` + `scopeLogs[].logRecords[]`, or `resourceSpans[]...spans[]`), plain or
gzipped, from a folder or any fsspec URL (see `ingestion/_files.py` for paths, credentials and the incremental
listing by modification date).

What lands, one row per model request:

* Claude Code's `claude_code.api_request` events (attributes `session.id`, `prompt.id`, `user.email`,
  `user.account_uuid`, `model`, `input_tokens`, `output_tokens`, `cache_read_tokens`, `cache_creation_tokens`,
  `cost_usd`, `duration_ms`, `request_id`, `event.sequence`, `query_source`, `speed`) and its `api_error` events
  (`error`, `status_code`, `attempt`) as failed requests (`is_error`, no tokens).
* Any record or span in the OpenTelemetry GenAI semantic conventions that is one model call: `gen_ai.operation.name`
  `chat` / `text_completion` / `generate_content` / `embeddings`, or no operation but `gen_ai.usage.*` tokens.
  Agent-level spans (`invoke_agent`, `execute_tool`, ...) are skipped: their usage is their calls' usage, counted
  once already. `gen_ai.usage.input_tokens` includes cached tokens (the convention's SHOULD); it is split into
  `input_tokens` (uncached, as Anthropic and Claude Code count) and the cache columns. The conventions carry no cost:
  `cost_usd` is null (dbt prices the tokens).

Everything else (prompts, tool results, metrics exports) is read past and counted in the log. Numbers may arrive as
`stringValue` (Claude Code sends them so), `intValue` (a JSON string in OTLP JSON) or `doubleValue`; timestamps are
`timeUnixNano` (nanoseconds, a string), else the `event.timestamp` attribute. A timestamp in seconds, milliseconds
or microseconds is repaired and recorded as normalized. Refused into `agent_requests_quarantine`, with the reason:
lines that are not JSON or not an OTLP export, records without a timestamp, counts that are not numbers, negative
tokens, durations or cost. Unknown models are kept as they are. A gzipped file that cannot be read to its end (cut
short, damaged, not gzip) fails the run naming the file, and nothing is loaded.

Speed: files are read in blocks of lines. A block that is regular OTLP JSON (what a collector writes) is parsed by
Arrow's JSON reader and turned into rows column by column; anything irregular in a block (a line that is not JSON,
a field OTLP does not have, a number sent as a JSON number, a value that does not parse, a negative count, a missing
or non-nanosecond timestamp) sends that block down the record-by-record path, which gives the same rows for what is
regular and explains what it refuses. Rows become Arrow tables either way, never lists of dicts.

Idempotency: `event_key` is an md5 of what identifies the event, normalized (service, time, name, span ids and
every modeled value; not the file, not the collector's observed time, not how a number was encoded), computed from
the Arrow columns, and the table is merged on it (`delete-insert` on the primary key, the delete bounded by the
load's first and last day: an event's day is part of its key, see MERGE_REQUESTS). Files are read incrementally
by modification date, so a run sees only some of a day's files: a merge by day would delete the events of the files
it did not re-read. Keyed by event, re-reading a file, reading an appended file again, or the same events
re-exported into another file replaces rows instead of adding them, and windows may overlap freely. The quarantine
is merged on its `row_key` (file, line, record, reason).

Files the warehouse already holds are not read again: every file read lands a row in `agent_requests_files` (url,
modification date, size, and its counts of lines, requests, requests outside the window, quarantined records; the
requests outside the window also by side: how many before it and the latest of them, how many after it and the
earliest; merged on the url). A Dagster partition run lists every file modified since its window's first day, so
each daily run would otherwise re-read the lookback's files; a listed file whose url, modification date and size
equal a row whose read left no request outside its window, or whose requests outside that window all lie outside
this run's window too (before its start, or after its end), holds nothing of this window the warehouse lacks, and is
skipped. A file with requests that this window reaches is read again; the rows are read from the warehouse itself,
so a wiped one is loaded in full again (and a row logged before the sides were counted is trusted only when it was
read in full).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional

import dlt
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj
from dlt.common import logger
from fsspec import AbstractFileSystem

from ingestion import settings
from ingestion._common import (
    DEFAULT_HISTORY_DAYS, MONEY, SCHEMA_CONTRACT, TIMESTAMP, SourceWindow, as_date, gc_paused, loaded_rows, today_utc,
)
from ingestion._files import (
    FILE_QUARANTINE_SCHEMA, UTC, failing_unreadable, file_day, file_listing, key, modification_cursor,
    quarantine_hints,
)

SECTION = "agent_telemetry"
RESOURCE = "agent_requests"
DAY_NS = 86_400 * 10**9
BATCH_ROWS = 100_000  # rows per Arrow table yielded
FLUSH_ROWS = 8_192  # rows parsed into Python lists before they become an Arrow record batch
BLOCK_BYTES = 32 << 20  # lines parsed together by the columnar path
MAX_RECORD_CHARS = 20_000  # a quarantined line is kept up to this length
MONEY_PLACES = Decimal("1e-12")  # MONEY's scale
FILE_SUFFIXES = (".json", ".jsonl", ".ndjson", ".json.gz", ".jsonl.gz", ".ndjson.gz")
MERGE_BY_KEY = {"disposition": "merge", "strategy": "delete-insert"}
# The requests' merge deletes the landed rows whose key is in the load, within the load's days: an event's key
# includes its time, so a key is never on two days, and the bound lets the warehouse skip the blocks of earlier
# days instead of probing every landed key (a year at 10,000 developers is ~20M keys: 0.9 s -> 0.07 s in DuckDB).
# Unqualified columns inside each subquery are the staging table's; outside it, the landed table's.
MERGE_REQUESTS = {**MERGE_BY_KEY, "destination_scope": (
    "usage_date >= (select min(usage_date) from {staging_table})"
    " and usage_date <= (select max(usage_date) from {staging_table})"
    " and event_key in (select event_key from {staging_table})")}

FILES_TABLE = f"{RESOURCE}_files"
# one row per file read: what identifies its content (url, modification date, size) and what the read found
FILES_SCHEMA = pa.schema([
    pa.field("file_url", pa.string(), nullable=False),
    ("modification_date", TIMESTAMP),
    ("size_in_bytes", pa.int64()),
    ("lines", pa.int64()),
    ("requests", pa.int64()),
    ("outside_window", pa.int64()),
    ("quarantined", pa.int64()),
    # the requests outside the window, each side apart: how many, and the one nearest the window (a later run whose
    # window reaches none of them skips the unchanged file; see held_files)
    ("requests_before_window", pa.int64()),
    ("last_before_window_unix_nano", pa.int64()),
    ("requests_after_window", pa.int64()),
    ("first_after_window_unix_nano", pa.int64()),
])

CLAUDE_REQUEST = {"api_request", "claude_code.api_request"}
CLAUDE_ERROR = {"api_error", "claude_code.api_error"}
MODEL_OPERATIONS = {"chat", "text_completion", "generate_content", "embeddings"}
GENAI_USAGE = ("gen_ai.usage.input_tokens", "gen_ai.usage.output_tokens", "gen_ai.usage.prompt_tokens",
               "gen_ai.usage.completion_tokens")
SPAN_STATUS_ERROR = (2, "STATUS_CODE_ERROR")

AGENT_REQUESTS_SCHEMA = pa.schema([
    pa.field("usage_date", pa.date32(), nullable=False),  # the event's UTC day
    ("event_at", TIMESTAMP),
    ("event_time_unix_nano", pa.int64()),  # exact, for ordering within a session
    ("event_name", pa.string()),  # api_request, api_error; a GenAI span's operation (chat, ...) or event name
    ("tool", pa.string()),  # claude_code, or the emitting service's name in snake case
    ("service_name", pa.string()),
    ("service_version", pa.string()),
    ("provider", pa.string()),  # anthropic for Claude Code; gen_ai.provider.name (or gen_ai.system)
    ("session_id", pa.string()),  # session.id or gen_ai.conversation.id
    ("prompt_id", pa.string()),  # Claude Code: one per user prompt (a turn)
    ("request_id", pa.string()),  # request_id or gen_ai.response.id
    ("trace_id", pa.string()),  # a span's trace and span ids (null for log records)
    ("span_id", pa.string()),
    ("event_sequence", pa.int64()),
    ("user_email", pa.string()),
    ("user_id", pa.string()),  # user.account_uuid / user.account_id; enduser.id or user.id for other tools
    ("install_id", pa.string()),  # Claude Code's user.id: an anonymous installation id
    ("organization_id", pa.string()),
    ("agent_name", pa.string()),
    ("model", pa.string()),  # as reported: the response's model where both are given
    ("request_model", pa.string()),  # gen_ai.request.model (an alias, often)
    ("input_tokens", pa.int64()),  # uncached input
    ("output_tokens", pa.int64()),
    ("cache_read_tokens", pa.int64()),
    ("cache_write_tokens", pa.int64()),
    ("cost_usd", MONEY),  # Claude Code's estimate; null where the telemetry carries none
    ("duration_ms", pa.int64()),
    ("is_error", pa.bool_()),
    ("status_code", pa.int64()),
    ("attempt", pa.int64()),
    ("error_type", pa.string()),
    ("query_source", pa.string()),
    ("speed", pa.string()),
    ("resource_attributes", pa.string()),  # JSON: the emitting process's resource (team.id, cost_center, ...)
    ("extra_fields", pa.string()),  # JSON: the record's other attributes
    ("source_file", pa.string()),
    ("source_line", pa.int64()),
    pa.field("event_key", pa.string(), nullable=False),
])
_DERIVED = ("usage_date", "event_at", "event_key")
COLUMNS = tuple(n for n in AGENT_REQUESTS_SCHEMA.names if n not in _DERIVED)
# what `_row` returns, in order (the last, extra_fields, is not part of the event's identity) ...
ROW_COLUMNS = ("provider", "session_id", "prompt_id", "request_id", "event_sequence", "user_email", "user_id",
               "install_id", "organization_id", "agent_name", "model", "request_model", "input_tokens",
               "output_tokens", "cache_read_tokens", "cache_write_tokens", "cost_usd", "duration_ms", "is_error",
               "status_code", "attempt", "error_type", "query_source", "speed", "extra_fields")
# ... and what `_record` adds
TAIL_COLUMNS = ("event_time_unix_nano", "event_name", "trace_id", "span_id", "tool", "service_name",
                "service_version", "resource_attributes", "source_file", "source_line")
assert set(ROW_COLUMNS) | set(TAIL_COLUMNS) == set(COLUMNS)
# an event's identity: what it says, normalized (not how its numbers were encoded, not where it was read)
IDENTITY_COLUMNS = ("service_name", "event_time_unix_nano", "event_name", "trace_id", "span_id", *ROW_COLUMNS[:-1])

KNOWN_ATTRIBUTES = frozenset({
    "session.id", "prompt.id", "user.email", "user.account_uuid", "user.account_id", "user.id", "organization.id",
    "event.name", "event.timestamp", "event.sequence", "model", "input_tokens", "output_tokens", "cache_read_tokens",
    "cache_creation_tokens", "cost_usd", "duration_ms", "request_id", "speed", "query_source", "error",
    "status_code", "attempt", "agent.name",
    "gen_ai.operation.name", "gen_ai.provider.name", "gen_ai.system", "gen_ai.request.model",
    "gen_ai.response.model", "gen_ai.response.id", *GENAI_USAGE, "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.cache_creation.input_tokens", "gen_ai.usage.cost", "gen_ai.conversation.id", "gen_ai.agent.name",
    "error.type", "enduser.id", "http.response.status_code",
})


class Refused(ValueError):
    """A record that cannot be loaded; the message is the quarantine reason."""


# ------------------------------------------------------------------------------------------------- values

def attributes(items: Optional[Iterable[Any]]) -> dict[str, Any]:
    """OTLP JSON key/value attributes as a dict of their values (an AnyValue holds one of `stringValue`,
    `intValue`, `doubleValue`, `boolValue`, `arrayValue`, `kvlistValue`, `bytesValue`); a list that is not a list
    of key/value objects fails."""
    if not items:
        return {}
    return {a["key"]: next(iter(v.values()), None) if (v := a.get("value")) else None for a in items}


def count(value: Any, name: str) -> Optional[int]:
    """A token count or other integer from a number or a numeric string ("372", "372.0", 372, 372.0)."""
    kind = type(value)
    if kind is int:
        return value
    if value is None:
        return None
    if kind is str:
        try:
            return int(value)
        except ValueError:
            pass
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise Refused(f"{name} is not a number: {value!r}") from None
        if number.is_finite() and number == number.to_integral_value():
            return int(number)
    elif kind is float and value.is_integer():
        return int(value)
    raise Refused(f"{name} is not a whole number: {value!r}")


def money(value: Any, name: str) -> Optional[Decimal]:
    """A USD amount from a decimal string, an int or a float (read from its shortest repr), to MONEY's 12 places."""
    if value is None or value == "":
        return None
    kind = type(value)
    try:
        number = Decimal(value.strip() if kind is str else repr(value) if kind is float else str(value))
    except InvalidOperation:
        raise Refused(f"{name} is not a number: {value!r}") from None
    if kind is bool or not number.is_finite():
        raise Refused(f"{name} is not a number: {value!r}")
    return number.quantize(MONEY_PLACES)


def milliseconds(value: Any, name: str) -> Optional[int]:
    if value is None or value == "":
        return None
    kind = type(value)
    if kind is int:
        return value
    try:
        number = Decimal(value.strip() if kind is str else repr(value))
    except (InvalidOperation, AttributeError):
        raise Refused(f"{name} is not a number: {value!r}") from None
    if kind is bool or not number.is_finite():
        raise Refused(f"{name} is not a number: {value!r}")
    return int(number.to_integral_value())


def unix_nanos(value: Any, name: str) -> tuple[int, Optional[str]]:
    """Nanoseconds since the epoch from an OTLP `...UnixNano` field (a string or a number); 0 when absent. A value
    that can only be seconds, milliseconds or microseconds of this era is converted, and its unit returned."""
    if value is None or value == "" or value == 0 or value == "0":
        return 0, None
    try:
        ns = int(value)
    except (TypeError, ValueError):
        raise Refused(f"{name} is not an integer: {value!r}") from None
    if ns < 0:
        raise Refused(f"{name} is negative: {value!r}")
    if ns < 10**11:
        return ns * 10**9, "seconds"
    if ns < 10**14:
        return ns * 10**6, "milliseconds"
    if ns < 10**17:
        return ns * 10**3, "microseconds"
    return ns, None


_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def iso_nanos(value: Any) -> int:
    """Nanoseconds since the epoch from an ISO 8601 timestamp (`event.timestamp`), UTC when it has no offset."""
    try:
        parsed = dt.datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        raise Refused(f"event.timestamp is not a timestamp: {value!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.timezone.utc)
    return (parsed - _EPOCH) // dt.timedelta(microseconds=1) * 1000


def tool_name(service: Optional[str]) -> str:
    if not service:
        return "unknown"
    return service.strip().lower().replace("-", "_").replace(".", "_").replace(" ", "_")


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=str).decode()


def lines_of(handle: Any, block_bytes: int = 16 << 20) -> Iterator[bytes]:
    """The lines of a binary file, read in large blocks (long lines read line by line are slow)."""
    rest = b""
    while True:
        block = handle.read(block_bytes)
        if not block:
            break
        parts = (rest + block).split(b"\n") if rest else block.split(b"\n")
        rest = parts.pop()
        yield from parts
    if rest:
        yield rest


def _email(value: Any) -> Optional[str]:
    return str(value).strip().lower() or None if value is not None else None


def _text(value: Any) -> Optional[str]:
    if value is None:
        return None
    return value if type(value) is str else json.dumps(value, sort_keys=True, default=str) if isinstance(
        value, (dict, list)) else str(value).lower() if isinstance(value, bool) else str(value)


def event_keys(arrays: dict[str, pa.Array]) -> pa.Array:
    """md5 of each row's identity columns as text (computed from the Arrow columns, so every way of parsing a file
    gives the same keys)."""
    parts = [pc.if_else(arrays[name], "true", "false") if pa.types.is_boolean(arrays[name].type)
             else arrays[name].cast(pa.string()) for name in IDENTITY_COLUMNS]
    joined = pc.binary_join_element_wise(*parts, "\x1f", null_handling="replace", null_replacement="\x00")
    md5 = hashlib.md5
    return pa.array([md5(text.encode()).hexdigest() for text in joined.to_pylist()], pa.string())


class _Irregular(Exception):
    """The columnar path does not handle this block; the record-by-record path will."""


_ANY_VALUE = pa.struct([("stringValue", pa.string()), ("intValue", pa.string()), ("doubleValue", pa.float64()),
                        ("boolValue", pa.bool_())])
_KEY_VALUES = pa.list_(pa.struct([("key", pa.string()), ("value", _ANY_VALUE)]))
_RESOURCE = pa.struct([("attributes", _KEY_VALUES), ("droppedAttributesCount", pa.int64())])
_SCOPE = pa.struct([("name", pa.string()), ("version", pa.string()), ("attributes", _KEY_VALUES),
                    ("droppedAttributesCount", pa.int64())])
_LOG_RECORD = pa.struct([
    ("timeUnixNano", pa.string()), ("observedTimeUnixNano", pa.string()), ("severityNumber", pa.int64()),
    ("severityText", pa.string()), ("body", _ANY_VALUE), ("attributes", _KEY_VALUES),
    ("droppedAttributesCount", pa.int64()), ("flags", pa.int64()), ("traceId", pa.string()),
    ("spanId", pa.string()), ("eventName", pa.string())])
_SPAN = pa.struct([
    ("traceId", pa.string()), ("spanId", pa.string()), ("traceState", pa.string()), ("parentSpanId", pa.string()),
    ("flags", pa.int64()), ("name", pa.string()), ("kind", pa.int64()), ("startTimeUnixNano", pa.string()),
    ("endTimeUnixNano", pa.string()), ("attributes", _KEY_VALUES), ("droppedAttributesCount", pa.int64()),
    ("events", pa.list_(pa.struct([("timeUnixNano", pa.string()), ("name", pa.string()),
                                   ("attributes", _KEY_VALUES), ("droppedAttributesCount", pa.int64())]))),
    ("droppedEventsCount", pa.int64()),
    ("links", pa.list_(pa.struct([("traceId", pa.string()), ("spanId", pa.string()), ("traceState", pa.string()),
                                  ("attributes", _KEY_VALUES), ("droppedAttributesCount", pa.int64()),
                                  ("flags", pa.int64())]))),
    ("droppedLinksCount", pa.int64()), ("status", pa.struct([("code", pa.int64()), ("message", pa.string())]))])
# one line of a collector's file exporter, as the columnar path reads it: OTLP JSON exactly (int64 as strings, enums
# as numbers); anything else in a block sends it down the record-by-record path
OTLP_LINE = pa.schema([
    ("resourceLogs", pa.list_(pa.struct([
        ("resource", _RESOURCE),
        ("scopeLogs", pa.list_(pa.struct([("scope", _SCOPE), ("logRecords", pa.list_(_LOG_RECORD)),
                                          ("schemaUrl", pa.string())]))),
        ("schemaUrl", pa.string())]))),
    ("resourceSpans", pa.list_(pa.struct([
        ("resource", _RESOURCE),
        ("scopeSpans", pa.list_(pa.struct([("scope", _SCOPE), ("spans", pa.list_(_SPAN)),
                                           ("schemaUrl", pa.string())]))),
        ("schemaUrl", pa.string())]))),
])


def attributes_of(items: Optional[list[dict[str, Any]]]) -> dict[str, Any]:
    """Attributes read by Arrow (`{"key", "value": {stringValue, intValue, doubleValue, boolValue}}`) as the same
    dict `attributes` makes of the JSON."""
    if not items:
        return {}
    out = {}
    for item in items:
        value = item["value"]
        out[item["key"]] = None if value is None else next((v for v in value.values() if v is not None), None)
    return out


class Pivot:
    """The attributes of n records, flattened: a column of one key's values per record on demand.

    Values are read as text (`stringValue`, else `intValue`, which OTLP JSON writes as a string); a known key sent
    as a double or a boolean, a key repeated in a record, or an empty string where Python's `or` would move on
    makes the block irregular."""

    def __init__(self, lists: pa.Array, n: int) -> None:
        self.n = n
        flat = pc.list_flatten(lists)
        self.owner = pc.list_parent_indices(lists).to_numpy()
        keys = pc.struct_field(flat, "key")
        if flat.null_count or keys.null_count:
            raise _Irregular()
        values = pc.struct_field(flat, "value")
        self.values = values
        self.text_values = pc.coalesce(pc.struct_field(values, "stringValue"), pc.struct_field(values, "intValue"))
        encoded = pc.dictionary_encode(keys)
        self.codes = encoded.indices.to_numpy()
        self.code_of = {k: i for i, k in enumerate(encoded.dictionary.to_pylist())}
        if len(self.codes):
            pairs = np.sort(self.owner * len(self.code_of) + self.codes)
            if np.any(pairs[1:] == pairs[:-1]):
                raise _Irregular()  # a key twice in one record
        known = [self.code_of[k] for k in KNOWN_ATTRIBUTES if k in self.code_of]
        self.known_mask = np.isin(self.codes, known)
        typed = pc.or_(pc.struct_field(values, "doubleValue").is_valid(),
                       pc.struct_field(values, "boolValue").is_valid()).to_numpy(zero_copy_only=False)
        empty = pc.fill_null(pc.equal(self.text_values, ""), False).to_numpy(zero_copy_only=False)
        if np.any(self.known_mask & (typed | empty)):
            raise _Irregular()
        self._index: dict[str, np.ndarray] = {}

    def index(self, key: str) -> np.ndarray:
        """For each record, the position of its `key` attribute among the flattened ones, or -1."""
        if key not in self._index:
            where = np.full(self.n, -1, np.int64)
            code = self.code_of.get(key)
            if code is not None:
                positions = np.flatnonzero(self.codes == code)
                where[self.owner[positions]] = positions
            self._index[key] = where
        return self._index[key]

    def text(self, key: str) -> pa.Array:
        where = self.index(key)
        return self.text_values.take(pa.array(where, mask=where < 0))

    def present(self, *keys: str) -> pa.Array:
        found = np.zeros(self.n, bool)
        for k in keys:
            found |= self.index(k) >= 0
        return pa.array(found)

    def first_truthy(self, key: str, *fallbacks: pa.Array) -> pa.Array:
        """`get(key) or fallback or ...` for text columns (empty strings made the block irregular already)."""
        values = [self.text(key)]
        for other in fallbacks:
            if pc.any(pc.equal(other, "")).as_py():
                raise _Irregular()
            values.append(other)
        return pc.coalesce(*values)

    class Rows:
        """The pivot restricted to the request rows `keep`."""

        def __init__(self, pivot: "Pivot", keep: pa.Array) -> None:
            self.pivot = pivot
            self.keep = keep
            self.keep_np = keep.to_numpy()

        def take(self, column: pa.Array) -> pa.Array:
            return column.take(self.keep)

        def index(self, key: str) -> np.ndarray:
            return self.pivot.index(key)[self.keep_np]

        def text(self, key: str) -> pa.Array:
            where = self.index(key)
            return self.pivot.text_values.take(pa.array(where, mask=where < 0))

        def present(self, *keys: str) -> pa.Array:
            found = np.zeros(len(self.keep_np), bool)
            for k in keys:
                found |= self.index(k) >= 0
            return pa.array(found)

        def first_truthy(self, *keys: str) -> pa.Array:
            return pc.coalesce(*[self.text(k) for k in keys])

        def count(self, key: str) -> pa.Array:
            try:
                return self.text(key).cast(pa.int64())
            except pa.ArrowInvalid:
                raise _Irregular() from None

        def count_either(self, key: str, older: str) -> pa.Array:
            """`key`'s count where the record has `key`, else `older`'s (deprecated names)."""
            has = pa.array(self.index(key) >= 0)
            return pc.if_else(has, self.count(key), self.count(older))

        def money(self, key: str) -> pa.Array:
            try:
                exact = self.text(key).cast(pa.decimal128(38, 20))
                return pc.round(exact, ndigits=12, round_mode="half_to_even").cast(MONEY)
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                raise _Irregular() from None

        def extras(self) -> pa.Array:
            """The attributes no column holds, as a JSON object per row (null when none)."""
            pivot = self.pivot
            row_of = np.full(pivot.n, -1, np.int64)
            row_of[self.keep_np] = np.arange(len(self.keep_np))
            positions = np.flatnonzero(~pivot.known_mask & (row_of[pivot.owner] >= 0)) if len(pivot.codes) else []
            out: list[Optional[str]] = [None] * len(self.keep_np)
            if len(positions):
                names = list(pivot.code_of)  # code -> key
                values = pivot.values.take(pa.array(positions)).to_pylist()
                current: dict[int, dict[str, Any]] = {}
                for row, code, value in zip(row_of[pivot.owner[positions]].tolist(),
                                            pivot.codes[positions].tolist(), values):
                    typed = None if value is None else next((v for v in value.values() if v is not None), None)
                    current.setdefault(row, {})[names[code]] = typed
                for row, extra in current.items():
                    out[row] = _json(extra)
            return pa.array(out, pa.string())


# ------------------------------------------------------------------------------------------------- reading

class TelemetryFile:
    """One file's lines parsed into Arrow tables of `agent_requests` (yielded every `batch_rows` rows or so), with
    what was refused or repaired in `issues` and what was read past in `counts`."""

    def __init__(self, source_file: str, window_ns: tuple[Optional[int], Optional[int]], file_date: dt.date,
                 batch_rows: int = BATCH_ROWS, columnar: bool = True) -> None:
        self.source_file = source_file
        self.columnar = columnar  # False: every line record by record (the reference the columnar path must equal)
        self.lo, self.hi = window_ns
        self.file_date = file_date
        self.batch_rows = batch_rows
        self._new_columns()
        self.batches: list[pa.RecordBatch] = []
        self.pending = 0  # rows in `batches`
        self.issues: list[dict[str, Any]] = []
        self.repaired: dict[tuple[dt.date, str], list[Any]] = {}
        self.counts = {"lines": 0, "columnar_lines": 0, "requests": 0, "other_records": 0, "outside_window": 0,
                       "metrics_lines": 0, "quarantined": 0}
        # the requests outside the window: [how many, the latest] before it and [how many, the earliest] after it
        self.before: list[Any] = [0, None]
        self.after: list[Any] = [0, None]

    def outside_rows(self) -> dict[str, Any]:
        """The files log's columns of the requests outside the window."""
        return {"requests_before_window": self.before[0], "last_before_window_unix_nano": self.before[1],
                "requests_after_window": self.after[0], "first_after_window_unix_nano": self.after[1]}

    # -------------------------------------------------------------------------------------------- issues
    def _quarantine(self, day: Optional[dt.date], reason: str, record: Any, line: int, index: Any = "") -> None:
        text = record if isinstance(record, str) else json.dumps(record, sort_keys=True, default=str)
        if len(text) > MAX_RECORD_CHARS:
            text = text[:MAX_RECORD_CHARS] + "...(truncated)"
        self.counts["quarantined"] += 1
        self.issues.append({"bucket_date": day or self.file_date, "resource": RESOURCE, "action": "quarantined",
                            "reason": reason, "record": text,
                            "row_key": key(self.source_file, line, index, reason), "source_file": self.source_file})

    def issue_rows(self) -> list[dict[str, Any]]:
        rows = list(self.issues)
        for (day, unit), (n, example) in sorted(self.repaired.items()):
            reason = f"timestamps in {unit} where nanoseconds are documented, read as {unit}"
            rows.append({"bucket_date": day, "resource": RESOURCE, "action": "normalized", "reason": reason,
                         "record": json.dumps({"records": n, "example": example}, sort_keys=True, default=str),
                         "row_key": key(self.source_file, day, reason), "source_file": self.source_file})
        return rows

    # ------------------------------------------------------------------------------------------- lines
    def read(self, handle: Any) -> Iterator[pa.Table]:
        """Parses a binary file (or any iterable of lines) into tables of about `batch_rows` rows (a table holds
        whole blocks of lines)."""
        lines = lines_of(handle) if hasattr(handle, "read") else handle
        block: list[bytes] = []
        numbers: list[int] = []
        size = 0
        for number, raw in enumerate(lines, 1):
            block.append(raw)
            numbers.append(number)
            size += len(raw)
            if size >= BLOCK_BYTES:
                yield from self._block(block, numbers)
                block, numbers, size = [], [], 0
        if block:
            yield from self._block(block, numbers)
        if self.pending or self.columns["source_line"]:
            yield self.table()

    def _block(self, lines: list[bytes], numbers: list[int]) -> Iterator[pa.Table]:
        """A block of lines: columnar when it is regular, else record by record (which explains what it refuses)."""
        with gc_paused():  # never across a yield: the consumer runs with the collector as it found it
            done = self.columnar and self._columnar_block(lines, numbers)
        if not done:
            for number, raw in zip(numbers, lines):
                with gc_paused():
                    self._line(number, raw)
                    if len(self.columns["source_line"]) >= min(FLUSH_ROWS, self.batch_rows):
                        self._flush()
                if self.pending >= self.batch_rows:
                    yield self.table()
        if self.pending >= self.batch_rows:
            yield self.table()

    def _columnar_block(self, lines: list[bytes], numbers: list[int]) -> bool:
        """Parses the block with Arrow's JSON reader into the same rows the record-by-record path gives. Returns
        False, having changed nothing, as soon as anything is irregular: a line that is not JSON or not a strict
        OTLP export, numbers sent as JSON numbers where text is usual, values that do not parse, negative counts,
        missing or non-nanosecond timestamps, repeated attributes, empty strings where `or` would skip them."""
        kept, kept_numbers, metrics = [], [], 0
        for raw, number in zip(lines, numbers):
            stripped = raw.strip()
            if not stripped:
                continue
            if stripped.startswith(b'{"resourceMetrics":') and b'"resourceLogs"' not in stripped and \
                    b'"resourceSpans"' not in stripped:
                metrics += 1
                continue
            kept.append(stripped)
            kept_numbers.append(number)
        parts: list[dict[str, pa.Array]] = []
        counts = {"requests": 0, "other_records": 0, "outside_window": 0}
        outside: list[np.ndarray] = []  # times of the requests outside the window, counted once the block is taken
        if kept:
            try:
                table = pj.read_json(
                    io.BytesIO(b"\n".join(kept)),
                    read_options=pj.ReadOptions(block_size=max(1 << 20, 2 * max(map(len, kept)) + 2)),
                    parse_options=pj.ParseOptions(explicit_schema=OTLP_LINE, unexpected_field_behavior="error"))
            except (pa.ArrowException, ValueError):
                return False
            if table.num_rows != len(kept):
                return False
            logs, spans = table.column("resourceLogs").combine_chunks(), table.column("resourceSpans").combine_chunks()
            if pc.any(pc.and_(logs.is_null(), spans.is_null())).as_py():
                return False  # an export of neither logs nor spans: the careful path says what it is
            try:
                for is_span, exports in ((False, logs), (True, spans)):
                    part = self._columnar_records(exports, is_span, np.asarray(kept_numbers, np.int64), counts,
                                                  outside)
                    if part is not None:
                        parts.append(part)
            except (_Irregular, pa.ArrowException, TypeError, KeyError, ValueError):
                return False  # nothing was changed yet: the block is read record by record
        self.counts["lines"] += len(kept) + metrics
        self.counts["columnar_lines"] += len(kept) + metrics
        self.counts["metrics_lines"] += metrics
        for name, value in counts.items():
            self.counts[name] += value
        for times in outside:
            self._outside_times(times)
        if parts:
            self._flush()  # rows of earlier lines first
            arrays = parts[0] if len(parts) == 1 else {
                name: pa.concat_arrays([part[name] for part in parts]) for name in parts[0]}
            self._add_batch(arrays)
        return True

    def _outside_times(self, ns: np.ndarray) -> None:
        """Counts requests outside the window (their times) on their side of it, keeping the one nearest it."""
        is_before = np.zeros(len(ns), bool) if self.lo is None else ns < self.lo
        for side, times, nearest in ((self.before, ns[is_before], np.max), (self.after, ns[~is_before], np.min)):
            if len(times):
                value = int(nearest(times))
                side[0] += len(times)
                side[1] = value if side[1] is None else int(nearest([side[1], value]))

    def _columnar_records(self, exports: pa.Array, is_span: bool, line_numbers: np.ndarray,
                          counts: dict[str, int], outside: list[np.ndarray]) -> Optional[dict[str, pa.Array]]:
        """The request rows of the block's log records (or spans), column by column; the times of the requests
        outside the window are added to `outside`."""
        scopes_key, records_key = ("scopeSpans", "spans") if is_span else ("scopeLogs", "logRecords")
        resources = pc.list_flatten(exports)
        line_of_resource = pc.list_parent_indices(exports).to_numpy()
        scopes_list = pc.struct_field(resources, scopes_key)
        scopes = pc.list_flatten(scopes_list)
        records_list = pc.struct_field(scopes, records_key)
        records = pc.list_flatten(records_list)
        if resources.null_count or scopes.null_count or records.null_count:
            raise _Irregular()
        n = len(records)
        if n == 0:
            return None
        resource_of = pc.list_parent_indices(scopes_list).to_numpy()[pc.list_parent_indices(records_list).to_numpy()]
        contexts = [self._resource(attributes_of(items))
                    for items in pc.struct_field(pc.struct_field(resources, "resource"), "attributes").to_pylist()]

        # attributes, one column per known key (pivoted), the rest as JSON
        attrs = Pivot(pc.struct_field(records, "attributes"), n)
        if is_span:
            name = attrs.first_truthy("gen_ai.operation.name", pc.struct_field(records, "name"))
        else:
            name = attrs.first_truthy("event.name", pc.struct_field(records, "eventName"),
                                      pc.struct_field(pc.struct_field(records, "body"), "stringValue"))
        claude = pc.fill_null(pc.is_in(name, pa.array(sorted(CLAUDE_REQUEST | CLAUDE_ERROR))), False)
        operation = attrs.text("gen_ai.operation.name")
        usage = attrs.present(*GENAI_USAGE)
        model_call = pc.if_else(operation.is_valid(),
                                pc.fill_null(pc.is_in(operation, pa.array(sorted(MODEL_OPERATIONS))), False), usage)
        request = pc.or_(claude, model_call)
        time_field = "startTimeUnixNano" if is_span else "timeUnixNano"
        try:
            ns = pc.struct_field(records, time_field).cast(pa.int64())
        except pa.ArrowInvalid:
            raise _Irregular() from None
        if pc.any(pc.and_(request, pc.or_(ns.is_null(), pc.less(ns, 10**17)))).as_py():
            raise _Irregular()  # no timestamp, or not in nanoseconds: the careful path repairs or refuses
        inside = request
        if self.lo is not None:
            inside = pc.and_(inside, pc.greater_equal(ns, self.lo))
        if self.hi is not None:
            inside = pc.and_(inside, pc.less(ns, self.hi))
        requests = int(pc.sum(request).as_py() or 0)
        keep = pc.indices_nonzero(inside)
        counts["other_records"] += n - requests
        counts["outside_window"] += requests - len(keep)
        if requests > len(keep):
            outside.append(pc.filter(ns, pc.and_(request, pc.invert(inside))).to_numpy(
                zero_copy_only=False))
        counts["requests"] += len(keep)
        if len(keep) == 0:
            return None
        rows = Pivot.Rows(attrs, keep)
        claude, name, ns = claude.take(keep), name.take(keep), ns.take(keep)
        is_error_event = pc.fill_null(pc.is_in(name, pa.array(sorted(CLAUDE_ERROR))), False)

        def claude_or(claude_value: pa.Array, genai_value: pa.Array) -> pa.Array:
            return pc.if_else(claude, claude_value, genai_value)

        # tokens: Claude Code's own names, or the GenAI convention's (input including cached tokens)
        total_input = rows.count_either("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens")
        cache_read = claude_or(rows.count("cache_read_tokens"), rows.count("gen_ai.usage.cache_read.input_tokens"))
        cache_write = claude_or(rows.count("cache_creation_tokens"),
                                rows.count("gen_ai.usage.cache_creation.input_tokens"))
        cached = pc.add(pc.fill_null(cache_read, 0), pc.fill_null(cache_write, 0))
        split = pc.fill_null(pc.and_(pc.greater(cached, 0), pc.greater_equal(total_input, cached)), False)
        genai_input = pc.if_else(split, pc.subtract(total_input, cached), total_input)
        input_tokens = claude_or(rows.count("input_tokens"), genai_input)
        output_tokens = claude_or(rows.count("output_tokens"),
                                  rows.count_either("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens"))
        cost = claude_or(rows.money("cost_usd"), rows.money("gen_ai.usage.cost"))
        for values in (input_tokens, output_tokens, cache_read, cache_write, cost):
            if pc.any(pc.less(values, 0)).as_py():
                raise _Irregular()  # refused with its reason by the careful path
        if is_span:
            given = rows.count("duration_ms")
            try:
                end = rows.take(pc.struct_field(records, "endTimeUnixNano")).cast(pa.int64())
            except pa.ArrowInvalid:
                raise _Irregular() from None
            if pc.any(pc.and_(pc.greater(end, 0), pc.less(end, 10**17))).as_py():
                raise _Irregular()
            end = pc.if_else(pc.fill_null(pc.equal(end, 0), True), pa.scalar(None, pa.int64()), end)
            if pc.any(pc.less(end, ns)).as_py():
                raise _Irregular()  # a span ending before it starts: refused by the careful path
            spans_ms = pc.divide(pc.subtract(end, ns), 1_000_000)  # not negative: integer division floors
            duration = pc.if_else(given.is_valid(), given, spans_ms)
            status = pc.struct_field(rows.take(pc.struct_field(records, "status")), "code")
            ids = (rows.take(pc.struct_field(records, "traceId")), rows.take(pc.struct_field(records, "spanId")))
        else:
            duration = rows.count("duration_ms")
            status = pa.nulls(len(keep), pa.int64())
            ids = (pa.nulls(len(keep), pa.string()), pa.nulls(len(keep), pa.string()))
        if pc.any(pc.less(duration, 0)).as_py():
            raise _Irregular()
        span_error = pc.fill_null(pc.equal(status, 2), False)
        is_error = claude_or(is_error_event, pc.or_(rows.present("error.type"), span_error))
        status_code = rows.count("status_code")
        status_code = pc.if_else(status_code.is_valid(), status_code, rows.count("http.response.status_code"))
        user_id = rows.first_truthy("user.account_uuid", "user.account_id", "enduser.id")
        user_id = pc.if_else(pc.or_(user_id.is_valid(), claude), user_id, rows.text("user.id"))
        email = pc.utf8_lower(pc.utf8_trim_whitespace(rows.text("user.email")))
        email = pc.if_else(pc.equal(email, ""), pa.scalar(None, pa.string()), email)
        provider = claude_or(pc.coalesce(rows.first_truthy("gen_ai.provider.name", "gen_ai.system"),
                                         pa.scalar("anthropic")),
                             rows.first_truthy("gen_ai.provider.name", "gen_ai.system"))
        request_model = claude_or(pa.nulls(len(keep), pa.string()), rows.text("gen_ai.request.model"))
        model = claude_or(rows.text("model"), rows.first_truthy("gen_ai.response.model", "gen_ai.request.model"))
        prefixed = pc.fill_null(pc.and_(claude, pc.starts_with(name, "claude_code.")), False)
        resource_of_row = resource_of[keep.to_numpy()]
        context = [contexts[i] for i in resource_of_row.tolist()]
        return {
            "provider": provider,
            "session_id": rows.first_truthy("session.id", "gen_ai.conversation.id"),
            "prompt_id": rows.text("prompt.id"),
            "request_id": rows.first_truthy("request_id", "gen_ai.response.id"),
            "trace_id": ids[0],
            "span_id": ids[1],
            "event_sequence": rows.count("event.sequence"),
            "user_email": email,
            "user_id": user_id,
            "install_id": claude_or(rows.text("user.id"), pa.nulls(len(keep), pa.string())),
            "organization_id": rows.text("organization.id"),
            "agent_name": rows.first_truthy("agent.name", "gen_ai.agent.name"),
            "model": model,
            "request_model": request_model,
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cache_read_tokens": cache_read,
            "cache_write_tokens": cache_write,
            "cost_usd": cost,
            "duration_ms": duration,
            "is_error": is_error,
            "status_code": status_code,
            "attempt": rows.count("attempt"),
            "error_type": claude_or(rows.text("error"), rows.text("error.type")),
            "query_source": rows.text("query_source"),
            "speed": rows.text("speed"),
            "extra_fields": rows.extras(),
            "event_time_unix_nano": ns,
            "event_name": pc.if_else(prefixed, pc.utf8_slice_codeunits(name, 12), name),
            "tool": pa.array([c[1] for c in context], pa.string()),
            "service_name": pa.array([c[0] for c in context], pa.string()),
            "service_version": pa.array([c[2] for c in context], pa.string()),
            "resource_attributes": pa.array([c[3] for c in context], pa.string()),
            "source_file": pa.array([self.source_file] * len(keep), pa.string()),
            "source_line": pa.array(line_numbers[line_of_resource[resource_of_row]], pa.int64()),
        }

    def _line(self, number: int, raw: bytes) -> None:
        if not raw.strip():
            return
        self.counts["lines"] += 1
        try:
            doc = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            self._quarantine(None, f"line is not JSON ({exc})", raw.decode("utf-8", "replace"), number)
            return
        columns = self.columns
        before = len(columns["source_line"])
        try:
            self._export(doc, number)
        except (KeyError, TypeError, AttributeError) as exc:
            self.counts["requests"] -= len(columns["source_line"]) - before
            for values in columns.values():  # nothing of a malformed export is loaded
                del values[before:]
            self._quarantine(None, f"line is not a well-formed OTLP export ({type(exc).__name__}: {exc})",
                             raw.decode("utf-8", "replace"), number)

    def _export(self, doc: Any, line: int) -> None:
        if not isinstance(doc, dict):
            raise TypeError(f"expected an object, got {type(doc).__name__}")
        logs, spans = doc.get("resourceLogs"), doc.get("resourceSpans")
        if logs is None and spans is None:
            if "resourceMetrics" in doc:
                self.counts["metrics_lines"] += 1
                return
            raise KeyError("no resourceLogs or resourceSpans")
        for is_span, resources, scopes_key, records_key in ((False, logs, "scopeLogs", "logRecords"),
                                                            (True, spans, "scopeSpans", "spans")):
            for r, resource_item in enumerate(resources or ()):
                resource = attributes((resource_item.get("resource") or {}).get("attributes"))
                context = self._resource(resource)
                for s, scope in enumerate(resource_item.get(scopes_key) or ()):
                    for i, record in enumerate(scope.get(records_key) or ()):
                        try:
                            self._record(record, is_span, context, line, (r, s, i))
                        except (KeyError, TypeError, AttributeError) as exc:
                            what = "span" if is_span else "log record"
                            self._quarantine(None, f"not a well-formed OTLP {what} ({type(exc).__name__}: {exc})",
                                             {"service.name": context[0], "record": record}, line, (r, s, i))

    @staticmethod
    def _resource(resource: dict[str, Any]) -> tuple[Optional[str], str, Optional[str], Optional[str]]:
        service = resource.get("service.name")
        service = str(service) if service is not None else None
        version = resource.get("service.version")
        return (service, tool_name(service), str(version) if version is not None else None,
                json.dumps(resource, sort_keys=True, default=str) if resource else None)

    def _record(self, record: dict[str, Any], is_span: bool, context: tuple, line: int, index: tuple) -> None:
        attrs = attributes(record.get("attributes"))
        service, tool, version, resource_json = context
        get = attrs.get
        if is_span:  # the operation, not the span's name (which repeats the model)
            name = get("gen_ai.operation.name") or record.get("name")
        else:
            body = record.get("body")
            name = get("event.name") or record.get("eventName") or (
                body.get("stringValue") if isinstance(body, dict) else None)
        if name is not None and type(name) is not str:
            name = _text(name)
        # which records are model requests
        claude = name in CLAUDE_REQUEST or name in CLAUDE_ERROR
        if not claude:
            operation = get("gen_ai.operation.name")
            if operation is not None:
                if operation not in MODEL_OPERATIONS:
                    self.counts["other_records"] += 1
                    return
            elif not any(k in attrs for k in GENAI_USAGE):
                self.counts["other_records"] += 1
                return
        try:
            time_field = "startTimeUnixNano" if is_span else "timeUnixNano"
            ns, unit = unix_nanos(record.get(time_field), time_field)
            if not ns and get("event.timestamp") is not None:
                ns, unit = iso_nanos(get("event.timestamp")), None
            if not ns:
                raise Refused(f"no timestamp ({time_field} is absent or 0 and there is no event.timestamp)")
        except Refused as refused:
            self._quarantine(None, str(refused), {"service.name": service, "record": record}, line, index)
            return
        if (self.lo is not None and ns < self.lo) or (self.hi is not None and ns >= self.hi):
            self.counts["outside_window"] += 1
            self._outside_times(np.array([min(ns, 2**63 - 1)], np.int64))  # a time past int64 is only ever after
            return
        day = dt.date(1970, 1, 1) + dt.timedelta(days=ns // DAY_NS)
        try:
            row = self._row(attrs, claude, name, record, is_span, ns)
        except Refused as refused:
            self._quarantine(day, str(refused), {"service.name": service, "record": record}, line, index)
            return
        if unit:
            self.repaired.setdefault((day, unit), [0, record])[0] += 1
        event_name = name[12:] if claude and name.startswith("claude_code.") else name
        for append, value in zip(self._append, row):
            append(value)
        ids = (_text(record.get("traceId")), _text(record.get("spanId"))) if is_span else (None, None)
        for append, value in zip(self._append_tail, (ns, event_name, *ids, tool, service, version, resource_json,
                                                     self.source_file, line)):
            append(value)
        self.counts["requests"] += 1

    @staticmethod
    def _row(attrs: dict[str, Any], claude: bool, name: Any, record: dict[str, Any], is_span: bool,
             ns: int) -> tuple:
        get = attrs.get
        if claude:
            is_error = name in CLAUDE_ERROR
            input_tokens = count(get("input_tokens"), "input_tokens")
            output_tokens = count(get("output_tokens"), "output_tokens")
            cache_read = count(get("cache_read_tokens"), "cache_read_tokens")
            cache_write = count(get("cache_creation_tokens"), "cache_creation_tokens")
            cost = money(get("cost_usd"), "cost_usd")
            provider = get("gen_ai.provider.name") or get("gen_ai.system") or "anthropic"
            model = get("model")
            request_model = None
        else:
            total_name = "gen_ai.usage.input_tokens" if "gen_ai.usage.input_tokens" in attrs else \
                "gen_ai.usage.prompt_tokens"
            total_input = count(get(total_name), total_name)
            output_name = "gen_ai.usage.output_tokens" if "gen_ai.usage.output_tokens" in attrs else \
                "gen_ai.usage.completion_tokens"
            output_tokens = count(get(output_name), output_name)
            cache_read = count(get("gen_ai.usage.cache_read.input_tokens"), "gen_ai.usage.cache_read.input_tokens")
            cache_write = count(get("gen_ai.usage.cache_creation.input_tokens"),
                                "gen_ai.usage.cache_creation.input_tokens")
            input_tokens = total_input
            if total_input is not None:
                cached = (cache_read or 0) + (cache_write or 0)
                # the convention counts cached tokens in the input; instrumentations that do not are taken as given
                if cached and total_input >= cached:
                    input_tokens = total_input - cached
            cost = money(get("gen_ai.usage.cost"), "gen_ai.usage.cost")
            provider = get("gen_ai.provider.name") or get("gen_ai.system")
            request_model = get("gen_ai.request.model")
            model = get("gen_ai.response.model") or request_model
            status = record.get("status") if is_span else None
            is_error = "error.type" in attrs or (isinstance(status, dict) and status.get("code") in SPAN_STATUS_ERROR)
        negative = [n for n, v in (("input_tokens", input_tokens), ("output_tokens", output_tokens),
                                   ("cache_read_tokens", cache_read), ("cache_write_tokens", cache_write))
                    if v is not None and v < 0]
        if negative:
            raise Refused(f"negative count in {', '.join(negative)}")
        if cost is not None and cost < 0:
            raise Refused("negative amount in cost_usd")
        if is_span and get("duration_ms") is None:
            end, _ = unix_nanos(record.get("endTimeUnixNano"), "endTimeUnixNano")
            duration = (end - ns) // 1_000_000 if end else None
        else:
            duration = milliseconds(get("duration_ms"), "duration_ms")
        if duration is not None and duration < 0:
            raise Refused("negative duration_ms")
        status_code = get("status_code")
        if status_code is None:
            status_code = get("http.response.status_code")
        extra = {k: v for k, v in attrs.items() if k not in KNOWN_ATTRIBUTES}
        user_id = get("user.account_uuid") or get("user.account_id") or get("enduser.id")
        return (  # in ROW_COLUMNS order
            _text(provider),
            _text(get("session.id") or get("gen_ai.conversation.id")),
            _text(get("prompt.id")),
            _text(get("request_id") or get("gen_ai.response.id")),
            count(get("event.sequence"), "event.sequence"),
            _email(get("user.email")),
            _text(user_id if user_id or claude else get("user.id")),
            _text(get("user.id")) if claude else None,
            _text(get("organization.id")),
            _text(get("agent.name") or get("gen_ai.agent.name")),
            _text(model),
            _text(request_model),
            input_tokens,
            output_tokens,
            cache_read,
            cache_write,
            cost,
            duration,
            bool(is_error),
            count(status_code, "status_code"),
            count(get("attempt"), "attempt"),
            _text(get("error") if claude else get("error.type")),
            _text(get("query_source")),
            _text(get("speed")),
            _json(extra) if extra else None,
        )

    def _new_columns(self) -> None:
        self.columns: dict[str, list[Any]] = {name: [] for name in COLUMNS}
        self._append = [self.columns[name].append for name in ROW_COLUMNS]
        self._append_tail = [self.columns[name].append for name in TAIL_COLUMNS]

    def _flush(self) -> None:
        """The rows parsed so far into an Arrow record batch (short Python lists keep parsing fast)."""
        columns = self.columns
        self._new_columns()
        if not columns["source_line"]:
            return
        self._add_batch({name: pa.array(values, AGENT_REQUESTS_SCHEMA.field(name).type)
                         for name, values in columns.items()})

    def _add_batch(self, arrays: dict[str, pa.Array]) -> None:
        """A record batch of `agent_requests` from its parsed columns: the day, the timestamp and the key added."""
        ns = arrays["event_time_unix_nano"]
        arrays = {**arrays, "usage_date": pc.divide(ns, DAY_NS).cast(pa.int32()).cast(pa.date32()),
                  "event_at": pc.divide(ns, 1000).cast(TIMESTAMP), "event_key": event_keys(arrays)}
        self.batches.append(pa.RecordBatch.from_arrays([arrays[name] for name in AGENT_REQUESTS_SCHEMA.names],
                                                       schema=AGENT_REQUESTS_SCHEMA))
        self.pending += len(ns)

    def table(self) -> pa.Table:
        """Every row parsed so far as one Arrow table (and a fresh start)."""
        self._flush()
        batches, self.batches, self.pending = self.batches, [], 0
        return pa.Table.from_batches(batches, schema=AGENT_REQUESTS_SCHEMA)


def is_telemetry_file(name: str) -> bool:
    return name.lower().endswith(FILE_SUFFIXES)


def window_ns(window: SourceWindow) -> tuple[Optional[int], Optional[int]]:
    """[lo, hi) in nanoseconds of the events a run loads: the window minus its lookback; unbounded without dates."""
    start, end = as_date(window.start_date), as_date(window.end_date)
    lookback = dt.timedelta(days=window.lookback_days)
    if end is not None:
        start = start or end - dt.timedelta(days=1)
    epoch = dt.date(1970, 1, 1)
    lo = ((start - lookback) - epoch).days * DAY_NS if start is not None else None
    hi = (end - epoch).days * DAY_NS if end is not None else None
    return lo, hi


def demo_days(window: SourceWindow) -> tuple[dt.date, dt.date]:
    """The days of demo files a window needs: its days, its lookback, and the day before (sessions cross midnight)."""
    start, end = as_date(window.start_date), as_date(window.end_date)
    end = end or today_utc()
    start = start or end - dt.timedelta(days=DEFAULT_HISTORY_DAYS)
    return start - dt.timedelta(days=window.lookback_days + 1), end


# ------------------------------------------------------------------------------------------------- source

def agent_telemetry_source(
    path_or_url: Optional[str] = None,
    start_date: Optional[str] = None,
    end_date: Optional[str] = None,
    lookback_days: int = settings.DEFAULT_LOOKBACK_DAYS,
    file_glob: str = "**/*",
    filesystem: Optional[AbstractFileSystem] = None,
    batch_rows: int = BATCH_ROWS,
):
    """Model requests from OTel JSON-lines files under `path_or_url` (default: `SOURCES__AGENT_TELEMETRY__PATH`, or the
    demo's files in demo mode) matching `file_glob`, for events in [start_date - lookback_days, end_date).

    With `end_date` (a Dagster partition window) the run reads every file modified since the window's first day
    and keeps no state; without it, the files modified since the last run (minus `lookback_days`). `filesystem`: an
    fsspec filesystem to use instead of one built from dlt config (tests; custom clients)."""
    window = SourceWindow(start_date, end_date, int(lookback_days), 1)
    return _agent_telemetry(path_or_url, window, file_glob, filesystem, int(batch_rows))


@dlt.source(name=SECTION, max_table_nesting=0, schema_contract=SCHEMA_CONTRACT)
def _agent_telemetry(path_or_url: Optional[str], window: SourceWindow, file_glob: str,
                     fs: Optional[AbstractFileSystem], batch_rows: int):
    def prepare_demo(folder: Path) -> None:
        from ingestion.demo.telemetry import demo_telemetry

        demo = demo_telemetry(settings.demo_world())
        written = demo.write_telemetry(folder, *demo_days(window))
        logger.info(f"{SECTION}: demo files in {folder} ({len(written)} (re)written)")

    listing = file_listing(SECTION, path_or_url, file_glob, modification_cursor(window), fs, prepare_demo)
    bounds = window_ns(window)

    held: Optional[set[tuple[str, str, int]]] = None  # asked of the warehouse once, at the first file

    @dlt.transformer(data_from=listing, name=RESOURCE, primary_key="event_key", write_disposition=MERGE_REQUESTS)
    def agent_requests(files: list[Any]) -> Iterator[Any]:
        nonlocal held
        if not files:  # the listing's closing item: the tables exist even when no file was new
            yield AGENT_REQUESTS_SCHEMA.empty_table()
            yield quarantine_hints(FILE_QUARANTINE_SCHEMA.empty_table(), RESOURCE)
            yield files_log(FILES_SCHEMA.empty_table())
            return
        for item in files:
            if not is_telemetry_file(item["file_name"]):
                logger.info(f"{SECTION}: skipping {item['file_url']} (not a .json/.jsonl/.ndjson file)")
                continue
            if held is None:
                held = held_files(bounds)
            identity = file_identity(item["file_url"], item.get("modification_date"), item.get("size_in_bytes"))
            if identity is not None and identity in held:
                logger.info(f"{SECTION}: {item['file_url']}: unchanged, and what of it falls in this window was "
                            "loaded before; not read again")
                continue
            reader = TelemetryFile(item["file_url"], bounds, file_day(item), batch_rows)
            with failing_unreadable(SECTION, item["file_url"]), item.open("rb") as handle:
                yield from reader.read(handle)
            issues = reader.issue_rows()
            if issues:
                yield quarantine_hints(pa.Table.from_pylist(issues, schema=FILE_QUARANTINE_SCHEMA), RESOURCE)
            counts = reader.counts
            message = (f"{SECTION}: {item['file_url']}: {counts['lines']} lines, {counts['requests']} requests, "
                       f"{counts['other_records']} other records, {counts['outside_window']} outside the window, "
                       f"{counts['metrics_lines']} metrics exports, {counts['quarantined']} quarantined")
            (logger.warning if counts["quarantined"] else logger.info)(message)
            yield files_log(pa.Table.from_pylist([{
                "file_url": item["file_url"], "modification_date": item.get("modification_date"),
                "size_in_bytes": item.get("size_in_bytes"), "lines": counts["lines"], "requests": counts["requests"],
                "outside_window": counts["outside_window"], "quarantined": counts["quarantined"],
                **reader.outside_rows()}], schema=FILES_SCHEMA))

    return agent_requests


def held_files(window: tuple[Optional[int], Optional[int]]) -> set[tuple[str, str, int]]:
    """The identities (file_identity) of the files whose last read loaded every request of theirs in `window`
    (unbounded where None): those it read in full, and those whose requests outside the window it was read for lie
    outside this one too (all before its start, or all after its end). Rows logged before the sides were counted
    (null) qualify only when read in full."""
    lo, hi = window
    identity = "file_url, modification_date, size_in_bytes"
    rows = loaded_rows(
        FILES_TABLE, identity,
        "outside_window = 0 or (requests_before_window is not null and requests_after_window is not null"
        " and (requests_before_window = 0 or last_before_window_unix_nano < %s)"
        " and (requests_after_window = 0 or first_after_window_unix_nano >= %s))",
        # an unbounded side takes every request of that side: no bound qualifies a file that has any
        -(2**63) if lo is None else lo, 2**63 - 1 if hi is None else hi) or (
        # a log from before the sides were counted has no such columns (nothing is read then): read in full only
        loaded_rows(FILES_TABLE, identity, "outside_window = 0"))
    return {file_identity(url, modified, size) for url, modified, size in rows} - {None}


def file_identity(url: str, modified: Any, size: Any) -> Optional[tuple[str, str, int]]:
    """What says a file is the one read before: its url, modification date (UTC, to the microsecond: the warehouse's
    precision) and size. None (never equal to a loaded file's) when the filesystem gives no date or size."""
    if modified is None or size is None:
        return None
    return url, modified.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f"), int(size)


def files_log(table: pa.Table) -> Any:
    """Rows of `agent_requests_files`, merged on the file's url (its latest read)."""
    return dlt.mark.with_hints(table, dlt.mark.make_hints(
        table_name=FILES_TABLE, primary_key="file_url", write_disposition=MERGE_BY_KEY), create_table_variant=True)


__all__ = ["AGENT_REQUESTS_SCHEMA", "TelemetryFile", "agent_telemetry_source", "attributes", "count", "money",
           "unix_nanos"]
