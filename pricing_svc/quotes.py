"""Quotes: the catalog prices and rules carts need, read in two queries, priced by the engine."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from typing import Any

from holdfast_common.coalescer import Coalescer
from holdfast_common.db.pool import AsyncConn, AsyncPool, read
from holdfast_common.errors import ErrorKind, HoldfastError, unknown_skus
from holdfast_common.settings import QuoteSettings
from pricing_svc.engine import CartQuote, SkuPricing, quote_cart
from pricing_svc.queries import Q
from pricing_svc.rules import StoredRule, rule_from_row


@dataclass(frozen=True)
class QuoteInputs:
    """Everything the engine needs for some carts, as of price_time."""

    pricing: dict[str, SkuPricing]
    rules: list[StoredRule]
    price_time: datetime


@dataclass(frozen=True)
class CartRequest:
    lines: list[tuple[str, int]]
    customer_tier: str
    # None: the database's now.
    at: datetime | None


QuoteOutcome = tuple[CartQuote, datetime] | HoldfastError


async def load_inputs(
    conn: AsyncConn, skus: list[str], customer_tiers: list[str], at: datetime | None
) -> QuoteInputs:
    """Two queries however many SKUs and tiers; unknown SKUs are simply absent."""
    cur = await conn.execute(Q.sku_pricing, {"skus": skus, "at": at})
    rows: list[dict[str, Any]] = await cur.fetchall()
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
    if not rows:
        return QuoteInputs({}, [], at or datetime.now(UTC))
    price_time: datetime = rows[0]["price_time"]
    cur = await conn.execute(
        Q.rules_for_quote,
        {
            "skus": skus,
            "product_ids": sorted({p.product_id for p in pricing.values()}),
            "category_ids": sorted({c for p in pricing.values() for c in p.category_ids}),
            "at": price_time,
            "customer_tiers": customer_tiers,
        },
    )
    return QuoteInputs(pricing, [rule_from_row(row) for row in await cur.fetchall()], price_time)


def quote_one(cart: CartRequest, inputs: QuoteInputs) -> tuple[CartQuote, datetime]:
    """One cart priced from inputs loaded for it (and maybe others); NOT_FOUND names every
    unknown SKU, and a cart must be priced in one currency."""
    missing = sorted({sku for sku, _ in cart.lines} - inputs.pricing.keys())
    if missing:
        raise unknown_skus(missing)
    currencies = {inputs.pricing[sku].currency for sku, _ in cart.lines}
    if len(currencies) > 1:
        raise HoldfastError(
            ErrorKind.FAILED_PRECONDITION,
            "MIXED_CURRENCIES",
            "the cart's products are priced in more than one currency",
        )
    (currency,) = currencies
    rules = [
        stored.rule
        for stored in inputs.rules
        # An amount off is money in one currency: it never discounts a price in another.
        if stored.rule.amount_off_minor is None or stored.currency == currency
    ]
    quote = quote_cart(
        [(inputs.pricing[sku], quantity) for sku, quantity in cart.lines],
        rules,
        cart.customer_tier,
        inputs.price_time,
    )
    return quote, inputs.price_time


class Quotes:
    """Quotes through a coalescer: carts asked for together share one pair of reads."""

    def __init__(self, pool: AsyncPool, settings: QuoteSettings) -> None:
        self._pool = pool
        self._batches = Coalescer[CartRequest, tuple[CartQuote, datetime]](
            self.quote_carts,
            max_batch=settings.quote_batch_max_size,
            concurrency=settings.quote_batch_concurrency,
            max_wait=settings.quote_batch_max_wait_seconds,
        )

    async def close(self) -> None:
        await self._batches.close()

    async def quote_cart(self, cart: CartRequest) -> tuple[CartQuote, datetime]:
        """Prices the cart's (sku, quantity) lines for its tier at its instant."""
        # Quotes never conflict, so every call's key is its own.
        return await self._batches.submit(cart, key=object())

    async def quote_each(self, carts: Sequence[CartRequest | HoldfastError]) -> list[QuoteOutcome]:
        """The outcome of each cart of a batch, in order: a cart refused already keeps its
        refusal, the others are priced together."""
        quoted = iter(await self.quote_carts([c for c in carts if isinstance(c, CartRequest)]))
        return [cart if isinstance(cart, HoldfastError) else next(quoted) for cart in carts]

    async def quote_carts(self, carts: Sequence[CartRequest]) -> list[QuoteOutcome]:
        """Each cart's quote or its own refusal, from one pair of reads per pricing instant."""
        outcomes: dict[int, QuoteOutcome] = {}
        # Carts priced at the same instant (nearly always: now) share their reads.
        by_instant: dict[datetime | None, list[int]] = defaultdict(list)
        for i, cart in enumerate(carts):
            by_instant[cart.at].append(i)
        for at, indexes in by_instant.items():
            skus = sorted({sku for i in indexes for sku, _ in carts[i].lines})
            tiers = sorted({carts[i].customer_tier for i in indexes})
            inputs = await read(self._pool, partial(load_inputs, skus=skus, customer_tiers=tiers, at=at))
            for i in indexes:
                try:
                    outcomes[i] = quote_one(carts[i], inputs)
                except HoldfastError as refusal:
                    outcomes[i] = refusal
        return [outcomes[i] for i in range(len(carts))]
