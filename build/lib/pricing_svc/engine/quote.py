"""Quotes: BASE, then each stage's single best rule, with every step recorded."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from holdfast_common.values.money import format_minor
from pricing_svc.engine.models import CartQuote, PriceQuote, PriceRule, QuoteStep, SkuPricing, Stage
from pricing_svc.engine.stages import STAGES, LineContext, StageStrategy


def quote_line(
    pricing: SkuPricing,
    rules: Iterable[PriceRule],
    quantity: int,
    customer_tier: str,
    at: datetime,
) -> PriceQuote:
    """Prices quantity units of one SKU for a customer tier ("" for none) at an aware instant.

    Inactive rules and rules for other SKUs are ignored, so callers may pass the whole rule set.
    """
    _check_when(at)
    return _quote(LineContext(pricing, _checked_quantity(quantity), customer_tier, at), _canonical(rules))


def quote_cart(
    lines: Iterable[tuple[SkuPricing, int]],
    rules: Iterable[PriceRule],
    customer_tier: str,
    at: datetime,
) -> CartQuote:
    """Prices a cart of (pricing, quantity) lines in one currency.

    Lines for the same SKU are merged first, so bulk thresholds see the SKU's whole quantity
    and the result does not depend on how the caller split or ordered its lines.
    """
    _check_when(at)
    merged: dict[str, tuple[SkuPricing, int]] = {}
    for pricing, quantity in lines:
        _checked_quantity(quantity)
        seen = merged.get(pricing.sku)
        if seen is not None and seen[0] != pricing:
            raise ValueError(f"SKU {pricing.sku!r} appears with two different prices")
        merged[pricing.sku] = (pricing, quantity + (seen[1] if seen else 0))
    if not merged:
        raise ValueError("a cart needs at least one line")
    currencies = {pricing.currency for pricing, _ in merged.values()}
    if len(currencies) > 1:
        raise ValueError(f"a cart must be in one currency, got {sorted(currencies)}")
    canonical = _canonical(rules)
    quotes = tuple(
        _quote(LineContext(pricing, quantity, customer_tier, at), canonical)
        for pricing, quantity in (merged[sku] for sku in sorted(merged))
    )
    return CartQuote(quotes, currencies.pop(), sum(q.line_total for q in quotes))


def _quote(line: LineContext, rules: tuple[PriceRule, ...]) -> PriceQuote:
    pricing = line.pricing
    raw = pricing.base_price_minor + pricing.price_adjustment_minor
    base = max(0, raw)
    description = (
        f"base {format_minor(pricing.base_price_minor, pricing.currency)}"
        f" + variant {format_minor(pricing.price_adjustment_minor, pricing.currency)}"
    )
    if raw < 0:
        description += " (floored at 0)"
    # The BASE step sets the price rather than lowering one, so it starts where it ends.
    steps = [QuoteStep(Stage.BASE, None, description, base, base)]
    price = base
    for strategy in STAGES:
        chosen = _best(strategy, rules, line, price)
        if chosen is None:
            continue
        rule, after = chosen
        description = strategy.describe(rule, pricing.currency)
        steps.append(QuoteStep(strategy.stage, rule.id, description, price, after))
        price = after
    return PriceQuote(
        sku=pricing.sku,
        quantity=line.quantity,
        currency=pricing.currency,
        base_unit_price=base,
        unit_price=price,
        line_total=price * line.quantity,
        steps=tuple(steps),
    )


def _best(
    strategy: StageStrategy, rules: tuple[PriceRule, ...], line: LineContext, before: int
) -> tuple[PriceRule, int] | None:
    """The applicable rule giving the lowest price; ties to lower priority, then lower id."""
    priced = [(strategy.unit_price(r, before), r) for r in rules if strategy.applies(r, line)]
    if not priced:
        return None
    after, rule = min(priced, key=lambda pr: (pr[0], pr[1].priority, pr[1].id))
    return rule, after


def _canonical(rules: Iterable[PriceRule]) -> tuple[PriceRule, ...]:
    """Rules sorted by id, so insertion order can never reach the result.

    Ids are the final tie-break, so two different rules sharing one would make it ambiguous.
    """
    by_id: dict[str, PriceRule] = {}
    for rule in rules:
        if by_id.setdefault(rule.id, rule) != rule:
            raise ValueError(f"two different rules share the id {rule.id!r}")
    return tuple(by_id[rule_id] for rule_id in sorted(by_id))


def _checked_quantity(quantity: int) -> int:
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        raise ValueError(f"quantity must be a positive integer, got {quantity!r}")
    return quantity


def _check_when(at: datetime) -> None:
    # Rule windows are aware; comparing them with a naive instant would raise mid-quote.
    if at.utcoffset() is None:
        raise ValueError("at must be timezone-aware")
