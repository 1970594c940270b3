"""The days a build marks pending for the FOCUS export, and what the export then writes (pending_exports.py)."""

import datetime as dt
from decimal import Decimal

import pytest

from orchestration import pending_exports
from orchestration.assets.exports import focus_days
from orchestration.resources import Warehouse
from tests.orchestration.conftest import execute

D = dt.date(2026, 11, 20)


def d(offset: int) -> dt.date:
    return D + dt.timedelta(days=offset)


def read(warehouse, first, last):
    with warehouse.pipeline("exports", "marts").sql_client() as client:
        return pending_exports.read(client, pending_exports.FOCUS, first, last)


def clear(warehouse, marks):
    with warehouse.pipeline("exports", "marts").sql_client() as client:
        pending_exports.clear(client, pending_exports.FOCUS, marks)


def test_a_build_marks_its_days_and_an_export_clears_what_it_wrote(blank_warehouse):
    warehouse = blank_warehouse
    assert read(warehouse, d(-3), d(0)) == {}  # nothing marked yet: no table
    pending_exports.mark(warehouse, [pending_exports.FOCUS], d(-1), d(0))
    marks = read(warehouse, d(-3), d(0))
    assert sorted(marks) == [d(-1), d(0)]
    assert len(set(marks.values())) == 1  # one build, one token
    # another export's marks and days outside the window read are not this export's
    pending_exports.mark(warehouse, ["finance"], d(-3), d(-3))
    pending_exports.mark(warehouse, [pending_exports.FOCUS], d(-9), d(-9))
    assert sorted(read(warehouse, d(-3), d(0))) == [d(-1), d(0)]
    clear(warehouse, {d(0): marks[d(0)]})  # the export wrote D only
    assert sorted(read(warehouse, d(-3), d(0))) == [d(-1)]
    assert execute(warehouse, "select export_name, day from finops_state.export_days_pending "
                              "order by export_name, day") == [("finance", d(-3)), ("focus", d(-9)), ("focus", d(-1))]


def test_a_day_marked_again_while_the_export_wrote_stays_pending(blank_warehouse):
    warehouse = blank_warehouse
    pending_exports.mark(warehouse, [pending_exports.FOCUS], d(-2), d(0))
    seen = read(warehouse, d(-2), d(0))  # the export reads the marks, then writes the days...
    pending_exports.mark(warehouse, [pending_exports.FOCUS], d(-1), d(-1))  # ...while another build rebuilds D-1
    clear(warehouse, seen)
    again = read(warehouse, d(-2), d(0))
    assert sorted(again) == [d(-1)]
    assert again[d(-1)] != seen[d(-1)]


def test_another_engine_marks_nothing(tmp_path):
    # no marks table on engines without dbt's narrowed window: the export writes its whole window there
    warehouse = Warehouse(kind="snowflake", pipelines_dir=str(tmp_path / "pipelines"))
    assert not pending_exports.tracked(warehouse)
    pending_exports.mark(warehouse, [pending_exports.FOCUS], d(-1), d(0))  # no connection attempted


def test_unreadable_marks_mean_the_whole_window(tmp_path):
    class Broken:
        def with_alternative_dataset_name(self, name):
            raise RuntimeError("connection lost")

    assert pending_exports.read(Broken(), pending_exports.FOCUS, d(-3), d(0)) is None


def test_the_export_writes_pending_days_and_days_without_files(tmp_path):
    folder = tmp_path / "focus"
    folder.mkdir()
    for day in (d(-3), d(-2), d(-1)):
        (folder / f"{day}.parquet").write_text("")
        (folder / f"{day}.csv").write_text("")
    (folder / f"{d(-2)}.csv").unlink()  # someone removed a file
    marks = {d(-1): "t1", d(0): "t1"}
    assert focus_days(d(-3), d(0), marks, folder) == [d(-2), d(-1), d(0)]
    assert focus_days(d(-3), d(0), {}, folder) == [d(-2), d(0)]  # nothing pending: only the missing files
    assert focus_days(d(-3), d(0), None, folder) == [d(-3), d(-2), d(-1), d(0)]  # no marks: the whole window


def _focus_warehouse(warehouse: Warehouse, days: list[dt.date]) -> None:
    execute(warehouse, "create schema marts",
            'create table marts.fct_focus_cost_and_usage (x_usage_date date, "BilledCost" decimal(38, 9))',
            *[f"insert into marts.fct_focus_cost_and_usage values (date '{day}', {n + 1})"
              for n, day in enumerate(days)])


@pytest.mark.parametrize("built_here", [True, False])
def test_the_focus_export_after_its_runs_build_leaves_unchanged_days_alone(blank_warehouse, tmp_path, monkeypatch,
                                                                          built_here):
    """A run whose build rebuilt D alone: its export writes D and leaves the lookback's files; run on its own (not
    after a build in the same run) it writes its whole window. Either way the days it wrote are no longer pending."""
    import pyarrow.parquet as pq
    from dagster import build_asset_context

    from orchestration.assets import exports

    warehouse = blank_warehouse
    _focus_warehouse(warehouse, [d(-3), d(-2), d(-1), d(0)])
    monkeypatch.setenv("FINOPS_EXPORT_DIR", str(tmp_path / "exports"))
    monkeypatch.setenv("FINOPS_LOOKBACK_DAYS", "3")
    folder = tmp_path / "exports" / "focus"
    folder.mkdir(parents=True)
    for day in (d(-3), d(-2), d(-1)):  # the files an earlier run wrote: an old figure
        (folder / f"{day}.parquet").write_text("old")
        (folder / f"{day}.csv").write_text("old")
    pending_exports.mark(warehouse, [pending_exports.FOCUS], d(0), d(0))
    monkeypatch.setattr(exports, "built_in_this_run", lambda context, key: built_here)
    with build_asset_context(partition_key=str(D), resources={"warehouse": warehouse}) as context:
        result = exports.focus_export(context)
    written = [d(0)] if built_here else [d(-3), d(-2), d(-1), d(0)]
    assert result.metadata["days_written"] == (str(d(0)) if built_here else f"{d(-3)}..{d(0)}")
    assert result.metadata["days_left_as_written"] == 4 - len(written)
    assert result.metadata["rows"] == len(written)
    assert result.metadata["billed_cost_usd"] == sum(4 + (day - D).days for day in written)  # day n holds n + 1
    assert pq.read_table(folder / f"{d(0)}.parquet").column("BilledCost").to_pylist() == [Decimal(4)]
    for day in (d(-3), d(-2), d(-1)):
        assert ((folder / f"{day}.csv").read_text() == "old") == built_here
    assert read(warehouse, d(-3), d(0)) == {}
