"""InventoryService: protobuf in, domain calls, protobuf out; errors become rich statuses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
from holdfast.inventory.v1 import inventory_pb2 as pb
from holdfast.inventory.v1 import inventory_pb2_grpc as pb_grpc

from holdfast_common.db.idempotency import request_record
from holdfast_common.db.pool import AsyncPool
from holdfast_common.errors import HoldfastError
from holdfast_common.rpc.status import translate_errors
from holdfast_common.settings import InventoryServiceSettings
from holdfast_common.values.money import money_from_proto
from holdfast_common.values.pagination import PageTokens
from holdfast_common.values.validation import Violations, resource_id
from inventory_svc import convert, requests
from inventory_svc.catalog import Catalog
from inventory_svc.holds import Holds
from inventory_svc.pricing_client import PricingClient
from inventory_svc.stock import adjust, get_levels
from inventory_svc.stock_events import StockEvents, listener_connect

ERROR_DOMAIN = "holdfast.inventory"
Ctx = grpc.aio.ServicerContext


@translate_errors(ERROR_DOMAIN)
class InventoryServicer(pb_grpc.InventoryServiceServicer):
    def __init__(self, pool: AsyncPool, settings: InventoryServiceSettings, pricing: PricingClient) -> None:
        self._settings = settings
        self._pricing = pricing
        self._catalog = Catalog(pool)
        self._holds = Holds(pool, settings.holds)
        self._pool = pool
        # One LISTEN connection for every WatchStockLevels stream of the process.
        self.stock_events = StockEvents(
            listener_connect(settings.database), lambda skus: get_levels(pool, skus)
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
        v = Violations()
        v.text("name", request.name, max_len=requests.MAX_NAME)
        parent_id = v.uuid("parent_id", request.parent_id, required=False)
        record = requests.optional_record(v, "CreateCategory", request)
        v.raise_if_any()
        created = await self._catalog.create_category(request.name, parent_id, record)
        return pb.CreateCategoryResponse(category=convert.category(created))

    async def ListCategories(self, request: pb.ListCategoriesRequest, context: Ctx) -> Any:
        v = Violations()
        page = self._pages.parse(v, request.page_size, request.page_token, {"list": "categories"})
        v.raise_if_any()
        items, after = await self._catalog.list_categories(page)
        return pb.ListCategoriesResponse(
            categories=[convert.category(c) for c in items],
            next_page_token=self._pages.encode([after], {"list": "categories"}) if after else "",
        )

    async def CreateProduct(self, request: pb.CreateProductRequest, context: Ctx) -> Any:
        v = Violations()
        v.text("title", request.title, max_len=requests.MAX_NAME)
        v.text("description", request.description, max_len=requests.MAX_DESCRIPTION, required=False)
        category_id = v.uuid("category_id", request.category_id, required=False)
        record = requests.optional_record(v, "CreateProduct", request)
        price = None
        if not request.HasField("base_price"):
            v.add("base_price", "is required")
        else:
            price = money_from_proto(
                v,
                "base_price",
                request.base_price,
                store_currency=self._settings.server.store_currency,
                allow_negative=False,
            )
        v.raise_if_any()
        assert price is not None
        created = await self._catalog.create_product(
            request.title, request.description, category_id, price.minor, price.currency, record
        )
        return pb.CreateProductResponse(product=convert.product(created))

    async def GetProduct(self, request: pb.GetProductRequest, context: Ctx) -> Any:
        v = Violations()
        product_id = v.uuid("id", request.id)
        v.raise_if_any()
        assert product_id is not None
        return pb.GetProductResponse(product=convert.product(await self._catalog.get_product(product_id)))

    async def ListProducts(self, request: pb.ListProductsRequest, context: Ctx) -> Any:
        v = Violations()
        category_id = v.uuid("category_id", request.category_id, required=False)
        query = {"list": "products", "category_id": category_id}
        page = self._pages.parse(v, request.page_size, request.page_token, query)
        v.raise_if_any()
        items, after = await self._catalog.list_products(category_id, page)
        return pb.ListProductsResponse(
            products=[convert.product(p) for p in items],
            next_page_token=self._pages.encode([after], query) if after else "",
        )

    async def CreateVariant(self, request: pb.CreateVariantRequest, context: Ctx) -> Any:
        v = Violations()
        product_id = v.uuid("product_id", request.product_id)
        v.sku("sku", request.sku)
        adjustment = 0
        if request.HasField("price_adjustment"):
            money = money_from_proto(
                v,
                "price_adjustment",
                request.price_adjustment,
                store_currency=self._settings.server.store_currency,
                allow_negative=True,
            )
            adjustment = money.minor if money else 0
        if not 0 <= request.initial_on_hand <= 10**12:
            v.add("initial_on_hand", "must be 0-1e12")
        record = requests.optional_record(v, "CreateVariant", request)
        v.raise_if_any()
        assert product_id is not None
        variant, level = await self._catalog.create_variant(
            product_id, request.sku, adjustment, request.initial_on_hand, record
        )
        return pb.CreateVariantResponse(
            variant=convert.variant(variant), stock_level=convert.stock_level(level)
        )

    async def GetVariant(self, request: pb.GetVariantRequest, context: Ctx) -> Any:
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
        variant = await self._catalog.get_variant(variant_id=variant_id, sku=request.sku or None)
        (level,) = await get_levels(self._pool, [variant.sku])
        return pb.GetVariantResponse(variant=convert.variant(variant), stock_level=convert.stock_level(level))

    async def ListVariants(self, request: pb.ListVariantsRequest, context: Ctx) -> Any:
        v = Violations()
        product_id = v.uuid("product_id", request.product_id)
        query = {"list": "variants", "product_id": product_id}
        page = self._pages.parse(v, request.page_size, request.page_token, query)
        v.raise_if_any()
        assert product_id is not None
        items, after = await self._catalog.list_variants(product_id, page)
        return pb.ListVariantsResponse(
            variants=[convert.variant(x) for x in items],
            next_page_token=self._pages.encode([after], query) if after else "",
        )

    # ------------------------------------------------------------ stock

    async def AdjustStock(self, request: pb.AdjustStockRequest, context: Ctx) -> Any:
        adjustment = requests.adjust_stock(request)
        level = await adjust(self._pool, adjustment, request_record("AdjustStock", request))
        return pb.AdjustStockResponse(stock_level=convert.stock_level(level))

    async def BatchGetStockLevels(self, request: pb.BatchGetStockLevelsRequest, context: Ctx) -> Any:
        levels = await get_levels(self._pool, requests.batch_skus(request))
        return pb.BatchGetStockLevelsResponse(levels=[convert.stock_level(x) for x in levels])

    async def WatchStockLevels(
        self, request: pb.WatchStockLevelsRequest, context: Ctx
    ) -> AsyncIterator[pb.WatchStockLevelsResponse]:
        # Validated exactly as BatchGetStockLevels: same field names, same limits.
        skus = requests.batch_skus(pb.BatchGetStockLevelsRequest(skus=request.skus))
        async with self.stock_events.watch(skus) as subscription:
            while True:
                for level in await subscription.next():
                    yield pb.WatchStockLevelsResponse(stock_level=convert.stock_level(level))

    # ------------------------------------------------------------ holds

    async def CreateHold(self, request: pb.CreateHoldRequest, context: Ctx) -> Any:
        new = requests.create_hold(request, self._settings.holds)
        record = request_record("CreateHold", request)
        prices = None
        if new.customer_tier is not None:
            # Quote before the transaction: no lock is ever held while pricing answers.
            try:
                prices = await self._pricing.lock_prices(new.lines, new.customer_tier)
            except HoldfastError:
                # A retry of a hold already made still gets its first answer while
                # pricing is down or now refuses the cart.
                replay = await self._holds.replay(record)
                if replay is None:
                    raise
                return pb.CreateHoldResponse(hold=convert.hold(replay))
        hold = await self._holds.create(new, record, prices)
        return pb.CreateHoldResponse(hold=convert.hold(hold))

    async def GetHold(self, request: pb.GetHoldRequest, context: Ctx) -> Any:
        hold_id = resource_id(request.id)
        return pb.GetHoldResponse(hold=convert.hold(await self._holds.get(hold_id)))

    async def ListHolds(self, request: pb.ListHoldsRequest, context: Ctx) -> Any:
        v, state = requests.list_holds_filter(request)
        query = {"list": "holds", "owner_id": request.owner_id, "state": int(request.state)}
        page = self._pages.parse(v, request.page_size, request.page_token, query)
        v.raise_if_any()
        items, after = await self._holds.list(request.owner_id, state, page)
        return pb.ListHoldsResponse(
            holds=[convert.hold(h) for h in items],
            next_page_token=self._pages.encode([after], query) if after else "",
        )

    async def ExtendHold(self, request: pb.ExtendHoldRequest, context: Ctx) -> Any:
        hold_id, ttl = requests.extend_hold(request, self._settings.holds)
        hold = await self._holds.extend(hold_id, ttl, request_record("ExtendHold", request))
        return pb.ExtendHoldResponse(hold=convert.hold(hold))

    async def ReleaseHold(self, request: pb.ReleaseHoldRequest, context: Ctx) -> Any:
        hold_id = resource_id(request.hold_id, field="hold_id", request_id=request.request_id)
        hold = await self._holds.release(hold_id, request_record("ReleaseHold", request))
        return pb.ReleaseHoldResponse(hold=convert.hold(hold))

    async def CommitHold(self, request: pb.CommitHoldRequest, context: Ctx) -> Any:
        hold_id = resource_id(request.hold_id, field="hold_id", request_id=request.request_id)
        hold = await self._holds.commit(hold_id, request_record("CommitHold", request))
        return pb.CommitHoldResponse(hold=convert.hold(hold))
