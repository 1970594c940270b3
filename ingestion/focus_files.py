"""FOCUS cost exports (CSV or Parquet; FOCUS 1.0 to 1.2) from a folder or bucket into `raw_focus_files.focus_costs`.

Any provider's FOCUS export is read the same way: cloud providers' (AWS Data Exports, Google Cloud, Azure Cost
Management), SaaS vendors' and FinOps tools'. Files are listed with dlt's filesystem source, incrementally by
modification date (`ingestion/_files.py`: paths, credentials, demo files); `.csv`, `.csv.gz` and `.parquet` files are
read, anything else beside them (manifests) is skipped.

Columns: FOCUS names are matched without regard to case or underscores (`BilledCost`, `billed_cost`), plus the
renames between versions (pre-1.0 `AmortizedCost` -> `EffectiveCost`, `ChargeType` -> `ChargeCategory`,
`UsageQuantity` / `UsageUnit` -> `Consumed*`; 1.3's `ServiceProviderName` -> `ProviderName`) where the current name
is absent. They land in snake case: costs and quantities as decimals (CSV is read as text, so amounts are exact; a
Parquet double is read from its shortest repr), the four period columns as UTC timestamps, `Tags` and
`SkuPriceDetails` as JSON text, provider-defined `x_` columns as one JSON object (`x_columns`) and any other column
in `extra_fields`. `charge_date` is ChargePeriodStart's UTC day.

Refused into `focus_costs_quarantine` with the reason: rows without ChargePeriodStart (or with one that is not a
timestamp), with a BilledCost that is empty or not a number, with another cost or quantity that is not a number,
or billed in another currency than USD (the warehouse adds dollars; no exchange rate is applied). A file without a
ChargePeriodStart or BilledCost column is not a FOCUS export: it is quarantined as one record. A Tags (or
SkuPriceDetails) value that is not a JSON object is kept in `extra_fields` (row loaded, `tags` null) and counted as
normalized. A file that cannot be read to its end (broken gzip, a CSV row with more fields than the header, text
that is not UTF-8, a Parquet file without its footer) fails the run naming the file, and nothing is loaded: its rows
before the damage would pass for the whole export.

Idempotency: an export file is the provider's statement of those charges, and providers rewrite it (a month's file
grows daily; a restatement can remove rows). The table is merged with `source_file` as merge key (`delete-insert`):
re-reading a file replaces all of its rows, so a re-export neither duplicates nor leaves removed rows behind, and
other files' rows for the same days are untouched (a delete by charge day would remove them when only one file of
that day was re-read). `row_key` (file + row number) is unique within the table. The quarantine is replaced per
file the same way. Providers configured to write a new file per refresh (instead of overwriting) must be pointed at
the latest version with `file_glob`, or their charges are counted once per version. A file deleted from the folder,
or re-exported empty, keeps the rows it had, and a file read again without issues keeps its earlier quarantine
records (a delete needs rows to say what to delete).
"""

from __future__ import annotations

import csv
import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Iterator, Optional

import dlt
import orjson
import pyarrow as pa
import pyarrow.compute as pc
from dlt.common import logger
from fsspec import AbstractFileSystem

from ingestion import settings
from ingestion._common import MONEY, SCHEMA_CONTRACT, TIMESTAMP, SourceWindow, parse_timestamp
from ingestion._files import (
    FILE_QUARANTINE_SCHEMA, failing_unreadable, file_day, file_listing, key, modification_cursor, quarantine_hints,
)
from ingestion.http import MalformedResponseError

SECTION = "focus_files"
RESOURCE = "focus_costs"
CSV_BLOCK_BYTES = 8 << 20
PARQUET_BATCH_ROWS = 100_000
MAX_RECORD_CHARS = 20_000
PLACES = Decimal("1e-12")  # MONEY's scale
MERGE_BY_FILE = {"disposition": "merge", "strategy": "delete-insert"}

