"""PricingService: protobuf in, domain calls, protobuf out; errors become rich statuses."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import grpc
import uuid6
from holdfast.pricing.v1 import pricing_pb2 as pb
from holdfast.pricing.v1 import pricing_pb2_grpc as pb_grpc

from holdfast_common.db.idempotency import request_record
from holdfast_common.db.pool import AsyncPool
from holdfast_common.errors import HoldfastError
from holdfast_common.rpc.status import status_proto, translate_errors
from holdfast_common.settings import PricingServiceSettings
from holdfast_common.values.pagination import PageTokens
from holdfast_common.values.timestamps import timestamp
from holdfast_common.values.validation import Violations, resource_id
from pricing_svc import convert, requests
from pricing_svc.engine import CartQuote, PriceRule
from pricing_svc.quotes import CartRequest, Quotes
from pricing_svc.rules import Rules, StoredRule

ERROR_DOMAIN = "holdfast.pricing"
Ctx = grpc.aio.ServicerContext


@translate_errors(ERROR_DOMAIN)
class PricingServicer(pb_grpc.PricingServiceServicer):
    def __init__(self, pool: AsyncPool, settings: PricingServiceSettings) -> None:
        self._settings = settings
        self._quotes = Quotes(pool, settings.quotes)
        self._rules = Rules(pool, settings.server.store_currency)
        self._pages = PageTokens(
            settings.server.page_token_secret,
            default_size=settings.server.default_page_size,
            max_size=settings.server.max_page_size,
        )

    async def close(self) -> None:
        """Stops taking quotes into batches (after in-flight calls have finished)."""
        await self._quotes.close()

    # ------------------------------------------------------------ quotes

    async def QuotePrice(self, request: pb.QuotePriceRequest, context: Ctx) -> Any:
        lines, tier, at = requests.quote_price(request, self._settings.quotes)
        cart, price_time = await self._quotes.quote_cart(lines, tier, at)
        (line,) = cart.lines
        return pb.QuotePriceResponse(quote=convert.price_quote(line), price_time=timestamp(price_time))

    async def QuoteCart(self, request: pb.QuoteCartRequest, context: Ctx) -> Any:
        lines, tier, at = requests.quote_cart(request, self._settings.quotes)
        return _quote_cart_response(*await self._quotes.quote_cart(lines, tier, at))

    async def BatchQuoteCarts(self, request: pb.BatchQuoteCartsRequest, context: Ctx) -> Any:
        v = Violations()
        if not 1 <= len(request.requests) <= requests.MAX_BATCH_CARTS:
            v.add("requests", f"must hold 1 to {requests.MAX_BATCH_CARTS} carts")
        v.raise_if_any()
        carts: list[CartRequest | HoldfastError] = []
        for asked in request.requests:
            try:
                carts.append(CartRequest(*requests.quote_cart(asked, self._settings.quotes)))
            except HoldfastError as refusal:
                carts.append(refusal)
        quoted = iter(await self._quotes.quote_carts([c for c in carts if isinstance(c, CartRequest)]))
        results = []
        for cart in carts:
            outcome = cart if isinstance(cart, HoldfastError) else next(quoted)
            if isinstance(outcome, HoldfastError):
                results.append(pb.QuoteCartResult(error=status_proto(outcome, ERROR_DOMAIN)))
            else:
                results.append(pb.QuoteCartResult(response=_quote_cart_response(*outcome)))
        return pb.BatchQuoteCartsResponse(results=results)

    # ------------------------------------------------------------ rules

    async def CreatePriceRule(self, request: pb.CreatePriceRuleRequest, context: Ctx) -> Any:
        v = Violations()
        v.request_id("request_id", request.request_id)
        v.raise_if_any()
        rule = requests.price_rule(request.rule, str(uuid6.uuid7()), self._settings.server.store_currency)
        stored = await self._rules.create(rule, request_record("CreatePriceRule", request))
        return pb.CreatePriceRuleResponse(rule=convert.price_rule(stored))

    async def GetPriceRule(self, request: pb.GetPriceRuleRequest, context: Ctx) -> Any:
        stored = await self._rules.get(resource_id(request.id))
        return pb.GetPriceRuleResponse(rule=convert.price_rule(stored))

    async def ListPriceRules(self, request: pb.ListPriceRulesRequest, context: Ctx) -> Any:
        v = Violations()
        query = {"list": "price_rules"}
        page = self._pages.parse(v, request.page_size, request.page_token, query)
        v.raise_if_any()
        items, after = await self._rules.list(page)
        return pb.ListPriceRulesResponse(
            rules=[convert.price_rule(r) for r in items],
            next_page_token=self._pages.encode([after], query) if after else "",
        )

    async def UpdatePriceRule(self, request: pb.UpdatePriceRuleRequest, context: Ctx) -> Any:
        rule_id = resource_id(request.rule.id, request_id=request.request_id, field="rule.id")
        paths = requests.update_paths(request.update_mask, request.rule)
        currency = self._settings.server.store_currency

        def change(current: StoredRule) -> PriceRule:
            merged = requests.apply_update(convert.price_rule(current), request.rule, paths)
            return requests.price_rule(merged, rule_id, currency)

        stored = await self._rules.update(rule_id, change, request_record("UpdatePriceRule", request))
        return pb.UpdatePriceRuleResponse(rule=convert.price_rule(stored))

    async def DeletePriceRule(self, request: pb.DeletePriceRuleRequest, context: Ctx) -> Any:
        rule_id = resource_id(request.id, request_id=request.request_id)
        await self._rules.delete(rule_id, request_record("DeletePriceRule", request))
        return pb.DeletePriceRuleResponse()


def _quote_cart_response(cart: CartQuote, price_time: datetime) -> pb.QuoteCartResponse:
    return pb.QuoteCartResponse(quote=convert.cart_quote(cart), price_time=timestamp(price_time))
