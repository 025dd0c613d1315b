"""inventory_svc's client of pricing_svc: a cart's prices to lock, or a refusal it can act on."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import grpc
from google.rpc import error_details_pb2, status_pb2
from google.type import money_pb2
from grpc_status import rpc_status
from holdfast.pricing.v1 import pricing_pb2, pricing_pb2_grpc

from holdfast_common.coalescer import Coalescer
from holdfast_common.errors import ErrorKind, HoldfastError
from holdfast_common.observability.tracing import acquire as acquire_tracing
from holdfast_common.observability.tracing import attached
from holdfast_common.rpc.channels import bearer, open_aio_channel
from holdfast_common.settings import InventoryServiceSettings
from holdfast_common.values.money import INT64_MAX, money_from_proto
from holdfast_common.values.validation import Violations
from inventory_svc.models import HoldLine, LockedPrices

# Refusals that are about the cart itself pass through; any other failure means
# pricing could not answer, and a priced hold cannot be made without it.
_PASSED_THROUGH = {
    grpc.StatusCode.INVALID_ARGUMENT: ErrorKind.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND: ErrorKind.NOT_FOUND,
    grpc.StatusCode.FAILED_PRECONDITION: ErrorKind.FAILED_PRECONDITION,
}

_CODES = {code.value[0]: code for code in grpc.StatusCode}


def _refusal(status: status_pb2.Status) -> HoldfastError:
    """What a failed quote means for the hold: the cart's own refusal, or pricing unavailable."""
    code = _CODES.get(status.code, grpc.StatusCode.UNKNOWN)
    kind = _PASSED_THROUGH.get(code)
    if kind is None:
        return HoldfastError(
            ErrorKind.UNAVAILABLE,
            "PRICING_UNAVAILABLE",
            "pricing could not quote the cart; nothing was held",
            metadata={"pricing_status": code.name},
        )
    info = error_details_pb2.ErrorInfo()
    for detail in status.details:
        # types-protobuf: Message.DESCRIPTOR may be upb's Descriptor, which Any.Is does not admit.
        if detail.Is(info.DESCRIPTOR):  # type: ignore[arg-type]
            detail.Unpack(info)
    return HoldfastError(kind, info.reason or "PRICING_REFUSED", status.message, dict(info.metadata))


def _call_status(error: grpc.aio.AioRpcError) -> status_pb2.Status:
    # grpc_status's stubs take a sync grpc.Call; an AioRpcError has the same code(),
    # details() and trailing_metadata() that from_call reads.
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    return status or status_pb2.Status(code=error.code().value[0], message=error.details() or "")


def _minor_units(value: money_pb2.Money, field: str) -> int:
    money = money_from_proto(
        Violations(),
        field,
        value,
        store_currency=value.currency_code,
        allow_negative=False,
        # A unit price is base + adjustment, each up to MAX_AMOUNT_MINOR.
        max_minor=INT64_MAX,
    )
    if money is None:
        raise HoldfastError(ErrorKind.UNAVAILABLE, "PRICING_BAD_ANSWER", f"pricing sent an unusable {field}")
    return money.minor


@dataclass(frozen=True)
class _Cart:
    lines: tuple[HoldLine, ...]
    customer_tier: str
    # The CreateHold's trace (None when tracing is off): the batch's quote is made under it.
    trace_context: object = field(default=None, compare=False)


class PricingClient:
    """One channel to pricing_svc; the carts of concurrent priced holds are quoted together in
    one BatchQuoteCarts call, which has a deadline."""

    def __init__(self, settings: InventoryServiceSettings) -> None:
        self._tracing = acquire_tracing(settings.observability, "inventory_svc")
        interceptors = self._tracing.client_interceptors() if self._tracing else None
        client = settings.pricing_client
        self._channel = open_aio_channel(client.pricing_address, settings.security, interceptors)
        self._metadata = bearer(client.pricing_token)
        self._stub = pricing_pb2_grpc.PricingServiceStub(self._channel)
        self._timeout = client.pricing_timeout_seconds
        # The carts of priced holds are quotes: they batch as pricing_svc batches its own.
        self._quotes = settings.quotes
        self._batches: Coalescer[_Cart, LockedPrices] | None = None

    async def lock_prices(self, lines: tuple[HoldLine, ...], customer_tier: str) -> LockedPrices:
        """The cart's unit prices now, for this tier."""
        if self._batches is None:  # made on first use: it needs the running event loop
            self._batches = Coalescer(
                self._quote_batch,
                max_batch=self._quotes.quote_batch_max_size,
                concurrency=self._quotes.quote_batch_concurrency,
                max_wait=self._quotes.quote_batch_max_wait_seconds,
            )
        trace_context = self._tracing.current_context() if self._tracing else None
        return await self._batches.submit(_Cart(lines, customer_tier, trace_context), key=object())

    async def _quote_batch(self, carts: Sequence[_Cart]) -> list[LockedPrices | HoldfastError]:
        request = pricing_pb2.BatchQuoteCartsRequest(
            requests=[
                pricing_pb2.QuoteCartRequest(
                    lines=[pricing_pb2.CartLine(sku=x.sku, quantity=x.quantity) for x in cart.lines],
                    customer_tier=cart.customer_tier,
                )
                for cart in carts
            ]
        )
        try:
            # The batch runner has an empty context of its own: the call is traced under
            # the first cart of this batch.
            with attached(carts[0].trace_context):
                response = await self._stub.BatchQuoteCarts(
                    request, timeout=self._timeout, metadata=self._metadata
                )
        except grpc.aio.AioRpcError as error:
            refusal = _refusal(_call_status(error))
            return [refusal] * len(carts)
        return [
            _refusal(result.error) if result.HasField("error") else _locked(result.response.quote, cart)
            for cart, result in zip(carts, response.results, strict=True)
        ]

    async def close(self) -> None:
        if self._batches is not None:
            await self._batches.close()
        await self._channel.close()
        if self._tracing is not None:
            await self._tracing.release()


def _locked(quote: pricing_pb2.CartQuote, cart: _Cart) -> LockedPrices:
    return LockedPrices(
        customer_tier=cart.customer_tier,
        currency=quote.total.currency_code,
        unit_prices={line.sku: _minor_units(line.unit_price, "unit_price") for line in quote.lines},
    )