MONEY_COLUMNS = ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost")
DECIMAL_COLUMNS = (*MONEY_COLUMNS, "ConsumedQuantity", "PricingQuantity", "ListUnitPrice", "ContractedUnitPrice",
                   "CommitmentDiscountQuantity")
TIME_COLUMNS = ("ChargePeriodStart", "ChargePeriodEnd", "BillingPeriodStart", "BillingPeriodEnd")
JSON_COLUMNS = ("Tags", "SkuPriceDetails")
TEXT_COLUMNS = (
    "BillingAccountId", "BillingAccountName", "BillingAccountType", "BillingCurrency", "ChargeCategory",
    "ChargeClass", "ChargeDescription", "ChargeFrequency", "ProviderName", "PublisherName", "InvoiceIssuerName",
    "InvoiceId", "ServiceName", "ServiceCategory", "ServiceSubcategory", "SubAccountId", "SubAccountName",
    "SubAccountType", "ResourceId", "ResourceName", "ResourceType", "RegionId", "RegionName", "AvailabilityZone",
    "PricingCategory", "PricingUnit", "PricingCurrency", "ConsumedUnit", "SkuId", "SkuPriceId", "SkuMeter",
    "CommitmentDiscountId", "CommitmentDiscountName", "CommitmentDiscountCategory", "CommitmentDiscountType",
    "CommitmentDiscountStatus", "CommitmentDiscountUnit", "CapacityReservationId", "CapacityReservationStatus",
)
# FOCUS 1.2 columns kept in extra_fields rather than as columns of their own
OTHER_FOCUS_COLUMNS = ("PricingCurrencyContractedUnitPrice", "PricingCurrencyEffectiveCost",
                       "PricingCurrencyListUnitPrice")
MODELED = (*TIME_COLUMNS, *DECIMAL_COLUMNS, *TEXT_COLUMNS, *JSON_COLUMNS)
ALIASES = {"amortizedcost": "EffectiveCost", "chargetype": "ChargeCategory", "usagequantity": "ConsumedQuantity",
           "usageunit": "ConsumedUnit", "serviceprovidername": "ProviderName", "invoiceissuer": "InvoiceIssuerName",
           "region": "RegionId", "provider": "ProviderName"}
FILE_SUFFIXES = (".csv", ".csv.gz", ".parquet", ".parq")


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _lookup(name: str) -> str:
    return name.replace("_", "").replace(" ", "").lower()


CANONICAL = {_lookup(c): c for c in (*MODELED, *OTHER_FOCUS_COLUMNS)}

FOCUS_COSTS_SCHEMA = pa.schema([
    pa.field("charge_date", pa.date32(), nullable=False),  # ChargePeriodStart's UTC day
    *[(snake(c), TIMESTAMP) for c in TIME_COLUMNS],
    *[(snake(c), MONEY) for c in DECIMAL_COLUMNS],
    *[(snake(c), pa.string()) for c in TEXT_COLUMNS],
    *[(snake(c), pa.string()) for c in JSON_COLUMNS],  # JSON text
    ("x_columns", pa.string()),  # JSON: the provider's x_ columns
    ("extra_fields", pa.string()),  # JSON: any other column of the file
    pa.field("source_file", pa.string(), nullable=False),  # the merge key
    ("source_row", pa.int64()),  # 1-based data row of the file
    ("file_modified_at", TIMESTAMP),
    pa.field("row_key", pa.string(), nullable=False),
])


# ------------------------------------------------------------------------------------------------- values

def _blank_to_null(array: pa.Array) -> pa.Array:
    trimmed = pc.utf8_trim_whitespace(array)
    return pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)


def _decimal(value: Any) -> Optional[Decimal]:
    """A decimal from text or a number, to 12 places; None when it is not a finite number."""
    if isinstance(value, bool):
        return None
    try:
        number = Decimal(repr(value) if isinstance(value, float) else str(value).strip())
    except InvalidOperation:
        return None
    if not number.is_finite():
        return None
    number = number.quantize(PLACES)
    return number if len(number.as_tuple().digits) <= 38 else None


