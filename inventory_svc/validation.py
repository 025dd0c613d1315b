"""Every InventoryService request validated into its domain input before anything touches
the database: one function per RPC, named after it. A bad request is INVALID_ARGUMENT naming
every bad field, in the order the fields are checked here."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from google.protobuf import duration_pb2, field_mask_pb2
from google.protobuf.message import Message
from holdfast.inventory.v1 import inventory_pb2 as pb

from holdfast_common.db.idempotency import RequestRecord, request_record
from holdfast_common.errors import FieldViolation, HoldfastError, invalid_argument
from holdfast_common.settings import HoldSettings
from holdfast_common.values.limits import (
    MAX_BATCH_SKUS,
    MAX_CATALOG_ROWS,
    MAX_CATEGORY_DEPTH,
    MAX_DESCRIPTION,
    MAX_EVENT_LOCATIONS,
    MAX_NAME,
    MAX_NOTE,
    MAX_OWNER_ID,
    MAX_STOCK_UNITS,
    MAX_STOCK_UPDATES,
)
from holdfast_common.values.money import money_from_proto
from holdfast_common.values.pagination import PageQuery, PageTokens
from holdfast_common.values.validation import Violations, resource_id
from inventory_svc.models import (
    DEFAULT_CHANNEL,
    DEFAULT_LOCATION,
    EVENT_TYPES,
    AdjustmentReason,
    AllocationStrategy,
    CatalogRow,
    CategoryRow,
    ChannelChange,
    EventFilter,
    HoldLine,
    HoldState,
    InventoryPolicy,
    LocationChange,
    LocationRow,
    NewCategory,
    NewChannel,
    NewHold,
    NewLocation,
    NewProduct,
    NewReceipt,
    NewVariant,
    PlaceRef,
    PolicyKind,
    ProductRow,
    ReceiptArrival,
    StockAdjustment,
    StockMove,
    StockRow,
    StockState,
    StockThreshold,
    StockTransfer,
    StockUpdate,
    VariantRow,
)


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
_STRATEGIES = {
    pb.ALLOCATION_STRATEGY_PRIORITY: AllocationStrategy.PRIORITY,
    pb.ALLOCATION_STRATEGY_MOST_AVAILABLE: AllocationStrategy.MOST_AVAILABLE,
    pb.ALLOCATION_STRATEGY_FEWEST_LOCATIONS: AllocationStrategy.FEWEST_LOCATIONS,
    pb.ALLOCATION_STRATEGY_SINGLE_LOCATION: AllocationStrategy.SINGLE_LOCATION,
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


# ------------------------------------------------------------ catalog


def create_category(request: pb.CreateCategoryRequest) -> tuple[NewCategory, RequestRecord | None]:
    v = Violations()
    v.text("name", request.name, max_len=MAX_NAME)
    parent_id = v.uuid("parent_id", request.parent_id, required=False)
    record = optional_record(v, "CreateCategory", request)
    v.raise_if_any()
    return NewCategory(request.name, parent_id), record


def list_categories(request: pb.ListCategoriesRequest, pages: PageTokens) -> PageQuery:
    return pages.page_query(request.page_size, request.page_token, {"list": "categories"})


def create_product(
    request: pb.CreateProductRequest, store_currency: str
) -> tuple[NewProduct, RequestRecord | None]:
    v = Violations()
    v.text("title", request.title, max_len=MAX_NAME)
    v.text("description", request.description, max_len=MAX_DESCRIPTION, required=False)
    category_id = v.uuid("category_id", request.category_id, required=False)
    if request.handle:
        v.sku("handle", request.handle)
    record = optional_record(v, "CreateProduct", request)
    price = None
    if not request.HasField("base_price"):
        v.add("base_price", "is required")
    else:
        price = money_from_proto(
            v,
            "base_price",
            request.base_price,
            store_currency=store_currency,
            allow_negative=False,
        )
    v.raise_if_any()
    assert price is not None
    new = NewProduct(
        request.title, request.description, category_id, price.minor, price.currency, request.handle or None
    )
    return new, record


def get_product(request: pb.GetProductRequest) -> str:
    return resource_id(request.id)


def list_products(request: pb.ListProductsRequest, pages: PageTokens) -> tuple[str | None, PageQuery]:
    """The category to list (None: every product) and the page."""
    v = Violations()
    category_id = v.uuid("category_id", request.category_id, required=False)
    query = {"list": "products", "category_id": category_id}
    page = pages.parse(v, request.page_size, request.page_token, query)
    v.raise_if_any()
    return category_id, PageQuery(page, query)


def create_variant(
    request: pb.CreateVariantRequest, store_currency: str
) -> tuple[NewVariant, RequestRecord | None]:
    v = Violations()
    product_id = v.uuid("product_id", request.product_id)
    v.sku("sku", request.sku)
    adjustment = 0
    if request.HasField("price_adjustment"):
        money = money_from_proto(
            v,
            "price_adjustment",
            request.price_adjustment,
            store_currency=store_currency,
            allow_negative=True,
        )
        adjustment = money.minor if money else 0
    if not 0 <= request.initial_on_hand <= MAX_STOCK_UNITS:
        v.add("initial_on_hand", "must be 0-1e12")
    record = optional_record(v, "CreateVariant", request)
    v.raise_if_any()
    assert product_id is not None
    return NewVariant(product_id, request.sku, adjustment, request.initial_on_hand), record


def get_variant(request: pb.GetVariantRequest) -> tuple[str | None, str | None]:
    """(variant_id, sku): the key the request names, the other None."""
    v = Violations()
    key = request.WhichOneof("key")
    variant_id = None
    if key == "id":
        variant_id = v.uuid("id", request.id)
    elif key == "sku":
        v.sku("sku", request.sku)
    else:
        v.add("key", "set id or sku")
    v.raise_if_any()
    return variant_id, request.sku or None


def list_variants(request: pb.ListVariantsRequest, pages: PageTokens) -> tuple[str, PageQuery]:
    v = Violations()
    product_id = v.uuid("product_id", request.product_id)
    query = {"list": "variants", "product_id": product_id}
    page = pages.parse(v, request.page_size, request.page_token, query)
    v.raise_if_any()
    assert product_id is not None
    return product_id, PageQuery(page, query)


# ------------------------------------------------------------ locations and channels

LOCATION_PATHS = frozenset({"name", "active"})
CHANNEL_PATHS = frozenset({"name", "location_codes", "strategy"})


def place_ref(v: Violations, field: str, value: str) -> None:
    """A location or channel named by code or id (an id is in the code character set)."""
    if not value:
        v.add(field, "is required: a code or an id")
    else:
        v.code(field, value)


def _update_target(v: Violations, kind: str, resource_id: str, code: str) -> PlaceRef:
    """The location or channel an update names: by id when it has one (then a code given
    too must be its code), else by code."""
    if resource_id:
        canonical = v.uuid(f"{kind}.id", resource_id)
        if code:
            v.code(f"{kind}.code", code)
        return PlaceRef(canonical or resource_id, f"{kind}.id", code or None)
    if not code:
        v.add(kind, f"name the {kind} to update by {kind}.id or {kind}.code")
    else:
        v.code(f"{kind}.code", code)
    return PlaceRef(code, f"{kind}.code")


def _update_paths(v: Violations, mask: field_mask_pb2.FieldMask, allowed: frozenset[str]) -> set[str]:
    if not mask.paths:
        v.add("update_mask", f"must name the fields to update: {', '.join(sorted(allowed))}")
    for path in mask.paths:
        if path not in allowed:
            v.add("update_mask", f"{path!r} is not one of {', '.join(sorted(allowed))}")
    return set(mask.paths) & allowed


def _update(
    v: Violations,
    kind: str,
    patch: pb.Location | pb.Channel,
    mask: field_mask_pb2.FieldMask,
    allowed: frozenset[str],
) -> tuple[PlaceRef, set[str]]:
    """What every update of a location or channel checks: whom it names, its mask, a new name."""
    target = _update_target(v, kind, patch.id, patch.code)
    paths = _update_paths(v, mask, allowed)
    if "name" in paths:
        v.text(f"{kind}.name", patch.name, max_len=MAX_NAME)
    return target, paths


def _location_codes(v: Violations, field: str, codes: Sequence[str]) -> tuple[str, ...]:
    """At least one well-formed code, none twice."""
    if not codes:
        v.add(field, "must name at least one location")
    first_index: dict[str, int] = {}
    for i, code in enumerate(codes):
        if not v.code(f"{field}[{i}]", code):
            continue
        if code in first_index:
            v.add(f"{field}[{i}]", f"repeats {field}[{first_index[code]}] ({code!r})")
        else:
            first_index[code] = i
    return tuple(codes)


def _strategy(v: Violations, field: str, value: pb.AllocationStrategy) -> AllocationStrategy:
    strategy = _STRATEGIES.get(value)
    if value == pb.ALLOCATION_STRATEGY_UNSPECIFIED:
        v.add(field, "must be set")
    elif strategy is None:
        v.add(field, "is not a known allocation strategy")
    return strategy or AllocationStrategy.PRIORITY


def create_location(request: pb.CreateLocationRequest) -> tuple[NewLocation, RequestRecord | None]:
    v = Violations()
    location = request.location
    v.code("location.code", location.code)
    v.text("location.name", location.name, max_len=MAX_NAME)
    record = optional_record(v, "CreateLocation", request)
    v.raise_if_any()
    return NewLocation(location.code, location.name, active=not request.create_inactive), record


def _named_place(field: str, ref: str) -> str:
    """A request naming one location or channel by code or id, or INVALID_ARGUMENT."""
    v = Violations()
    place_ref(v, field, ref)
    v.raise_if_any()
    return ref


def get_location(request: pb.GetLocationRequest) -> str:
    return _named_place("location", request.location)


def list_locations(request: pb.ListLocationsRequest, pages: PageTokens) -> PageQuery:
    return pages.page_query(request.page_size, request.page_token, {"list": "locations"})


def update_location(
    request: pb.UpdateLocationRequest,
) -> tuple[PlaceRef, LocationChange, RequestRecord | None]:
    v = Violations()
    location = request.location
    target, paths = _update(v, "location", location, request.update_mask, LOCATION_PATHS)
    record = optional_record(v, "UpdateLocation", request)
    v.raise_if_any()
    change = LocationChange(
        name=location.name if "name" in paths else None,
        active=location.active if "active" in paths else None,
    )
    return target, change, record


def create_channel(request: pb.CreateChannelRequest) -> tuple[NewChannel, RequestRecord | None]:
    v = Violations()
    channel = request.channel
    v.code("channel.code", channel.code)
    v.text("channel.name", channel.name, max_len=MAX_NAME)
    codes = _location_codes(v, "channel.location_codes", channel.location_codes)
    strategy = _strategy(v, "channel.strategy", channel.strategy)
    record = optional_record(v, "CreateChannel", request)
    v.raise_if_any()
    return NewChannel(channel.code, channel.name, codes, strategy), record


def get_channel(request: pb.GetChannelRequest) -> str:
    return _named_place("channel", request.channel)


def list_channels(request: pb.ListChannelsRequest, pages: PageTokens) -> PageQuery:
    return pages.page_query(request.page_size, request.page_token, {"list": "channels"})


def update_channel(request: pb.UpdateChannelRequest) -> tuple[PlaceRef, ChannelChange, RequestRecord | None]:
    v = Violations()
    channel = request.channel
    target, paths = _update(v, "channel", channel, request.update_mask, CHANNEL_PATHS)
    codes = None
    if "location_codes" in paths:
        codes = _location_codes(v, "channel.location_codes", channel.location_codes)
    strategy = None
    if "strategy" in paths:
        strategy = _strategy(v, "channel.strategy", channel.strategy)
    record = optional_record(v, "UpdateChannel", request)
    v.raise_if_any()
    name = channel.name if "name" in paths else None
    return target, ChannelChange(name, codes, strategy), record


# ------------------------------------------------------------ holds


def create_hold(request: pb.CreateHoldRequest, settings: HoldSettings) -> NewHold:
    v = Violations()
    v.request_id("request_id", request.request_id)
    v.text("owner_id", request.owner_id, max_len=MAX_OWNER_ID)
    if not request.lines:
        v.add("lines", "must name at least one SKU")
    elif len(request.lines) > settings.max_lines_per_hold:
        v.add("lines", f"must have at most {settings.max_lines_per_hold} lines")
    totals: Counter[str] = Counter()
    pins: dict[str, str] = {}
    pin_fields: dict[str, str] = {}
    for i, line in enumerate(request.lines[: settings.max_lines_per_hold]):
        v.sku(f"lines[{i}].sku", line.sku)
        if not 0 < line.quantity <= settings.max_quantity_per_line:
            v.add(f"lines[{i}].quantity", f"must be 1-{settings.max_quantity_per_line}")
        if line.location:
            v.code(f"lines[{i}].location", line.location)
            pin_fields.setdefault(line.location, f"lines[{i}].location")
        # A SKU is one line of the hold: every mention of it must agree on its pin.
        if pins.setdefault(line.sku, line.location) != line.location:
            v.add(f"lines[{i}].location", f"{line.sku} is named with another location in an earlier line")
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
    channel = _place(v, "channel", request.channel, DEFAULT_CHANNEL)
    strategy = None
    if request.strategy != pb.ALLOCATION_STRATEGY_UNSPECIFIED:
        strategy = _STRATEGIES.get(request.strategy)
        if strategy is None:
            v.add("strategy", "is not a known allocation strategy")
    v.raise_if_any()
    lines = tuple(HoldLine(s, q, location=pins[s] or None) for s, q in sorted(totals.items()))
    return NewHold(
        request.request_id,
        request.owner_id,
        lines,
        hold_ttl,
        customer_tier,
        channel=channel,
        strategy=strategy,
        pin_fields=tuple(sorted(pin_fields.items())),
        deny_beyond_stock=request.deny_beyond_stock,
    )


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


def get_hold(request: pb.GetHoldRequest) -> str:
    return resource_id(request.id)


def list_holds(request: pb.ListHoldsRequest, pages: PageTokens) -> tuple[str, HoldState | None, PageQuery]:
    """The owner, the state to list (None: every state) and the page."""
    v = Violations()
    v.text("owner_id", request.owner_id, max_len=MAX_OWNER_ID)
    state = None
    if request.state != pb.HOLD_STATE_UNSPECIFIED:
        state = _STATES.get(request.state)
        if state is None:
            v.add("state", "is not a known hold state")
    query = {"list": "holds", "owner_id": request.owner_id, "state": int(request.state)}
    page = pages.parse(v, request.page_size, request.page_token, query)
    v.raise_if_any()
    return request.owner_id, state, PageQuery(page, query)


def release_hold(request: pb.ReleaseHoldRequest) -> str:
    return resource_id(request.hold_id, field="hold_id", request_id=request.request_id)


def commit_hold(request: pb.CommitHoldRequest) -> str:
    return resource_id(request.hold_id, field="hold_id", request_id=request.request_id)


# ------------------------------------------------------------ stock


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
    elif abs(request.delta) > MAX_STOCK_UNITS:
        v.add("delta", "must be within ±1e12")
    v.text("note", request.note, max_len=MAX_NOTE, required=False)
    location = _place(v, "location", request.location, DEFAULT_LOCATION)
    v.raise_if_any()
    assert reason is not None
    return StockAdjustment(request.request_id, request.sku, request.delta, reason, request.note, location)


def transfer_stock(request: pb.TransferStockRequest) -> StockTransfer:
    v = Violations()
    v.request_id("request_id", request.request_id)
    v.sku("sku", request.sku)
    place_ref(v, "from_location", request.from_location)
    place_ref(v, "to_location", request.to_location)
    if request.from_location and request.from_location == request.to_location:
        v.add("to_location", "must differ from from_location")
    if not 0 < request.quantity <= MAX_STOCK_UNITS:
        v.add("quantity", "must be 1-1e12")
    v.text("note", request.note, max_len=MAX_NOTE, required=False)
    v.raise_if_any()
    return StockTransfer(
        request.request_id,
        request.sku,
        request.from_location,
        request.to_location,
        request.quantity,
        request.note,
    )


@dataclass(frozen=True)
class StockUpdateBatch:
    """A BatchUpdateStock request as stock.update_stock takes it."""

    # Every row, the malformed ones too, so that a row's index stays its index in the request.
    updates: list[StockUpdate]
    # The malformed rows' own refusals (INVALID_FIELDS naming `updates[i].<field>`), by index.
    refused: dict[int, HoldfastError]
    all_or_nothing: bool
    validate_only: bool
    # None with validate_only: nothing is written, so nothing is kept under the request_id.
    record: RequestRecord | None


_MODES = {
    pb.STOCK_UPDATE_MODE_UNSPECIFIED: True,
    pb.STOCK_UPDATE_MODE_ALL_OR_NOTHING: True,
    pb.STOCK_UPDATE_MODE_PER_ROW: False,
}


def batch_update_stock(request: pb.BatchUpdateStockRequest) -> StockUpdateBatch:
    """What is wrong with the request as a whole (request_id, row count, mode, a row naming
    the same SKU and location string as an earlier one) refuses the call; what is wrong
    with one row's own values refuses that row only, so one bad row of an ERP's thousand
    never blocks the others in PER_ROW mode (ALL_OR_NOTHING lists it among the refusals)."""
    v = Violations()
    if request.request_id or not request.validate_only:
        v.request_id("request_id", request.request_id)
    count = len(request.updates)
    if not 0 < count <= MAX_STOCK_UPDATES:
        v.add("updates", f"must have 1-{MAX_STOCK_UPDATES} rows")
    all_or_nothing = _MODES.get(request.mode)
    if all_or_nothing is None:
        v.add("mode", "is not a known stock update mode")
    first_index: dict[tuple[str, str], int] = {}
    for i, row in enumerate(request.updates[:MAX_STOCK_UPDATES]):
        key = (row.sku, row.location or DEFAULT_LOCATION)
        if key in first_index:
            v.add(f"updates[{i}]", f"names the SKU and location of updates[{first_index[key]}] again")
        first_index.setdefault(key, i)
    v.raise_if_any()
    updates, refused = [], {}
    for i, row in enumerate(request.updates):
        update, refusal = _stock_update(f"updates[{i}]", row)
        updates.append(update)
        if refusal is not None:
            refused[i] = refusal
    record = None if request.validate_only else request_record("BatchUpdateStock", request)
    assert all_or_nothing is not None
    return StockUpdateBatch(updates, refused, all_or_nothing, request.validate_only, record)


def _stock_update(field: str, row: pb.StockUpdate) -> tuple[StockUpdate, HoldfastError | None]:
    """One row as the domain takes it, and its refusal when its values are malformed."""
    v = Violations()
    v.sku(f"{field}.sku", row.sku)
    location = _place(v, f"{field}.location", row.location, DEFAULT_LOCATION)
    reason = AdjustmentReason.ADJUST
    if row.reason != pb.ADJUSTMENT_REASON_UNSPECIFIED:
        found = _REASONS.get(row.reason)
        if found is None:
            v.add(f"{field}.reason", "must be ADJUSTMENT_REASON_RECEIVE or ADJUSTMENT_REASON_ADJUST")
        reason = found or reason
    change = row.WhichOneof("change")
    set_on_hand = row.set_on_hand if change == "set_on_hand" else None
    adjust_delta = row.adjust_delta if change == "adjust_delta" else None
    if change is None:
        v.add(f"{field}.set_on_hand", "set exactly one of set_on_hand and adjust_delta")
    elif set_on_hand is not None and not 0 <= set_on_hand <= MAX_STOCK_UNITS:
        v.add(f"{field}.set_on_hand", "must be 0-1e12")
    elif adjust_delta == 0:
        v.add(f"{field}.adjust_delta", "must not be zero")
    elif adjust_delta is not None and abs(adjust_delta) > MAX_STOCK_UNITS:
        v.add(f"{field}.adjust_delta", "must be within ±1e12")
    elif adjust_delta is not None and reason is AdjustmentReason.RECEIVE and adjust_delta < 0:
        v.add(f"{field}.adjust_delta", "must be positive for RECEIVE")
    expected = row.expected_on_hand if row.HasField("expected_on_hand") else None
    if expected is not None and change != "set_on_hand":
        v.add(f"{field}.expected_on_hand", "goes with set_on_hand only")
    elif expected is not None and not 0 <= expected <= MAX_STOCK_UNITS:
        v.add(f"{field}.expected_on_hand", "must be 0-1e12")
    v.text(f"{field}.note", row.note, max_len=MAX_NOTE, required=False)
    update = StockUpdate(row.sku, location, set_on_hand, adjust_delta, expected, reason, row.note)
    return update, invalid_argument(v.items) if v.items else None


def batch_get_stock_levels(request: pb.BatchGetStockLevelsRequest) -> tuple[list[str], str]:
    """The SKUs asked for, first mention order, each once; and the channel (code or id)."""
    return _skus(request.skus, request.channel)


def watch_stock_levels(request: pb.WatchStockLevelsRequest) -> tuple[list[str], str, int | None]:
    """Validated as BatchGetStockLevels (same field names, same limits), and the cursor to
    resume after, if any."""
    v = Violations()
    after = request.after_cursor if request.HasField("after_cursor") else None
    if after is not None and after < 0:
        v.add("after_cursor", "must be 0 or a cursor a stream returned")
    return (*_skus(request.skus, request.channel, v), after)


def stream_stock_events(request: pb.StreamStockEventsRequest) -> tuple[int, EventFilter]:
    """The cursor to stream after, and the filters (each deduplicated, empty for all)."""
    v = Violations()
    if request.after_cursor < 0:
        v.add("after_cursor", "must be 0 or a cursor the stream returned")
    if len(request.skus) > MAX_BATCH_SKUS:
        v.add("skus", f"must name at most {MAX_BATCH_SKUS} SKUs")
    else:
        for i, s in enumerate(request.skus):
            v.sku(f"skus[{i}]", s)
    _places(v, "locations", request.locations)
    _places(v, "channels", request.channels)
    for i, kind in enumerate(request.event_types):
        if kind not in EVENT_TYPES:
            v.add(f"event_types[{i}]", f"must be one of {', '.join(EVENT_TYPES)}")
    v.raise_if_any()
    wanted = EventFilter(
        skus=tuple(dict.fromkeys(request.skus)),
        locations=tuple(dict.fromkeys(request.locations)),
        types=tuple(dict.fromkeys(request.event_types)),
        channels=tuple(dict.fromkeys(request.channels)),
    )
    return request.after_cursor, wanted


def _places(v: Violations, field: str, refs: Sequence[str]) -> None:
    """A filter's location or channel references: at most MAX_EVENT_LOCATIONS, each a code."""
    if len(refs) > MAX_EVENT_LOCATIONS:
        v.add(field, f"must name at most {MAX_EVENT_LOCATIONS} {field}")
        return
    for i, ref in enumerate(refs):
        v.code(f"{field}[{i}]", ref)


