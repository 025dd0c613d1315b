"""Domain records to protobuf messages."""

from __future__ import annotations

import collections
from collections.abc import Iterator, Sequence

from google.rpc import status_pb2
from holdfast.inventory.v1 import inventory_pb2 as pb

from holdfast_common.rpc.status import status_proto
from holdfast_common.values.money import Money
from holdfast_common.values.timestamps import timestamp
from inventory_svc.models import (
    AllocationStrategy,
    CatalogRow,
    Category,
    CategoryRow,
    Channel,
    Hold,
    HoldLine,
    HoldState,
    ImportOutcome,
    ImportRowResult,
    ImportSummary,
    InventoryPolicy,
    Location,
    LocationRow,
    PolicyKind,
    Product,
    ProductRow,
    Receipt,
    ReceiptState,
    SkuLevels,
    StockEvent,
    StockLevel,
    StockThreshold,
    StockUpdateResult,
    Variant,
    VariantRow,
)

HOLD_STATES = {
    HoldState.ACTIVE: pb.HOLD_STATE_ACTIVE,
    HoldState.COMMITTED: pb.HOLD_STATE_COMMITTED,
    HoldState.RELEASED: pb.HOLD_STATE_RELEASED,
    HoldState.EXPIRED: pb.HOLD_STATE_EXPIRED,
}

STRATEGIES = {
    AllocationStrategy.PRIORITY: pb.ALLOCATION_STRATEGY_PRIORITY,
    AllocationStrategy.MOST_AVAILABLE: pb.ALLOCATION_STRATEGY_MOST_AVAILABLE,
    AllocationStrategy.FEWEST_LOCATIONS: pb.ALLOCATION_STRATEGY_FEWEST_LOCATIONS,
    AllocationStrategy.SINGLE_LOCATION: pb.ALLOCATION_STRATEGY_SINGLE_LOCATION,
}


def category(c: Category) -> pb.Category:
    return pb.Category(
        id=c.id, name=c.name, parent_id=c.parent_id or "", create_time=timestamp(c.create_time)
    )


def product(p: Product) -> pb.Product:
    return pb.Product(
        id=p.id,
        title=p.title,
        description=p.description,
        category_id=p.category_id or "",
        base_price=Money(p.base_price_minor, p.currency).to_proto(),
        create_time=timestamp(p.create_time),
        handle=p.handle,
    )


def variant(v: Variant) -> pb.Variant:
    return pb.Variant(
        id=v.id,
        product_id=v.product_id,
        sku=v.sku,
        price_adjustment=Money(v.price_adjustment_minor, v.currency).to_proto(),
        create_time=timestamp(v.create_time),
    )


def stock_level(s: StockLevel) -> pb.StockLevel:
    return pb.StockLevel(
        sku=s.sku,
        on_hand=s.on_hand,
        reserved=s.reserved,
        available=s.available,
        location=s.location,
        safety_stock=s.safety_stock,
        damaged=s.damaged,
        quality_control=s.quality_control,
        incoming=s.incoming,
        owed=s.owed,
        backordered=s.backordered,
        preordered=s.preordered,
    )


def stock_event(e: StockEvent) -> pb.StockEvent:
    return pb.StockEvent(
        cursor=e.position,
        event_id=e.id,
        sequence=e.seq,
        event_type=e.type,
        stock_level=stock_level(e.level),
        hold_id=e.hold_id,
        receipt_id=e.receipt_id,
        request_id=e.request_id,
        create_time=timestamp(e.create_time),
        low_stock_at=e.low_stock_at or 0,
        channel=e.channel,
    )


