"""Client-side helpers: stubs, rich error details, and catalog fixtures made over gRPC."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import grpc
from google.rpc import error_details_pb2, status_pb2
from google.type import money_pb2
from grpc_status import rpc_status
from holdfast.inventory.v1 import inventory_pb2 as pb
from holdfast.inventory.v1 import inventory_pb2_grpc as pb_grpc
from holdfast.pricing.v1 import pricing_pb2, pricing_pb2_grpc

from holdfast_common.values.money import Money
from tests.support.builders import hold_request, new_request_id


@dataclass
class RpcFailure:
    code: grpc.StatusCode
    message: str
    reason: str
    domain: str
    metadata: dict[str, str]
    field_violations: list[tuple[str, str]]
    precondition_violations: list[tuple[str, str, str]]


def failure(error: grpc.RpcError) -> RpcFailure:
    """Unpacks the google.rpc.Status of a failed call (ErrorInfo, BadRequest, PreconditionFailure)."""
    status = rpc_status.from_call(error)  # type: ignore[arg-type]
    return _unpacked(error.code(), error.details() or "", status)


def row_failure(status: status_pb2.Status) -> RpcFailure:
    """Unpacks a google.rpc.Status carried in an answer (one row's refusal) like a call's."""
    (code,) = [c for c in grpc.StatusCode if c.value[0] == status.code]
    return _unpacked(code, status.message, status)


def _unpacked(code: grpc.StatusCode, message: str, status: Any) -> RpcFailure:
    info = error_details_pb2.ErrorInfo()
    bad = error_details_pb2.BadRequest()
    pre = error_details_pb2.PreconditionFailure()
    if status is not None:
        for detail in status.details:
            if detail.Is(info.DESCRIPTOR):
                detail.Unpack(info)
            elif detail.Is(bad.DESCRIPTOR):
                detail.Unpack(bad)
            elif detail.Is(pre.DESCRIPTOR):
                detail.Unpack(pre)
    return RpcFailure(
        code=code,
        message=message,
        reason=info.reason,
        domain=info.domain,
        metadata=dict(info.metadata),
        field_violations=[(v.field, v.description) for v in bad.field_violations],
        precondition_violations=[(v.type, v.subject, v.description) for v in pre.violations],
    )


def refusal(call: Callable[[Any], Any], request: Any) -> RpcFailure:
    """Makes a call that must fail and returns how it was refused."""
    try:
        call(request)
    except grpc.RpcError as error:
        return failure(error)
    raise AssertionError(f"{type(request).__name__} was not refused")


def unique_sku(prefix: str = "SKU") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def usd_cents(cents: int) -> money_pb2.Money:
    return Money(cents, "USD").to_proto()


def cents(money: money_pb2.Money) -> int:
    """A USD amount in cents; fails on a fraction of a cent rather than rounding it away."""
    assert money.currency_code == "USD", money
    assert money.nanos % 10_000_000 == 0, money
    return money.units * 100 + money.nanos // 10_000_000


class Inventory:
    """A sync client for one InventoryService endpoint, with shortcuts for test set-up."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.channel = grpc.insecure_channel(target)
        self.stub = pb_grpc.InventoryServiceStub(self.channel)

    def close(self) -> None:
        self.channel.close()

    def product(self, title: str = "Product", category_id: str = "", price_cents: int = 1000) -> pb.Product:
        response = self.stub.CreateProduct(
            pb.CreateProductRequest(title=title, category_id=category_id, base_price=usd_cents(price_cents))
        )
        return response.product

    def sku(
        self, on_hand: int = 10, prefix: str = "SKU", product_id: str = "", adjustment_cents: int = 0
    ) -> str:
        """A new variant with `on_hand` units; returns its SKU."""
        sku = unique_sku(prefix)
        self.stub.CreateVariant(
            pb.CreateVariantRequest(
                product_id=product_id or self.product().id,
                sku=sku,
                initial_on_hand=on_hand,
                price_adjustment=usd_cents(adjustment_cents),
            )
        )
        return sku

    def level(self, sku: str) -> pb.StockLevel:
        (level,) = self.stub.BatchGetStockLevels(pb.BatchGetStockLevelsRequest(skus=[sku])).levels
        return level

    def hold(
        self, lines: dict[str, int], owner_id: str = "owner", ttl_seconds: float | None = None
    ) -> pb.Hold:
        return self.stub.CreateHold(hold_request(lines, owner_id=owner_id, ttl_seconds=ttl_seconds)).hold

    def import_catalog(
        self, *chunks: Sequence[pb.CatalogRow]
    ) -> tuple[list[pb.ImportRowResult], pb.ImportSummary]:
        """One ImportCatalog stream of `chunks`: every row's result, in order, and the summary."""
        requests = iter([pb.ImportCatalogRequest(rows=chunk) for chunk in chunks])
        answers = list(self.stub.ImportCatalog(requests, timeout=60))
        *chunk_answers, last = answers
        assert len(chunk_answers) == len(chunks) and last.HasField("summary"), answers
        assert not any(a.HasField("summary") for a in chunk_answers)
        return [r for a in chunk_answers for r in a.results], last.summary

    def export_catalog(self, page_size: int = 0) -> list[pb.CatalogRow]:
        """Every row ExportCatalog gives, its pages joined."""
        return [
            row
            for page in self.stub.ExportCatalog(pb.ExportCatalogRequest(page_size=page_size), timeout=60)
            for row in page.rows
        ]


class Pricing:
    """A sync client for one PricingService endpoint, with shortcuts for rules and quotes."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.channel = grpc.insecure_channel(target)
        self.stub = pricing_pb2_grpc.PricingServiceStub(self.channel)

    def close(self) -> None:
        self.channel.close()

    def rule(self, **fields: Any) -> pricing_pb2.PriceRule:
        """Creates a rule (scope: every SKU unless given) and returns it as stored."""
        if not any(k in fields for k in ("all_skus", "category_id", "product_id", "sku")):
            fields["all_skus"] = True
        fields.setdefault("name", "rule")
        request = pricing_pb2.CreatePriceRuleRequest(
            request_id=new_request_id(), rule=pricing_pb2.PriceRule(**fields)
        )
        return self.stub.CreatePriceRule(request).rule

    def quote(
        self, sku: str, quantity: int = 1, customer_tier: str = "", at: datetime | None = None
    ) -> pricing_pb2.PriceQuote:
        request = pricing_pb2.QuotePriceRequest(sku=sku, quantity=quantity, customer_tier=customer_tier)
        if at is not None:
            request.price_time.FromDatetime(at)
        return self.stub.QuotePrice(request).quote
