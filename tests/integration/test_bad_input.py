"""A table of bad requests: each gets the right code and reason, and the database is unchanged."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import grpc
import pytest
from google.protobuf import duration_pb2, field_mask_pb2
from google.protobuf.message import Message
from google.type import money_pb2
from holdfast.inventory.v1 import inventory_pb2 as pb
from holdfast.pricing.v1 import pricing_pb2 as ppb

from holdfast_common.values.money import MAX_AMOUNT_MINOR, Money
from tests.support.grpc_helpers import cents, new_request_id, refusal, unique_sku

INT64_MAX = 2**63 - 1
INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND


@dataclass
class World:
    """Things that exist, so a bad request has something it could wrongly change."""

    sku: str  # 10 on hand, 2 held by `hold`
    other_sku: str
    hold: pb.Hold
    owner: str
    holds_token: str  # page 2 of ListHolds(owner, every state, page_size=1)
    category_id: str
    products_token: str  # page 2 of ListProducts(category_id, page_size=1)
    product_id: str
    variants_token: str  # page 2 of ListVariants(product_id, page_size=1)
    max_lines: int
    max_quantity: int
    max_ttl: int


@pytest.fixture(scope="module")
def world(inventory) -> World:
    client, stub = inventory.client, inventory.stub
    product = client.product("two variants")
    sku = client.sku(on_hand=10, product_id=product.id)
    other_sku = client.sku(on_hand=5, product_id=product.id)
    owner = f"owner-{uuid.uuid4().hex[:8]}"
    hold = client.hold({sku: 2}, owner_id=owner)
    client.hold({other_sku: 1}, owner_id=owner)
    holds_token = stub.ListHolds(pb.ListHoldsRequest(owner_id=owner, page_size=1)).next_page_token
    category = stub.CreateCategory(pb.CreateCategoryRequest(name=f"c-{uuid.uuid4().hex[:8]}")).category
    client.product("a", category_id=category.id)
    client.product("b", category_id=category.id)
    products_token = stub.ListProducts(
        pb.ListProductsRequest(category_id=category.id, page_size=1)
    ).next_page_token
    variants_token = stub.ListVariants(
        pb.ListVariantsRequest(product_id=product.id, page_size=1)
    ).next_page_token
    assert holds_token and products_token and variants_token
    s = inventory.settings
    return World(
        sku=sku,
        other_sku=other_sku,
        hold=hold,
        owner=owner,
        holds_token=holds_token,
        category_id=category.id,
        products_token=products_token,
        product_id=product.id,
        variants_token=variants_token,
        max_lines=s.holds.max_lines_per_hold,
        max_quantity=s.holds.max_quantity_per_line,
        max_ttl=s.holds.hold_max_ttl_seconds,
    )


def _ttl(seconds: int, nanos: int = 0) -> duration_pb2.Duration:
    return duration_pb2.Duration(seconds=seconds, nanos=nanos)


def _hold(w: World, lines=None, *, request_id=None, owner_id=None, ttl=None) -> pb.CreateHoldRequest:
    request = pb.CreateHoldRequest(
        request_id=new_request_id() if request_id is None else request_id,
        owner_id=w.owner if owner_id is None else owner_id,
        lines=[pb.HoldLine(sku=s, quantity=q) for s, q in (lines if lines is not None else [(w.sku, 1)])],
    )
    if ttl is not None:
        request.ttl.CopyFrom(ttl)
    return request


def _usd(units: int, nanos: int = 0) -> money_pb2.Money:
    return money_pb2.Money(currency_code="USD", units=units, nanos=nanos)


def _adjust(w: World, **fields) -> pb.AdjustStockRequest:
    values: dict[str, Any] = {
        "request_id": new_request_id(),
        "sku": w.sku,
        "delta": 1,
        "reason": pb.ADJUSTMENT_REASON_ADJUST,
    }
    values.update(fields)
    return pb.AdjustStockRequest(**values)


def _extend(w: World, **fields) -> pb.ExtendHoldRequest:
    values: dict[str, Any] = {"request_id": new_request_id(), "hold_id": w.hold.id, "ttl": _ttl(60)}
    values.update(fields)
    return pb.ExtendHoldRequest(**values)


@dataclass
class Case:
    id: str
    method: str
    # (world) for inventory cases, (world, rule) for pricing ones.
    build: Callable[..., Message]
    code: grpc.StatusCode
    reason: str
    # For INVALID_ARGUMENT: the field a BadRequest violation must name.
    field: str = ""


LONG_ID = "r" * 65
BAD = "INVALID_FIELDS"

CASES = [
    # ---- CreateHold quantities and lines
    Case("hold qty zero", "CreateHold", lambda w: _hold(w, [(w.sku, 0)]), INVALID, BAD, "lines[0].quantity"),
    Case(
        "hold qty negative",
        "CreateHold",
        lambda w: _hold(w, [(w.sku, -1)]),
        INVALID,
        BAD,
        "lines[0].quantity",
    ),
    Case(
        "hold qty over cap",
        "CreateHold",
        lambda w: _hold(w, [(w.sku, w.max_quantity + 1)]),
        INVALID,
        BAD,
        "lines[0].quantity",
    ),
    Case(
        "hold qty int64 max",
        "CreateHold",
        lambda w: _hold(w, [(w.sku, INT64_MAX)]),
        INVALID,
        BAD,
        "lines[0].quantity",
    ),
    Case(
        "hold qty int64 min",
        "CreateHold",
        lambda w: _hold(w, [(w.sku, -INT64_MAX - 1)]),
        INVALID,
        BAD,
        "lines[0].quantity",
    ),
    Case(
        "hold one bad line among good",
        "CreateHold",
        lambda w: _hold(w, [(w.sku, 1), (w.other_sku, 0)]),
        INVALID,
        BAD,
        "lines[1].quantity",
    ),
    Case(
        "hold summed lines over cap",
        "CreateHold",
        lambda w: _hold(w, [(w.sku, w.max_quantity), (w.sku, 1)]),
        INVALID,
        BAD,
        "lines",
    ),
    Case(
        "hold int64 max twice",
        "CreateHold",
        lambda w: _hold(w, [(w.sku, INT64_MAX), (w.sku, INT64_MAX)]),
        INVALID,
        BAD,
        "lines[0].quantity",
    ),
    Case("hold no lines", "CreateHold", lambda w: _hold(w, []), INVALID, BAD, "lines"),
    Case(
        "hold too many lines",
        "CreateHold",
        lambda w: _hold(w, [(w.sku, 1)] * (w.max_lines + 1)),
        INVALID,
        BAD,
        "lines",
    ),
    Case(
        "hold unknown sku",
        "CreateHold",
        lambda w: _hold(w, [(unique_sku("NOPE"), 1)]),
        NOT_FOUND,
        "SKU_NOT_FOUND",
    ),
    Case(
        "hold unknown sku among known",
        "CreateHold",
        lambda w: _hold(w, [(w.sku, 1), (unique_sku("NOPE"), 1), (w.other_sku, 1)]),
        NOT_FOUND,
        "SKU_NOT_FOUND",
    ),
    Case(
        "hold sku with space",
        "CreateHold",
        lambda w: _hold(w, [("bad sku", 1)]),
        INVALID,
        BAD,
        "lines[0].sku",
    ),
    Case("hold sku empty", "CreateHold", lambda w: _hold(w, [("", 1)]), INVALID, BAD, "lines[0].sku"),
    Case(
        "hold sku leading dash", "CreateHold", lambda w: _hold(w, [("-x", 1)]), INVALID, BAD, "lines[0].sku"
    ),
    Case(
        "hold sku too long", "CreateHold", lambda w: _hold(w, [("S" * 65, 1)]), INVALID, BAD, "lines[0].sku"
    ),
    # ---- request ids
    Case(
        "hold request_id empty", "CreateHold", lambda w: _hold(w, request_id=""), INVALID, BAD, "request_id"
    ),
    Case(
        "hold request_id 65 chars",
        "CreateHold",
        lambda w: _hold(w, request_id=LONG_ID),
        INVALID,
        BAD,
        "request_id",
    ),
    Case(
        "hold request_id with spaces",
        "CreateHold",
        lambda w: _hold(w, request_id="a b"),
        INVALID,
        BAD,
        "request_id",
    ),
    Case(
        "commit request_id empty",
        "CommitHold",
        lambda w: pb.CommitHoldRequest(request_id="", hold_id=w.hold.id),
        INVALID,
        BAD,
        "request_id",
    ),
    Case(
        "release request_id 65 chars",
        "ReleaseHold",
        lambda w: pb.ReleaseHoldRequest(request_id=LONG_ID, hold_id=w.hold.id),
        INVALID,
        BAD,
        "request_id",
    ),
    Case(
        "extend request_id with spaces",
        "ExtendHold",
        lambda w: _extend(w, request_id="x y"),
        INVALID,
        BAD,
        "request_id",
    ),
    Case(
        "adjust request_id empty",
        "AdjustStock",
        lambda w: _adjust(w, request_id=""),
        INVALID,
        BAD,
        "request_id",
    ),
    Case(
        "adjust request_id 65 chars",
        "AdjustStock",
        lambda w: _adjust(w, request_id=LONG_ID),
        INVALID,
        BAD,
        "request_id",
    ),
    # ---- owner and TTL
    Case(
        "hold owner_id too long",
        "CreateHold",
        lambda w: _hold(w, owner_id="o" * 129),
        INVALID,
        BAD,
        "owner_id",
    ),
    Case("hold owner_id empty", "CreateHold", lambda w: _hold(w, owner_id=""), INVALID, BAD, "owner_id"),
    Case("hold ttl zero", "CreateHold", lambda w: _hold(w, ttl=_ttl(0)), INVALID, BAD, "ttl"),
    Case("hold ttl negative", "CreateHold", lambda w: _hold(w, ttl=_ttl(-5)), INVALID, BAD, "ttl"),
    Case("hold ttl negative nanos", "CreateHold", lambda w: _hold(w, ttl=_ttl(0, -1)), INVALID, BAD, "ttl"),
    Case("hold ttl over max", "CreateHold", lambda w: _hold(w, ttl=_ttl(w.max_ttl, 1)), INVALID, BAD, "ttl"),
    # ---- hold ids
    Case("get hold id abc", "GetHold", lambda w: pb.GetHoldRequest(id="abc"), INVALID, BAD, "id"),
    Case("get hold id empty", "GetHold", lambda w: pb.GetHoldRequest(id=""), INVALID, BAD, "id"),
    Case(
        "commit hold_id abc",
        "CommitHold",
        lambda w: pb.CommitHoldRequest(request_id=new_request_id(), hold_id="abc"),
        INVALID,
        BAD,
        "hold_id",
    ),
    Case(
        "commit hold_id empty",
        "CommitHold",
        lambda w: pb.CommitHoldRequest(request_id=new_request_id(), hold_id=""),
        INVALID,
        BAD,
        "hold_id",
    ),
    Case(
        "release hold_id abc",
        "ReleaseHold",
        lambda w: pb.ReleaseHoldRequest(request_id=new_request_id(), hold_id="abc"),
        INVALID,
        BAD,
        "hold_id",
    ),
    Case(
        "release hold_id empty",
        "ReleaseHold",
        lambda w: pb.ReleaseHoldRequest(request_id=new_request_id(), hold_id=""),
        INVALID,
        BAD,
        "hold_id",
    ),
    Case("extend hold_id abc", "ExtendHold", lambda w: _extend(w, hold_id="abc"), INVALID, BAD, "hold_id"),
    Case("extend hold_id empty", "ExtendHold", lambda w: _extend(w, hold_id=""), INVALID, BAD, "hold_id"),
    # ---- ExtendHold ttl
    Case(
        "extend without ttl",
        "ExtendHold",
        lambda w: pb.ExtendHoldRequest(request_id=new_request_id(), hold_id=w.hold.id),
        INVALID,
        BAD,
        "ttl",
    ),
    Case("extend ttl zero", "ExtendHold", lambda w: _extend(w, ttl=_ttl(0)), INVALID, BAD, "ttl"),
    Case("extend ttl negative", "ExtendHold", lambda w: _extend(w, ttl=_ttl(-60)), INVALID, BAD, "ttl"),
    Case(
        "extend ttl over max",
        "ExtendHold",
        lambda w: _extend(w, ttl=_ttl(w.max_ttl + 1)),
        INVALID,
        BAD,
        "ttl",
    ),
    # ---- ListHolds
    Case(
        "list holds negative page_size",
        "ListHolds",
        lambda w: pb.ListHoldsRequest(owner_id=w.owner, page_size=-1),
        INVALID,
        BAD,
        "page_size",
    ),
    Case(
        "list holds forged token",
        "ListHolds",
        lambda w: pb.ListHoldsRequest(owner_id=w.owner, page_token="bm90IGEgdG9rZW4.deadbeef"),
        INVALID,
        BAD,
        "page_token",
    ),
    Case(
        "list holds random token",
        "ListHolds",
        lambda w: pb.ListHoldsRequest(owner_id=w.owner, page_token=uuid.uuid4().hex),
        INVALID,
        BAD,
        "page_token",
    ),
    Case(
        "list holds token for another owner",
        "ListHolds",
        lambda w: pb.ListHoldsRequest(owner_id=w.owner + "x", page_token=w.holds_token),
        INVALID,
        BAD,
        "page_token",
    ),
    Case(
        "list holds token for another state",
        "ListHolds",
        lambda w: pb.ListHoldsRequest(owner_id=w.owner, state=pb.HOLD_STATE_ACTIVE, page_token=w.holds_token),
        INVALID,
        BAD,
        "page_token",
    ),
    Case(
        "list holds tampered token",
        "ListHolds",
        lambda w: pb.ListHoldsRequest(
            owner_id=w.owner, page_token=w.holds_token[:-1] + ("0" if w.holds_token[-1] != "0" else "1")
        ),
        INVALID,
        BAD,
        "page_token",
    ),
    Case("list holds no owner", "ListHolds", lambda w: pb.ListHoldsRequest(), INVALID, BAD, "owner_id"),
    Case(
        "list holds owner too long",
        "ListHolds",
        lambda w: pb.ListHoldsRequest(owner_id="o" * 129),
        INVALID,
        BAD,
        "owner_id",
    ),
    Case(
        "list holds unknown state",
        "ListHolds",
        lambda w: pb.ListHoldsRequest(owner_id=w.owner, state=cast(pb.HoldState, 99)),
        INVALID,
        BAD,
        "state",
    ),
    # ---- catalog lists
    Case(
        "list products negative page_size",
        "ListProducts",
        lambda w: pb.ListProductsRequest(page_size=-5),
        INVALID,
        BAD,
        "page_size",
    ),
    Case(
        "list products forged token",
        "ListProducts",
        lambda w: pb.ListProductsRequest(page_token="xyz"),
        INVALID,
        BAD,
        "page_token",
    ),
    Case(
        "list products token without its filter",
        "ListProducts",
        lambda w: pb.ListProductsRequest(page_token=w.products_token),
        INVALID,
        BAD,
        "page_token",
    ),
    Case(
        "list products bad category id",
        "ListProducts",
        lambda w: pb.ListProductsRequest(category_id="abc"),
        INVALID,
        BAD,
        "category_id",
    ),
    Case(
        "list products unknown category",
        "ListProducts",
        lambda w: pb.ListProductsRequest(category_id=str(uuid.uuid4())),
        NOT_FOUND,
        "CATEGORY_NOT_FOUND",
    ),
    Case(
        "list categories negative page_size",
        "ListCategories",
        lambda w: pb.ListCategoriesRequest(page_size=-1),
        INVALID,
        BAD,
        "page_size",
    ),
    Case(
        "list categories token of products",
        "ListCategories",
        lambda w: pb.ListCategoriesRequest(page_token=w.products_token),
        INVALID,
        BAD,
        "page_token",
    ),
    Case(
        "list variants token of another product",
        "ListVariants",
        lambda w: pb.ListVariantsRequest(product_id=str(uuid.uuid4()), page_token=w.variants_token),
        INVALID,
        BAD,
        "page_token",
    ),
    Case(
        "list variants bad product id",
        "ListVariants",
        lambda w: pb.ListVariantsRequest(product_id="abc"),
        INVALID,
        BAD,
        "product_id",
    ),
    Case(
        "list variants negative page_size",
        "ListVariants",
        lambda w: pb.ListVariantsRequest(product_id=w.product_id, page_size=-1),
        INVALID,
        BAD,
        "page_size",
    ),
    # ---- catalog writes
    Case(
        "category name too long",
        "CreateCategory",
        lambda w: pb.CreateCategoryRequest(name="n" * 201),
        INVALID,
        BAD,
        "name",
    ),
    Case(
        "category name blank",
        "CreateCategory",
        lambda w: pb.CreateCategoryRequest(name="  "),
        INVALID,
        BAD,
        "name",
    ),
    Case(
        "category bad parent id",
        "CreateCategory",
        lambda w: pb.CreateCategoryRequest(name="x", parent_id="abc"),
        INVALID,
        BAD,
        "parent_id",
    ),
    Case(
        "category unknown parent",
        "CreateCategory",
        lambda w: pb.CreateCategoryRequest(name="x", parent_id=str(uuid.uuid4())),
        NOT_FOUND,
        "CATEGORY_NOT_FOUND",
    ),
    Case(
        "product title too long",
        "CreateProduct",
        lambda w: pb.CreateProductRequest(title="t" * 201, base_price=money_pb2.Money(currency_code="USD")),
        INVALID,
        BAD,
        "title",
    ),
    Case(
        "product title empty",
        "CreateProduct",
        lambda w: pb.CreateProductRequest(base_price=money_pb2.Money(currency_code="USD")),
        INVALID,
        BAD,
        "title",
    ),
    Case(
        "product description too long",
        "CreateProduct",
        lambda w: pb.CreateProductRequest(
            title="t", description="d" * 5001, base_price=money_pb2.Money(currency_code="USD")
        ),
        INVALID,
        BAD,
        "description",
    ),
    Case(
        "product bad category id",
        "CreateProduct",
        lambda w: pb.CreateProductRequest(
            title="t", category_id="abc", base_price=money_pb2.Money(currency_code="USD")
        ),
        INVALID,
        BAD,
        "category_id",
    ),
    Case(
        "variant bad sku",
        "CreateVariant",
        lambda w: pb.CreateVariantRequest(product_id=w.product_id, sku="no spaces"),
        INVALID,
        BAD,
        "sku",
    ),
    Case(
        "variant negative stock",
        "CreateVariant",
        lambda w: pb.CreateVariantRequest(product_id=w.product_id, sku=unique_sku(), initial_on_hand=-1),
        INVALID,
        BAD,
        "initial_on_hand",
    ),
    Case(
        "variant no product",
        "CreateVariant",
        lambda w: pb.CreateVariantRequest(sku=unique_sku()),
        INVALID,
        BAD,
        "product_id",
    ),
    Case(
        "variant duplicate sku",
        "CreateVariant",
        lambda w: pb.CreateVariantRequest(product_id=w.product_id, sku=w.sku, initial_on_hand=3),
        grpc.StatusCode.ALREADY_EXISTS,
        "VARIANT_ALREADY_EXISTS",
    ),
    Case(
        "variant bad adjustment currency",
        "CreateVariant",
        lambda w: pb.CreateVariantRequest(
            product_id=w.product_id,
            sku=unique_sku(),
            price_adjustment=money_pb2.Money(currency_code="GBP", units=1),
        ),
        INVALID,
        BAD,
        "price_adjustment.currency_code",
    ),
    Case("get product bad id", "GetProduct", lambda w: pb.GetProductRequest(id="abc"), INVALID, BAD, "id"),
    Case("get product no id", "GetProduct", lambda w: pb.GetProductRequest(), INVALID, BAD, "id"),
    Case("get variant no key", "GetVariant", lambda w: pb.GetVariantRequest(), INVALID, BAD, "key"),
    Case("get variant bad id", "GetVariant", lambda w: pb.GetVariantRequest(id="abc"), INVALID, BAD, "id"),
    Case("get variant bad sku", "GetVariant", lambda w: pb.GetVariantRequest(sku="a b"), INVALID, BAD, "sku"),
    # ---- AdjustStock
    Case("adjust delta zero", "AdjustStock", lambda w: _adjust(w, delta=0), INVALID, BAD, "delta"),
    Case(
        "adjust reason unspecified",
        "AdjustStock",
        lambda w: _adjust(w, reason=pb.ADJUSTMENT_REASON_UNSPECIFIED),
        INVALID,
        BAD,
        "reason",
    ),
    Case("adjust reason unknown", "AdjustStock", lambda w: _adjust(w, reason=42), INVALID, BAD, "reason"),
    Case(
        "adjust receive negative",
        "AdjustStock",
        lambda w: _adjust(w, delta=-1, reason=pb.ADJUSTMENT_REASON_RECEIVE),
        INVALID,
        BAD,
        "delta",
    ),
    Case("adjust delta huge", "AdjustStock", lambda w: _adjust(w, delta=INT64_MAX), INVALID, BAD, "delta"),
    Case(
        "adjust delta hugely negative",
        "AdjustStock",
        lambda w: _adjust(w, delta=-INT64_MAX - 1),
        INVALID,
        BAD,
        "delta",
    ),
    Case("adjust note too long", "AdjustStock", lambda w: _adjust(w, note="n" * 501), INVALID, BAD, "note"),
    Case("adjust bad sku", "AdjustStock", lambda w: _adjust(w, sku="bad sku"), INVALID, BAD, "sku"),
    Case(
        "adjust unknown sku",
        "AdjustStock",
        lambda w: _adjust(w, sku=unique_sku("NOPE")),
        NOT_FOUND,
        "SKU_NOT_FOUND",
    ),
    Case(
        "adjust below reserved",
        "AdjustStock",
        lambda w: _adjust(w, delta=-9),
        grpc.StatusCode.FAILED_PRECONDITION,
        "ON_HAND_BELOW_RESERVED",
    ),
    # ---- BatchGetStockLevels
    Case(
        "batch empty", "BatchGetStockLevels", lambda w: pb.BatchGetStockLevelsRequest(), INVALID, BAD, "skus"
    ),
    Case(
        "batch bad sku",
        "BatchGetStockLevels",
        lambda w: pb.BatchGetStockLevelsRequest(skus=[w.sku, "a b"]),
        INVALID,
        BAD,
        "skus[1]",
    ),
    Case(
        "batch too many",
        "BatchGetStockLevels",
        lambda w: pb.BatchGetStockLevelsRequest(skus=[w.sku] * 1001),
        INVALID,
        BAD,
        "skus",
    ),
    Case(
        "batch unknown",
        "BatchGetStockLevels",
        lambda w: pb.BatchGetStockLevelsRequest(skus=[unique_sku("NOPE"), w.sku]),
        NOT_FOUND,
        "SKU_NOT_FOUND",
    ),
    # ---- found by the fuzz (tests/integration/test_fuzz.py) and its review
    Case(
        # A violation per SKU made a status over gRPC's 8 KiB trailer limit: RESOURCE_EXHAUSTED.
        "batch a thousand bad skus",
        "BatchGetStockLevels",
        lambda w: pb.BatchGetStockLevelsRequest(skus=["a b"] * 1000),
        INVALID,
        BAD,
        "skus[0]",
    ),
    Case(
        "hold many bad lines",
        "CreateHold",
        lambda w: _hold(w, [("bad sku", 0)] * w.max_lines),
        INVALID,
        BAD,
        "lines[0].sku",
    ),
    # A TTL under a microsecond rounded to zero: a hold expired as it was made.
    Case(
        "hold ttl under a microsecond",
        "CreateHold",
        lambda w: _hold(w, ttl=_ttl(0, 999)),
        INVALID,
        BAD,
        "ttl",
    ),
    Case("hold ttl of mixed signs", "CreateHold", lambda w: _hold(w, ttl=_ttl(2, -1)), INVALID, BAD, "ttl"),
    Case(
        "hold ttl nanos out of range",
        "CreateHold",
        lambda w: _hold(w, ttl=_ttl(0, 1_000_000_000)),
        INVALID,
        BAD,
        "ttl",
    ),
    Case(
        "extend ttl under a microsecond",
        "ExtendHold",
        lambda w: _extend(w, ttl=_ttl(0, 1)),
        INVALID,
        BAD,
        "ttl",
    ),
    Case(
        "extend ttl int64 seconds",
        "ExtendHold",
        lambda w: _extend(w, ttl=_ttl(INT64_MAX, 999_999_999)),
        INVALID,
        BAD,
        "ttl",
    ),
    # Prices past MAX_AMOUNT_MINOR: times a cart's quantity they overflowed a quote.
    Case(
        "product base price over the maximum",
        "CreateProduct",
        lambda w: pb.CreateProductRequest(title="t", base_price=_usd(10**10, 10_000_000)),
        INVALID,
        BAD,
        "base_price",
    ),
    Case(
        "variant adjustment under the minimum",
        "CreateVariant",
        lambda w: pb.CreateVariantRequest(
            product_id=w.product_id, sku=unique_sku(), price_adjustment=_usd(-(10**10), -10_000_000)
        ),
        INVALID,
        BAD,
        "price_adjustment",
    ),
    Case(
        "category name with NUL",
        "CreateCategory",
        lambda w: pb.CreateCategoryRequest(name="a\x00b"),
        INVALID,
        BAD,
        "name",
    ),
    Case(
        "hold owner_id with NUL",
        "CreateHold",
        lambda w: _hold(w, owner_id="cart\x00"),
        INVALID,
        BAD,
        "owner_id",
    ),
]

SNAPSHOT = """
SELECT (SELECT count(*) FROM stock), (SELECT count(*) FROM stock_ledger), (SELECT count(*) FROM holds),
       (SELECT count(*) FROM hold_lines), (SELECT count(*) FROM idempotency_keys),
       (SELECT count(*) FROM categories), (SELECT count(*) FROM products), (SELECT count(*) FROM variants),
       (SELECT COALESCE(sum(on_hand), 0) FROM stock), (SELECT COALESCE(sum(reserved), 0) FROM stock),
       (SELECT md5(COALESCE(string_agg(id::text || state || expire_time::text, ',' ORDER BY id), ''))
          FROM holds),
       (SELECT md5(COALESCE(string_agg(r::text, ',' ORDER BY r.id), '')) FROM price_rules r)