def _place(v: Violations, field: str, ref: str, default: str) -> str:
    """A location or channel reference (its code or id, both of the SKU character set), or
    the default when the request leaves it empty."""
    if not ref:
        return default
    v.code(field, ref)
    return ref


def _skus(skus: Sequence[str], channel_ref: str, v: Violations | None = None) -> tuple[list[str], str]:
    v = v or Violations()
    channel = _place(v, "channel", channel_ref, DEFAULT_CHANNEL)
    if not skus:
        v.add("skus", "must name at least one SKU")
    elif len(skus) > MAX_BATCH_SKUS:
        v.add("skus", f"must name at most {MAX_BATCH_SKUS} SKUs")
    else:
        for i, s in enumerate(skus):
            v.sku(f"skus[{i}]", s)
    v.raise_if_any()
    return list(dict.fromkeys(skus)), channel


# ------------------------------------------------------------ catalog import and export


def import_catalog(
    request: pb.ImportCatalogRequest, first_index: int, store_currency: str
) -> list[CatalogRow | HoldfastError]:
    """Each row of a chunk as its domain row, or the refusal of that row alone (INVALID_ARGUMENT
    naming its bad fields as `rows[i]....`, i its number in the import). A chunk that is empty
    or too long refuses the call. A key named twice in one chunk refuses the later rows: a chunk
    is written in one statement per kind, where a key can be written once."""
    if not 0 < len(request.rows) <= MAX_CATALOG_ROWS:
        raise invalid_argument([FieldViolation("rows", f"must hold 1-{MAX_CATALOG_ROWS} rows")])
    first_mention: dict[tuple[str, ...], int] = {}
    rows: list[CatalogRow | HoldfastError] = []
    for offset, row in enumerate(request.rows):
        index = first_index + offset
        v = Violations()
        parsed = _catalog_row(v, f"rows[{index}]", row, store_currency)
        if parsed is not None and not v.items:
            field, key = _natural_key(parsed)
            earlier = first_mention.setdefault(key, index)
            if earlier != index:
                v.add(f"rows[{index}].{field}", f"names what rows[{earlier}] names in the same chunk")
        try:
            v.raise_if_any()
        except HoldfastError as refusal:
            rows.append(refusal)
            continue
        assert parsed is not None
        rows.append(parsed)
    return rows


