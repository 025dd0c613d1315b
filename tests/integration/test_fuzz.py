"""Every request message of both services, fuzzed: bad input is refused, never a crash.

For each RPC of InventoryService and PricingService (read from the service descriptors, so
a new method is fuzzed without a change here), hypothesis draws requests from the message's
descriptor (tests/support/proto_strategies.py) with values of a seeded world mixed in, so
some get past validation. Every answer must be OK or a refusal a caller can act on
(INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, FAILED_PRECONDITION) carrying a
google.rpc.Status with an ErrorInfo and no internals; a refused call, and any read, must
leave every table exactly as it was.

Examples per method: FUZZ_EXAMPLES (default 50: about 15 s for the module on an idle 2-core
machine, 30 s on a busy one); `FUZZ_EXAMPLES=2000 make test` or
`FUZZ_EXAMPLES=2000 pytest tests/integration/test_fuzz.py` fuzzes for longer. Runs are
derandomized: the same code draws the same requests.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest
from google.protobuf import duration_pb2, field_mask_pb2, timestamp_pb2
from google.protobuf.descriptor import MethodDescriptor
from google.type import money_pb2
from holdfast.inventory.v1 import inventory_pb2 as ipb
from holdfast.pricing.v1 import pricing_pb2 as pb
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from inventory_svc import validation as inventory_validation
from inventory_svc.models import EVENT_TYPES
from pricing_svc import validation as pricing_validation
from tests.support.db_fingerprint import TableFingerprints
from tests.support.grpc_helpers import failure, new_request_id, unique_sku, usd_cents
from tests.support.proto_strategies import Strategy, durations, messages

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "50"))
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    # Requests are big and the server is slow next to a pure function; neither is a bug.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
REFUSALS = {
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.FAILED_PRECONDITION,
}
INVENTORY = ipb.DESCRIPTOR.services_by_name["InventoryService"]
PRICING = pb.DESCRIPTOR.services_by_name["PricingService"]
# Calls that must change nothing even when they succeed.
READ_PREFIXES = ("Get", "List", "BatchGet", "Watch", "Stream", "Export", "Quote", "BatchQuote")
# Generous: one call on a loaded 2-core machine, never a measure of speed.
CALL_TIMEOUT = 30.0
# A watch's first message is the current level of each SKU, sent at once.
WATCH_FIRST_MESSAGE_TIMEOUT = 10.0
LEAKS = ("Traceback", 'File "', "psycopg", "SELECT ", "INSERT ", "UPDATE ", "DELETE ", "violates")
# Holds the fuzz makes outlive the module, so none turns overdue and is reclaimed by an
# unrelated reserve while a refusal is being checked (reclaiming is a write by design).
MIN_FUZZ_TTL = timedelta(minutes=2)


# ---------------------------------------------------------------- the seeded world


@dataclass
class World:
    """Things that exist, so fuzzed requests can name them and get past validation."""

    skus: list[str]
    category_ids: list[str]
    # The path of names of the child category (the root's name, then "child").
    category_path: list[str]
    product_ids: list[str]
    variant_ids: list[str]
    hold_ids: list[str]
    owners: list[str]
    rule_ids: list[str]
    page_tokens: list[str]
    request_ids: list[str]
    location_codes: list[str]
    location_ids: list[str]
    channel_codes: list[str]
    channel_ids: list[str]


@pytest.fixture(scope="module")
def world(priced_inventory, pricing) -> World:
    inv, prc = priced_inventory.stub, pricing.stub
    root = inv.CreateCategory(ipb.CreateCategoryRequest(name=f"fuzz-{uuid.uuid4().hex[:8]}")).category
    child = inv.CreateCategory(ipb.CreateCategoryRequest(name="child", parent_id=root.id)).category
    products = [priced_inventory.client.product(f"p{i}", category_id=child.id) for i in range(2)]
    skus, variant_ids = [], []
    for product in products:
        for _ in range(2):
            sku = unique_sku("FUZZ")
            made = inv.CreateVariant(
                ipb.CreateVariantRequest(
                    product_id=product.id, sku=sku, initial_on_hand=1000, price_adjustment=usd_cents(-100)
                )
            )
            skus.append(sku)
            variant_ids.append(made.variant.id)
    owners = ["cart-1", "cart-2"]
    # Enough that CommitHold still finds active ones after ReleaseHold's turn.
    holds = [priced_inventory.client.hold({sku: 2}, owner_id=owners[i % 2]) for i, sku in enumerate(skus * 3)]
    future = timestamp_pb2.Timestamp()
    future.FromDatetime(datetime.now(UTC) + timedelta(days=30))
    rules = [
        pricing.client.rule(name="pct", stage=pb.PRICE_STAGE_BULK, percent_off_bps=500, min_quantity=3),
        pricing.client.rule(
            name="tier",
            stage=pb.PRICE_STAGE_TIER,
            amount_off=usd_cents(50),
            customer_tier="gold",
            sku=skus[0],
        ),
        pricing.client.rule(
            name="sale",
            stage=pb.PRICE_STAGE_SEASONAL,
            percent_off_bps=1000,
            category_id=root.id,
            start_time=timestamp_pb2.Timestamp(seconds=1_700_000_000),
            end_time=future,
        ),
    ]
    locations = [
        inv.CreateLocation(
            ipb.CreateLocationRequest(
                location=ipb.Location(code=unique_sku("LOC"), name=f"l{i}"), create_inactive=i == 1
            )
        ).location
        for i in range(2)
    ]
    channel = inv.CreateChannel(
        ipb.CreateChannelRequest(
            channel=ipb.Channel(
                code=unique_sku("CH"),
                name="web",
                location_codes=[x.code for x in locations],
                strategy=ipb.ALLOCATION_STRATEGY_PRIORITY,
            )
        )
    ).channel
    tokens = [
        inv.ListLocations(ipb.ListLocationsRequest(page_size=1)).next_page_token,
        inv.ListChannels(ipb.ListChannelsRequest(page_size=1)).next_page_token,
        inv.ListCategories(ipb.ListCategoriesRequest(page_size=1)).next_page_token,
        inv.ListProducts(ipb.ListProductsRequest(category_id=root.id, page_size=1)).next_page_token,
        inv.ListVariants(ipb.ListVariantsRequest(product_id=products[0].id, page_size=1)).next_page_token,
        inv.ListHolds(ipb.ListHoldsRequest(owner_id=owners[0], page_size=1)).next_page_token,
        prc.ListPriceRules(pb.ListPriceRulesRequest(page_size=1)).next_page_token,
    ]
    assert all(tokens)
    return World(
        skus=skus,
        category_ids=[root.id, child.id],
        category_path=[root.name, child.name],
        product_ids=[p.id for p in products],
        variant_ids=variant_ids,
        hold_ids=[h.id for h in holds],
        owners=owners,
        rule_ids=[r.id for r in rules],
        page_tokens=tokens,
        request_ids=[new_request_id() for _ in range(2)],
        location_codes=["default", *(x.code for x in locations)],
        location_ids=[x.id for x in locations],
        channel_codes=["default", channel.code],
        channel_ids=[channel.id],
    )


def _valid_money() -> Strategy:
    return st.builds(
        money_pb2.Money,
        currency_code=st.just("USD"),
        units=st.integers(0, 100),
        nanos=st.sampled_from([0, 10_000_000, 500_000_000, 990_000_000]),
    )


def _recent_timestamps() -> Strategy:
    now = int(datetime.now(UTC).timestamp())
    return st.builds(timestamp_pb2.Timestamp, seconds=st.integers(now - 86_400 * 400, now + 86_400 * 400))


def _valid_rules(world: World, ids: list[str] | None = None) -> Strategy:
    """PriceRules that pass validation: one per stage, any scope of the world."""
    discount: dict[str, Strategy] = {
        "percent_off_bps": st.integers(1, 10_000),
    }
    scope = st.one_of(
        st.fixed_dictionaries({"all_skus": st.just(True)}),
        st.fixed_dictionaries({"sku": st.sampled_from(world.skus)}),
        st.fixed_dictionaries({"product_id": st.sampled_from(world.product_ids)}),
        st.fixed_dictionaries({"category_id": st.sampled_from(world.category_ids)}),
    )
    now = int(datetime.now(UTC).timestamp())
    stages = st.one_of(
        st.fixed_dictionaries(
            {
                "stage": st.just(pb.PRICE_STAGE_SEASONAL),
                "start_time": st.just(timestamp_pb2.Timestamp(seconds=now - 86_400)),
                "end_time": st.builds(timestamp_pb2.Timestamp, seconds=st.integers(now, now + 86_400 * 30)),
            }
        ),
        st.fixed_dictionaries({"stage": st.just(pb.PRICE_STAGE_BULK), "min_quantity": st.integers(2, 20)}),
        st.fixed_dictionaries(
            {"stage": st.just(pb.PRICE_STAGE_TIER), "customer_tier": st.sampled_from(["gold", "silver"])}
        ),
    )
    return st.builds(
        lambda id_, name, stage, off, where: pb.PriceRule(id=id_, name=name, **stage, **off, **where),
        st.sampled_from(ids or [""]),
        _names(),
        stages,
        st.one_of(
            st.fixed_dictionaries(discount),
            st.fixed_dictionaries({"amount_off": _valid_money().filter(lambda m: m.units or m.nanos)}),
        ),
        scope,
    )


def _nanos(value: duration_pb2.Duration) -> int:
    return value.seconds * 1_000_000_000 + value.nanos


def _ttls() -> Strategy:
    """Every bad TTL, and good ones long enough that no hold turns overdue mid-module."""
    short = MIN_FUZZ_TTL.total_seconds() * 1e9
    return st.one_of(
        st.builds(duration_pb2.Duration, seconds=st.integers(int(MIN_FUZZ_TTL.total_seconds()), 3600)),
        durations().filter(lambda d: not 0 < _nanos(d) < short),
    )


def _names() -> Strategy:
    return st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=20)


def samples(world: World, method: str) -> dict[str, Strategy]:
    """Valid-looking values for fields, by name; mixed in with the generic ones."""
    ids = world.category_ids + world.product_ids + world.variant_ids + world.hold_ids + world.rule_ids
    # Not st.uuids(): hypothesis draws the same few often, and a reused request_id is
    # mostly refused as IDEMPOTENCY_KEY_REUSED; the world's own are there for retries.
    fresh_ids = st.builds(new_request_id)
    return {
        "request_id": st.one_of(fresh_ids, st.sampled_from(world.request_ids)),
        "sku": st.sampled_from(world.skus),
        "holdfast.inventory.v1.CreateVariantRequest.sku": st.one_of(
            st.builds(unique_sku, st.just("FUZZ")), st.sampled_from(world.skus)
        ),
        "holdfast.pricing.v1.CreatePriceRuleRequest.rule": _valid_rules(world),
        "holdfast.pricing.v1.UpdatePriceRuleRequest.rule": _valid_rules(world, world.rule_ids),
        "skus": st.sampled_from(world.skus),
        "id": st.sampled_from(ids),
        "hold_id": st.sampled_from(world.hold_ids),
        "product_id": st.sampled_from(world.product_ids),
        "category_id": st.sampled_from(world.category_ids),
        "parent_id": st.sampled_from(world.category_ids),
        "holdfast.pricing.v1.PriceRule.id": st.sampled_from(world.rule_ids),
        "owner_id": st.sampled_from(world.owners),
        "customer_tier": st.sampled_from(["gold", "silver", ""]),
        "page_token": st.sampled_from(["", *world.page_tokens]),
        "page_size": st.integers(0, 5),
        "quantity": st.integers(1, 5),
        "delta": st.integers(-5, 20),
        "initial_on_hand": st.integers(0, 100),
        "percent_off_bps": st.integers(1, 10_000),
        "min_quantity": st.integers(2, 50),
        "priority": st.integers(0, 10),
        "name": _names(),
        "title": _names(),
        "description": _names(),
        "note": _names(),
        "base_price": _valid_money(),
        "price_adjustment": _valid_money(),
        "amount_off": _valid_money(),
        "price_time": _recent_timestamps(),
        "start_time": _recent_timestamps(),
        "end_time": _recent_timestamps(),
        # Locations and channels: named by code or id, and fresh codes to create.
        "holdfast.inventory.v1.GetLocationRequest.location": places(world.location_codes, world.location_ids),
        "holdfast.inventory.v1.GetChannelRequest.channel": places(world.channel_codes, world.channel_ids),
        "holdfast.inventory.v1.Location.id": st.sampled_from(["", *world.location_ids]),
        "holdfast.inventory.v1.Location.code": places(world.location_codes, []),
        "holdfast.inventory.v1.Channel.id": st.sampled_from(["", *world.channel_ids]),
        "holdfast.inventory.v1.Channel.code": places(world.channel_codes, []),
        "location_codes": st.sampled_from(world.location_codes),
        # Stock and holds name locations and channels too (code or id, or empty: the default).
        "from_location": st.sampled_from(world.location_codes),
        "to_location": st.sampled_from(world.location_codes),
        "holdfast.inventory.v1.AdjustStockRequest.location": places(world.location_codes, world.location_ids),
        "holdfast.inventory.v1.HoldLine.location": st.sampled_from(["", *world.location_codes]),
        "holdfast.inventory.v1.StockUpdate.location": places(world.location_codes, world.location_ids),
        "set_on_hand": st.integers(0, 2000),
        "adjust_delta": st.integers(-5, 20),
        "expected_on_hand": st.integers(990, 1010),
        "mode": st.sampled_from(
            [
                ipb.STOCK_UPDATE_MODE_UNSPECIFIED,
                ipb.STOCK_UPDATE_MODE_ALL_OR_NOTHING,
                ipb.STOCK_UPDATE_MODE_PER_ROW,
            ]
        ),
        "holdfast.inventory.v1.CreateHoldRequest.channel": st.sampled_from(["", *world.channel_codes]),
        "holdfast.inventory.v1.BatchGetStockLevelsRequest.channel": st.sampled_from(
            ["", *world.channel_codes]
        ),
        "holdfast.inventory.v1.WatchStockLevelsRequest.channel": st.sampled_from(["", *world.channel_codes]),
        # Stock events: cursors around the feed's start, known locations, the ledger's reasons.
        "after_cursor": st.integers(0, 50),
        "holdfast.inventory.v1.StreamStockEventsRequest.locations": st.sampled_from(world.location_codes),
        "event_types": st.sampled_from(list(EVENT_TYPES)),
        "holdfast.inventory.v1.StockThreshold.location": st.sampled_from(["", *world.location_codes]),
        "low_stock_at": st.integers(0, 50),
        # Catalog rows: keys that exist (products made without a handle have their id) or new ones.
        "holdfast.inventory.v1.ProductRow.handle": st.one_of(
            st.builds(unique_sku, st.just("P")), st.sampled_from(world.product_ids)
        ),
        "product_handle": st.sampled_from(world.product_ids),
        "holdfast.inventory.v1.VariantRow.sku": st.one_of(
            st.builds(unique_sku, st.just("FUZZ")), st.sampled_from(world.skus)
        ),
        "holdfast.inventory.v1.LocationRow.code": places(world.location_codes, []),
        "holdfast.inventory.v1.StockRow.location": st.sampled_from(["", *world.location_codes]),
        # Stock states, incoming stock and inventory policies (issue 16).
        "holdfast.inventory.v1.MoveStockRequest.location": places(world.location_codes, world.location_ids),
        "holdfast.inventory.v1.CreateIncomingStockRequest.location": places(
            world.location_codes, world.location_ids
        ),
        "holdfast.inventory.v1.ListIncomingStockRequest.location": st.sampled_from(
            ["", *world.location_codes]
        ),
        "holdfast.inventory.v1.InventoryPolicy.location": st.sampled_from(["", *world.location_codes]),
        "holdfast.inventory.v1.InventoryPolicy.sku": st.sampled_from(world.skus),
        "incoming_stock_id": st.sampled_from(world.hold_ids),
        "expected_time": _recent_timestamps(),
        "preorder_end_time": _recent_timestamps(),
        # Output-only counts of a hold line: a request's are ignored, so near-valid ones leave them 0.
        "holdfast.inventory.v1.HoldLine.from_stock": st.just(0),
        "holdfast.inventory.v1.HoldLine.backordered": st.just(0),
        "holdfast.inventory.v1.HoldLine.preordered": st.just(0),
        "backorder_limit": st.integers(0, 50),
        "preorder_limit": st.integers(0, 50),
        "path": st.sampled_from(world.category_path),
        "category_path": st.sampled_from(world.category_path),
        "on_hand": st.integers(0, 100),
        "holdfast.inventory.v1.UpdateLocationRequest.update_mask": masks(
            [["name"], ["active"], ["name", "active"]]
        ),
        "holdfast.inventory.v1.UpdateChannelRequest.update_mask": masks(
            [["name"], ["strategy"], ["location_codes"], ["name", "location_codes", "strategy"]]
        ),
        "paths": st.sampled_from(sorted(pricing_validation.WRITABLE_FIELDS | {"*", "id", "create_time"})),
        # Masks that keep a valid rule valid, whatever it was before.
        "update_mask": st.builds(
            field_mask_pb2.FieldMask,
            paths=st.sampled_from([[], ["*"], ["name"], ["priority", "active"], ["name", "priority"]]),
        ),
    }


def places(codes: list[str], ids: list[str]) -> Strategy:
    """A location or channel by code or id, or a code that names none yet."""
    return st.one_of(st.sampled_from(codes + ids), st.builds(unique_sku, st.just("NEW")))


def masks(paths: list[list[str]]) -> Strategy:
    return st.builds(field_mask_pb2.FieldMask, paths=st.sampled_from(paths))


# Lengths just past each cap the services enforce on a list.
LONG_REPEATS = (
    inventory_validation.MAX_BATCH_SKUS + 1,
    inventory_validation.MAX_STOCK_UPDATES + 1,
    pricing_validation.MAX_BATCH_CARTS + 1,
)


def request_strategy(method: MethodDescriptor, world: World, max_lines: int) -> Strategy:
    return messages(
        method.input_type,
        samples=samples(world, method.name),
        overrides={"ttl": _ttls()},
        long_repeats=(max_lines + 1, *LONG_REPEATS),
    )


# ---------------------------------------------------------------- calling and judging


def call(stub: Any, method: MethodDescriptor, request: Any) -> grpc.RpcError | None:
    """Makes the call; a server stream is read up to its first message, a bidirectional one
    gets the request as its only message and is read to its end. None means OK."""
    rpc = getattr(stub, method.name)
    try:
        if method.client_streaming:
            list(rpc(iter([request]), timeout=CALL_TIMEOUT))
        elif method.server_streaming:
            stream = rpc(request, timeout=WATCH_FIRST_MESSAGE_TIMEOUT)
            try:
                next(stream)
            finally:
                stream.cancel()
        else:
            rpc(request, timeout=CALL_TIMEOUT)
    except grpc.RpcError as error:
        return error
    return None


def judge(
    method: MethodDescriptor,
    domain: str,
    request: Any,
    error: grpc.RpcError | None,
    prints: TableFingerprints,
) -> grpc.StatusCode:
    """Checks one answer (and what it did to the database); returns its code."""
    code = grpc.StatusCode.OK if error is None else error.code()
    event(f"{method.name}: {code.name}")
    shown = f"{method.name}({str(request)[:2000]!r})"
    if error is not None:
        assert code in REFUSALS, f"{shown} -> {code.name}: {error.details()}"
        refused = failure(error)
        assert refused.reason and refused.domain == domain, f"{shown}: no ErrorInfo of {domain}"
        if refused.reason == "INVALID_FIELDS":
            assert refused.field_violations, f"{shown}: INVALID_ARGUMENT without a BadRequest"
        leaked = [word for word in LEAKS if word in refused.message]
        assert not leaked, f"{shown}: the message leaks {leaked}: {refused.message}"
    after = prints.take()
    if error is not None or method.name.startswith(READ_PREFIXES):
        assert after == prints.last, f"{shown} -> {code.name} changed the database"
    prints.last = after
    return code


def fuzz(
    stub: Any, method: MethodDescriptor, domain: str, strategy: Strategy, prints: TableFingerprints
) -> None:
    """Runs the examples; fails on the first bad answer, shrunk to a small request."""
    codes: set[grpc.StatusCode] = set()
    prints.last = prints.take()

    @FUZZ
    @given(request=strategy)
    def run(request: Any) -> None:
        codes.add(judge(method, domain, request, call(stub, method, request), prints))

    run()
    if EXAMPLES >= 25:
        # A fuzz that only ever meets the validators tests nothing behind them.
        assert codes - {grpc.StatusCode.INVALID_ARGUMENT}, f"{method.name}: no request got past validation"


@pytest.mark.parametrize("method", list(INVENTORY.methods), ids=lambda m: m.name)
def test_inventory_refuses_bad_input_and_never_crashes(priced_inventory, world, fingerprints, method):
    strategy = request_strategy(method, world, priced_inventory.settings.holds.max_lines_per_hold)
    fuzz(priced_inventory.stub, method, "holdfast.inventory", strategy, fingerprints)


@pytest.mark.parametrize("method", list(PRICING.methods), ids=lambda m: m.name)
def test_pricing_refuses_bad_input_and_never_crashes(pricing, world, fingerprints, method):
    strategy = request_strategy(method, world, pricing.settings.quotes.max_lines_per_quote)
    fuzz(pricing.stub, method, "holdfast.pricing", strategy, fingerprints)
