"""Quotes: the catalog prices and rules a cart needs, read in two queries, priced by the engine."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
import psycopg_pool

from holdfast_common.db import read
from holdfast_common.errors import ErrorKind, HoldfastError, unknown_skus
from pricing_svc.engine import CartQuote, PriceRule, SkuPricing, quote_cart
from pricing_svc.queries import Q
from pricing_svc.rules import rule_from_row


@dataclass(frozen=True)
class QuoteInputs:
    """Everything the engine needs for one cart, as of price_time."""

    pricing: dict[str, SkuPricing]
    rules: list[PriceRule]
    price_time: datetime


async def load_inputs(
    conn: psycopg.AsyncConnection, skus: list[str], customer_tier: str, at: datetime | None
) -> QuoteInputs:
    """Two queries whatever the cart's length; NOT_FOUND names every unknown SKU, and a cart
    must be priced in one currency."""
    cur = await conn.execute(Q.sku_pricing, {"skus": skus, "at": at})
    rows: list[dict[str, Any]] = await cur.fetchall()
    missing = sorted(set(skus) - {row["sku"] for row in rows})
    if missing:
        raise unknown_skus(missing)
    pricing = {
        row["sku"]: SkuPricing(
            sku=row["sku"],
            product_id=row["product_id"],
            category_ids=frozenset(row["category_ids"]),
            base_price_minor=row["base_price_minor"],
            price_adjustment_minor=row["price_adjustment_minor"],
            currency=row["currency"],
        )
        for row in rows
    }
    currencies = {p.currency for p in pricing.values()}
    if len(currencies) > 1:
        raise HoldfastError(
            ErrorKind.FAILED_PRECONDITION,
            "MIXED_CURRENCIES",
            "the cart's products are priced in more than one currency",
        )
    (currency,) = currencies
    price_time: datetime = rows[0]["price_time"]
    cur = await conn.execute(
        Q.rules_for_quote,
        {
            "skus": skus,
            "product_ids": sorted({p.product_id for p in pricing.values()}),
            "category_ids": sorted({c for p in pricing.values() for c in p.category_ids}),
            "at": price_time,
            "customer_tier": customer_tier,
        },
    )
    rules = [
        stored.rule
        for stored in map(rule_from_row, await cur.fetchall())
        # An amount off is money in one currency: it never discounts a price in another.
        if stored.rule.amount_off_minor is None or stored.currency == currency
    ]
    return QuoteInputs(pricing, rules, price_time)


class Quotes:
    def __init__(self, pool: psycopg_pool.AsyncConnectionPool) -> None:
        self._pool = pool

    async def quote_cart(
        self, lines: list[tuple[str, int]], customer_tier: str, at: datetime | None
    ) -> tuple[CartQuote, datetime]:
        """Prices (sku, quantity) lines for a tier at `at` (None: the database's now)."""
        skus = sorted({sku for sku, _ in lines})

        async def work(conn: psycopg.AsyncConnection) -> QuoteInputs:
            return await load_inputs(conn, skus, customer_tier, at)

        inputs = await read(self._pool, work)
        cart = quote_cart(
            [(inputs.pricing[sku], quantity) for sku, quantity in lines],
            inputs.rules,
            customer_tier,
            inputs.price_time,
        )
        return cart, inputs.price_time