"""


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_request_is_refused_and_writes_nothing(inventory, db, world, case):
    request = case.build(world)
    before = db.execute(SNAPSHOT).fetchone()
    f = refusal(getattr(inventory.stub, case.method), request)
    assert (f.code, f.reason) == (case.code, case.reason), f.message
    assert f.domain == "holdfast.inventory"
    if case.field:
        assert case.field in [name for name, _ in f.field_violations], f.field_violations
    assert db.execute(SNAPSHOT).fetchone() == before, "a refused request changed the database"
    # The hold the bad requests aimed at is untouched.
    assert inventory.stub.GetHold(pb.GetHoldRequest(id=world.hold.id)).hold == world.hold


def test_unknown_skus_are_named_and_known_ones_are_not(inventory, world):
    missing = unique_sku("NOPE")
    f = refusal(inventory.stub.CreateHold, _hold(world, [(world.sku, 1), (missing, 1)]))
    assert f.metadata["skus"] == missing
    assert world.sku not in f.message


def test_bad_request_names_every_bad_field(inventory, world):
    f = refusal(
        inventory.stub.CreateHold, _hold(world, [("bad sku", 0)], request_id="", owner_id="", ttl=_ttl(-1))
    )
    assert {name for name, _ in f.field_violations} >= {
        "request_id",
        "owner_id",
        "lines[0].sku",
        "lines[0].quantity",
        "ttl",
    }
    assert f.metadata["fields"]


def test_errors_leak_no_internals(inventory, world):
    for request in (_hold(world, [("bad sku", 0)]), _adjust(world, sku="'; DROP TABLE stock; --")):
        method = getattr(inventory.stub, type(request).__name__.removesuffix("Request"))
        message = refusal(method, request).message
        assert "Traceback" not in message and "SELECT" not in message and "psycopg" not in message


# ---------------------------------------------------------------- pricing


@pytest.fixture(scope="module")
def rule(pricing, world) -> ppb.PriceRule:
    """A BULK rule on the world's SKU, for updates to aim at."""
    return pricing.client.rule(
        name="bulk", stage=ppb.PRICE_STAGE_BULK, percent_off_bps=500, min_quantity=2, sku=world.sku
    )


