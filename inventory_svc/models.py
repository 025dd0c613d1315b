"""Domain records returned by the inventory modules (no protobuf, no gRPC)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta


class HoldState(enum.StrEnum):
    ACTIVE = "ACTIVE"
    COMMITTED = "COMMITTED"
    RELEASED = "RELEASED"
    EXPIRED = "EXPIRED"


class AdjustmentReason(enum.StrEnum):
    RECEIVE = "RECEIVE"
    ADJUST = "ADJUST"


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

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


@dataclass(frozen=True)
class HoldLine:
    sku: str
    quantity: int
    # Minor units locked when a priced hold was created; None for an unpriced hold.
    unit_price_minor: int | None = None


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


@dataclass(frozen=True)
class ChannelRoute:
    """What the stock paths need of a channel: where it sells from now, and how it allocates."""

    code: str
    strategy: AllocationStrategy
    # Its active locations' codes, in priority order (empty when none is active).
    locations: tuple[str, ...]


@dataclass(frozen=True)
class LocationRef:
    code: str
    active: bool