def _natural_key(row: CatalogRow) -> tuple[str, tuple[str, ...]]:
    """The field naming what a row writes, and a key no other kind's row has."""
    if isinstance(row, LocationRow):
        return "location.code", ("location", row.code)
    if isinstance(row, CategoryRow):
        return "category.path", ("category", *row.path)
    if isinstance(row, ProductRow):
        return "product.handle", ("product", row.handle)
    if isinstance(row, VariantRow):
        return "variant.sku", ("variant", row.sku)
    return "stock", ("stock", row.sku, row.location)


def _catalog_row(v: Violations, field: str, row: pb.CatalogRow, store_currency: str) -> CatalogRow | None:
    kind = row.WhichOneof("row")
    if kind == "location":
        return _location_row(v, f"{field}.location", row.location)
    if kind == "category":
        return CategoryRow(_category_path(v, f"{field}.category.path", row.category.path, required=True))
    if kind == "product":
        return _product_row(v, f"{field}.product", row.product, store_currency)
    if kind == "variant":
        return _variant_row(v, f"{field}.variant", row.variant, store_currency)
    if kind == "stock":
        return _stock_row(v, f"{field}.stock", row.stock)
    v.add(field, "must be one of location, category, product, variant, stock")
    return None


def _location_row(v: Violations, field: str, row: pb.LocationRow) -> LocationRow:
    v.code(f"{field}.code", row.code)
    if row.name:
        v.text(f"{field}.name", row.name, max_len=MAX_NAME)
    active = row.active if row.HasField("active") else True
    return LocationRow(row.code, row.name or row.code, active)


