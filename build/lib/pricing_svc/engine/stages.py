"""One strategy per rule stage: when a rule applies to a line, and what unit price it gives."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

from holdfast_common.values.money import format_minor
from pricing_svc.engine.models import MAX_BASIS_POINTS, PriceRule, SkuPricing, Stage
from pricing_svc.engine.rounding import div_round_half_even


@dataclass(frozen=True)
class LineContext:
    """Everything about the line being quoted that a rule's condition may look at."""

    pricing: SkuPricing
    quantity: int
    customer_tier: str
    at: datetime


def discounted(rule: PriceRule, before: int) -> int:
    """The unit price after the rule's discount, rounded half-even, never below zero."""
    if rule.percent_off_bp is not None:
        kept = before * (MAX_BASIS_POINTS - rule.percent_off_bp)
        return max(0, div_round_half_even(kept, MAX_BASIS_POINTS))
    assert rule.amount_off_minor is not None
    return max(0, before - rule.amount_off_minor)


def format_discount(rule: PriceRule, currency: str) -> str:
    if rule.percent_off_bp is None:
        assert rule.amount_off_minor is not None
        return f"{format_minor(rule.amount_off_minor, currency)} off"
    whole, hundredths = divmod(rule.percent_off_bp, 100)
    percent = f"{whole}.{hundredths:02d}".rstrip("0").rstrip(".")
    return f"{percent}% off"


class StageStrategy(abc.ABC):
    """A stage's rule semantics; the choice among applicable rules is the quote's business."""

    stage: ClassVar[Stage]

    def applies(self, rule: PriceRule, line: LineContext) -> bool:
        return (
            rule.active
            and rule.stage is self.stage
            and rule.scope.covers(line.pricing)
            and self._condition_holds(rule, line)
        )

    def unit_price(self, rule: PriceRule, before: int) -> int:
        return discounted(rule, before)

    def describe(self, rule: PriceRule, currency: str) -> str:
        return f"{rule.name}: {format_discount(rule, currency)} ({self._condition_text(rule)})"

    @abc.abstractmethod
    def _condition_holds(self, rule: PriceRule, line: LineContext) -> bool: ...

    @abc.abstractmethod
    def _condition_text(self, rule: PriceRule) -> str: ...


class SeasonalStage(StageStrategy):
    """Applies inside the half-open window [start_time, end_time)."""

    stage = Stage.SEASONAL

    def _condition_holds(self, rule: PriceRule, line: LineContext) -> bool:
        assert rule.start_time is not None and rule.end_time is not None
        return rule.start_time <= line.at < rule.end_time

    def _condition_text(self, rule: PriceRule) -> str:
        assert rule.start_time is not None and rule.end_time is not None
        return f"from {rule.start_time.isoformat()} until {rule.end_time.isoformat()}"


class BulkStage(StageStrategy):
    """Applies from min_quantity up; several rules form tiers and the best reachable one wins."""

    stage = Stage.BULK

    def _condition_holds(self, rule: PriceRule, line: LineContext) -> bool:
        assert rule.min_quantity is not None
        return line.quantity >= rule.min_quantity

    def _condition_text(self, rule: PriceRule) -> str:
        return f"quantity >= {rule.min_quantity}"


class TierStage(StageStrategy):
    """Applies when the quote's customer tier equals the rule's, exactly."""

    stage = Stage.TIER

    def _condition_holds(self, rule: PriceRule, line: LineContext) -> bool:
        return rule.customer_tier == line.customer_tier

    def _condition_text(self, rule: PriceRule) -> str:
        return f"tier {rule.customer_tier}"


# The fixed order stages run in, after BASE.
STAGES: tuple[StageStrategy, ...] = (SeasonalStage(), BulkStage(), TierStage())
