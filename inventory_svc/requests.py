"""Validates protobuf requests into domain inputs before anything touches the database."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from google.protobuf import duration_pb2
from google.protobuf.message import Message
from holdfast.inventory.v1 import inventory_pb2 as pb

from holdfast_common.db.idempotency import RequestRecord, request_record
from holdfast_common.settings import HoldSettings
from holdfast_common.values.validation import Violations
from inventory_svc.models import AdjustmentReason, HoldLine, HoldState, NewHold, StockAdjustment

MAX_NAME = 200
MAX_DESCRIPTION = 5000
MAX_OWNER_ID = 128
MAX_NOTE = 500
MAX_BATCH_SKUS = 1000


def optional_record(v: Violations, method: str, request: Message) -> RequestRecord | None:
    """The idempotency record of a create whose request_id is optional (None when unset)."""
    request_id: str = request.request_id  # type: ignore[attr-defined]
    if not request_id:
        return None
    v.request_id("request_id", request_id)
    return request_record(method, request)


_STATES = {
    pb.HOLD_STATE_ACTIVE: HoldState.ACTIVE,
    pb.HOLD_STATE_COMMITTED: HoldState.COMMITTED,
    pb.HOLD_STATE_RELEASED: HoldState.RELEASED,
    pb.HOLD_STATE_EXPIRED: HoldState.EXPIRED,
}
_REASONS = {
    pb.ADJUSTMENT_REASON_RECEIVE: AdjustmentReason.RECEIVE,
    pb.ADJUSTMENT_REASON_ADJUST: AdjustmentReason.ADJUST,
}


def ttl(v: Violations, field: str, value: duration_pb2.Duration, max_seconds: int) -> timedelta:
    """A duration of at least a microsecond (what a timestamp resolves) and at most max_seconds."""
    total_nanos = value.seconds * 1_000_000_000 + value.nanos
    mixed_signs = (value.seconds > 0 > value.nanos) or (value.seconds < 0 < value.nanos)
    if not -1_000_000_000 < value.nanos < 1_000_000_000 or mixed_signs:
        v.add(field, "is not a valid Duration: nanos within ±999999999 and of the sign of seconds")
    elif total_nanos < 1000:
        # Less than a microsecond rounded down to no TTL at all: a hold expired when made.
        v.add(field, "must be at least 1 microsecond")
    elif total_nanos > max_seconds * 1_000_000_000:
        v.add(field, f"must be at most {max_seconds}s")
    else:
        return timedelta(microseconds=total_nanos // 1000)
    return timedelta(0)


def create_hold(request: pb.CreateHoldRequest, settings: HoldSettings) -> NewHold:
    v = Violations()
    v.request_id("request_id", request.request_id)
    v.text("owner_id", request.owner_id, max_len=MAX_OWNER_ID)
    if not request.lines:
        v.add("lines", "must name at least one SKU")
    elif len(request.lines) > settings.max_lines_per_hold:
        v.add("lines", f"must have at most {settings.max_lines_per_hold} lines")
    totals: Counter[str] = Counter()
    for i, line in enumerate(request.lines[: settings.max_lines_per_hold]):
        v.sku(f"lines[{i}].sku", line.sku)
        if not 0 < line.quantity <= settings.max_quantity_per_line:
            v.add(f"lines[{i}].quantity", f"must be 1-{settings.max_quantity_per_line}")
        totals[line.sku] += line.quantity
    if not v.items:
        for name, total in totals.items():
            if total > settings.max_quantity_per_line:
                v.add("lines", f"quantities for {name} sum to over {settings.max_quantity_per_line}")
    hold_ttl = timedelta(seconds=settings.hold_default_ttl_seconds)
    if request.HasField("ttl"):
        hold_ttl = ttl(v, "ttl", request.ttl, settings.hold_max_ttl_seconds)
    customer_tier = None
    if request.HasField("pricing"):
        customer_tier = request.pricing.customer_tier
        v.customer_tier("pricing.customer_tier", customer_tier)
    v.raise_if_any()
    lines = tuple(HoldLine(s, q) for s, q in sorted(totals.items()))
    return NewHold(request.request_id, request.owner_id, lines, hold_ttl, customer_tier)


def extend_hold(request: pb.ExtendHoldRequest, settings: HoldSettings) -> tuple[str, timedelta]:
    v = Violations()
    v.request_id("request_id", request.request_id)
    canonical = v.uuid("hold_id", request.hold_id)
    if not request.HasField("ttl"):
        v.add("ttl", "is required")
        extension = timedelta(0)
    else:
        extension = ttl(v, "ttl", request.ttl, settings.hold_max_ttl_seconds)
    v.raise_if_any()
    assert canonical is not None
    return canonical, extension


def list_holds_filter(request: pb.ListHoldsRequest) -> tuple[Violations, HoldState | None]:
    v = Violations()
    v.text("owner_id", request.owner_id, max_len=MAX_OWNER_ID)
    state = None
    if request.state != pb.HOLD_STATE_UNSPECIFIED:
        state = _STATES.get(request.state)
        if state is None:
            v.add("state", "is not a known hold state")
    return v, state


def adjust_stock(request: pb.AdjustStockRequest) -> StockAdjustment:
    v = Violations()
    v.request_id("request_id", request.request_id)
    v.sku("sku", request.sku)
    reason = _REASONS.get(request.reason)
    if reason is None:
        v.add("reason", "must be ADJUSTMENT_REASON_RECEIVE or ADJUSTMENT_REASON_ADJUST")
    if request.delta == 0:
        v.add("delta", "must not be zero")
    elif reason is AdjustmentReason.RECEIVE and request.delta < 0:
        v.add("delta", "must be positive for RECEIVE")
    elif abs(request.delta) > 10**12:
        v.add("delta", "must be within ±1e12")
    v.text("note", request.note, max_len=MAX_NOTE, required=False)
    v.raise_if_any()
    assert reason is not None
    return StockAdjustment(request.request_id, request.sku, request.delta, reason, request.note)


def batch_skus(request: pb.BatchGetStockLevelsRequest) -> list[str]:
    v = Violations()
    if not request.skus:
        v.add("skus", "must name at least one SKU")
    elif len(request.skus) > MAX_BATCH_SKUS:
        v.add("skus", f"must name at most {MAX_BATCH_SKUS} SKUs")
    else:
        for i, s in enumerate(request.skus):
            v.sku(f"skus[{i}]", s)
    v.raise_if_any()
    return list(dict.fromkeys(request.skus))