def _category_path(v: Violations, field: str, path: Sequence[str], *, required: bool) -> tuple[str, ...]:
    if required and not path:
        v.add(field, "must name at least the category itself")
    elif len(path) > MAX_CATEGORY_DEPTH:
        v.add(field, f"must be at most {MAX_CATEGORY_DEPTH} levels deep")
    else:
        for i, name in enumerate(path):
            v.text(f"{field}[{i}]", name, max_len=MAX_NAME)
    return tuple(path)


def _product_row(v: Violations, field: str, row: pb.ProductRow, store_currency: str) -> ProductRow:
    v.sku(f"{field}.handle", row.handle)
    v.text(f"{field}.title", row.title, max_len=MAX_NAME)
    v.text(f"{field}.description", row.description, max_len=MAX_DESCRIPTION, required=False)
    path = _category_path(v, f"{field}.category_path", row.category_path, required=False)
    price = None
    if not row.HasField("base_price"):
        v.add(f"{field}.base_price", "is required")
    else:
        price = money_from_proto(
            v, f"{field}.base_price", row.base_price, store_currency=store_currency, allow_negative=False
        )
    minor, currency = (price.minor, price.currency) if price else (0, store_currency)
    return ProductRow(row.handle, row.title, row.description, path, minor, currency)


def _variant_row(v: Violations, field: str, row: pb.VariantRow, store_currency: str) -> VariantRow:
    v.sku(f"{field}.sku", row.sku)
    v.sku(f"{field}.product_handle", row.product_handle)
    if not row.HasField("price_adjustment"):
        return VariantRow(row.sku, row.product_handle, 0, None)
    money = money_from_proto(
        v,
        f"{field}.price_adjustment",
        row.price_adjustment,
        store_currency=store_currency,
        allow_negative=True,
    )
    return VariantRow(row.sku, row.product_handle, money.minor if money else 0, store_currency)