def _bulk_rule(**scope: Any) -> ppb.PriceRule:
    return ppb.PriceRule(name="r", stage=ppb.PRICE_STAGE_BULK, percent_off_bps=500, min_quantity=2, **scope)


def _create_rule(rule: ppb.PriceRule) -> ppb.CreatePriceRuleRequest:
    return ppb.CreatePriceRuleRequest(request_id=new_request_id(), rule=rule)


PRICING_CASES = [
    # Found by the fuzz: a SKU scope that failed validation still made a Scope, which
    # refused an empty target with a ValueError: INTERNAL.
    Case(
        "rule sku empty",
        "CreatePriceRule",
        lambda w, r: _create_rule(_bulk_rule(sku="")),
        INVALID,
        BAD,
        "rule.sku",
    ),
    Case(
        "rule sku malformed",
        "CreatePriceRule",
        lambda w, r: _create_rule(_bulk_rule(sku="a b")),
        INVALID,
        BAD,
        "rule.sku",
    ),
    Case(
        "update to an empty sku scope",
        "UpdatePriceRule",
        lambda w, r: ppb.UpdatePriceRuleRequest(
            request_id=new_request_id(),
            rule=ppb.PriceRule(id=r.id, sku=""),
            update_mask=field_mask_pb2.FieldMask(paths=["sku"]),
        ),
        INVALID,
        BAD,
        "rule.sku",
    ),
    Case(
        "rule amount_off over the maximum",
        "CreatePriceRule",
        lambda w, r: _create_rule(
            ppb.PriceRule(
                name="r",
                stage=ppb.PRICE_STAGE_TIER,
                customer_tier="gold",
                amount_off=_usd(10**10, 10_000_000),
                all_skus=True,
            )
        ),
        INVALID,
        BAD,
        "rule.amount_off",
    ),
    Case(
        "list rules negative page_size",
        "ListPriceRules",
        lambda w, r: ppb.ListPriceRulesRequest(page_size=-1),
        INVALID,
        BAD,
        "page_size",
    ),
    Case(
        "list rules forged token",
        "ListPriceRules",
        lambda w, r: ppb.ListPriceRulesRequest(page_token="bm90IGEgdG9rZW4.deadbeef"),
        INVALID,
        BAD,
        "page_token",
    ),
    Case(
        "list rules token of holds",
        "ListPriceRules",
        lambda w, r: ppb.ListPriceRulesRequest(page_token=w.holds_token),
        INVALID,
        BAD,
        "page_token",
    ),
    Case(
        "quote a hundred bad lines",
        "QuoteCart",
        lambda w, r: ppb.QuoteCartRequest(lines=[ppb.CartLine(sku="a b", quantity=0)] * 100),
        INVALID,
        BAD,
        "lines[0].sku",
    ),
]


