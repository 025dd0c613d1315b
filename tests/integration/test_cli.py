"""The `holdfast` command as an operator runs it: a subprocess (`python -m holdfast`) against a
real inventory service, judged by its exit code, what it prints and what it leaves in the
database (every module's database must pass the audit when it ends)."""

from __future__ import annotations

import contextlib
import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from holdfast.inventory.v1 import inventory_pb2 as pb

from bench.catalog_import import write_catalog
from holdfast_common.security.scopes import INVENTORY_READ, INVENTORY_WRITE
from holdfast_dev.certs import generate
from holdfast_ops.audit import find_breaches
from tests.conftest import make_settings, new_database, start_inventory
from tests.support.builders import new_request_id
from tests.support.databases import drop_database
from tests.support.grpc_helpers import unique_sku
from tests.support.paths import REPO_ROOT
from tests.support.polling import wait_until
from tests.support.ports import free_port
from tests.support.processes import run_module
from tests.support.security import Token, auth_tokens, client_tls, server_tls

SAMPLE = REPO_ROOT / "samples" / "catalog.csv"


def holdfast(
    target: str, *args: str, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`python -m holdfast ARGS` against `target`, `env` over this process's environment."""
    return run_module("holdfast", *args, env={"INVENTORY_LISTEN": target, **(env or {})}, timeout=timeout)


@pytest.fixture(scope="module")
def target(inventory: Any) -> str:
    return f"127.0.0.1:{inventory.port}"


@pytest.fixture(scope="module")
def store(inventory: Any) -> str:
    code = f"store-{uuid.uuid4().hex[:6]}"
    location = pb.Location(code=code, name="High Street")
    inventory.stub.CreateLocation(pb.CreateLocationRequest(request_id=new_request_id(), location=location))
    return code


def levels(inventory: Any, sku: str) -> dict[str, int]:
    response = inventory.stub.BatchGetStockLevels(pb.BatchGetStockLevelsRequest(skus=[sku]))
    return {level.location: level.on_hand for level in response.location_levels}


# ---------------------------------------------------------------- stock


def test_stock_adjust_transfer_and_get_print_the_levels_they_leave(inventory: Any, target: str, store: str):
    sku = inventory.client.sku(on_hand=10)
    adjusted = holdfast(target, "stock", "adjust", sku, "5", "--reason", "receive", "--note", "delivery 1")
    assert adjusted.returncode == 0, adjusted.stderr
    assert adjusted.stdout.split("\n")[1].split() == [sku, "default", "15", "0", "15"]

    moved = holdfast(target, "stock", "transfer", sku, "4", "--from", "default", "--to", store)
    assert moved.returncode == 0, moved.stderr
    assert [line.split() for line in moved.stdout.splitlines()[1:]] == [
        [sku, "default", "11", "0", "11"],
        [sku, store, "4", "0", "4"],
    ]
    assert levels(inventory, sku) == {"default": 11, store: 4}

    shown = holdfast(target, "stock", "get", sku)
    assert shown.returncode == 0, shown.stderr
    rows = [line.split() for line in shown.stdout.splitlines()]
    assert rows[0] == ["SKU", "LOCATION", "ON_HAND", "RESERVED", "AVAILABLE"]
    # Every location that keeps it, then the default channel's total (it sells from default only).
    assert rows[1:] == [
        [sku, "default", "11", "0", "11"],
        [sku, store, "4", "0", "4"],
        [sku, "total", "(default)", "11", "0", "11"],
    ]

    as_json = json.loads(holdfast(target, "stock", "get", sku, "--json").stdout)
    assert as_json["totals"] == [{"sku": sku, "location": "", "on_hand": 11, "reserved": 0, "available": 11}]
    assert [(level["location"], level["on_hand"]) for level in as_json["locations"]] == [
        ("default", 11),
        (store, 4),
    ]


def test_a_retry_with_the_same_request_id_changes_stock_once(inventory: Any, target: str):
    sku = inventory.client.sku(on_hand=10)
    request_id = new_request_id()
    for _ in range(2):
        done = holdfast(target, "stock", "adjust", sku, "-3", "--request-id", request_id, "--json")
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["stock_level"]["on_hand"] == 7
    assert levels(inventory, sku) == {"default": 7}


def test_a_refusal_prints_the_status_and_its_reason_and_exits_1(inventory: Any, target: str, store: str):
    sku = inventory.client.sku(on_hand=3)
    refused = holdfast(target, "stock", "transfer", sku, "5", "--from", "default", "--to", store)
    assert refused.returncode == 1
    assert refused.stdout == ""
    assert "FAILED_PRECONDITION" in refused.stderr and "INSUFFICIENT_STOCK" in refused.stderr, refused.stderr
    assert "available=3" in refused.stderr and "requested=5" in refused.stderr, refused.stderr
    unknown = holdfast(target, "stock", "adjust", "NO-SUCH-SKU-1", "1")
    assert unknown.returncode == 1
    assert "NOT_FOUND" in unknown.stderr and "SKU_NOT_FOUND" in unknown.stderr, unknown.stderr
    bad = holdfast(target, "stock", "adjust", sku, "-1", "--reason", "receive")
    assert bad.returncode == 1
    # The field violations follow, one a line.
    assert "INVALID_ARGUMENT" in bad.stderr and "\n  delta: must be positive" in bad.stderr, bad.stderr
    assert levels(inventory, sku) == {"default": 3}


def test_an_unreachable_service_is_exit_1_naming_it():
    closed = f"127.0.0.1:{free_port()}"
    done = holdfast(closed, "stock", "get", "ANY-SKU")
    assert done.returncode == 1
    assert "UNAVAILABLE" in done.stderr, done.stderr


def test_it_calls_over_mutual_tls_with_client_token_as_the_services_clients_do(
    database_url: str, tmp_path: Path
):
    certs = generate(tmp_path / "certs")
    writer = Token("operator", (INVENTORY_READ, INVENTORY_WRITE))
    settings = make_settings(database_url, auth_tokens=auth_tokens(writer), **server_tls(certs, mutual=True))
    server = start_inventory(settings)
    try:
        target = f"localhost:{server.port}"
        tls = {name.upper(): str(value) for name, value in client_tls(certs).items()}
        plain = holdfast(target, "stock", "get", "ANY-SKU")
        assert plain.returncode == 1 and "UNAVAILABLE" in plain.stderr, plain.stderr
        no_token = holdfast(target, "stock", "get", "ANY-SKU", env=tls)
        assert no_token.returncode == 1 and "UNAUTHENTICATED" in no_token.stderr, no_token.stderr
        sku = unique_sku()
        done = holdfast(target, "stock", "get", sku, env={**tls, "CLIENT_TOKEN": writer.secret})
        # Through TLS and auth to the service itself, which knows no such SKU.
        assert done.returncode == 1 and "SKU_NOT_FOUND" in done.stderr, done.stderr
    finally:
        server.stop()


# ---------------------------------------------------------------- usage


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["bogus"],
        ["stock"],
        ["stock", "adjust", "SKU-1", "many"],
        ["stock", "transfer", "SKU-1", "1", "--from", "default"],
        ["stock", "adjust", "SKU-1", "1", "--reason", "theft"],
        ["import"],
        ["import", "x.csv", "--chunk-size", "0"],
        ["import", "x.csv", "--chunk-size", "1001"],
        ["export", "--format", "xml"],
    ],
)
def test_a_usage_error_is_exit_2_and_says_how_to_use_it(argv: list[str]):
    done = holdfast(f"127.0.0.1:{free_port()}", *argv)
    assert done.returncode == 2, done
    assert "usage: holdfast" in done.stderr


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("photo.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00"),
        ("products.csv", b"id,title,price\n1,Mug,9.90\n"),
        ("rows.jsonl", b"kind,code\nlocation,wh\n"),
        ("empty.csv", b""),
        ("catalog.txt", b"kind,code\nlocation,wh\n"),
    ],
)
def test_a_file_that_is_not_a_catalog_file_is_refused_before_connecting(
    tmp_path: Path, name: str, content: bytes
):
    path = tmp_path / name
    path.write_bytes(content)
    # No service listens there: the file is refused before any connection is made.
    done = holdfast(f"127.0.0.1:{free_port()}", "import", str(path))
    assert done.returncode == 2, done
    assert "nothing was imported" in done.stderr, done.stderr
    assert not (tmp_path / f"{name}.errors.csv").exists()