def _stock_row(v: Violations, field: str, row: pb.StockRow) -> StockRow:
    v.sku(f"{field}.sku", row.sku)
    location = _place(v, f"{field}.location", row.location, DEFAULT_LOCATION)
    if not 0 <= row.on_hand <= MAX_STOCK_UNITS:
        v.add(f"{field}.on_hand", "must be 0-1e12")
    return StockRow(row.sku, location, row.on_hand)


def export_catalog(request: pb.ExportCatalogRequest) -> int:
    """Rows per answer: 0 means the most, more is capped to it (AIP-158)."""
    if request.page_size < 0:
        raise invalid_argument([FieldViolation("page_size", "must not be negative")])
    return min(request.page_size or MAX_CATALOG_ROWS, MAX_CATALOG_ROWS)


# ------------------------------------------------------------ states, incoming stock, policies

_STOCK_STATES = {
    pb.STOCK_STATE_AVAILABLE: StockState.AVAILABLE,
    pb.STOCK_STATE_SAFETY_STOCK: StockState.SAFETY_STOCK,
    pb.STOCK_STATE_DAMAGED: StockState.DAMAGED,
    pb.STOCK_STATE_QUALITY_CONTROL: StockState.QUALITY_CONTROL,
}
_POLICY_KINDS = {
    pb.INVENTORY_POLICY_KIND_DENY: PolicyKind.DENY,
    pb.INVENTORY_POLICY_KIND_BACKORDER: PolicyKind.BACKORDER,
    pb.INVENTORY_POLICY_KIND_PREORDER: PolicyKind.PREORDER,
}


