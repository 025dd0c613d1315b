"""Domain records returned by the inventory modules (no protobuf, no gRPC)."""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta

from holdfast_common.errors import HoldfastError

# What a request that names no location or channel uses (migration 0005 made both).
DEFAULT_LOCATION = "default"
DEFAULT_CHANNEL = "default"


class HoldState(enum.StrEnum):
    ACTIVE = "ACTIVE"
    COMMITTED = "COMMITTED"
    RELEASED = "RELEASED"
    EXPIRED = "EXPIRED"


class AdjustmentReason(enum.StrEnum):
    RECEIVE = "RECEIVE"
    ADJUST = "ADJUST"


class StockState(enum.StrEnum):
    """Where units of one (SKU, location) are; the unsellable ones are stock columns."""

    AVAILABLE = "AVAILABLE"
    SAFETY_STOCK = "SAFETY_STOCK"
    DAMAGED = "DAMAGED"
    QUALITY_CONTROL = "QUALITY_CONTROL"


class PolicyKind(enum.StrEnum):
    """How a variant sells beyond stock; the values inventory_policies.policy stores."""

    DENY = "DENY"
    BACKORDER = "BACKORDER"
    PREORDER = "PREORDER"


class ReceiptState(enum.StrEnum):
    OPEN = "OPEN"
    RECEIVED = "RECEIVED"
    CANCELLED = "CANCELLED"


class AllocationStrategy(enum.StrEnum):
    """How a channel spreads a hold over its locations; the values channels.strategy stores."""

    PRIORITY = "PRIORITY"
    MOST_AVAILABLE = "MOST_AVAILABLE"
    FEWEST_LOCATIONS = "FEWEST_LOCATIONS"
    SINGLE_LOCATION = "SINGLE_LOCATION"


@dataclass(frozen=True)
class Category:
    id: str
    name: str
    parent_id: str | None
    create_time: datetime


@dataclass(frozen=True)
class Product:
    id: str
    title: str
    description: str
    category_id: str | None
    base_price_minor: int
    currency: str
    create_time: datetime
    # Defaulted so a CreateProduct answer stored before handles existed still replays.
    handle: str = ""


@dataclass(frozen=True)
class Variant:
    id: str
    product_id: str
    sku: str
    price_adjustment_minor: int
    currency: str
    create_time: datetime


@dataclass(frozen=True)
class NewCategory:
    name: str
    parent_id: str | None


@dataclass(frozen=True)
class NewProduct:
    title: str
    description: str
    category_id: str | None
    base_price_minor: int
    currency: str
    # None: the new product's id.
    handle: str | None = None


@dataclass(frozen=True)
class NewVariant:
    product_id: str
    sku: str
    price_adjustment_minor: int
    initial_on_hand: int


@dataclass(frozen=True)
class StockLevel:
    sku: str
    on_hand: int
    reserved: int
    # The location's code on one (SKU, location)'s level; empty on a channel's total.
    location: str = ""
    # Unsellable states, counted in on_hand.
    safety_stock: int = 0
    damaged: int = 0
    quality_control: int = 0
    # Units of open receipts still expected.
    incoming: int = 0
    # Units of ACTIVE holds sold beyond stock, and committed ones not yet delivered.
    backordered: int = 0
    preordered: int = 0
    owed: int = 0

    @property
    def unsellable(self) -> int:
        return self.safety_stock + self.damaged + self.quality_control

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved - self.unsellable

    @property
    def beyond_stock(self) -> int:
        """Units sold beyond stock here and not yet delivered: what the caps bound."""
        return self.backordered + self.preordered + self.owed

    def held_in(self, state: StockState) -> int:
        """The units in `state` (AVAILABLE: what can be sold)."""
        if state is StockState.AVAILABLE:
            return self.available
        return int(getattr(self, state.value.lower()))


