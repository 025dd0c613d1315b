"""PricingService: protobuf in, domain calls, protobuf out; errors become rich statuses."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import grpc
from holdfast.pricing.v1 import pricing_pb2 as pb
from holdfast.pricing.v1 import pricing_pb2_grpc as pb_grpc

from holdfast_common.db.idempotency import request_record
from holdfast_common.db.pool import AsyncPool
from holdfast_common.errors import HoldfastError
from holdfast_common.rpc.status import status_proto, translate_errors
from holdfast_common.settings import PricingServiceSettings
from holdfast_common.values.pagination import PageTokens
from holdfast_common.values.timestamps import timestamp
from pricing_svc import convert, validation
from pricing_svc.engine import CartQuote
from pricing_svc.quotes import QuoteOutcome, Quotes
from pricing_svc.rules import Rules

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
        cart, price_time = await self._quotes.quote_cart(
            validation.quote_price(request, self._settings.quotes)
        )
        (line,) = cart.lines
        return pb.QuotePriceResponse(quote=convert.price_quote(line), price_time=timestamp(price_time))

    async def QuoteCart(self, request: pb.QuoteCartRequest, context: Ctx) -> Any:
        cart = validation.quote_cart(request, self._settings.quotes)
        return _quote_cart_response(*await self._quotes.quote_cart(cart))

    async def BatchQuoteCarts(self, request: pb.BatchQuoteCartsRequest, context: Ctx) -> Any:
        carts = validation.batch_quote_carts(request, self._settings.quotes)
        outcomes = await self._quotes.quote_each(carts)
        return pb.BatchQuoteCartsResponse(results=[_quote_cart_result(o) for o in outcomes])

    # ------------------------------------------------------------ rules

    async def CreatePriceRule(self, request: pb.CreatePriceRuleRequest, context: Ctx) -> Any:
        rule = validation.create_price_rule(request, self._settings.server.store_currency)
        stored = await self._rules.create(rule, request_record("CreatePriceRule", request))
        return pb.CreatePriceRuleResponse(rule=convert.price_rule(stored))

    async def GetPriceRule(self, request: pb.GetPriceRuleRequest, context: Ctx) -> Any:
        stored = await self._rules.get(validation.get_price_rule(request))
        return pb.GetPriceRuleResponse(rule=convert.price_rule(stored))

    async def ListPriceRules(self, request: pb.ListPriceRulesRequest, context: Ctx) -> Any:
        listing = validation.list_price_rules(request, self._pages)
        items, after = await self._rules.list(listing.page)
        return pb.ListPriceRulesResponse(
            rules=[convert.price_rule(r) for r in items],
            next_page_token=self._pages.next_token(after, listing.query),
        )

    async def UpdatePriceRule(self, request: pb.UpdatePriceRuleRequest, context: Ctx) -> Any:
        rule_id, change = validation.update_price_rule(request, self._settings.server.store_currency)
        stored = await self._rules.update(rule_id, change, request_record("UpdatePriceRule", request))
        return pb.UpdatePriceRuleResponse(rule=convert.price_rule(stored))

    async def DeletePriceRule(self, request: pb.DeletePriceRuleRequest, context: Ctx) -> Any:
        rule_id = validation.delete_price_rule(request)
        await self._rules.delete(rule_id, request_record("DeletePriceRule", request))
        return pb.DeletePriceRuleResponse()


def _quote_cart_response(cart: CartQuote, price_time: datetime) -> pb.QuoteCartResponse:
    return pb.QuoteCartResponse(quote=convert.cart_quote(cart), price_time=timestamp(price_time))


def _quote_cart_result(outcome: QuoteOutcome) -> pb.QuoteCartResult:
    """One cart of a BatchQuoteCarts: its response, or its refusal as a google.rpc.Status."""
    if isinstance(outcome, HoldfastError):
        return pb.QuoteCartResult(error=status_proto(outcome, ERROR_DOMAIN))
    return pb.QuoteCartResult(response=_quote_cart_response(*outcome))
