"""The sweeper's /metrics: the worker's expired count and lag, the scheduler's leadership."""

from __future__ import annotations

import json

from bench.sweeper_clear import seed_holds
from tests.integration.conftest import overdue_count
from tests.support.metrics import scrape
from tests.support.polling import wait_until
from tests.support.ports import free_port


def test_the_worker_reports_the_holds_it_expired_and_the_scheduler_its_leadership(sweeper, db):
    seed_holds(db, holds=300, skus=30)
    worker_port, scheduler_port = free_port(), free_port()
    worker = sweeper("worker", sweeper_worker_metrics_port=worker_port)
    scheduler = sweeper("scheduler", sweeper_scheduler_metrics_port=scheduler_port)

    wait_until(lambda: overdue_count(db) == 0, 60, "the worker to expire the overdue holds")
    # Summed over the worker processes' files by the exposition process.
    wait_until(
        lambda: scrape(worker_port).value("holdfast_sweeper_holds_expired_total") == 300,
        10,
        "the worker's metrics to count every expired hold",
    )
    worker_metrics = scrape(worker_port)
    assert worker_metrics.value("holdfast_sweeper_batch_duration_seconds_count") >= 1
    # Measured after the run: nothing is overdue any more.
    assert worker_metrics.value("holdfast_sweeper_oldest_overdue_hold_age_seconds") == 0

    scheduler_metrics = scrape(scheduler_port)
    assert scheduler_metrics.value("holdfast_sweeper_scheduler_leading") == 1
    assert scheduler_metrics.value("holdfast_sweeper_runs_sent_total") >= 1

    # dramatiq's own lines come out as JSON too, with the logger that wrote them.
    lines = [json.loads(line) for line in worker.log().splitlines() if line.startswith("{")]
    assert any(
        line["logger"].startswith("dramatiq") and "ready for action" in line["event"]
        for line in lines
        if "logger" in line
    )
    assert (scheduler.terminate(), worker.terminate()) == (0, 0)
