"""What the file-based sources share: where their files are, listing them incrementally, their quarantine.

A file source reads a folder or any fsspec URL (`s3://`, `gs://`, `az://`, `memory://`, ...) through dlt's filesystem
source. Where: the `path_or_url` argument, else `[sources.<source>] path` in dlt config (env
`SOURCES__<SOURCE>__PATH`), else, in demo mode, a folder of demo files generated at run time. Credentials for object
stores follow dlt's filesystem conventions under the source's section, e.g.
`SOURCES__AGENT_TELEMETRY__CREDENTIALS__AWS_ACCESS_KEY_ID` (the protocol's fsspec package must be installed:
`dlt[s3]`, `dlt[gs]`, `dlt[az]`).

Files are listed with dlt's `filesystem` resource and filtered by a dlt incremental on `modification_date`:

* unbounded runs (no end date) keep state: each run reads the files modified since the last run, minus
  `lookback_days` (dlt's `lag`), so a file still being uploaded when the last run listed (S3 dates a multipart
  upload by its start) is read again;
* bounded runs (an end date, as Dagster partitions give) keep no state and read every file modified on or after
  the window's first day minus a day: a record can only be written to a file after it happened, so an older file
  cannot hold it. Backfills can therefore run in any order.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import dlt
import pyarrow as pa
from dlt.common import logger
from dlt.common.configuration import resolve_configuration
from dlt.common.storages.configuration import FilesystemConfiguration
from dlt.common.storages.fsspec_filesystem import fsspec_from_config
from fsspec import AbstractFileSystem

from ingestion import settings
from ingestion._common import BROKEN_GZIP, QUARANTINE_SCHEMA, TIMESTAMP, SourceWindow, as_date

UTC = dt.timezone.utc
FAR_FUTURE = dt.datetime(9999, 1, 1, tzinfo=UTC)
MTIME_SLACK = dt.timedelta(days=1)  # clocks of the writer and of the store may disagree a little

# the quarantine of a file source: the shared columns plus the file the record came from
FILE_QUARANTINE_SCHEMA = pa.schema([*QUARANTINE_SCHEMA, pa.field("source_file", pa.string(), nullable=False)])


class UnreadableFileError(ValueError):
    """A file that cannot be read to its end. The run fails naming it rather than quarantining it: the rows read
    before the damage would otherwise load as if they were the whole file."""


@contextmanager
def failing_unreadable(section: str, file_url: str, *errors: type[BaseException]) -> Iterator[None]:
    """Wraps the reading of one file: a broken gzip stream, or any of `errors` (a parser's own), fails the run with
    a message naming the source and the file, instead of a bare decompressor or parser error."""
    try:
        yield
    except (*BROKEN_GZIP, *errors) as exc:
        raise UnreadableFileError(
            f"{section}: {file_url} cannot be read ({type(exc).__name__}: {exc}); nothing from this run was "
            "loaded; replace or remove the file") from exc


def key(*parts: Any) -> str:
    return hashlib.md5("\x1f".join("" if p is None else str(p) for p in parts).encode()).hexdigest()


def demo_files_dir() -> Path:
    """Where the demo writes its files at run time: `FINOPS_DEMO_FILES_DIR`, else `demo_files/` in dlt's pipelines
    folder (`FINOPS_PIPELINES_DIR`, default `data/dlt_pipelines`). Never committed."""
    configured = os.environ.get("FINOPS_DEMO_FILES_DIR")
    if configured:
        return Path(configured).resolve()
    return settings.pipelines_dir().resolve() / "demo_files"


def resolve_location(section: str, explicit: Optional[str]) -> tuple[Optional[str], bool]:
    """(where to read, whether it is the demo's folder). The argument wins; a configured path is read unless
    `FINOPS_MODE=demo` is set explicitly; without either, demo mode reads the demo's files and live mode nothing."""
    if explicit:
        return str(explicit), False
    configured = dlt.config.get(f"sources.{section}.path", str)
    forced_demo = os.environ.get("FINOPS_MODE", "").strip().lower() == "demo"
    if configured and not forced_demo:
        return str(configured), False
    if settings.finops_mode() == "demo":
        return str(demo_files_dir() / section), True
    return None, False


def open_filesystem(section: str, bucket_url: str) -> AbstractFileSystem:
    """An fsspec client for `bucket_url` with credentials from dlt config under `sources.<section>`."""
    config = resolve_configuration(FilesystemConfiguration(), sections=("sources", section),
                                   explicit_value={"bucket_url": bucket_url})
    return fsspec_from_config(config)[0]


def modification_cursor(window: SourceWindow) -> dlt.sources.incremental:
    start, end = as_date(window.start_date), as_date(window.end_date)
    lookback = dt.timedelta(days=window.lookback_days)
    if end is not None:
        first = (start or end - dt.timedelta(days=1)) - lookback
        since = dt.datetime(first.year, first.month, first.day, tzinfo=UTC) - MTIME_SLACK
        return dlt.sources.incremental("modification_date", initial_value=since, end_value=FAR_FUTURE,
                                       range_end="open")
    initial = None
    if start is not None:
        first = start - lookback
        initial = dt.datetime(first.year, first.month, first.day, tzinfo=UTC) - MTIME_SLACK
    return dlt.sources.incremental("modification_date", initial_value=initial,
                                   lag=float(window.lookback_days * 86_400) or None)


def file_listing(section: str, explicit_path: Optional[str], file_glob: str, cursor: dlt.sources.incremental,
                 fs: Optional[AbstractFileSystem] = None,
                 prepare_demo: Optional[Callable[[Path], None]] = None):
    """A resource listing the source's files (one `[FileItemDict]` per file) that dlt's incremental on
    `modification_date` lets through, then one empty list, so the reader runs (and creates its tables) even when
    no file is new."""

    @dlt.resource(name=f"{section}_listing", primary_key="file_url")
    def listing(modified=cursor) -> Iterator[list[Any]]:
        from dlt.sources.filesystem import filesystem

        location, demo = resolve_location(section, explicit_path)
        if location is None:
            logger.warning(f"{section}: no path configured (SOURCES__{section.upper()}__PATH); reading nothing")
            yield []
            return
        if demo and prepare_demo is not None:
            Path(location).mkdir(parents=True, exist_ok=True)
            prepare_demo(Path(location))
        client = fs or open_filesystem(section, location)
        for item in filesystem(bucket_url=location, credentials=client, file_glob=file_glob):
            yield [item]
        yield []

    return listing


def write_if_changed(path: Path, content: bytes) -> bool:
    """Writes atomically, and only when the content differs: an unchanged file keeps its modification date, so
    the incremental listing does not read it again."""
    if path.exists() and path.stat().st_size == len(content) and path.read_bytes() == content:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_bytes(content)
    os.replace(temporary, path)
    return True


def file_day(item: Any) -> dt.date:
    modified = item.get("modification_date")
    return modified.astimezone(UTC).date() if isinstance(modified, dt.datetime) else dt.datetime.now(UTC).date()


def quarantine_hints(table: pa.Table, resource: str, merge_key: Optional[str] = None) -> Any:
    """A quarantine table of a file source: merged on `row_key` (stable per file and record), or, with
    `merge_key`, replaced per value of that column."""
    hints = (dlt.mark.make_hints(table_name=f"{resource}_quarantine", merge_key=merge_key,
                                 write_disposition={"disposition": "merge", "strategy": "delete-insert"})
             if merge_key else
             dlt.mark.make_hints(table_name=f"{resource}_quarantine", primary_key="row_key",
                                 write_disposition={"disposition": "merge", "strategy": "delete-insert"}))
    return dlt.mark.with_hints(table, hints, create_table_variant=True)


__all__ = ["FILE_QUARANTINE_SCHEMA", "TIMESTAMP", "demo_files_dir", "file_listing", "modification_cursor",
           "open_filesystem", "quarantine_hints", "resolve_location", "write_if_changed"]
