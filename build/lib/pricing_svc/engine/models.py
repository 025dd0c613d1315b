"""Immutable inputs and outputs of the rule engine, in integer minor units."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

MAX_BASIS_POINTS = 10_000


class Stage(enum.StrEnum):
    """Pricing stages; quotes apply them in declaration order."""

    BASE = "BASE"
    SEASONAL = "SEASONAL"
    BULK = "BULK"
    TIER = "TIER"


class ScopeKind(enum.StrEnum):
    ALL = "ALL"
    CATEGORY = "CATEGORY"
    PRODUCT = "PRODUCT"
    SKU = "SKU"


@dataclass(frozen=True)
class SkuPricing:
    """What the catalog says about one SKU's price.

    category_ids holds the product's category and all its ancestors, so a rule on a parent
    category reaches products filed under any of its sub-categories.
    """

    sku: str
    product_id: str
    category_ids: frozenset[str]
    base_price_minor: int
    price_adjustment_minor: int
    currency: str

    def __post_init__(self) -> None:
        # Accept any iterable but keep the record hashable and order-free.
        object.__setattr__(self, "category_ids", frozenset(self.category_ids))


@dataclass(frozen=True)
class Scope:
    """Which SKUs a rule reaches: all of them, or one category, product or SKU (the target)."""

    kind: ScopeKind
    target: str | None = None

    def __post_init__(self) -> None:
        # Coerce so a plain string (say, from a database row) compares by identity like the enum.
        object.__setattr__(self, "kind", ScopeKind(self.kind))
        if self.kind is ScopeKind.ALL and self.target is not None:
            raise ValueError("scope ALL takes no target")
        if self.kind is not ScopeKind.ALL and not self.target:
            raise ValueError(f"scope {self.kind} needs a non-empty target")

    @classmethod
    def all(cls) -> Scope:
        return cls(ScopeKind.ALL)

    @classmethod
    def category(cls, category_id: str) -> Scope:
        return cls(ScopeKind.CATEGORY, category_id)

    @classmethod
    def product(cls, product_id: str) -> Scope:
        return cls(ScopeKind.PRODUCT, product_id)

    @classmethod
    def sku(cls, sku: str) -> Scope:
        return cls(ScopeKind.SKU, sku)

    def covers(self, pricing: SkuPricing) -> bool:
        match self.kind:
            case ScopeKind.ALL:
                return True
            case ScopeKind.CATEGORY:
                return self.target in pricing.category_ids
            case ScopeKind.PRODUCT:
                return self.target == pricing.product_id
            case ScopeKind.SKU:
                return self.target == pricing.sku
        raise AssertionError(self.kind)


@dataclass(frozen=True, kw_only=True)
class PriceRule:
    """One discount: percent_off_bp (basis points) or amount_off_minor, and its stage's condition.

    SEASONAL rules need start_time < end_time (timezone-aware), BULK rules min_quantity, TIER rules
    customer_tier; a condition field of another stage is rejected rather than silently ignored.
    """

    id: str
    name: str
    stage: Stage
    scope: Scope = Scope(ScopeKind.ALL)
    priority: int = 0
    percent_off_bp: int | None = None
    amount_off_minor: int | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    min_quantity: int | None = None
    customer_tier: str | None = None
    active: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "stage", Stage(self.stage))
        problem = self._problem()
        if problem:
            raise ValueError(f"price rule {self.id!r}: {problem}")

    def _problem(self) -> str | None:
        if not self.id:
            return "id must not be empty"
        if self.stage is Stage.BASE:
            return "BASE is not a rule stage"
        if (self.percent_off_bp is None) == (self.amount_off_minor is None):
            return "needs exactly one of percent_off_bp and amount_off_minor"
        if self.percent_off_bp is not None and not 1 <= self.percent_off_bp <= MAX_BASIS_POINTS:
            return f"percent_off_bp must be 1-{MAX_BASIS_POINTS}"
        if self.amount_off_minor is not None and self.amount_off_minor <= 0:
            return "amount_off_minor must be positive"
        return self._condition_problem()

    def _condition_problem(self) -> str | None:
        if self.stage is not Stage.SEASONAL and (self.start_time, self.end_time) != (None, None):
            return "start_time/end_time belong to SEASONAL rules only"
        if self.stage is not Stage.BULK and self.min_quantity is not None:
            return "min_quantity belongs to BULK rules only"
        if self.stage is not Stage.TIER and self.customer_tier is not None:
            return "customer_tier belongs to TIER rules only"
        match self.stage:
            case Stage.SEASONAL:
                if self.start_time is None or self.end_time is None:
                    return "SEASONAL rules need start_time and end_time"
                if self.start_time.utcoffset() is None or self.end_time.utcoffset() is None:
                    return "start_time and end_time must be timezone-aware"
                if self.start_time >= self.end_time:
                    return "start_time must be before end_time"
            case Stage.BULK:
                if self.min_quantity is None or self.min_quantity < 1:
                    return "BULK rules need min_quantity >= 1"
            case Stage.TIER:
                if not self.customer_tier:
                    return "TIER rules need a non-empty customer_tier"
        return None


@dataclass(frozen=True)
class QuoteStep:
    """One stage's effect on the unit price; rule_id is None for the BASE step."""

    stage: Stage
    rule_id: str | None
    description: str
    unit_price_before: int
    unit_price_after: int


@dataclass(frozen=True)
class PriceQuote:
    sku: str
    quantity: int
    currency: str
    base_unit_price: int
    unit_price: int
    line_total: int
    steps: tuple[QuoteStep, ...]


@dataclass(frozen=True)
class CartQuote:
    """Lines are one per SKU, sorted by SKU."""

    lines: tuple[PriceQuote, ...]
    currency: str
    total: int