@dataclass(frozen=True)
class SkuLevels:
    """One SKU's level at every location that keeps it, by location code."""

    sku: str
    locations: tuple[StockLevel, ...]

    def total(self, route: ChannelRoute) -> StockLevel:
        """What the channel can sell: the sum over its active locations."""
        mine = [level for level in self.locations if level.location in route.locations]
        return StockLevel(
            self.sku,
            sum(level.on_hand for level in mine),
            sum(level.reserved for level in mine),
            **{name: sum(getattr(level, name) for level in mine) for name in COUNTS},
        )


# The counts of a level beyond on_hand and reserved, each a stock column and a ledger delta.
COUNTS = ("safety_stock", "damaged", "quality_control", "incoming", "backordered", "preordered", "owed")


@dataclass(frozen=True)
class ChannelRoute:
    """What the stock paths need of a channel: where it sells from now, and how it allocates."""

    code: str
    strategy: AllocationStrategy
    # Its active locations' codes, in priority order (empty when none is active).
    locations: tuple[str, ...]


@dataclass(frozen=True)
class LocationRef:
    """A location a request named, as found: its code and whether it is active."""

    code: str
    active: bool


@dataclass(frozen=True)
class LineAllocation:
    """Units of a hold line held at one location."""

    location: str
    # Units from stock (reserved there).
    quantity: int
    # Units sold beyond stock here.
    backordered: int = 0
    preordered: int = 0

    @property
    def total(self) -> int:
        return self.quantity + self.backordered + self.preordered


@dataclass(frozen=True)
class HoldLine:
    sku: str
    quantity: int
    # Minor units locked when a priced hold was created; None for an unpriced hold.
    unit_price_minor: int | None = None
    # The location the line is pinned to (its code once allocated); None when unpinned.
    location: str | None = None
    # Where the units are held, by location code; empty on a request.
    allocations: tuple[LineAllocation, ...] = ()
    # When incoming stock covers the line's units sold beyond stock (see the contract).
    promise_time: datetime | None = None

    @property
    def from_stock(self) -> int:
        return sum(a.quantity for a in self.allocations)

    @property
    def backordered(self) -> int:
        return sum(a.backordered for a in self.allocations)

    @property
    def preordered(self) -> int:
        return sum(a.preordered for a in self.allocations)


@dataclass(frozen=True)
class Hold:
    id: str
    owner_id: str
    state: HoldState
    lines: tuple[HoldLine, ...]
    create_time: datetime
    expire_time: datetime
    end_time: datetime | None
    # Set, with every line's unit price, when the hold was created with prices locked.
    currency: str | None = None
    customer_tier: str | None = None
    # The channel it was allocated through and the strategy used (the defaults: what every
    # hold made before locations had).
    channel: str = DEFAULT_CHANNEL
    strategy: AllocationStrategy = AllocationStrategy.PRIORITY

    @property
    def total_minor(self) -> int | None:
        if self.currency is None:
            return None
        return sum((line.unit_price_minor or 0) * line.quantity for line in self.lines)


@dataclass(frozen=True)
class NewHold:
    """A validated CreateHold: lines summed per SKU and sorted (the lock order)."""

    request_id: str
    owner_id: str
    lines: tuple[HoldLine, ...]
    ttl: timedelta
    # None: no prices to lock; "" is a customer with no tier.
    customer_tier: str | None = None
    # The channel asked for (code or id) and the strategy overriding its own, if any.
    channel: str = DEFAULT_CHANNEL
    strategy: AllocationStrategy | None = None
    # The request field naming each pinned location reference, for refusals.
    pin_fields: tuple[tuple[str, str], ...] = ()
    # Every unit from available stock, whatever the policies allow.
    deny_beyond_stock: bool = False


@dataclass(frozen=True)
class LockedPrices:
    """The unit prices a cart was quoted at, to be kept on its hold."""

    customer_tier: str
    currency: str
    unit_prices: dict[str, int]


@dataclass(frozen=True)
class StockAdjustment:
    request_id: str
    sku: str
    delta: int
    reason: AdjustmentReason
    note: str
    # Code or id; the request's empty value is DEFAULT_LOCATION.
    location: str = "default"


