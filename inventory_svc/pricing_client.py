"""inventory_svc's client of pricing_svc: a cart's prices to lock, or a refusal it can act on."""

from __future__ import annotations

import grpc
from google.rpc import error_details_pb2
from google.type import money_pb2
from grpc_status import rpc_status
from holdfast.pricing.v1 import pricing_pb2, pricing_pb2_grpc

from holdfast_common.errors import ErrorKind, HoldfastError
from holdfast_common.money import money_from_proto
from holdfast_common.validation import Violations
from inventory_svc.models import HoldLine, LockedPrices

# Refusals that are about the cart itself pass through; any other failure means
# pricing could not answer, and a priced hold cannot be made without it.
_PASSED_THROUGH = {
    grpc.StatusCode.INVALID_ARGUMENT: ErrorKind.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND: ErrorKind.NOT_FOUND,
    grpc.StatusCode.FAILED_PRECONDITION: ErrorKind.FAILED_PRECONDITION,
}


def _refusal(error: grpc.aio.AioRpcError) -> HoldfastError:
    kind = _PASSED_THROUGH.get(error.code())
    if kind is None:
        return HoldfastError(
            ErrorKind.UNAVAILABLE,
            "PRICING_UNAVAILABLE",
            "pricing could not quote the cart; nothing was held",
            metadata={"pricing_status": error.code().name},
        )
    info = error_details_pb2.ErrorInfo()
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    for detail in status.details if status else []:
        if detail.Is(info.DESCRIPTOR):
            detail.Unpack(info)
    return HoldfastError(kind, info.reason or "PRICING_REFUSED", error.details() or "", dict(info.metadata))


def _minor_units(value: money_pb2.Money, field: str) -> int:
    money = money_from_proto(
        Violations(), field, value, store_currency=value.currency_code, allow_negative=False
    )
    if money is None:
        raise HoldfastError(ErrorKind.UNAVAILABLE, "PRICING_BAD_ANSWER", f"pricing sent an unusable {field}")
    return money.minor


class PricingClient:
    """One channel to pricing_svc; every quote has a deadline."""

    def __init__(self, address: str, timeout_seconds: float) -> None:
        self._channel = grpc.aio.insecure_channel(address)
        self._stub = pricing_pb2_grpc.PricingServiceStub(self._channel)
        self._timeout = timeout_seconds

    async def lock_prices(self, lines: tuple[HoldLine, ...], customer_tier: str) -> LockedPrices:
        """The cart's unit prices now, for this tier."""
        request = pricing_pb2.QuoteCartRequest(
            lines=[pricing_pb2.CartLine(sku=line.sku, quantity=line.quantity) for line in lines],
            customer_tier=customer_tier,
        )
        try:
            response = await self._stub.QuoteCart(request, timeout=self._timeout)
        except grpc.aio.AioRpcError as error:
            raise _refusal(error) from None
        quote = response.quote
        return LockedPrices(
            customer_tier=customer_tier,
            currency=quote.total.currency_code,
            unit_prices={line.sku: _minor_units(line.unit_price, "unit_price") for line in quote.lines},
        )

    async def close(self) -> None:
        await self._channel.close()