class StockEventMessages:
    """The StreamStockEvents message of a batch of events, built once for every stream that
    sends that batch: the tailing streams of a process share each page the feed reads (the
    same list), so the events are converted and copied once, not once a stream. Recognizes a
    batch by identity, and keeps the last few (holding them, so no identity is reused)."""

    def __init__(self, keep: int = 4) -> None:
        self._recent: collections.deque[tuple[list[StockEvent], int, pb.StreamStockEventsResponse]] = (
            collections.deque(maxlen=keep)
        )

    def of(self, events: list[StockEvent], cursor: int) -> pb.StreamStockEventsResponse:
        if not events:
            return pb.StreamStockEventsResponse(cursor=cursor)
        for seen, at, message in self._recent:
            if seen is events and at == cursor:
                return message
        message = pb.StreamStockEventsResponse(events=[stock_event(e) for e in events], cursor=cursor)
        self._recent.append((events, cursor, message))
        return message


def stock_threshold(t: StockThreshold) -> pb.StockThreshold:
    return pb.StockThreshold(
        sku=t.sku,
        location=t.location or "",
        channel=t.channel or "",
        low_stock_at=t.low_stock_at,
        update_time=timestamp(t.update_time) if t.update_time else None,
    )


RECEIPT_STATES = {
    ReceiptState.OPEN: pb.INCOMING_STOCK_STATE_OPEN,
    ReceiptState.RECEIVED: pb.INCOMING_STOCK_STATE_RECEIVED,
    ReceiptState.CANCELLED: pb.INCOMING_STOCK_STATE_CANCELLED,
}
POLICY_KINDS = {
    PolicyKind.DENY: pb.INVENTORY_POLICY_KIND_DENY,
    PolicyKind.BACKORDER: pb.INVENTORY_POLICY_KIND_BACKORDER,
    PolicyKind.PREORDER: pb.INVENTORY_POLICY_KIND_PREORDER,
}


def incoming_stock(r: Receipt) -> pb.IncomingStock:
    return pb.IncomingStock(
        id=r.id,
        sku=r.sku,
        location=r.location,
        expected=r.expected,
        received=r.received,
        expected_time=timestamp(r.expected_time),
        state=RECEIPT_STATES[r.state],
        note=r.note,
        create_time=timestamp(r.create_time),
    )


def inventory_policy(p: InventoryPolicy) -> pb.InventoryPolicy:
    return pb.InventoryPolicy(
        sku=p.sku,
        location=p.location or "",
        kind=POLICY_KINDS[p.kind],
        backorder_limit=p.backorder_limit,
        preorder_limit=p.preorder_limit,
        preorder_end_time=timestamp(p.preorder_end_time),
        update_time=timestamp(p.update_time),
    )


def location_levels(levels: Sequence[SkuLevels]) -> list[pb.StockLevel]:
    return [stock_level(level) for sku in levels for level in sku.locations]


def hold(h: Hold) -> pb.Hold:
    return pb.Hold(
        id=h.id,
        owner_id=h.owner_id,
        state=HOLD_STATES[h.state],
        lines=[hold_line(line, h.currency) for line in h.lines],
        create_time=timestamp(h.create_time),
        expire_time=timestamp(h.expire_time),
        end_time=timestamp(h.end_time),
        pricing=pb.HoldPricing(customer_tier=h.customer_tier or "") if h.currency else None,
        total=Money(h.total_minor, h.currency).to_proto()
        if h.currency and h.total_minor is not None
        else None,
        channel=h.channel,
        strategy=STRATEGIES[h.strategy],
    )


def hold_line(line: HoldLine, currency: str | None) -> pb.HoldLine:
    unit_price = None
    if currency is not None and line.unit_price_minor is not None:
        unit_price = Money(line.unit_price_minor, currency).to_proto()
    return pb.HoldLine(
        sku=line.sku,
        quantity=line.quantity,
        unit_price=unit_price,
        location=line.location or "",
        allocations=[
            pb.Allocation(
                location=a.location, quantity=a.total, backordered=a.backordered, preordered=a.preordered
            )
            for a in line.allocations
        ],
        from_stock=line.from_stock,
        backordered=line.backordered,
        preordered=line.preordered,
        promise_time=timestamp(line.promise_time),
    )


