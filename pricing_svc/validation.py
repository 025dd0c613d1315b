"""Every PricingService request validated into its engine or storage input before anything
touches the database: one function per RPC, named after it. A bad request is INVALID_ARGUMENT
naming every bad field, in the order the fields are checked here."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import uuid6
from google.protobuf import field_mask_pb2
from holdfast.pricing.v1 import pricing_pb2 as pb

from holdfast_common.errors import HoldfastError
from holdfast_common.settings import QuoteSettings
from holdfast_common.values.limits import MAX_BATCH_CARTS, MAX_MIN_QUANTITY, MAX_NAME
from holdfast_common.values.money import money_from_proto
from holdfast_common.values.pagination import PageQuery, PageTokens
from holdfast_common.values.validation import Violations, resource_id
from pricing_svc import convert
from pricing_svc.engine import PriceRule, Scope, Stage
from pricing_svc.engine.models import MAX_BASIS_POINTS
from pricing_svc.quotes import CartRequest
from pricing_svc.rules import RuleChange, StoredRule

RULE_STAGES = {
    pb.PRICE_STAGE_SEASONAL: Stage.SEASONAL,
    pb.PRICE_STAGE_BULK: Stage.BULK,
    pb.PRICE_STAGE_TIER: Stage.TIER,
}
# Fields a client may write; the others are output only.
WRITABLE_FIELDS = frozenset(
    {
        "name",
        "stage",
        "percent_off_bps",
        "amount_off",
        "start_time",
        "end_time",
        "min_quantity",
        "customer_tier",
        "all_skus",
        "category_id",
        "product_id",
        "sku",
        "priority",
        "active",
    }
)


def price_time(v: Violations, request: pb.QuotePriceRequest | pb.QuoteCartRequest) -> datetime | None:
    """The instant asked for, or None for the database's now."""
    return v.instant("price_time", request.price_time) if request.HasField("price_time") else None


def _quantity(v: Violations, field: str, quantity: int, settings: QuoteSettings) -> None:
    if not 0 < quantity <= settings.max_quantity_per_line:
        v.add(field, f"must be 1-{settings.max_quantity_per_line}")


# ------------------------------------------------------------ quotes


def quote_price(request: pb.QuotePriceRequest, settings: QuoteSettings) -> CartRequest:
    """A cart of the one line."""
    v = Violations()
    v.sku("sku", request.sku)
    _quantity(v, "quantity", request.quantity, settings)
    v.customer_tier("customer_tier", request.customer_tier)
    at = price_time(v, request)
    v.raise_if_any()
    return CartRequest([(request.sku, request.quantity)], request.customer_tier, at)


def quote_cart(request: pb.QuoteCartRequest, settings: QuoteSettings) -> CartRequest:
    v = Violations()
    if not request.lines:
        v.add("lines", "must name at least one SKU")
    elif len(request.lines) > settings.max_lines_per_quote:
        v.add("lines", f"must have at most {settings.max_lines_per_quote} lines")
    for i, line in enumerate(request.lines[: settings.max_lines_per_quote]):
        v.sku(f"lines[{i}].sku", line.sku)
        _quantity(v, f"lines[{i}].quantity", line.quantity, settings)
    v.customer_tier("customer_tier", request.customer_tier)
    at = price_time(v, request)
    v.raise_if_any()
    return CartRequest([(line.sku, line.quantity) for line in request.lines], request.customer_tier, at)


def batch_quote_carts(
    request: pb.BatchQuoteCartsRequest, settings: QuoteSettings
) -> list[CartRequest | HoldfastError]:
    """Each cart validated on its own: a bad one is its own refusal, not the batch's."""
    v = Violations()
    if not 1 <= len(request.requests) <= MAX_BATCH_CARTS:
        v.add("requests", f"must hold 1 to {MAX_BATCH_CARTS} carts")
    v.raise_if_any()
    carts: list[CartRequest | HoldfastError] = []
    for asked in request.requests:
        try:
            carts.append(quote_cart(asked, settings))
        except HoldfastError as refusal:
            carts.append(refusal)
    return carts


# ------------------------------------------------------------ rules


def create_price_rule(request: pb.CreatePriceRuleRequest, store_currency: str) -> PriceRule:
    """The new rule, under a new id."""
    v = Violations()
    v.request_id("request_id", request.request_id)
    v.raise_if_any()
    return price_rule(request.rule, str(uuid6.uuid7()), store_currency)


def get_price_rule(request: pb.GetPriceRuleRequest) -> str:
    return resource_id(request.id)


def list_price_rules(request: pb.ListPriceRulesRequest, pages: PageTokens) -> PageQuery:
    return pages.page_query(request.page_size, request.page_token, {"list": "price_rules"})


def update_price_rule(request: pb.UpdatePriceRuleRequest, store_currency: str) -> tuple[str, RuleChange]:
    """The rule's id, and the change to make to it once it is locked.

    The change merges the masked fields of the request's rule into the stored one (AIP-134)
    and validates the result as a whole, as CreatePriceRule would: the merge is defined on
    the message's field presence, so it happens here rather than in the storage module.
    """
    rule_id = resource_id(request.rule.id, request_id=request.request_id, field="rule.id")
    paths = update_paths(request.update_mask, request.rule)

    def change(current: StoredRule) -> PriceRule:
        merged = apply_update(convert.price_rule(current), request.rule, paths)
        return price_rule(merged, rule_id, store_currency)

    return rule_id, change


def delete_price_rule(request: pb.DeletePriceRuleRequest) -> str:
    return resource_id(request.id, request_id=request.request_id)