@pytest.mark.parametrize("case", PRICING_CASES, ids=[c.id for c in PRICING_CASES])
def test_bad_pricing_request_is_refused_and_writes_nothing(pricing, db, world, rule, case):
    request = case.build(world, rule)
    before = db.execute(SNAPSHOT).fetchone()
    f = refusal(getattr(pricing.stub, case.method), request)
    assert (f.code, f.reason) == (case.code, case.reason), f.message
    assert f.domain == "holdfast.pricing"
    if case.field:
        assert case.field in [name for name, _ in f.field_violations], f.field_violations
    assert db.execute(SNAPSHOT).fetchone() == before, "a refused request changed the database"
    assert pricing.stub.GetPriceRule(ppb.GetPriceRuleRequest(id=rule.id)).rule == rule


def test_a_thousand_bad_fields_are_refused_in_a_status_that_fits(inventory):
    # Regression (fuzz): one violation per SKU made trailing metadata over gRPC's 8 KiB
    # limit, and the caller got RESOURCE_EXHAUSTED instead of this refusal.
    f = refusal(inventory.stub.BatchGetStockLevels, pb.BatchGetStockLevelsRequest(skus=["a b"] * 1000))
    assert (f.code, f.reason) == (INVALID, BAD)
    named = [name for name, _ in f.field_violations]
    assert named == [f"skus[{i}]" for i in range(11)]
    assert f.field_violations[-1][1] == "and 990 more bad fields, not listed"