def to_decimals(array: pa.Array) -> pa.Array:
    """Decimals (38, 12) of a column; values that are not numbers become null (the caller compares validity)."""
    kind = array.type
    if pa.types.is_null(kind):
        return pa.nulls(len(array), MONEY)
    if pa.types.is_floating(kind):
        array = array.cast(pa.string())
    elif pa.types.is_string(kind) or pa.types.is_large_string(kind):
        array = _blank_to_null(array.cast(pa.string()))
    if pa.types.is_decimal(kind) or pa.types.is_integer(kind) or pa.types.is_string(array.type):
        try:
            return array.cast(MONEY)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            pass
    return pa.array([None if v is None else _decimal(v) for v in array.to_pylist()], MONEY)


def _timestamp(value: Any) -> Optional[dt.datetime]:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.timezone.utc)
    try:
        return parse_timestamp(value, "FOCUS")
    except MalformedResponseError:
        return None


def to_timestamps(array: pa.Array) -> pa.Array:
    """UTC timestamps of a column: typed timestamps (naive ones read as UTC), dates, ISO 8601 text."""
    kind = array.type
    if pa.types.is_null(kind):
        return pa.nulls(len(array), TIMESTAMP)
    if pa.types.is_timestamp(kind):
        return (array if kind.tz else array.cast(pa.timestamp(kind.unit, tz="UTC"))).cast(TIMESTAMP)
    if pa.types.is_date(kind):
        return array.cast(pa.timestamp("us")).cast(TIMESTAMP)
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        array = _blank_to_null(array.cast(pa.string()))
        try:
            return array.cast(TIMESTAMP)
        except pa.ArrowInvalid:
            pass
        try:  # no offsets at all: UTC by FOCUS's definition
            return array.cast(pa.timestamp("us")).cast(TIMESTAMP)
        except pa.ArrowInvalid:
            pass
    return pa.array([None if v is None else _timestamp(v) for v in array.to_pylist()], TIMESTAMP)


def to_text(array: pa.Array) -> pa.Array:
    kind = array.type
    if pa.types.is_string(kind):
        return array
    if pa.types.is_nested(kind):
        return pa.array([None if v is None else _json(v) for v in array.to_pylist()], pa.string())
    return array.cast(pa.string())


def _json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS, default=str).decode()


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _json_text_or_none(value: Any) -> Optional[str]:
    """A JSON column's value as JSON text with sorted keys; None when it is blank or not a JSON object."""
    parsed = None if _blank(value) else _json_object(value)
    return None if parsed is None else _json(parsed)


def _not_a_json_object(value: Any) -> Optional[str]:
    """'x' for a JSON column's value that is given (not blank) but not a JSON object, else None (a mask as text, so
    that it can be computed per distinct value like the texts)."""
    return "x" if not _blank(value) and _json_object(value) is None else None


def _json_object(value: Any) -> Optional[dict]:
    """A JSON object from JSON text, a struct (dict) or a map (list of pairs); None when it is none of those."""
    if isinstance(value, dict):
        return value
    if isinstance(value, list) and all(isinstance(p, tuple) and len(p) == 2 for p in value):
        return dict(value)
    if isinstance(value, (str, bytes)):
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError:
            return None
        return parsed if isinstance(parsed, dict) else None
    return None


# Value types a column's distinct values are rendered once for (Arrow dictionary-encodes them, and equal values are
# equal Python values); floats (0.0 and -0.0 are one distinct value to Arrow) and nested values go row by row.
_DISTINCT_TYPES = (pa.types.is_string, pa.types.is_large_string, pa.types.is_integer, pa.types.is_boolean,
                   pa.types.is_decimal, pa.types.is_date, pa.types.is_timestamp)


