"""Quotes asked for together share one pair of reads, yet each cart gets its own answer.

The pricing server here runs one quote batch at a time, and the test holds price_rules
locked from outside: the first batch waits on it while the carts sent after it queue up,
and releasing the lock lets them all run as the next batch.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import grpc
import psycopg
import pytest
from holdfast.pricing.v1 import pricing_pb2 as pb

from tests.conftest import RunningService, make_settings, start_pricing
from tests.integration.test_coalescing import lock_waiters
from tests.support.grpc_helpers import Pricing, cents, failure, refusal, usd_cents
from tests.support.polling import wait_until

CALL_TIMEOUT = 30


@pytest.fixture(scope="module")
def serial_pricing(database_url: str) -> Iterator[RunningService[Pricing]]:
    server = start_pricing(make_settings(database_url, quote_batch_concurrency=1))
    yield server
    server.stop()


def cart(lines: dict[str, int], tier: str = "") -> pb.QuoteCartRequest:
    return pb.QuoteCartRequest(
        lines=[pb.CartLine(sku=s, quantity=q) for s, q in lines.items()], customer_tier=tier
    )


def test_carts_quoted_in_one_batch_get_the_answers_they_get_alone(
    serial_pricing: RunningService[Pricing],
    inventory,
    database_url: str,
) -> None:
    a = inventory.client.sku(adjustment_cents=-100)  # 1000 - 100 = 900
    b = inventory.client.sku()  # 1000
    pricing = serial_pricing.client
    pricing.rule(
        name="gold", stage=pb.PRICE_STAGE_TIER, amount_off=usd_cents(50), customer_tier="gold", sku=a
    )
    pricing.rule(name="vip", stage=pb.PRICE_STAGE_TIER, percent_off_bps=1000, customer_tier="vip", sku=a)
    pricing.rule(name="bulk", stage=pb.PRICE_STAGE_BULK, percent_off_bps=500, min_quantity=10, sku=b)
    carts = [
        cart({a: 1}, "gold"),
        cart({a: 2, b: 10}, "vip"),
        cart({a: 1, "NO-SUCH-SKU": 1}, "gold"),
        cart({b: 1}),
        cart({a: 3}, "vip"),
    ]

    with psycopg.connect(database_url) as gate:
        gate.execute("LOCK TABLE price_rules IN ACCESS EXCLUSIVE MODE")
        blocked = pricing.stub.QuoteCart.future(cart({b: 1}), timeout=CALL_TIMEOUT)
        wait_until(lambda: lock_waiters(database_url) > 0, 10, "the first batch to wait on the lock")
        futures = [pricing.stub.QuoteCart.future(c, timeout=CALL_TIMEOUT) for c in carts]
        time.sleep(1.0)
        assert not any(f.done() for f in futures)
        gate.rollback()
    blocked.result()

    gold_a, vip_mix, unknown, plain_b, vip_a = futures
    assert cents(gold_a.result().quote.total) == 900 - 50
    # a: 900 - 10% = 810 each; b: 10 units at 1000 - 5% = 950 each.
    assert cents(vip_mix.result().quote.total) == 2 * 810 + 10 * 950
    with pytest.raises(grpc.RpcError) as refused:
        unknown.result()
    got = failure(refused.value)
    assert (got.code, got.reason) == (grpc.StatusCode.NOT_FOUND, "SKU_NOT_FOUND")
    assert got.metadata["skus"] == "NO-SUCH-SKU"
    assert cents(plain_b.result().quote.total) == 1000
    assert cents(vip_a.result().quote.total) == 3 * 810
    # The same carts one at a time give the same quotes.
    for future, request in zip(futures, carts, strict=True):
        if future is not unknown:
            assert pricing.stub.QuoteCart(request).quote == future.result().quote


def test_batch_quote_carts_answers_each_cart_on_its_own(pricing, inventory) -> None:
    sku = inventory.client.sku(adjustment_cents=250)  # 1000 + 250
    response = pricing.stub.BatchQuoteCarts(
        pb.BatchQuoteCartsRequest(
            requests=[
                cart({sku: 2}),
                cart({sku: 0}),
                cart({"NO-SUCH-SKU": 1}),
                cart({sku: 1}, "gold"),
            ]
        )
    )

    kinds = [r.WhichOneof("result") for r in response.results]
    assert kinds == ["response", "error", "error", "response"]
    first, bad, unknown, last = response.results
    assert cents(first.response.quote.total) == 2 * 1250
    assert cents(last.response.quote.total) == 1250
    assert bad.error.code == grpc.StatusCode.INVALID_ARGUMENT.value[0]
    assert "lines[0].quantity" in str(bad.error.details)
    assert unknown.error.code == grpc.StatusCode.NOT_FOUND.value[0]
    assert "SKU_NOT_FOUND" in str(unknown.error.details)


def test_batch_quote_carts_needs_one_to_a_thousand_carts(pricing, inventory) -> None:
    sku = inventory.client.sku()
    for count in (0, 1001):
        request = pb.BatchQuoteCartsRequest(requests=[cart({sku: 1})] * count)
        got = refusal(pricing.stub.BatchQuoteCarts, request)
        assert (got.code, got.field_violations[0][0]) == (grpc.StatusCode.INVALID_ARGUMENT, "requests")
