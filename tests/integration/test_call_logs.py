"""One structured log line per call: method, code, request_id, peer, duration."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from typing import Any

import grpc
import pytest
import structlog
from holdfast.inventory.v1 import inventory_pb2 as pb

from tests.support.builders import category_row, hold_request
from tests.support.grpc_helpers import Inventory, new_request_id
from tests.support.paths import REPO_ROOT
from tests.support.polling import wait_until
from tests.support.ports import free_port

METHOD = "/holdfast.inventory.v1.InventoryService/CreateHold"


def _create(sku: str, quantity: int, request_id: str) -> pb.CreateHoldRequest:
    return hold_request({sku: quantity}, request_id=request_id, owner_id="cart-logs")


def _calls(logs: Sequence[Mapping[str, Any]], request_id: str) -> list[Mapping[str, Any]]:
    return [line for line in logs if line.get("event") == "call" and line.get("request_id") == request_id]


def test_each_call_logs_its_method_code_request_id_peer_and_duration(inventory):
    sku = inventory.client.sku(on_hand=2)
    granted, refused = new_request_id(), new_request_id()

    with structlog.testing.capture_logs() as logs:
        inventory.stub.CreateHold(_create(sku, 2, granted))
        with pytest.raises(grpc.RpcError):
            inventory.stub.CreateHold(_create(sku, 1, refused))
        # grpc.aio sends an abort's status before the handler's stack unwinds to the log.
        wait_until(lambda: _calls(logs, refused), 5, "the refused call's log line")

    [ok] = _calls(logs, granted)
    assert ok["method"] == METHOD and ok["code"] == "OK" and ok["log_level"] == "info"
    assert ok["peer"].startswith("ipv4:127.0.0.1:")
    assert 0 < ok["duration_ms"] < 10_000
    assert ok["reason"] is None
    [failed] = _calls(logs, refused)
    assert (failed["code"], failed["reason"]) == ("FAILED_PRECONDITION", "INSUFFICIENT_STOCK")


def test_a_bidirectional_stream_logs_one_line_when_it_ends(inventory):
    method = "/holdfast.inventory.v1.InventoryService/ImportCatalog"
    with structlog.testing.capture_logs() as logs:
        inventory.client.import_catalog([category_row(f"logged-{new_request_id()}")])
        with pytest.raises(grpc.RpcError):
            inventory.client.import_catalog([])
        wait_until(lambda: len([x for x in logs if x.get("method") == method]) == 2, 5, "both log lines")
    lines = [line for line in logs if line.get("event") == "call" and line.get("method") == method]
    assert [(x["code"], x["reason"], x["request_id"]) for x in lines] == [
        ("OK", None, None),
        ("INVALID_ARGUMENT", "INVALID_FIELDS", None),
    ]


def test_a_service_process_writes_json_call_lines_when_stderr_is_not_a_terminal(database_url):
    """`python -m inventory_svc` as a container runs it: stderr to a pipe, so JSON lines."""
    port = free_port()
    env = dict(os.environ, DATABASE_URL=database_url, INVENTORY_LISTEN=f"127.0.0.1:{port}")
    process = subprocess.Popen(
        [sys.executable, "-m", "inventory_svc"],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    client = Inventory(f"127.0.0.1:{port}")
    try:
        grpc.channel_ready_future(client.channel).result(timeout=30)
        request_id = new_request_id()
        sku = client.sku(on_hand=1)
        client.stub.CreateHold(_create(sku, 1, request_id))
    finally:
        client.close()
        process.terminate()
        _, stderr = process.communicate(timeout=30)

    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    [call] = _calls(lines, request_id)
    assert call["method"] == METHOD and call["code"] == "OK" and call["level"] == "info"
    assert {"peer", "duration_ms", "timestamp"} <= call.keys()
    wait_until(lambda: process.poll() is not None, 5, "inventory_svc to exit")