@dataclass(frozen=True)
class StockUpdate:
    """One row of a bulk update: exactly one of set_on_hand and adjust_delta is given."""

    sku: str
    # Code or id; the request's empty value is DEFAULT_LOCATION.
    location: str
    set_on_hand: int | None
    adjust_delta: int | None
    # Compare-and-set, with set_on_hand only.
    expected_on_hand: int | None = None
    reason: AdjustmentReason = AdjustmentReason.ADJUST
    note: str = ""


@dataclass(frozen=True)
class StockUpdateResult:
    """What one row did (or would do): the level after it, or the refusal."""

    index: int
    # After the row; on a refusal the current level where the row named a known (SKU, location).
    level: StockLevel | None
    previous_on_hand: int
    changed: bool
    # Set when the row was refused.
    refusal: HoldfastError | None = None
    # The (SKU, location) had no stock row and the row made one (two batches making the same
    # row at once may both say so).
    created: bool = False


@dataclass(frozen=True)
class StockTransfer:
    request_id: str
    sku: str
    from_location: str
    to_location: str
    quantity: int
    note: str


@dataclass(frozen=True)
class Location:
    id: str
    code: str
    name: str
    active: bool
    create_time: datetime


@dataclass(frozen=True)
class Channel:
    id: str
    code: str
    name: str
    # In priority order, inactive ones included.
    location_codes: tuple[str, ...]
    strategy: AllocationStrategy
    create_time: datetime


@dataclass(frozen=True)
class NewLocation:
    code: str
    name: str
    active: bool


@dataclass(frozen=True)
class NewChannel:
    code: str
    name: str
    location_codes: tuple[str, ...]
    strategy: AllocationStrategy


@dataclass(frozen=True)
class PlaceRef:
    """A location or channel as an update request names it: by id or by code."""

    # The id, or the code when no id was given.
    ref: str
    # The request field `ref` came from, named when nothing matches it.
    field: str
    # A code given beside an id: it must be that one's code (codes never change).
    code: str | None = None


@dataclass(frozen=True)
class LocationChange:
    """The fields an UpdateLocation writes; None leaves a field as it is."""

    name: str | None = None
    active: bool | None = None


@dataclass(frozen=True)
class ChannelChange:
    """The fields an UpdateChannel writes; None leaves a field as it is."""

    name: str | None = None
    location_codes: tuple[str, ...] | None = None
    strategy: AllocationStrategy | None = None


# ------------------------------------------------------------ catalog import and export
# The rows of a catalog file, each with its natural key first: what ImportCatalog takes and
# ExportCatalog gives back.


@dataclass(frozen=True)
class LocationRow:
    code: str
    name: str
    active: bool


@dataclass(frozen=True)
class CategoryRow:
    # Names from the top level down to the category itself.
    path: tuple[str, ...]


@dataclass(frozen=True)
class ProductRow:
    handle: str
    title: str
    description: str
    # Empty: no category.
    category_path: tuple[str, ...]
    base_price_minor: int
    currency: str


@dataclass(frozen=True)
class VariantRow:
    sku: str
    product_handle: str
    price_adjustment_minor: int
    # The adjustment's currency; None when the row gave no adjustment (zero suits any product).
    currency: str | None


@dataclass(frozen=True)
class StockRow:
    """on_hand at one (SKU, location), set absolutely."""

    sku: str
    # A code or id; the file's empty value is DEFAULT_LOCATION.
    location: str
    on_hand: int


CatalogRow = LocationRow | CategoryRow | ProductRow | VariantRow | StockRow


class ImportOutcome(enum.StrEnum):
    CREATED = "CREATED"
    UPDATED = "UPDATED"
    UNCHANGED = "UNCHANGED"
    # Nothing of the row was written.
    FAILED = "FAILED"


@dataclass(frozen=True)
class ImportRowResult:
    # The row's number in the import, from 0.
    index: int
    outcome: ImportOutcome
    # Why, when FAILED.
    refusal: HoldfastError | None = None


