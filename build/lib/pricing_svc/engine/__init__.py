"""The pricing rule engine: a pure function from catalog prices and rules to an explained quote.

Domain only (no gRPC, protobuf or database), so the same inputs always give the same quote.
"""

from pricing_svc.engine.models import (
    CartQuote,
    PriceQuote,
    PriceRule,
    QuoteStep,
    Scope,
    ScopeKind,
    SkuPricing,
    Stage,
)
from pricing_svc.engine.quote import quote_cart, quote_line

__all__ = [
    "CartQuote",
    "PriceQuote",
    "PriceRule",
    "QuoteStep",
    "Scope",
    "ScopeKind",
    "SkuPricing",
    "Stage",
    "quote_cart",
    "quote_line",
]