# ---------------------------------------------------------------- import and export


@contextlib.contextmanager
def fresh_inventory(pg_server_url: str, template_database: str) -> Iterator[tuple[str, str]]:
    """An inventory service on an empty migrated database of its own: (target, database URL).
    The database must pass the audit before it is dropped."""
    name, url = new_database(pg_server_url, template_database)
    server = start_inventory(make_settings(url))
    try:
        yield f"127.0.0.1:{server.port}", url
        assert find_breaches(url) == {}
    finally:
        server.stop()
        drop_database(pg_server_url, name)


def summary(done: subprocess.CompletedProcess[str]) -> dict[str, int]:
    """The counts of import's summary line: rows, total, created, updated, unchanged, failed."""
    number = r"([\d,]+)"
    found = re.search(
        rf": {number} of {number} rows in .*: {number} created, {number} updated, {number} unchanged, "
        rf"{number} failed",
        done.stdout,
    )
    assert found, done.stdout + done.stderr
    names = ("rows", "total", "created", "updated", "unchanged", "failed")
    return dict(zip(names, (int(g.replace(",", "")) for g in found.groups()), strict=True))


def counts(database_url: str) -> dict[str, int]:
    """Rows per table that an import writes, and the ledger's."""
    tables = ("locations", "categories", "products", "variants", "stock", "stock_ledger")
    with psycopg.connect(database_url) as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}  # type: ignore[index]


