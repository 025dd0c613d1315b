"""The bench's ratio targets judged on made-up findings: the floor over hot and spread, and the
multi-location scenarios against spread in the same run."""

from __future__ import annotations

from bench.bulk_set import BulkSetResult
from bench.catalog_import import ImportResult
from bench.event_feed import FeedResult
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


IMPORT = "`holdfast import`"


def _imported(
    seconds: float, variants: int = 100_000, exit_code: int = 0, found: int | None = None
) -> Results:
    rows = 1 + variants // 10 + 2 * variants
    result = ImportResult(variants, rows, seconds, exit_code, variants if found is None else found)
    return Results(config={}, catalog_import=result)


def test_the_import_target_is_30_s_for_100000_variants_all_imported() -> None:
    assert _verdict(_imported(29.5), IMPORT).outcome == "PASS"
    assert _verdict(_imported(30.5), IMPORT).outcome == "FAIL"
    failed = _verdict(_imported(12.0, exit_code=1, found=99_990), IMPORT)
    assert failed.outcome == "FAIL" and "99,990 of 100,000" in failed.detail


def test_the_import_target_is_na_when_not_run_or_run_smaller() -> None:
    assert _verdict(Results(config={}), IMPORT).outcome == "n/a"
    assert _verdict(_imported(3.0, variants=20_000), IMPORT).outcome == "n/a"


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


def test_tailed_runs_are_judged_against_the_mean_of_the_runs_around_them() -> None:
    def feed(before: float, tailed: float, after: float) -> FeedResult:
        return FeedResult(
            consumers=4,
            alone=[_run("hot", before), _run("spread", 1000)],
            tailed=[_run("hot", tailed), _run("spread", 950)],
            tailed_events=[1, 1, 1, 1],
            catch_up_events=50_000,
            catch_up_seconds=2.0,
            alone_after=[_run("hot", after), _run("spread", 1000)],
        )

    tailed = "hot and spread with consumers tailing"
    # 900 is 0.82 x the run before but 0.92 x the mean of 1100 and 860: the drift, not the feed.
    results = Results(config={}, measurements=[], event_feed=feed(1100, 900, 860))
    assert _verdict(results, tailed).outcome == "PASS"
    results = Results(config={}, measurements=[], event_feed=feed(1100, 850, 1100))
    assert _verdict(results, tailed).outcome == "FAIL"
