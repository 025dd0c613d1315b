"""What the bad-input tables of both services share: a world of things that exist for a bad
request to aim at, a case of the table, and the refusal every case must get (the right code,
reason, domain and field, and the database unchanged)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import grpc
import psycopg
from google.protobuf.message import Message
from google.type import money_pb2
from holdfast.inventory.v1 import inventory_pb2 as pb

from tests.support.grpc_helpers import refusal

INVALID = grpc.StatusCode.INVALID_ARGUMENT
NOT_FOUND = grpc.StatusCode.NOT_FOUND
BAD = "INVALID_FIELDS"


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


def build_world(inventory: Any) -> World:
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


def usd(units: int, nanos: int = 0) -> money_pb2.Money:
    """USD money as given, unchecked: the amounts a bad request may carry."""
    return money_pb2.Money(currency_code="USD", units=units, nanos=nanos)


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


SNAPSHOT = """
SELECT (SELECT count(*) FROM stock), (SELECT count(*) FROM stock_ledger), (SELECT count(*) FROM holds),
       (SELECT count(*) FROM hold_lines), (SELECT count(*) FROM idempotency_keys),
       (SELECT count(*) FROM categories), (SELECT count(*) FROM products), (SELECT count(*) FROM variants),
       (SELECT COALESCE(sum(on_hand), 0) FROM stock), (SELECT COALESCE(sum(reserved), 0) FROM stock),
       (SELECT md5(COALESCE(string_agg(id::text || state || expire_time::text, ',' ORDER BY id), ''))
          FROM holds),
       (SELECT md5(COALESCE(string_agg(r::text, ',' ORDER BY r.id), '')) FROM price_rules r),
       (SELECT md5(COALESCE(string_agg(s::text, ',' ORDER BY s.sku, s.location), '')) FROM stock s),
       (SELECT md5(COALESCE(string_agg(r::text, ',' ORDER BY r.id), '')) FROM receipts r),
       (SELECT md5(COALESCE(string_agg(p::text, ',' ORDER BY p.sku, p.location), ''))
          FROM inventory_policies p),
       (SELECT count(*) FROM owed)
"""


def as_unary(stub: Any, method: str, request: Message) -> Callable[[Message], Any]:
    """The method as a call of one request: a client stream gets it as its only message, and
    a stream's answers are read to the end (a refusal may come after the first)."""
    (descriptor,) = [
        s.methods_by_name[method]
        for s in request.DESCRIPTOR.file.services_by_name.values()
        if method in s.methods_by_name
    ]
    rpc = getattr(stub, method)
    if descriptor.client_streaming:
        return lambda r: list(rpc(iter([r]), timeout=30))
    if descriptor.server_streaming:
        return lambda r: list(rpc(r, timeout=30))
    return rpc


def assert_refused_and_nothing_written(
    stub: Any, db: psycopg.Connection, case: Case, request: Message, domain: str
) -> None:
    """The case's call is refused as the case says, and the database is as it was."""
    before = db.execute(SNAPSHOT).fetchone()
    f = refusal(as_unary(stub, case.method, request), request)
    assert (f.code, f.reason) == (case.code, case.reason), f.message
    assert f.domain == domain
    if case.field:
        assert case.field in [name for name, _ in f.field_violations], f.field_violations
    assert db.execute(SNAPSHOT).fetchone() == before, "a refused request changed the database"