def test_the_sample_imports_and_a_second_import_changes_nothing(
    target: str, fingerprints: Any, tmp_path: Path
):
    sample = tmp_path / "catalog.csv"
    shutil.copyfile(SAMPLE, sample)
    first = holdfast(target, "import", str(sample))
    assert first.returncode == 0, first.stdout + first.stderr
    assert summary(first)["failed"] == 0 and summary(first)["rows"] == summary(first)["total"] == 36
    assert not (tmp_path / "catalog.csv.errors.csv").exists()
    before = fingerprints.take()
    again = holdfast(target, "import", str(sample))
    assert again.returncode == 0, again.stdout + again.stderr
    assert summary(again) == dict(rows=36, total=36, created=0, updated=0, unchanged=36, failed=0)
    assert fingerprints.take() == before  # not a row touched, not a ledger row added


def test_progress_off_a_terminal_is_plain_lines(target: str, tmp_path: Path):
    sample = tmp_path / "catalog.csv"
    shutil.copyfile(SAMPLE, sample)
    done = holdfast(target, "import", str(sample), "--chunk-size", "5", "--progress-every", "0")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    progress = [line for line in lines if line.startswith("imported ")]
    # One line per answered chunk (every 0 s), then the summary: no bar, no control characters.
    assert len(progress) >= 36 // 5
    for line in progress:
        assert re.fullmatch(r"imported [\d,]+/36 rows \([\d,]+ rows/s\), 0 failed", line), line
    assert progress[-1].startswith("imported 36/36 rows")
    assert lines[-1] == lines[-1].strip() and "\x1b" not in done.stdout and "\r" not in done.stdout


def test_bad_rows_are_reported_by_line_and_the_rest_imported(inventory: Any, target: str, tmp_path: Path):
    sku = inventory.client.sku(on_hand=1)
    path = tmp_path / "counts.csv"
    path.write_text(
        "kind,sku,location,on_hand,code,name\n"
        f"stock,{sku},,5,,\n"  # 2: imported
        "location,,,,wh-bad code,\n"  # 3: a space in a code
        f"stock,{sku},,-4,,\n"  # 4
        "stock,NO-SUCH-SKU-9,,1,,\n"  # 5: refused by the service
        f"stock,{sku},,12x,,\n"  # 6
        "shelf,,,,,\n"  # 7
        f"stock,{sku},no-such-location,3,,\n"  # 8: refused by the service
    )
    done = holdfast(target, "import", str(path))
    assert done.returncode == 1, done.stdout + done.stderr
    assert summary(done) == dict(rows=7, total=7, created=0, updated=1, unchanged=0, failed=6)
    assert levels(inventory, sku)["default"] == 5
    report = path.with_name("counts.csv.errors.csv")
    assert f"failed rows in {report}" in done.stdout
    with report.open(newline="") as written:
        rows = list(csv.DictReader(written))
    assert [(r["line"], r["kind"], r["key"]) for r in rows] == [
        ("3", "location", "wh-bad code"),
        ("4", "stock", f"{sku}@default"),
        ("5", "stock", "NO-SUCH-SKU-9@default"),
        ("6", "stock", f"{sku}@default"),
        ("7", "shelf", ""),
        ("8", "stock", f"{sku}@no-such-location"),
    ]
    reasons = {r["line"]: r["reason"] for r in rows}
    assert reasons["3"] == "BAD_CODE" and reasons["4"] == "NEGATIVE_STOCK" and reasons["6"] == "BAD_NUMBER"
    assert reasons["7"] == "UNKNOWN_KIND"
    assert reasons["5"] and reasons["8"], rows  # the service's reasons
    assert all(r["message"] for r in rows)


