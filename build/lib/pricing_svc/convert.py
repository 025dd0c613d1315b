"""Engine and storage records to protobuf messages."""

from __future__ import annotations

from google.type import money_pb2
from holdfast.pricing.v1 import pricing_pb2 as pb

from holdfast_common.values.money import Money
from holdfast_common.values.timestamps import timestamp
from pricing_svc.engine import CartQuote, PriceQuote, ScopeKind, Stage
from pricing_svc.rules import StoredRule

STAGES = {
    Stage.BASE: pb.PRICE_STAGE_BASE,
    Stage.SEASONAL: pb.PRICE_STAGE_SEASONAL,
    Stage.BULK: pb.PRICE_STAGE_BULK,
    Stage.TIER: pb.PRICE_STAGE_TIER,
}
_SCOPE_FIELDS = {
    ScopeKind.CATEGORY: "category_id",
    ScopeKind.PRODUCT: "product_id",
    ScopeKind.SKU: "sku",
}


def price_rule(stored: StoredRule) -> pb.PriceRule:
    rule = stored.rule
    message = pb.PriceRule(
        id=rule.id,
        name=rule.name,
        stage=STAGES[rule.stage],
        min_quantity=rule.min_quantity or 0,
        customer_tier=rule.customer_tier or "",
        priority=rule.priority,
        active=rule.active,
        create_time=timestamp(stored.create_time),
        update_time=timestamp(stored.update_time),
    )
    if rule.percent_off_bp is not None:
        message.percent_off_bps = rule.percent_off_bp
    else:
        assert rule.amount_off_minor is not None
        message.amount_off.CopyFrom(Money(rule.amount_off_minor, stored.currency).to_proto())
    if rule.start_time is not None and rule.end_time is not None:
        message.start_time.CopyFrom(timestamp(rule.start_time))
        message.end_time.CopyFrom(timestamp(rule.end_time))
    if rule.scope.kind is ScopeKind.ALL:
        message.all_skus = True
    else:
        setattr(message, _SCOPE_FIELDS[rule.scope.kind], rule.scope.target)
    return message


def price_quote(quote: PriceQuote) -> pb.PriceQuote:
    def money(minor: int) -> money_pb2.Money:
        return Money(minor, quote.currency).to_proto()

    return pb.PriceQuote(
        sku=quote.sku,
        quantity=quote.quantity,
        base_unit_price=money(quote.base_unit_price),
        unit_price=money(quote.unit_price),
        line_total=money(quote.line_total),
        steps=[
            pb.QuoteStep(
                stage=STAGES[step.stage],
                rule_id=step.rule_id or "",
                description=step.description,
                unit_price_before=money(step.unit_price_before),
                unit_price_after=money(step.unit_price_after),
            )
            for step in quote.steps
        ],
    )


def cart_quote(cart: CartQuote) -> pb.CartQuote:
    return pb.CartQuote(
        lines=[price_quote(line) for line in cart.lines], total=Money(cart.total, cart.currency).to_proto()
    )