def price_rule(rule: pb.PriceRule, rule_id: str, store_currency: str) -> PriceRule:
    """The engine's rule for a written PriceRule, or INVALID_ARGUMENT naming every bad field."""
    v = Violations()
    v.text("rule.name", rule.name, max_len=MAX_NAME)
    stage = RULE_STAGES.get(rule.stage)
    if stage is None:
        v.add("rule.stage", "must be PRICE_STAGE_SEASONAL, PRICE_STAGE_BULK or PRICE_STAGE_TIER")
    percent_off, amount_off = _discount(v, rule, store_currency)
    # With no valid stage there is no telling which condition fields belong.
    start, end = _window(v, rule) if stage is Stage.SEASONAL else (None, None)
    if stage is not None:
        _stage_conditions(v, rule, stage)
    scope = _scope(v, rule)
    v.raise_if_any()
    assert stage is not None and scope is not None
    return PriceRule(
        id=rule_id,
        name=rule.name,
        stage=stage,
        scope=scope,
        priority=rule.priority,
        percent_off_bp=percent_off,
        amount_off_minor=amount_off,
        start_time=start,
        end_time=end,
        min_quantity=rule.min_quantity if stage is Stage.BULK else None,
        customer_tier=rule.customer_tier if stage is Stage.TIER else None,
        active=rule.active if rule.HasField("active") else True,
    )


def _discount(v: Violations, rule: pb.PriceRule, store_currency: str) -> tuple[int | None, int | None]:
    match rule.WhichOneof("discount"):
        case "percent_off_bps":
            if not 0 < rule.percent_off_bps <= MAX_BASIS_POINTS:
                v.add("rule.percent_off_bps", f"must be 1-{MAX_BASIS_POINTS} basis points (1500 = 15%)")
            return rule.percent_off_bps, None
        case "amount_off":
            money = money_from_proto(
                v, "rule.amount_off", rule.amount_off, store_currency=store_currency, allow_negative=False
            )
            if money is not None and money.minor == 0:
                v.add("rule.amount_off", "must be positive")
            return None, money.minor if money else None
    v.add("rule.discount", "set percent_off_bps or amount_off")
    return None, None


def _window(v: Violations, rule: pb.PriceRule) -> tuple[datetime | None, datetime | None]:
    start = end = None
    if rule.HasField("start_time"):
        start = v.instant("rule.start_time", rule.start_time)
    else:
        v.add("rule.start_time", "is required for a SEASONAL rule")
    if rule.HasField("end_time"):
        end = v.instant("rule.end_time", rule.end_time)
    else:
        v.add("rule.end_time", "is required for a SEASONAL rule")
    if start is not None and end is not None and end <= start:
        v.add("rule.end_time", "must be after start_time")
    return start, end


def _stage_conditions(v: Violations, rule: pb.PriceRule, stage: Stage) -> None:
    """Each stage's own condition is required; another stage's is refused, not ignored."""
    if stage is not Stage.SEASONAL:
        for field in ("start_time", "end_time"):
            if rule.HasField(field):
                v.add(f"rule.{field}", "belongs to SEASONAL rules only")
    if stage is Stage.BULK:
        if not 2 <= rule.min_quantity <= MAX_MIN_QUANTITY:
            v.add("rule.min_quantity", f"must be 2-{MAX_MIN_QUANTITY} for a BULK rule")
    elif rule.min_quantity:
        v.add("rule.min_quantity", "belongs to BULK rules only")
    if stage is Stage.TIER:
        if not rule.customer_tier:
            v.add("rule.customer_tier", "is required for a TIER rule")
        v.customer_tier("rule.customer_tier", rule.customer_tier)
    elif rule.customer_tier:
        v.add("rule.customer_tier", "belongs to TIER rules only")


def _scope(v: Violations, rule: pb.PriceRule) -> Scope | None:
    match rule.WhichOneof("scope"):
        case "all_skus":
            if rule.all_skus:
                return Scope.all()
            v.add("rule.all_skus", "must be true when it is the scope")
        case "category_id":
            category_id = v.uuid("rule.category_id", rule.category_id)
            return Scope.category(category_id) if category_id else None
        case "product_id":
            product_id = v.uuid("rule.product_id", rule.product_id)
            return Scope.product(product_id) if product_id else None
        case "sku":
            return Scope.sku(rule.sku) if v.sku("rule.sku", rule.sku) else None
        case None:
            v.add("rule.scope", "set all_skus, category_id, product_id or sku")
    return None


def update_paths(mask: field_mask_pb2.FieldMask, patch: pb.PriceRule) -> list[str]:
    """The fields an update writes (AIP-134): "*" is all, an empty mask the fields the patch sets."""
    if list(mask.paths) == ["*"]:
        return sorted(WRITABLE_FIELDS)
    if not mask.paths:
        return sorted(f.name for f, _ in patch.ListFields() if f.name in WRITABLE_FIELDS)
    v = Violations()
    for path in mask.paths:
        if path not in WRITABLE_FIELDS:
            v.add("update_mask", f"{path!r} is not a writable PriceRule field")
    v.raise_if_any()
    return list(dict.fromkeys(mask.paths))


def apply_update(current: pb.PriceRule, patch: pb.PriceRule, paths: Iterable[str]) -> pb.PriceRule:
    """current with each named field taken from patch; a field unset in patch becomes unset."""
    merged = pb.PriceRule()
    merged.CopyFrom(current)
    for path in paths:
        field = pb.PriceRule.DESCRIPTOR.fields_by_name[path]
        if field.message_type is not None:
            merged.ClearField(path)
            if patch.HasField(path):
                getattr(merged, path).CopyFrom(getattr(patch, path))
        elif field.has_presence and not patch.HasField(path):
            merged.ClearField(path)
        else:
            setattr(merged, path, getattr(patch, path))
    return merged