def test_rows_too_big_for_one_message_together_go_in_smaller_chunks(target: str, tmp_path: Path):
    # 1,000 products with 5,000-character descriptions: 5 MB, more than one message may carry.
    path = tmp_path / "long.jsonl"
    prefix = f"long-{uuid.uuid4().hex[:6]}"
    with path.open("w") as out:
        for n in range(1000):
            row = {"kind": "product", "handle": f"{prefix}-{n}", "title": "Long", "base_price": "1.00"}
            out.write(json.dumps({**row, "description": "x" * 5000}) + "\n")
    done = holdfast(target, "import", str(path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert summary(done) == dict(rows=1000, total=1000, created=1000, updated=0, unchanged=0, failed=0)


def test_export_then_import_into_an_empty_database_gives_the_same_catalog(
    target: str, pg_server_url: str, template_database: str, tmp_path: Path
):
    shipped = tmp_path / "catalog.csv"
    shutil.copyfile(SAMPLE, shipped)
    assert holdfast(target, "import", str(shipped)).returncode in (0, 1)
    for fmt in ("csv", "jsonl"):
        exported = tmp_path / f"export.{fmt}"
        done = holdfast(target, "export", "--output", str(exported))
        assert done.returncode == 0, done.stderr
        assert re.search(r"exported [\d,]+ rows \(", done.stderr), done.stderr
        with fresh_inventory(pg_server_url, template_database) as (fresh, _):
            loaded = holdfast(fresh, "import", str(exported))
            assert loaded.returncode == 0, loaded.stdout + loaded.stderr
            again = tmp_path / f"again.{fmt}"
            assert holdfast(fresh, "export", "--output", str(again)).returncode == 0
        assert again.read_text() == exported.read_text()


def test_export_to_standard_output(target: str):
    done = holdfast(target, "export", "--format", "jsonl")
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert rows and {"kind": "location", "code": "default"}.items() <= rows[0].items()
    assert "to standard output" in done.stderr


def test_an_export_whose_reader_stops_early_ends_quietly(target: str, tmp_path: Path):
    """`holdfast export | head -2`: the reader closes the pipe; no traceback, the exit code a
    shell gives a command stopped by SIGPIPE."""
    # More than a pipe's buffer (64 KiB), so the export is still writing when head exits.
    path = tmp_path / "big.csv"
    write_catalog(path, 2_000)
    assert holdfast(target, "import", str(path)).returncode == 0
    done = subprocess.run(
        [
            "bash",
            "-c",
            f"{sys.executable} -m holdfast export --format jsonl | head -2; echo ${{PIPESTATUS[0]}} >&2",
        ],
        env={**os.environ, "INVENTORY_LISTEN": target},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert len(done.stdout.splitlines()) == 2
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stderr.strip().splitlines()[-1] in ("0", "141"), done.stderr


def test_an_import_stopped_by_ctrl_c_then_run_again_equals_one_clean_run(
    pg_server_url: str, template_database: str, tmp_path: Path
):
    path = tmp_path / "big.csv"
    total = write_catalog(path, 20_000)
    with fresh_inventory(pg_server_url, template_database) as (clean_target, clean_url):
        clean = holdfast(clean_target, "import", str(path), timeout=300)
        assert clean.returncode == 0, clean.stdout + clean.stderr
        expected = counts(clean_url)
    with fresh_inventory(pg_server_url, template_database) as (target, url):
        log = tmp_path / "interrupted.log"
        with log.open("w") as out:
            cli = subprocess.Popen(
                [sys.executable, "-m", "holdfast", "import", str(path), "--progress-every", "0.2"],
                env={**os.environ, "INVENTORY_LISTEN": target},
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
            )
            # Ctrl-C once some rows are in, well before the end.
            wait_until(lambda: re.search(r"imported [1-9][\d,]*/", log.read_text()), 60, "rows imported")
            cli.send_signal(signal.SIGINT)
            assert cli.wait(timeout=60) == 130, log.read_text()
        stopped = log.read_text()
        assert "interrupted after" in stopped and "run the same command again" in stopped, stopped
        first = summary(subprocess.CompletedProcess([], 130, stopped, ""))
        assert 0 < first["rows"] < total and first["failed"] == 0, first
        rerun = holdfast(target, "import", str(path), timeout=300)
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        second = summary(rerun)
        assert second["unchanged"] >= first["created"] and second["failed"] == 0, (first, second)
        assert counts(url) == expected
        audit = holdfast(target, "audit", env={"DATABASE_URL": url})
        assert audit.returncode == 0 and "invariants hold" in audit.stdout, audit.stdout + audit.stderr


def test_stock_set_writes_and_a_stale_expect_is_refused_naming_on_hand(
    inventory: Any, target: str, store: str
):
    sku = inventory.client.sku(on_hand=10)
    done = holdfast(target, "stock", "set", sku, "7", "--expect", "10", "--note", "count")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("on_hand 10 -> 7\n"), done.stdout
    stale = holdfast(target, "stock", "set", sku, "3", "--expect", "10")
    assert stale.returncode == 1
    assert "FAILED_PRECONDITION" in stale.stderr and "ON_HAND_MISMATCH" in stale.stderr, stale.stderr
    assert "is 7, not the expected 10" in stale.stderr, stale.stderr
    at_store = holdfast(target, "stock", "set", sku, "4", "--location", store, "--json")
    assert at_store.returncode == 0, at_store.stderr
    assert json.loads(at_store.stdout)["stock_level"] == {
        "sku": sku,
        "location": store,
        "on_hand": 4,
        "reserved": 0,
        "available": 4,
    }
    assert levels(inventory, sku) == {"default": 7, store: 4}