def _units(v: Violations, field: str, value: int) -> None:
    if not 0 < value <= MAX_STOCK_UNITS:
        v.add(field, "must be 1-1e12")


def move_stock(request: pb.MoveStockRequest) -> StockMove:
    v = Violations()
    v.request_id("request_id", request.request_id)
    v.sku("sku", request.sku)
    location = _place(v, "location", request.location, DEFAULT_LOCATION)
    states = []
    for field, value in (("from_state", request.from_state), ("to_state", request.to_state)):
        state = _STOCK_STATES.get(value)
        if state is None:
            v.add(field, "must be a StockState other than UNSPECIFIED")
        states.append(state)
    if states[0] is not None and states[0] == states[1]:
        v.add("to_state", "must differ from from_state")
    _units(v, "quantity", request.quantity)
    v.text("note", request.note, max_len=MAX_NOTE, required=False)
    v.raise_if_any()
    from_state, to_state = states
    assert from_state is not None and to_state is not None
    return StockMove(
        request.request_id, request.sku, location, from_state, to_state, request.quantity, request.note
    )


def create_incoming_stock(request: pb.CreateIncomingStockRequest) -> NewReceipt:
    v = Violations()
    v.request_id("request_id", request.request_id)
    v.sku("sku", request.sku)
    location = _place(v, "location", request.location, DEFAULT_LOCATION)
    _units(v, "quantity", request.quantity)
    expected_time = None
    if not request.HasField("expected_time"):
        v.add("expected_time", "is required")
    else:
        expected_time = v.instant("expected_time", request.expected_time)
    v.text("note", request.note, max_len=MAX_NOTE, required=False)
    v.raise_if_any()
    assert expected_time is not None
    return NewReceipt(
        request.request_id, request.sku, location, request.quantity, expected_time, request.note
    )