def test_the_dearest_cart_the_limits_allow_is_priced_exactly(inventory, priced_inventory, pricing):
    # Regression: a price near int64 times a line's quantity overflowed google.type.Money
    # (INTERNAL). At the largest amounts accepted, the largest cart still fits.
    top = MAX_AMOUNT_MINOR
    product = inventory.stub.CreateProduct(
        pb.CreateProductRequest(title="dear", base_price=Money(top, "USD").to_proto())
    ).product
    lines, quantity = (
        inventory.settings.holds.max_lines_per_hold,
        inventory.settings.holds.max_quantity_per_line,
    )
    sku = unique_sku("DEAR")
    inventory.stub.CreateVariant(
        pb.CreateVariantRequest(
            product_id=product.id,
            sku=sku,
            price_adjustment=Money(top, "USD").to_proto(),
            initial_on_hand=quantity,
        )
    )
    cart = pricing.stub.QuoteCart(
        ppb.QuoteCartRequest(lines=[ppb.CartLine(sku=sku, quantity=quantity)] * lines)
    ).quote
    assert cents(cart.total) == 2 * top * quantity * lines
    hold = priced_inventory.stub.CreateHold(
        pb.CreateHoldRequest(
            request_id=new_request_id(),
            owner_id="dear",
            lines=[pb.HoldLine(sku=sku, quantity=quantity)],
            pricing=pb.HoldPricing(),
        )
    ).hold
    assert cents(hold.total) == 2 * top * quantity
    priced_inventory.stub.ReleaseHold(pb.ReleaseHoldRequest(request_id=new_request_id(), hold_id=hold.id))