def _per_distinct(values: pa.Array, *renders) -> list[pa.Array]:
    """Each `render(value)` (text or None) for every row, computed once per distinct value where the type allows
    (a FOCUS column holds a handful of distinct tags or SKU details over tens of thousands of rows), else per row."""
    if any(is_type(values.type) for is_type in _DISTINCT_TYPES):
        encoded = pc.dictionary_encode(values)
        distinct = encoded.dictionary.to_pylist()
        return [pc.take(pa.array([render(value) for value in distinct], pa.string()), encoded.indices)
                for render in renders]
    rows = values.to_pylist()
    return [pa.array([render(value) for value in rows], pa.string()) for render in renders]


def _json_entry(key_name: str, value: Any) -> str:
    """`"key":<value as JSON>`: one entry of a JSON object, as `_json` writes it."""
    return _json({key_name: value})[1:-1]


def json_entries(key_name: str, values: pa.Array) -> pa.Array:
    """Per row `"key":<value as JSON>` (one entry of a JSON object, as `_json` writes it), null where the value is
    null or empty text (an absent value is left out of the object)."""
    def entry(value: Any) -> Optional[str]:
        return None if value is None or value == "" else _json_entry(key_name, value)

    return _per_distinct(values, entry)[0]


def json_objects(entries: list[pa.Array], n: int) -> pa.Array:
    """Per row the JSON object of its entries (given in the order of their keys), null where a row has none: the
    same text as `_json` of the row's dict, column by column instead of a dict per row."""
    if not entries:
        return pa.nulls(n, pa.string())
    # each entry led by a comma, nulls as nothing ("skip" would drop rows without any entry: pyarrow 26 returns a
    # shorter array), then the first comma replaced by the opening brace
    led = [pc.binary_join_element_wise(pa.scalar(","), entry, pa.scalar("")) for entry in entries]
    joined = pc.binary_join_element_wise(*led, pa.scalar(""), null_handling="replace", null_replacement="")
    wrapped = pc.binary_join_element_wise(pa.scalar("{"), pc.utf8_slice_codeunits(joined, 1), pa.scalar("}"),
                                          pa.scalar(""))
    # an entry is never empty text, so an empty join is a row without any entry
    return pc.if_else(pc.equal(joined, ""), pa.nulls(n, pa.string()), wrapped)


# ------------------------------------------------------------------------------------------------- reading

def map_columns(names: list[str]) -> tuple[dict[str, str], list[str], list[str]]:
    """(FOCUS column -> the file's column, x_ columns, other columns). Exact FOCUS names win over aliases; a second
    column for the same FOCUS column stays an extra."""
    mapped: dict[str, str] = {}
    x_columns, others = [], []
    for name in names:
        canonical = CANONICAL.get(_lookup(name))
        if name.lower().startswith("x_"):
            x_columns.append(name)
        elif canonical and canonical not in mapped:
            mapped[canonical] = name
        else:
            others.append(name)
    for name in list(others):
        alias = ALIASES.get(_lookup(name))
        if alias and alias not in mapped:
            mapped[alias] = name
            others.remove(name)
    return mapped, x_columns, others