def receive_stock(request: pb.ReceiveStockRequest) -> ReceiptArrival:
    v = Violations()
    v.request_id("request_id", request.request_id)
    receipt_id = v.uuid("incoming_stock_id", request.incoming_stock_id)
    if request.quantity != 0:
        _units(v, "quantity", request.quantity)
    v.text("note", request.note, max_len=MAX_NOTE, required=False)
    v.raise_if_any()
    assert receipt_id is not None
    return ReceiptArrival(
        request.request_id, receipt_id, request.quantity or None, request.allow_over_receive, request.note
    )


def cancel_incoming_stock(request: pb.CancelIncomingStockRequest) -> str:
    return resource_id(request.incoming_stock_id, field="incoming_stock_id", request_id=request.request_id)


@dataclass(frozen=True)
class IncomingListing:
    sku: str
    location: str | None
    open_only: bool
    query: PageQuery


def list_incoming_stock(request: pb.ListIncomingStockRequest, pages: PageTokens) -> IncomingListing:
    v = Violations()
    v.sku("sku", request.sku)
    location = _place(v, "location", request.location, "") or None
    query = {
        "list": "incoming_stock",
        "sku": request.sku,
        "location": request.location,
        "open_only": request.open_only,
    }
    page = pages.parse(v, request.page_size, request.page_token, query)
    v.raise_if_any()
    return IncomingListing(request.sku, location, request.open_only, PageQuery(page, query))


