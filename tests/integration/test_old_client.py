"""A client built from the contract as it was before locations and channels keeps working.

The contract of that time is kept in tests/fixtures/v1_before_locations/ (same package,
holdfast.inventory.v1). Its stubs are generated into a temporary directory and the client
beside it runs in a process of its own with that directory first on PYTHONPATH, so
`holdfast.inventory.v1` is the old contract there, not today's. It names no channel and no
location: it must see what it saw before (channel and location `default`), and the fields
added since are unknown to it, so ignored.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest

from tests.support.paths import REPO_ROOT

OLD_CONTRACT = REPO_ROOT / "tests" / "fixtures" / "v1_before_locations"
OLD_PROTO = Path("holdfast") / "inventory" / "v1" / "inventory.proto"
CLIENT = OLD_CONTRACT / "client.py"


@pytest.fixture(scope="module")
def old_stubs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Python stubs of the old contract, generated as `make protos` generates today's."""
    out = tmp_path_factory.mktemp("old_stubs")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grpc_tools.protoc",
            f"-I{OLD_CONTRACT}",
            f"-I{files('grpc_tools') / '_proto'}",
            f"-I{sysconfig.get_paths()['purelib']}",
            f"--python_out={out}",
            f"--grpc_python_out={out}",
            str(OLD_CONTRACT / OLD_PROTO),
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    for package in (OLD_PROTO.parent, *OLD_PROTO.parent.parents[:-1]):
        (out / package / "__init__.py").touch()
    return out


def run_old_client(stubs: Path, address: str) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(stubs)}
    done = subprocess.run(
        [sys.executable, str(CLIENT), address],
        env=env,
        cwd=stubs,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"the old client failed:\n{done.stderr}"
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_a_client_of_the_old_contract_works_unchanged(inventory: Any, old_stubs: Path) -> None:
    seen = run_old_client(old_stubs, f"127.0.0.1:{inventory.port}")
    sku = seen["sku"]

    # It ran on the old stubs: StockLevel as it was, without location or channel.
    assert Path(seen["stubs"]).is_relative_to(old_stubs), seen["stubs"]
    assert seen["stub_fields"] == ["available", "on_hand", "reserved", "sku"]

    assert seen["variant"] == {"sku": sku, "level": level(sku, 10, 0)}
    assert seen["hold"]["state"] == "HOLD_STATE_ACTIVE"
    assert seen["hold"]["lines"] == [[sku, 3]]
    assert seen["levels_held"] == [level(sku, 10, 3)]

    assert seen["refused"] == {
        "code": "FAILED_PRECONDITION",
        "domain": "holdfast.inventory",
        "reason": "INSUFFICIENT_STOCK",
        "metadata": {
            **seen["refused"]["metadata"],
            "sku": sku,
            "skus": sku,
            "available": "7",
            "requested": "8",
        },
    }

    assert seen["got"] == seen["hold"]
    assert seen["extended"]["state"] == "HOLD_STATE_ACTIVE"
    assert seen["extended"]["lines"] == [[sku, 3]]
    # Created with a 600 s TTL, extended to 1200 s from a moment later (whole seconds).
    assert seen["extended"]["expire_time"] - seen["hold"]["expire_time"] >= 599

    assert seen["committed"]["state"] == "HOLD_STATE_COMMITTED"
    assert seen["committed"]["lines"] == [[sku, 3]]
    assert seen["levels_committed"] == [level(sku, 7, 0)]

    assert seen["adjusted"] == level(sku, 12, 0)
    assert seen["released"]["state"] == "HOLD_STATE_RELEASED"
    assert seen["released"]["lines"] == [[sku, 2]]
    assert seen["levels_released"] == [level(sku, 12, 0)]

    listed = {h["id"]: (h["state"], h["lines"]) for h in seen["listed"]}
    assert listed == {
        seen["hold"]["id"]: ("HOLD_STATE_COMMITTED", [[sku, 3]]),
        seen["released"]["id"]: ("HOLD_STATE_RELEASED", [[sku, 2]]),
    }

    assert seen["watched"] == level(sku, 12, 0)


def level(sku: str, on_hand: int, reserved: int) -> dict[str, Any]:
    return {"sku": sku, "on_hand": on_hand, "reserved": reserved, "available": on_hand - reserved}
