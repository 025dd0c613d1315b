"""Catalog: hierarchical categories, products and their variants (SKUs)."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

import uuid6
from psycopg import errors as pg_errors

from holdfast_common.db.idempotency import RequestRecord, in_recorded_transaction
from holdfast_common.db.pool import AsyncConn, AsyncPool, fetch_all, fetch_one
from holdfast_common.errors import ErrorKind, HoldfastError, not_found
from holdfast_common.values.pagination import PageRequest
from inventory_svc.models import (
    Category,
    NewCategory,
    NewProduct,
    NewVariant,
    Product,
    StockLevel,
    Variant,
)
from inventory_svc.queries import Q

T = TypeVar("T")


def _page_after(page: PageRequest) -> str | None:
    return page.after[0] if page.after else None


def _split_page(rows: list[Any], page: PageRequest) -> tuple[list[Any], str | None]:
    """Rows of this page and the key to continue after (we always fetch one extra row)."""
    items = rows[: page.size]
    return items, (items[-1].id if len(rows) > page.size else None)


def _already_exists(what: str, key: str, value: str) -> HoldfastError:
    return HoldfastError(
        ErrorKind.ALREADY_EXISTS,
        f"{what.upper()}_ALREADY_EXISTS",
        f"a {what} with {key} {value!r} already exists",
        metadata={key: value},
    )


async def _insert_one(conn: AsyncConn, query: str, params: dict[str, Any]) -> dict[str, Any]:
    """The row an INSERT ... RETURNING of one row gives back."""
    cur = await conn.execute(query, params)
    row = await cur.fetchone()
    assert row is not None
    return row


async def _insert_as(model: Callable[..., T], query: str, params: dict[str, Any], conn: AsyncConn) -> T:
    """The row an INSERT ... RETURNING of one row gives back, as `model`."""
    return model(**await _insert_one(conn, query, params))


async def _insert_variant(
    new: NewVariant, request_id: str | None, conn: AsyncConn
) -> tuple[Variant, StockLevel]:
    """The variant and its stock row; NOT_FOUND when the product does not exist."""
    cur = await conn.execute(Q.product_currency, {"id": new.product_id})
    product = await cur.fetchone()
    if product is None:
        raise not_found("product", "product_id", new.product_id)
    row = await _insert_one(
        conn,
        Q.insert_variant,
        {
            "id": str(uuid6.uuid7()),
            "product_id": new.product_id,
            "sku": new.sku,
            "price_adjustment_minor": new.price_adjustment_minor,
            "on_hand": new.initial_on_hand,
            "request_id": request_id,
        },
    )
    level = StockLevel(row["sku"], row.pop("on_hand"), row.pop("reserved"), location=row.pop("location"))
    return Variant(**row, currency=product["currency"]), level


class Catalog:
    def __init__(self, pool: AsyncPool) -> None:
        self._pool = pool

    async def create_category(self, new: NewCategory, record: RequestRecord | None) -> Category:
        params = {"id": str(uuid6.uuid7()), "name": new.name, "parent_id": new.parent_id}
        try:
            make = partial(_insert_as, Category, Q.insert_category, params)
            return await in_recorded_transaction(self._pool, record, Category, make)
        except pg_errors.ForeignKeyViolation:
            raise not_found("category", "parent_id", new.parent_id or "") from None
        except pg_errors.UniqueViolation:
            raise _already_exists("category", "name", new.name) from None

    async def list_categories(self, page: PageRequest) -> tuple[list[Category], str | None]:
        rows = await fetch_all(
            self._pool, Q.list_categories, {"after": _page_after(page), "limit": page.size + 1}
        )
        return _split_page([Category(**r) for r in rows], page)

    async def create_product(self, new: NewProduct, record: RequestRecord | None) -> Product:
        product_id = str(uuid6.uuid7())
        params = {
            "id": product_id,
            # A product without a handle of its own takes its id.
            "handle": new.handle or product_id,
            "title": new.title,
            "description": new.description,
            "category_id": new.category_id,
            "base_price_minor": new.base_price_minor,
            "currency": new.currency,
        }
        try:
            make = partial(_insert_as, Product, Q.insert_product, params)
            return await in_recorded_transaction(self._pool, record, Product, make)
        except pg_errors.ForeignKeyViolation:
            raise not_found("category", "category_id", new.category_id or "") from None
        except pg_errors.UniqueViolation:
            raise _already_exists("product", "handle", new.handle or "") from None

    async def get_product(self, product_id: str) -> Product:
        row = await fetch_one(self._pool, Q.get_product, {"id": product_id})
        if row is None:
            raise not_found("product", "product_id", product_id)
        return Product(**row)

    async def list_products(
        self, category_id: str | None, page: PageRequest
    ) -> tuple[list[Product], str | None]:
        """Products of a category and its descendants (all when no category), by id."""
        if category_id and await fetch_one(self._pool, Q.category_exists, {"id": category_id}) is None:
            raise not_found("category", "category_id", category_id)
        rows = await fetch_all(
            self._pool,
            Q.list_products,
            {"category_id": category_id, "after": _page_after(page), "limit": page.size + 1},
        )
        return _split_page([Product(**r) for r in rows], page)

    async def create_variant(
        self, new: NewVariant, record: RequestRecord | None
    ) -> tuple[Variant, StockLevel]:
        """The variant with its stock row; initial stock is a RECEIVE in the ledger."""
        make = partial(_insert_variant, new, record.request_id if record else None)
        try:
            return await in_recorded_transaction(self._pool, record, tuple[Variant, StockLevel], make)
        except pg_errors.UniqueViolation:
            raise _already_exists("variant", "sku", new.sku) from None

    async def get_variant(self, *, variant_id: str | None = None, sku: str | None = None) -> Variant:
        if variant_id:
            row = await fetch_one(self._pool, Q.get_variant_by_id, {"id": variant_id})
        else:
            row = await fetch_one(self._pool, Q.get_variant_by_sku, {"sku": sku})
        if row is None:
            key, value = ("id", variant_id) if variant_id else ("sku", sku)
            raise not_found("variant", key, value or "")
        return Variant(**row)

    async def list_variants(self, product_id: str, page: PageRequest) -> tuple[list[Variant], str | None]:
        await self.get_product(product_id)
        rows = await fetch_all(
            self._pool,
            Q.list_variants,
            {"product_id": product_id, "after": _page_after(page), "limit": page.size + 1},
        )
        return _split_page([Variant(**r) for r in rows], page)