def set_inventory_policy(
    request: pb.SetInventoryPolicyRequest, now: datetime | None = None
) -> InventoryPolicy:
    """Limits 0-1e12; a PREORDER needs an end time in the future (`now`: the clock, for tests)."""
    v = Violations()
    v.request_id("request_id", request.request_id)
    policy = request.policy
    v.sku("policy.sku", policy.sku)
    location = _place(v, "policy.location", policy.location, "") or None
    kind = _POLICY_KINDS.get(policy.kind)
    if kind is None:
        v.add("policy.kind", "must be DENY, BACKORDER or PREORDER")
    for field, value in (
        ("policy.backorder_limit", policy.backorder_limit),
        ("policy.preorder_limit", policy.preorder_limit),
    ):
        if not 0 <= value <= MAX_STOCK_UNITS:
            v.add(field, "must be 0-1e12")
    end_time = None
    if policy.HasField("preorder_end_time"):
        end_time = v.instant("policy.preorder_end_time", policy.preorder_end_time)
        if end_time is not None and end_time <= (now or datetime.now(UTC)):
            v.add("policy.preorder_end_time", "must be in the future")
    elif kind is PolicyKind.PREORDER:
        v.add("policy.preorder_end_time", "is required for PREORDER")
    v.raise_if_any()
    assert kind is not None
    return InventoryPolicy(
        policy.sku, location, kind, policy.backorder_limit, policy.preorder_limit, end_time
    )


def set_stock_threshold(request: pb.SetStockThresholdRequest) -> StockThreshold:
    """low_stock_at 0-1e12; the location or the channel (never both) by code or id, or
    neither for the variant's default."""
    v = Violations()
    v.request_id("request_id", request.request_id)
    threshold = request.threshold
    v.sku("threshold.sku", threshold.sku)
    location = _place(v, "threshold.location", threshold.location, "") or None
    channel = _place(v, "threshold.channel", threshold.channel, "") or None
    if location and channel:
        v.add("threshold.channel", "must be empty when threshold.location is set (one or the other)")
    if not 0 <= threshold.low_stock_at <= MAX_STOCK_UNITS:
        v.add("threshold.low_stock_at", "must be 0-1e12")
    v.raise_if_any()
    return StockThreshold(threshold.sku, location, threshold.low_stock_at, channel=channel)


def get_inventory_policy(request: pb.GetInventoryPolicyRequest) -> str:
    v = Violations()
    v.sku("sku", request.sku)
    v.raise_if_any()
    return request.sku
