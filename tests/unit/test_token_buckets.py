"""The rate limit's token buckets on a clock the test moves."""

from __future__ import annotations

import pytest

from holdfast_common.security.rate_limit import TokenBuckets


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_caller_gets_its_burst_then_waits_for_the_next_token():
    clock = Clock()
    buckets = TokenBuckets(rate=2, burst=3, clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [0, 0, 0]
    assert buckets.take("a") == pytest.approx(0.5)
    clock.now += 0.25
    assert buckets.take("a") == pytest.approx(0.25)
    clock.now += 0.25
    assert buckets.take("a") == 0
    assert buckets.take("a") == pytest.approx(0.5)


def test_callers_have_buckets_of_their_own():
    buckets = TokenBuckets(rate=1, burst=1, clock=Clock())
    assert buckets.take("a") == 0
    assert buckets.take("a") > 0
    assert buckets.take("b") == 0


def test_a_bucket_never_saves_more_than_the_burst():
    clock = Clock()
    buckets = TokenBuckets(rate=1, burst=2, clock=clock)
    buckets.take("a")
    clock.now += 3600
    assert [buckets.take("a") == 0 for _ in range(3)] == [True, True, False]


def test_idle_buckets_are_dropped_once_full_again():
    clock = Clock()
    buckets = TokenBuckets(rate=10, burst=5, clock=clock)
    for caller in ("a", "b", "c"):
        buckets.take(caller)
    assert len(buckets) == 3
    clock.now += 0.5  # burst / rate: every bucket has refilled
    buckets.take("d")
    assert len(buckets) == 1


def test_memory_is_bounded_by_evicting_the_least_recently_used():
    buckets = TokenBuckets(rate=1, burst=1, max_buckets=100, clock=Clock())
    for i in range(1000):
        buckets.take(f"caller-{i}")
    assert len(buckets) == 100
    assert buckets.take("caller-999") > 0  # the most recent kept its (empty) bucket
