"""The bench's ratio targets judged on made-up findings: the floor over hot and spread, and the
multi-location scenarios against spread in the same run."""

from __future__ import annotations

from bench.bulk_set import BulkSetResult
from bench.findings import Results
from bench.measurement import Measurement
from bench.targets import SPREAD_PEERS, TARGET_CONCURRENCY, Verdict, verdicts


def _run(scenario: str, rps: float, errors: dict[str, int] | None = None) -> Measurement:
    return Measurement(scenario, TARGET_CONCURRENCY, 1.0, int(rps), rps, 10.0, 30.0, 40.0, errors or {})


def _verdict(results: Results, starts: str) -> Verdict:
    (found,) = [v for v in verdicts(results) if v.target.startswith(starts)]
    return found


FLOOR = "hot and spread CreateHold"
MULTI = " and ".join(SPREAD_PEERS) + " CreateHold"


def test_the_floor_needs_both_hot_and_spread_at_055_x_echo() -> None:
    results = Results(config={}, measurements=[_run("echo", 1000), _run("hot", 560), _run("spread", 600)])
    assert _verdict(results, FLOOR).outcome == "PASS"
    results.measurements[1] = _run("hot", 540)
    assert _verdict(results, FLOOR).outcome == "FAIL"


def test_multi_location_is_judged_against_spread_not_echo() -> None:
    runs = [
        _run("echo", 10_000),
        _run("spread", 1000),
        _run("multi-priority", 860),
        _run("multi-fewest", 850),
    ]
    results = Results(config={}, measurements=runs)
    assert _verdict(results, MULTI).outcome == "PASS"
    results.measurements[3] = _run("multi-fewest", 840)
    assert _verdict(results, MULTI).outcome == "FAIL"
    results.measurements[3] = _run("multi-fewest", 900, {"UNAVAILABLE": 1})
    assert _verdict(results, MULTI).outcome == "FAIL"


def test_a_target_is_na_without_its_baseline_or_any_of_its_scenarios() -> None:
    without_spread = Results(config={}, measurements=[_run("echo", 1000), _run("multi-priority", 900)])
    assert _verdict(without_spread, MULTI).outcome == "n/a"
    only_echo = Results(config={}, measurements=[_run("echo", 1000), _run("spread", 900)])
    assert _verdict(only_echo, MULTI).outcome == "n/a"


def test_a_scenario_left_out_is_named_and_the_others_judged() -> None:
    results = Results(config={}, measurements=[_run("echo", 1000), _run("hot", 700)])
    floor = _verdict(results, FLOOR)
    assert floor.outcome == "PASS" and "spread not run" in floor.detail


def _bulk(rows: int, batch_p50: float, reserver_p99: float, errors: dict[str, int] | None = None) -> Results:
    batches = Measurement(
        "bulk-set", 1, 4.0, 20, 5.0, batch_p50, batch_p50 * 1.5, batch_p50 * 2, errors or {}
    )
    reservers = Measurement("spread", 16, 4.0, 4000, 1000.0, 10.0, reserver_p99, reserver_p99, {})
    return Results(config={}, bulk_set=BulkSetResult(rows, batches, reservers))


BULK = "BatchUpdateStock of 1,000 SET rows"
CALM = "reservers' p99 <= 250 ms while it syncs"


def test_bulk_set_needs_a_fast_batch_and_calm_reservers() -> None:
    assert _verdict(_bulk(1000, 240.0, 200.0), BULK).outcome == "PASS"
    assert _verdict(_bulk(1000, 240.0, 200.0), CALM).outcome == "PASS"
    assert _verdict(_bulk(1000, 260.0, 200.0), BULK).outcome == "FAIL"
    assert _verdict(_bulk(1000, 240.0, 260.0), CALM).outcome == "FAIL"
    assert _verdict(_bulk(1000, 100.0, 200.0, {"refused rows": 1}), BULK).outcome == "FAIL"


def test_bulk_set_of_other_sizes_or_not_run_is_na() -> None:
    assert _verdict(_bulk(500, 100.0, 200.0), BULK).outcome == "n/a"
    assert _verdict(Results(config={}), BULK).outcome == "n/a"
    assert _verdict(Results(config={}), CALM).outcome == "n/a"
