"""InventoryService: protobuf in, domain calls, protobuf out; errors become rich statuses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
from holdfast.inventory.v1 import inventory_pb2 as pb
from holdfast.inventory.v1 import inventory_pb2_grpc as pb_grpc

from holdfast_common.db.idempotency import request_record
from holdfast_common.db.pool import AsyncPool
from holdfast_common.rpc.status import translate_errors
from holdfast_common.settings import InventoryServiceSettings
from holdfast_common.values.pagination import PageTokens
from inventory_svc import convert, event_feed, validation
from inventory_svc.catalog import Catalog
from inventory_svc.catalog_export import export_catalog
from inventory_svc.catalog_import import import_chunk
from inventory_svc.event_feed import EventFeed, resolve_filter
from inventory_svc.holds import Holds
from inventory_svc.listener import listener_connect
from inventory_svc.models import DEFAULT_CHANNEL, ImportSummary
from inventory_svc.places import Places
from inventory_svc.pricing_client import PricingClient
from inventory_svc.stock import (
    adjust,
    cancel_receipt,
    create_receipt,
    get_levels,
    get_policies,
    list_receipts,
    move_stock,
    receive_stock,
    resolve_channel,
    set_policy,
    set_threshold,
    transfer,
    update_stock,
)
from inventory_svc.stock_events import APPLICATION_NAME, StockEvents

ERROR_DOMAIN = "holdfast.inventory"
Ctx = grpc.aio.ServicerContext


@translate_errors(ERROR_DOMAIN)
class InventoryServicer(pb_grpc.InventoryServiceServicer):
    def __init__(self, pool: AsyncPool, settings: InventoryServiceSettings, pricing: PricingClient) -> None:
        self._settings = settings
        self._catalog = Catalog(pool)
        self._holds = Holds(pool, settings.holds, pricing)
        self._places = Places(pool)
        self._pool = pool
        # One LISTEN connection for every WatchStockLevels stream of the process.
        self.stock_events = StockEvents(
            listener_connect(settings.database, APPLICATION_NAME), lambda skus: get_levels(pool, skus)
        )
        self._event_messages = convert.StockEventMessages()
        # The sequencer and the wake-ups of every StreamStockEvents stream; started by the server.
        self.event_feed = EventFeed(
            pool,
            listener_connect(settings.database, event_feed.APPLICATION_NAME),
            settings.events.event_sequencer_interval_seconds,
        )
        self._pages = PageTokens(
            settings.server.page_token_secret,
            default_size=settings.server.default_page_size,
            max_size=settings.server.max_page_size,
        )

    async def close(self) -> None:
        """Stops taking holds into batches (after in-flight calls have finished)."""
        await self._holds.close()

    # ------------------------------------------------------------ catalog

    async def CreateCategory(self, request: pb.CreateCategoryRequest, context: Ctx) -> Any:
        new, record = validation.create_category(request)
        created = await self._catalog.create_category(new, record)
        return pb.CreateCategoryResponse(category=convert.category(created))

    async def ListCategories(self, request: pb.ListCategoriesRequest, context: Ctx) -> Any:
        listing = validation.list_categories(request, self._pages)
        items, after = await self._catalog.list_categories(listing.page)
        return pb.ListCategoriesResponse(
            categories=[convert.category(c) for c in items],
            next_page_token=self._pages.next_token(after, listing.query),
        )

    async def CreateProduct(self, request: pb.CreateProductRequest, context: Ctx) -> Any:
        new, record = validation.create_product(request, self._settings.server.store_currency)
        created = await self._catalog.create_product(new, record)
        return pb.CreateProductResponse(product=convert.product(created))

    async def GetProduct(self, request: pb.GetProductRequest, context: Ctx) -> Any:
        product = await self._catalog.get_product(validation.get_product(request))
        return pb.GetProductResponse(product=convert.product(product))

    async def ListProducts(self, request: pb.ListProductsRequest, context: Ctx) -> Any:
        category_id, listing = validation.list_products(request, self._pages)
        items, after = await self._catalog.list_products(category_id, listing.page)
        return pb.ListProductsResponse(
            products=[convert.product(p) for p in items],
            next_page_token=self._pages.next_token(after, listing.query),
        )

    async def CreateVariant(self, request: pb.CreateVariantRequest, context: Ctx) -> Any:
        new, record = validation.create_variant(request, self._settings.server.store_currency)
        variant, level = await self._catalog.create_variant(new, record)
        return pb.CreateVariantResponse(
            variant=convert.variant(variant), stock_level=convert.stock_level(level)
        )

    async def GetVariant(self, request: pb.GetVariantRequest, context: Ctx) -> Any:
        variant_id, sku = validation.get_variant(request)
        variant = await self._catalog.get_variant(variant_id=variant_id, sku=sku)
        route = await resolve_channel(self._pool, DEFAULT_CHANNEL)
        (levels,) = await get_levels(self._pool, [variant.sku])
        return pb.GetVariantResponse(
            variant=convert.variant(variant), stock_level=convert.stock_level(levels.total(route))
        )

    async def ListVariants(self, request: pb.ListVariantsRequest, context: Ctx) -> Any:
        product_id, listing = validation.list_variants(request, self._pages)
        items, after = await self._catalog.list_variants(product_id, listing.page)
        return pb.ListVariantsResponse(
            variants=[convert.variant(x) for x in items],
            next_page_token=self._pages.next_token(after, listing.query),
        )

    # ------------------------------------------------------------ locations and channels

    async def CreateLocation(self, request: pb.CreateLocationRequest, context: Ctx) -> Any:
        new, record = validation.create_location(request)
        created = await self._places.create_location(new, record)
        return pb.CreateLocationResponse(location=convert.location(created))

    async def GetLocation(self, request: pb.GetLocationRequest, context: Ctx) -> Any:
        location = await self._places.get_location(validation.get_location(request))
        return pb.GetLocationResponse(location=convert.location(location))

    async def ListLocations(self, request: pb.ListLocationsRequest, context: Ctx) -> Any:
        listing = validation.list_locations(request, self._pages)
        items, after = await self._places.list_locations(listing.page)
        return pb.ListLocationsResponse(
            locations=[convert.location(x) for x in items],
            next_page_token=self._pages.next_token(after, listing.query),
        )

    async def UpdateLocation(self, request: pb.UpdateLocationRequest, context: Ctx) -> Any:
        target, change, record = validation.update_location(request)
        updated = await self._places.update_location(target, change, record)
        return pb.UpdateLocationResponse(location=convert.location(updated))

    async def CreateChannel(self, request: pb.CreateChannelRequest, context: Ctx) -> Any:
        new, record = validation.create_channel(request)
        created = await self._places.create_channel(new, record)
        return pb.CreateChannelResponse(channel=convert.channel(created))

    async def GetChannel(self, request: pb.GetChannelRequest, context: Ctx) -> Any:
        channel = await self._places.get_channel(validation.get_channel(request))
        return pb.GetChannelResponse(channel=convert.channel(channel))

    async def ListChannels(self, request: pb.ListChannelsRequest, context: Ctx) -> Any:
        listing = validation.list_channels(request, self._pages)
        items, after = await self._places.list_channels(listing.page)
        return pb.ListChannelsResponse(
            channels=[convert.channel(x) for x in items],
            next_page_token=self._pages.next_token(after, listing.query),
        )

    async def UpdateChannel(self, request: pb.UpdateChannelRequest, context: Ctx) -> Any:
        target, change, record = validation.update_channel(request)
        updated = await self._places.update_channel(target, change, record)
        return pb.UpdateChannelResponse(channel=convert.channel(updated))

    # ------------------------------------------------------------ stock

    async def AdjustStock(self, request: pb.AdjustStockRequest, context: Ctx) -> Any:
        adjustment = validation.adjust_stock(request)
        level = await adjust(self._pool, adjustment, request_record("AdjustStock", request))
        return pb.AdjustStockResponse(stock_level=convert.stock_level(level))

    async def TransferStock(self, request: pb.TransferStockRequest, context: Ctx) -> Any:
        move = validation.transfer_stock(request)
        source, target = await transfer(self._pool, move, request_record("TransferStock", request))
        return pb.TransferStockResponse(
            from_level=convert.stock_level(source), to_level=convert.stock_level(target)
        )

    async def BatchUpdateStock(self, request: pb.BatchUpdateStockRequest, context: Ctx) -> Any:
        batch = validation.batch_update_stock(request)
        results = await update_stock(
            self._pool,
            batch.updates,
            all_or_nothing=batch.all_or_nothing,
            validate_only=batch.validate_only,
            record=batch.record,
            refused=batch.refused,
        )
        return convert.stock_update_results(results, ERROR_DOMAIN)

    async def MoveStock(self, request: pb.MoveStockRequest, context: Ctx) -> Any:
        move = validation.move_stock(request)
        level = await move_stock(self._pool, move, request_record("MoveStock", request))
        return pb.MoveStockResponse(stock_level=convert.stock_level(level))

    # ------------------------------------------------------------ incoming stock and policies

    async def CreateIncomingStock(self, request: pb.CreateIncomingStockRequest, context: Ctx) -> Any:
        new = validation.create_incoming_stock(request)
        receipt, level = await create_receipt(self._pool, new, request_record("CreateIncomingStock", request))
        return pb.CreateIncomingStockResponse(
            incoming_stock=convert.incoming_stock(receipt), stock_level=convert.stock_level(level)
        )

    async def ReceiveStock(self, request: pb.ReceiveStockRequest, context: Ctx) -> Any:
        arrival = validation.receive_stock(request)
        receipt, level = await receive_stock(self._pool, arrival, request_record("ReceiveStock", request))
        return pb.ReceiveStockResponse(
            incoming_stock=convert.incoming_stock(receipt), stock_level=convert.stock_level(level)
        )

    async def CancelIncomingStock(self, request: pb.CancelIncomingStockRequest, context: Ctx) -> Any:
        receipt_id = validation.cancel_incoming_stock(request)
        receipt, level = await cancel_receipt(
            self._pool, receipt_id, request_record("CancelIncomingStock", request)
        )
        return pb.CancelIncomingStockResponse(
            incoming_stock=convert.incoming_stock(receipt), stock_level=convert.stock_level(level)
        )

    async def ListIncomingStock(self, request: pb.ListIncomingStockRequest, context: Ctx) -> Any:
        listing = validation.list_incoming_stock(request, self._pages)
        items, after = await list_receipts(
            self._pool, listing.sku, listing.location, listing.open_only, listing.query.page
        )
        return pb.ListIncomingStockResponse(
            incoming_stock=[convert.incoming_stock(x) for x in items],
            next_page_token=self._pages.next_token(after, listing.query.query),
        )

    async def SetInventoryPolicy(self, request: pb.SetInventoryPolicyRequest, context: Ctx) -> Any:
        policy = validation.set_inventory_policy(request)
        saved = await set_policy(self._pool, policy, request_record("SetInventoryPolicy", request))
        return pb.SetInventoryPolicyResponse(policy=convert.inventory_policy(saved))

    async def SetStockThreshold(self, request: pb.SetStockThresholdRequest, context: Ctx) -> Any:
        threshold = validation.set_stock_threshold(request)
        saved = await set_threshold(self._pool, threshold, request_record("SetStockThreshold", request))
        return pb.SetStockThresholdResponse(threshold=convert.stock_threshold(saved))

    async def GetInventoryPolicy(self, request: pb.GetInventoryPolicyRequest, context: Ctx) -> Any:
        default, overrides = await get_policies(self._pool, validation.get_inventory_policy(request))
        return pb.GetInventoryPolicyResponse(
            default_policy=convert.inventory_policy(default),
            location_policies=[convert.inventory_policy(p) for p in overrides],
        )

    async def BatchGetStockLevels(self, request: pb.BatchGetStockLevelsRequest, context: Ctx) -> Any:
        skus, channel = validation.batch_get_stock_levels(request)
        route = await resolve_channel(self._pool, channel)
        levels = await get_levels(self._pool, skus)
        return pb.BatchGetStockLevelsResponse(
            levels=[convert.stock_level(x.total(route)) for x in levels],
            location_levels=convert.location_levels(levels),
        )

    async def WatchStockLevels(
        self, request: pb.WatchStockLevelsRequest, context: Ctx
    ) -> AsyncIterator[pb.WatchStockLevelsResponse]:
        skus, channel, after = validation.watch_stock_levels(request)
        # The channel's locations as the stream starts; its totals are sums over those.
        route = await resolve_channel(self._pool, channel)
        if after is not None:
            await get_levels(self._pool, skus)  # NOT_FOUND before any message
            # Levels re-read after their events were read reflect them: only the last message
            # of a batch carries its cursor, the others the one before.
            resumed = after
            async for changed, cursor in self.event_feed.changed_skus(after, skus):
                found = await get_levels(self._pool, changed) if changed else []
                for n, level in enumerate(found):
                    yield pb.WatchStockLevelsResponse(
                        stock_level=convert.stock_level(level.total(route)),
                        location_levels=convert.location_levels([level]),
                        cursor=cursor if n == len(found) - 1 else resumed,
                    )
                if not found:
                    yield pb.WatchStockLevelsResponse(cursor=cursor)
                resumed = cursor
            return
        async with self.stock_events.watch(skus) as subscription:
            while True:
                for levels in await subscription.next():
                    yield pb.WatchStockLevelsResponse(
                        stock_level=convert.stock_level(levels.total(route)),
                        location_levels=convert.location_levels([levels]),
                    )

    async def StreamStockEvents(
        self, request: pb.StreamStockEventsRequest, context: Ctx
    ) -> AsyncIterator[pb.StreamStockEventsResponse]:
        after, wanted = validation.stream_stock_events(request)
        wanted = await resolve_filter(self._pool, wanted)
        async for events, cursor in self.event_feed.stream(after, wanted):
            yield self._event_messages.of(events, cursor)

    # ------------------------------------------------------------ catalog import and export

    async def ImportCatalog(
        self, request_iterator: AsyncIterator[pb.ImportCatalogRequest], context: Ctx
    ) -> AsyncIterator[pb.ImportCatalogResponse]:
        # Each chunk is answered once written, before the next is read: the caller sees its
        # progress, and after an interruption knows which rows are in.
        summary = ImportSummary()
        store_currency = self._settings.server.store_currency
        async for request in request_iterator:
            rows = validation.import_catalog(request, summary.rows, store_currency)
            results = await import_chunk(self._pool, summary.rows, rows)
            summary.add(results)
            yield pb.ImportCatalogResponse(
                results=[convert.import_row_result(r, ERROR_DOMAIN) for r in results]
            )
        yield pb.ImportCatalogResponse(summary=convert.import_summary(summary))

    async def ExportCatalog(
        self, request: pb.ExportCatalogRequest, context: Ctx
    ) -> AsyncIterator[pb.ExportCatalogResponse]:
        page_size = validation.export_catalog(request)
        # Half the message limit: a page of long product descriptions still gets through.
        max_bytes = self._settings.server.grpc_max_message_bytes // 2
        async for page in export_catalog(self._pool, page_size):
            for rows in convert.catalog_pages(page, max_bytes):
                yield pb.ExportCatalogResponse(rows=rows)

    # ------------------------------------------------------------ holds

    async def CreateHold(self, request: pb.CreateHoldRequest, context: Ctx) -> Any:
        new = validation.create_hold(request, self._settings.holds)
        hold = await self._holds.create(new, request_record("CreateHold", request))
        return pb.CreateHoldResponse(hold=convert.hold(hold))

    async def GetHold(self, request: pb.GetHoldRequest, context: Ctx) -> Any:
        hold = await self._holds.get(validation.get_hold(request))
        return pb.GetHoldResponse(hold=convert.hold(hold))

    async def ListHolds(self, request: pb.ListHoldsRequest, context: Ctx) -> Any:
        owner_id, state, listing = validation.list_holds(request, self._pages)
        items, after = await self._holds.list(owner_id, state, listing.page)
        return pb.ListHoldsResponse(
            holds=[convert.hold(h) for h in items],
            next_page_token=self._pages.next_token(after, listing.query),
        )

    async def ExtendHold(self, request: pb.ExtendHoldRequest, context: Ctx) -> Any:
        hold_id, ttl = validation.extend_hold(request, self._settings.holds)
        hold = await self._holds.extend(hold_id, ttl, request_record("ExtendHold", request))
        return pb.ExtendHoldResponse(hold=convert.hold(hold))

    async def ReleaseHold(self, request: pb.ReleaseHoldRequest, context: Ctx) -> Any:
        hold_id = validation.release_hold(request)
        hold = await self._holds.release(hold_id, request_record("ReleaseHold", request))
        return pb.ReleaseHoldResponse(hold=convert.hold(hold))

    async def CommitHold(self, request: pb.CommitHoldRequest, context: Ctx) -> Any:
        hold_id = validation.commit_hold(request)
        hold = await self._holds.commit(hold_id, request_record("CommitHold", request))
        return pb.CommitHoldResponse(hold=convert.hold(hold))
