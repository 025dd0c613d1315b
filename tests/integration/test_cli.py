"""The `holdfast` command as an operator runs it: a subprocess (`python -m holdfast`) against a
real inventory service, judged by its exit code, what it prints and what it leaves in the
database (every module's database must pass the audit when it ends)."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest
from holdfast.inventory.v1 import inventory_pb2 as pb

from tests.support.builders import new_request_id
from tests.support.ports import free_port
from tests.support.processes import run_module


def holdfast(target: str, *args: str, timeout: float = 120, **env: str) -> subprocess.CompletedProcess[str]:
    return run_module("holdfast", *args, env={"INVENTORY_LISTEN": target, **env}, timeout=timeout)


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