def location(x: Location) -> pb.Location:
    return pb.Location(
        id=x.id, code=x.code, name=x.name, active=x.active, create_time=timestamp(x.create_time)
    )


def channel(c: Channel) -> pb.Channel:
    return pb.Channel(
        id=c.id,
        code=c.code,
        name=c.name,
        location_codes=c.location_codes,
        strategy=STRATEGIES[c.strategy],
        create_time=timestamp(c.create_time),
    )


def stock_update_results(results: Sequence[StockUpdateResult], domain: str) -> pb.BatchUpdateStockResponse:
    """Each row's result with its status (code 0 when it went through), and the counts."""
    return pb.BatchUpdateStockResponse(
        results=[
            pb.StockUpdateResult(
                index=r.index,
                status=status_proto(r.refusal, domain) if r.refusal is not None else status_pb2.Status(),
                stock_level=stock_level(r.level) if r.level is not None else None,
                previous_on_hand=r.previous_on_hand,
                changed=r.changed,
            )
            for r in results
        ],
        changed_count=sum(r.changed for r in results),
        failed_count=sum(r.refusal is not None for r in results),
    )


# ------------------------------------------------------------ catalog import and export

IMPORT_OUTCOMES = {
    ImportOutcome.CREATED: pb.IMPORT_OUTCOME_CREATED,
    ImportOutcome.UPDATED: pb.IMPORT_OUTCOME_UPDATED,
    ImportOutcome.UNCHANGED: pb.IMPORT_OUTCOME_UNCHANGED,
    ImportOutcome.FAILED: pb.IMPORT_OUTCOME_FAILED,
}


def catalog_row(row: CatalogRow) -> pb.CatalogRow:
    if isinstance(row, LocationRow):
        return pb.CatalogRow(location=pb.LocationRow(code=row.code, name=row.name, active=row.active))
    if isinstance(row, CategoryRow):
        return pb.CatalogRow(category=pb.CategoryRow(path=row.path))
    if isinstance(row, ProductRow):
        return pb.CatalogRow(
            product=pb.ProductRow(
                handle=row.handle,
                title=row.title,
                description=row.description,
                category_path=row.category_path,
                base_price=Money(row.base_price_minor, row.currency).to_proto(),
            )
        )
    if isinstance(row, VariantRow):
        adjustment = Money(row.price_adjustment_minor, row.currency).to_proto() if row.currency else None
        return pb.CatalogRow(
            variant=pb.VariantRow(sku=row.sku, product_handle=row.product_handle, price_adjustment=adjustment)
        )
    return pb.CatalogRow(stock=pb.StockRow(sku=row.sku, location=row.location, on_hand=row.on_hand))


def catalog_pages(rows: Sequence[CatalogRow], max_bytes: int) -> Iterator[list[pb.CatalogRow]]:
    """The rows as messages, cut into runs of at most max_bytes serialized (one row always
    goes, whatever its size)."""
    run: list[pb.CatalogRow] = []
    size = 0
    for row in rows:
        message = catalog_row(row)
        # A repeated field's element costs its bytes plus a tag and a length of a few bytes.
        cost = message.ByteSize() + 8
        if run and size + cost > max_bytes:
            yield run
            run, size = [], 0
        run.append(message)
        size += cost
    if run:
        yield run


def import_row_result(result: ImportRowResult, error_domain: str) -> pb.ImportRowResult:
    refusal = result.refusal
    return pb.ImportRowResult(
        index=result.index,
        outcome=IMPORT_OUTCOMES[result.outcome],
        status=status_proto(refusal, error_domain) if refusal is not None else None,
    )


def import_summary(s: ImportSummary) -> pb.ImportSummary:
    return pb.ImportSummary(
        rows=s.rows, created=s.created, updated=s.updated, unchanged=s.unchanged, failed=s.failed
    )