class FocusFile:
    """One export's record batches normalized into `focus_costs` tables; refusals collected in `issues`."""

    def __init__(self, source_file: str, modified_at: Optional[dt.datetime], file_date: dt.date) -> None:
        self.source_file = source_file
        self.modified_at = modified_at
        self.file_date = file_date
        self.issues: list[dict[str, Any]] = []
        self.json_repaired: dict[str, list[Any]] = {}  # FOCUS column -> [rows, an example]
        self.rows = 0
        self.loaded = 0

    def _issue(self, day: Optional[dt.date], action: str, reason: str, record: Any, row: Any) -> None:
        text = _json(record)
        if len(text) > MAX_RECORD_CHARS:
            text = text[:MAX_RECORD_CHARS] + "...(truncated)"
        self.issues.append({"bucket_date": day or self.file_date, "resource": RESOURCE, "action": action,
                            "reason": reason, "record": text, "row_key": key(self.source_file, row, reason),
                            "source_file": self.source_file})

    def issue_rows(self) -> list[dict[str, Any]]:
        rows = list(self.issues)
        for name, (count, example) in sorted(self.json_repaired.items()):
            reason = f"{name} is not a JSON object: kept in extra_fields, {snake(name)} left null"
            rows.append({"bucket_date": self.file_date, "resource": RESOURCE, "action": "normalized",
                         "reason": reason, "record": _json({"rows": count, "example": example}),
                         "row_key": key(self.source_file, name, reason), "source_file": self.source_file})
        return rows

    def check_header(self, names: list[str]) -> bool:
        mapped, _, _ = map_columns(names)
        missing = [c for c in ("ChargePeriodStart", "BilledCost") if c not in mapped]
        if missing:
            self._issue(None, "quarantined", f"not a FOCUS export: no {' / '.join(missing)} column",
                        {"columns": names}, "header")
            return False
        return True

    def normalize(self, batch: pa.Table) -> pa.Table:
        """A batch of the file's rows as `focus_costs` rows; refused rows go to `issues`."""
        n = batch.num_rows
        offset = self.rows
        self.rows += n
        names = batch.column_names
        mapped, x_names, other_names = map_columns(names)
        column = {name: batch.column(i).combine_chunks() for i, name in enumerate(names)}
        out: dict[str, pa.Array] = {}
        reasons: list[Optional[str]] = [None] * n

        def refuse(mask: pa.Array, reason_of) -> None:
            for i in pc.indices_nonzero(mask.fill_null(False)).to_pylist():
                if reasons[i] is None:
                    reasons[i] = reason_of(i)

        for name in TIME_COLUMNS:
            source = column.get(mapped.get(name, ""))
            values = to_timestamps(source) if source is not None else pa.nulls(n, TIMESTAMP)
            out[snake(name)] = values
            if name == "ChargePeriodStart":
                def why(i: int, source=source) -> str:
                    given = source[i].as_py() if source is not None else None
                    if given is None or (isinstance(given, str) and not given.strip()):
                        return "no ChargePeriodStart"
                    return f"ChargePeriodStart is not a timestamp: {given!r}"

                refuse(pc.invert(values.is_valid()), why)
        for name in DECIMAL_COLUMNS:
            source = column.get(mapped.get(name, ""))
            if source is None:
                out[snake(name)] = pa.nulls(n, MONEY)
                if name == "BilledCost":
                    refuse(pa.array([True] * n), lambda i: "BilledCost is empty")
                continue
            values = to_decimals(source)
            out[snake(name)] = values
            given = source.is_valid() if not (pa.types.is_string(source.type) or pa.types.is_large_string(
                source.type)) else _blank_to_null(source.cast(pa.string())).is_valid()
            raw = source
            refuse(pc.and_(given, pc.invert(values.is_valid())),
                   lambda i, name=name, raw=raw: f"{name} is not a number: {raw[i].as_py()!r}")
            if name == "BilledCost":
                refuse(pc.invert(given), lambda i: "BilledCost is empty")
        for name in TEXT_COLUMNS:
            source = column.get(mapped.get(name, ""))
            out[snake(name)] = to_text(source) if source is not None else pa.nulls(n, pa.string())
        currency = out["billing_currency"]
        refuse(pc.and_(currency.is_valid(), pc.not_equal(pc.utf8_upper(pc.utf8_trim_whitespace(currency)), "USD")),
               lambda i: f"currency {currency[i].as_py()} is not USD (no exchange rate is applied)")

        # JSON columns: each distinct value parsed once; one that is not a JSON object is kept in extra_fields
        extras: dict[str, pa.Array] = {}  # extra_fields' entries by key
        for name in JSON_COLUMNS:
            source = column.get(mapped.get(name, ""))
            if source is None:
                out[snake(name)] = pa.nulls(n, pa.string())
                continue
            texts, not_object = _per_distinct(source, _json_text_or_none, _not_a_json_object)
            kept = [None] * n
            for i in pc.indices_nonzero(not_object.is_valid()).to_pylist():
                value = source[i].as_py()
                kept[i] = _json_entry(mapped[name], value)
                if reasons[i] is None:
                    self.json_repaired.setdefault(name, [0, value])[0] += 1
            extras[mapped[name]] = pa.array(kept, pa.string())
            out[snake(name)] = texts
        # x_ columns and everything else as JSON objects, keys sorted as _json sorts them
        for name in other_names:
            extras[name] = json_entries(name, column[name])
        out["x_columns"] = json_objects([json_entries(name, column[name]) for name in sorted(set(x_names))], n)
        out["extra_fields"] = json_objects([extras[name] for name in sorted(extras)], n)
        out["source_file"] = pa.array([self.source_file] * n, pa.string())
        out["source_row"] = pa.array(range(offset + 1, offset + n + 1), pa.int64())
        out["file_modified_at"] = pa.array([self.modified_at] * n, TIMESTAMP)
        out["row_key"] = pa.array([key(self.source_file, offset + i + 1) for i in range(n)], pa.string())
        start = out["charge_period_start"]
        out["charge_date"] = start.cast(pa.date32())

        refused = [i for i, reason in enumerate(reasons) if reason is not None]
        if refused:
            records = batch.take(pa.array(refused)).to_pylist()
            days = pc.cast(start.take(pa.array(refused)), pa.date32()).to_pylist()
            for i, record, day in zip(refused, records, days):
                self._issue(day, "quarantined", reasons[i], record, offset + i + 1)
            keep = pa.array([r is None for r in reasons])
            loose = FOCUS_COSTS_SCHEMA.set(0, pa.field("charge_date", pa.date32()))  # refused rows have no day
            table = pa.Table.from_arrays([out[c] for c in FOCUS_COSTS_SCHEMA.names], schema=loose)
            table = table.filter(keep).cast(FOCUS_COSTS_SCHEMA)
        else:
            table = pa.Table.from_arrays([out[c] for c in FOCUS_COSTS_SCHEMA.names], schema=FOCUS_COSTS_SCHEMA)
        self.loaded += table.num_rows
        return table


