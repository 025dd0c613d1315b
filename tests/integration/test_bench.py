"""`make bench` in miniature: every scenario measured without errors, the results written,
and every invariant intact after the load."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from bench.pgbench_baseline import MATCHES, find_pgbench
from bench.workloads import SCENARIOS
from holdfast_common.devinfra import REPO_ROOT

TINY = [
    "--concurrency=2",
    "--duration=0.5",
    "--warmup=0.2",
    "--pgbench-seconds=1",
    "--pgbench-clients=2",
    "--sweeper-holds=300",
    "--sweeper-reservers=2",
    "--sweeper-timeout=30",
    "--skus=200",
]


@pytest.fixture(scope="module")
def bench_run(pg_server_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory):
    """One tiny run of `python -m bench`: its output, its JSON and the results folder."""
    results = tmp_path_factory.mktemp("bench-results")
    env = dict(os.environ, DATABASE_URL=pg_server_url, REDIS_URL=redis_url)
    done = subprocess.run(
        [sys.executable, "-m", "bench", *TINY, f"--results={results}"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, f"bench failed:\n{done.stdout}\n{done.stderr}"
    (json_path,) = results.glob("*.json")
    return done.stdout, json.loads(json_path.read_text()), results


def test_every_scenario_is_measured_without_errors(bench_run) -> None:
    _, data, _ = bench_run
    measured = {m["scenario"]: m for m in data["measurements"]}
    assert set(measured) == set(SCENARIOS)
    for name, m in measured.items():
        assert m["rps"] > 0 and m["ok"] > 0, name
        assert m["errors"] == {}, name
        assert m["p50_ms"] <= m["p99_ms"], name


@pytest.mark.skipif(find_pgbench() is None, reason="pgbench is not installed")
def test_the_pgbench_baselines_run_on_our_schema(bench_run) -> None:
    _, data, _ = bench_run
    assert [m["scenario"] for m in data["pgbench"]] == [f"pgbench {name}" for name in MATCHES]
    for m in data["pgbench"]:
        assert m["rps"] > 0 and m["errors"] == {}, m


def test_the_sweeper_clears_its_backlog_while_shoppers_reserve(bench_run) -> None:
    _, data, _ = bench_run
    sweep = data["sweeper"]
    assert sweep["left"] == 0 and sweep["seconds"] is not None
    assert sweep["reservers"]["rps"] > 0 and sweep["reservers"]["errors"] == {}
    assert set(data["peak_rss_mb"]) == {"inventory", "pricing", "sweeper worker", "sweeper scheduler"}
    assert all(mb > 0 for mb in data["peak_rss_mb"].values())


def test_invariants_hold_after_the_run(bench_run) -> None:
    stdout, data, _ = bench_run
    assert data["audit"] == {"breaches": {}}
    assert "Audit: every invariant holds" in stdout


def test_the_table_is_printed_and_written(bench_run) -> None:
    stdout, data, results = bench_run
    latest = (results / "latest.md").read_text()
    for text in (stdout, latest):
        assert "| scenario " in text and "x echo" in text and "x pgbench" in text
        assert "Targets (issue 5)" in text
    assert "- git commit:" in latest and "- postgresql:" in latest
    assert {t["outcome"] for t in data["targets"]} <= {"PASS", "FAIL", "n/a"}
    (json_path,) = results.glob("*.json")
    assert json_path.with_suffix(".md").read_text() == latest