@dataclass
class ImportSummary:
    """The tally of an import so far: rows seen and what became of them."""

    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed: int = 0

    def add(self, results: list[ImportRowResult]) -> None:
        outcomes = Counter(result.outcome for result in results)
        self.rows += len(results)
        self.created += outcomes[ImportOutcome.CREATED]
        self.updated += outcomes[ImportOutcome.UPDATED]
        self.unchanged += outcomes[ImportOutcome.UNCHANGED]
        self.failed += outcomes[ImportOutcome.FAILED]


@dataclass(frozen=True)
class StockMove:
    request_id: str
    sku: str
    location: str
    from_state: StockState
    to_state: StockState
    quantity: int
    note: str


@dataclass(frozen=True)
class NewReceipt:
    request_id: str
    sku: str
    location: str
    quantity: int
    expected_time: datetime
    note: str


@dataclass(frozen=True)
class ReceiptArrival:
    request_id: str
    receipt_id: str
    # None: all that is still expected.
    quantity: int | None
    allow_over_receive: bool
    note: str


@dataclass(frozen=True)
class Receipt:
    id: str
    sku: str
    location: str
    expected: int
    received: int
    expected_time: datetime
    state: ReceiptState
    note: str
    create_time: datetime


@dataclass(frozen=True)
class InventoryPolicy:
    sku: str
    # None: the variant's default; else the location (code or id on a request, code after).
    location: str | None
    kind: PolicyKind
    backorder_limit: int = 0
    preorder_limit: int = 0
    preorder_end_time: datetime | None = None
    update_time: datetime | None = None

    def allows(self, now: datetime) -> tuple[PolicyKind, int] | None:
        """What it lets a hold sell beyond stock now and the cap, or None (DENY, or a preorder
        window that has closed: half-open, so not at its end time)."""
        if self.kind is PolicyKind.BACKORDER:
            return self.kind, self.backorder_limit
        if (
            self.kind is PolicyKind.PREORDER
            and self.preorder_end_time is not None
            and now < self.preorder_end_time
        ):
            return self.kind, self.preorder_limit
        return None

    @property
    def limit(self) -> int | None:
        """The cap in force, None for DENY."""
        return {PolicyKind.BACKORDER: self.backorder_limit, PolicyKind.PREORDER: self.preorder_limit}.get(
            self.kind
        )


@dataclass(frozen=True)
class StockEvent:
    """One ledger change as StreamStockEvents reports it: `position` is the cursor (commit
    order), `seq` the (SKU, location)'s own count, `id` for de-duplication."""

    position: int
    id: str
    seq: int
    type: str
    level: StockLevel
    hold_id: str
    receipt_id: str
    request_id: str
    create_time: datetime
    # A crossing's threshold (LOW_STOCK, BACK_IN_STOCK); None on a ledger change.
    low_stock_at: int | None = None
    # A channel's crossing: the channel's code (the level is its total, location empty).
    channel: str = ""


@dataclass(frozen=True)
class EventFilter:
    """What a StreamStockEvents stream wants; an empty tuple means every one."""

    skus: tuple[str, ...] = ()
    locations: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    # Channels as the request named them (code or id) until resolved: then their codes, and
    # in channel_locations their active locations, whose events they see besides their own.
    channels: tuple[str, ...] = ()
    channel_locations: tuple[str, ...] = ()


# The event types: the ledger's reasons (migration 0008 writes one event per ledger row), and
# the threshold crossings.
THRESHOLD_EVENT_TYPES = ("LOW_STOCK", "BACK_IN_STOCK")
EVENT_TYPES = (
    "RECEIVE",
    "ADJUST",
    "TRANSFER",
    "HOLD",
    "RELEASE",
    "EXPIRE",
    "COMMIT",
    "MOVE",
    "EXPECT",
    "RECEIPT",
    "CANCEL",
    "COVER",
    *THRESHOLD_EVENT_TYPES,
)


@dataclass(frozen=True)
class StockThreshold:
    """A variant's low-stock threshold (location and channel None), one location's override, or
    one channel's threshold on its total."""

    sku: str
    location: str | None
    low_stock_at: int
    update_time: datetime | None = None
    channel: str | None = None