def csv_batches(handle: Any) -> Iterator[pa.Table]:
    """A CSV file as record batches of text columns (amounts stay exact), header names from its first line."""
    import pyarrow.csv as pacsv

    header = handle.readline().decode("utf-8-sig")
    names = next(csv.reader([header]), [])
    seen: dict[str, int] = {}
    unique = []
    for name in names:  # a repeated header name would collide: the second one gets a suffix
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name}__{seen[name]}")
    if not unique:
        return
    reader = pacsv.open_csv(
        handle,
        read_options=pacsv.ReadOptions(column_names=unique, block_size=CSV_BLOCK_BYTES),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in unique}, null_values=[""],
                                             strings_can_be_null=True, quoted_strings_can_be_null=True),
    )
    yielded = False
    for batch in reader:
        yielded = True
        yield pa.Table.from_batches([batch])
    if not yielded:
        yield pa.table({n: pa.array([], pa.string()) for n in unique})


def parquet_batches(handle: Any) -> Iterator[pa.Table]:
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(handle)
    yielded = False
    for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS):
        yielded = True
        yield pa.Table.from_batches([batch])
    if not yielded:
        yield parquet.schema_arrow.empty_table()


def is_focus_file(name: str) -> bool:
    return name.lower().endswith(FILE_SUFFIXES)


