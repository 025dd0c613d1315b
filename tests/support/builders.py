"""Requests the tests send, built one way: CreateHoldRequest from a cart of SKU: quantity, and
the rows of a catalog import."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping

from google.protobuf import duration_pb2
from google.type import money_pb2
from holdfast.inventory.v1 import inventory_pb2 as pb

# SKU: quantity, or (SKU, quantity) pairs when a cart names one SKU twice.
Lines = Mapping[str, int] | Iterable[tuple[str, int]]


def new_request_id() -> str:
    return str(uuid.uuid4())


def hold_lines(lines: Lines) -> list[pb.HoldLine]:
    pairs = lines.items() if isinstance(lines, Mapping) else lines
    return [pb.HoldLine(sku=sku, quantity=quantity) for sku, quantity in pairs]


def duration(seconds: float) -> duration_pb2.Duration:
    """A protobuf Duration of `seconds`, fractions kept to the nanosecond."""
    value = duration_pb2.Duration()
    value.FromNanoseconds(int(seconds * 1e9))
    return value


def hold_request(
    lines: Lines,
    *,
    request_id: str | None = None,
    owner_id: str | None = None,
    tier: str | None = None,
    ttl_seconds: float | None = None,
) -> pb.CreateHoldRequest:
    """A CreateHold of `lines` with a fresh request_id unless given. The owner is the
    request_id unless given, so the holds one request made are found by owner; with a
    `tier` ("" for none) the hold locks its prices; without `ttl_seconds`, the default TTL."""
    request_id = new_request_id() if request_id is None else request_id
    request = pb.CreateHoldRequest(
        request_id=request_id,
        owner_id=request_id if owner_id is None else owner_id,
        lines=hold_lines(lines),
    )
    if tier is not None:
        request.pricing.customer_tier = tier
        request.pricing.SetInParent()
    if ttl_seconds is not None:
        request.ttl.CopyFrom(duration(ttl_seconds))
    return request


# ---------------------------------------------------------------- catalog rows


def location_row(code: str, name: str = "", active: bool | None = None) -> pb.CatalogRow:
    return pb.CatalogRow(location=pb.LocationRow(code=code, name=name, active=active))


def category_row(*path: str) -> pb.CatalogRow:
    return pb.CatalogRow(category=pb.CategoryRow(path=path))


def product_row(
    handle: str,
    title: str = "Product",
    price_cents: int = 1000,
    category_path: tuple[str, ...] = (),
    description: str = "",
) -> pb.CatalogRow:
    price = money_pb2.Money(currency_code="USD", units=price_cents // 100, nanos=price_cents % 100 * 10**7)
    return pb.CatalogRow(
        product=pb.ProductRow(
            handle=handle, title=title, description=description, category_path=category_path, base_price=price
        )
    )


def variant_row(sku: str, product_handle: str, adjustment_cents: int | None = None) -> pb.CatalogRow:
    row = pb.VariantRow(sku=sku, product_handle=product_handle)
    if adjustment_cents is not None:
        sign = -1 if adjustment_cents < 0 else 1
        units, cents = divmod(abs(adjustment_cents), 100)
        row.price_adjustment.CopyFrom(
            money_pb2.Money(currency_code="USD", units=sign * units, nanos=sign * cents * 10**7)
        )
    return pb.CatalogRow(variant=row)


def stock_row(sku: str, on_hand: int, location: str = "") -> pb.CatalogRow:
    return pb.CatalogRow(stock=pb.StockRow(sku=sku, location=location, on_hand=on_hand))
