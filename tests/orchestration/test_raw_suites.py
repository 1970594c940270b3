"""The raw tables' suites in a worker process of their own (orchestration/raw_suites.py), and the `RawSuites`
resource that runs them there or, when the worker is gone, in the run's own process."""

from __future__ import annotations

import logging

import pytest
from dagster import build_init_resource_context

from orchestration.checks import RawSuites
from orchestration.raw_suites import BLOCKING, WARNINGS, SuitesWorker, SuiteWorkerGone
from tests.orchestration.test_quality_gates import USAGE, usage_frame

NEGATIVE = "expect_column_values_to_be_between(output_tokens)"


@pytest.fixture(scope="module")
def worker():
    started = SuitesWorker()
    yield started
    started.close()


def test_the_worker_answers_each_suite_as_the_gates_do(worker):
    """One spoiled row of two: the blocking suite fails on it alone, the warnings pass; a clean window passes."""
    (blocking, passed, metadata), (warnings, warned, _) = worker.results(USAGE, usage_frame(output_tokens=-5),
                                                                          [BLOCKING, WARNINGS])
    assert (blocking, passed, warnings, warned) == (BLOCKING, False, WARNINGS, True)
    assert metadata["failed"] == {NEGATIVE: "1"} and metadata["rows_checked"] == 2
    assert [(name, passed) for name, passed, _ in worker.results(USAGE, usage_frame(), [BLOCKING])] == \
        [(BLOCKING, True)]
    assert worker.peak_mib > 50  # Great Expectations and pandas are loaded there


def test_an_error_in_the_worker_comes_back_with_its_traceback_and_the_worker_goes_on(worker):
    with pytest.raises(RuntimeError, match="(?s)failed in their worker process.*KeyError: 'no_such_suite'"):
        worker.results(USAGE, usage_frame(), ["no_such_suite"])
    assert worker.results(USAGE, usage_frame(), [WARNINGS])[0][1] is True


def test_a_closed_worker_ends_its_process():
    started = SuitesWorker()
    started.close()
    assert started._process.returncode == 0
    with pytest.raises(SuiteWorkerGone):
        started.results(USAGE, usage_frame(), [BLOCKING])


def test_when_the_worker_dies_the_suites_run_in_the_run_process(caplog):
    suites = RawSuites()
    suites.setup_for_execution(build_init_resource_context())
    try:
        suites._worker._process.kill()
        suites._worker._process.wait()
        with caplog.at_level(logging.WARNING, logger="orchestration.checks"):
            outcome = suites.results(USAGE, usage_frame(output_tokens=-5), [BLOCKING])
        assert [(name, passed, metadata["failed"]) for name, passed, metadata in outcome] == \
            [(BLOCKING, False, {NEGATIVE: "1"})]
        assert "the suites' worker ended" in caplog.text
        assert suites._worker is None  # not asked again
    finally:
        suites.teardown_after_execution(build_init_resource_context())


def test_without_a_worker_the_suites_run_in_the_run_process(monkeypatch):
    import orchestration.checks as checks

    calls = []
    original = checks.suite_results
    monkeypatch.setattr(checks, "suite_results", lambda *args: calls.append(args[2]) or original(*args))
    suites = RawSuites(worker=False)
    suites.setup_for_execution(build_init_resource_context())
    assert suites._worker is None
    assert suites.results(USAGE, usage_frame(), [BLOCKING])[0][:2] == (BLOCKING, True)
    assert calls == [[BLOCKING]]


def test_a_worker_that_cannot_start_leaves_the_suites_to_the_run_process(monkeypatch, caplog):
    import orchestration.raw_suites as raw_suites

    def no_process(*args, **kwargs):
        raise OSError("Resource temporarily unavailable")

    monkeypatch.setattr(raw_suites.subprocess, "Popen", no_process)
    suites = RawSuites()
    with caplog.at_level(logging.WARNING, logger="orchestration.checks"):
        suites.setup_for_execution(build_init_resource_context())
    assert suites._worker is None and "did not start" in caplog.text
    assert [(name, passed) for name, passed, _ in suites.results(USAGE, usage_frame(output_tokens=-5), [BLOCKING])] \
        == [(BLOCKING, False)]