def read_focus_file(item: Any) -> tuple[FocusFile, Iterator[pa.Table]]:
    """(the file's state, its `focus_costs` tables) for a dlt `FileItemDict`."""
    modified = item.get("modification_date")
    focus = FocusFile(item["file_url"], modified if isinstance(modified, dt.datetime) else None, file_day(item))
    parquet = item["file_name"].lower().endswith((".parquet", ".parq"))

    def tables() -> Iterator[pa.Table]:
        with item.open("rb") as handle:
            batches = parquet_batches(handle) if parquet else csv_batches(handle)
            first = True
            for batch in parsed(batches):
                if first and not focus.check_header(batch.column_names):
                    return
                first = False
                table = focus.normalize(batch)
                if table.num_rows:
                    yield table

    def parsed(batches: Iterator[pa.Table]) -> Iterator[pa.Table]:
        # only the reading is wrapped: an error while normalizing a batch is ours, not the file's
        while True:
            with failing_unreadable(SECTION, item["file_url"], pa.ArrowException, UnicodeDecodeError):
                batch = next(batches, None)
            if batch is None:
                return
            yield batch

    return focus, tables()


# ------------------------------------------------------------------------------------------------- source

def focus_files_source(
    path_or_url: Optional[str] = None,
    file_glob: str = "**/*",
    modified_since: Optional[str] = None,
    lookback_days: int = settings.DEFAULT_LOOKBACK_DAYS,
    filesystem: Optional[AbstractFileSystem] = None,
):
    """FOCUS rows from the `.csv`, `.csv.gz` and `.parquet` files under `path_or_url` (default:
    `SOURCES__FOCUS_FILES__PATH`, or the demo's cloud export in demo mode) matching `file_glob`.

    Incremental by modification date: each run reads the files modified since the last run (minus `lookback_days`);
    the first run reads all of them, or those modified since `modified_since` (a date). A file read again replaces
    its rows. `filesystem`: an fsspec filesystem to use instead of one built from dlt config."""
    window = SourceWindow(modified_since, None, int(lookback_days), 1)
    return _focus_files(path_or_url, window, file_glob, filesystem)


@dlt.source(name=SECTION, max_table_nesting=0, schema_contract=SCHEMA_CONTRACT)
def _focus_files(path_or_url: Optional[str], window: SourceWindow, file_glob: str,
                 fs: Optional[AbstractFileSystem]):
    def prepare_demo(folder: Path) -> None:
        from ingestion.demo.telemetry import demo_cloud_bill

        written = demo_cloud_bill(settings.demo_world()).write_focus(folder)
        logger.info(f"{SECTION}: demo export in {folder} ({len(written)} file(s) (re)written)")

    listing = file_listing(SECTION, path_or_url, file_glob, modification_cursor(window), fs, prepare_demo)

    @dlt.transformer(data_from=listing, name=RESOURCE, merge_key="source_file", write_disposition=MERGE_BY_FILE)
    def focus_costs(files: list[Any]) -> Iterator[Any]:
        if not files:  # the listing's closing item: the tables exist even when no file was new
            yield FOCUS_COSTS_SCHEMA.empty_table()
            yield quarantine_hints(FILE_QUARANTINE_SCHEMA.empty_table(), RESOURCE, merge_key="source_file")
            return
        for item in files:
            if not is_focus_file(item["file_name"]):
                logger.info(f"{SECTION}: skipping {item['file_url']} (not .csv, .csv.gz or .parquet)")
                continue
            focus, tables = read_focus_file(item)
            yield from tables
            issues = focus.issue_rows()
            if issues:
                yield quarantine_hints(pa.Table.from_pylist(issues, schema=FILE_QUARANTINE_SCHEMA), RESOURCE,
                                       merge_key="source_file")
            quarantined = sum(1 for i in focus.issues if i["action"] == "quarantined")
            message = (f"{SECTION}: {item['file_url']}: {focus.rows} rows, {focus.loaded} loaded, "
                       f"{quarantined} quarantined")
            (logger.warning if quarantined else logger.info)(message)

    return focus_costs


__all__ = ["FOCUS_COSTS_SCHEMA", "FocusFile", "focus_files_source", "map_columns", "to_decimals", "to_timestamps"]
