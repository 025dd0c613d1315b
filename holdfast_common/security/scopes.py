"""The scope each RPC needs when auth is on: reads need `<service>:read`; writes need
inventory:write or pricing:admin. A method missing here is refused (fail closed), and
tests/integration/test_auth.py walks the service descriptors to prove none is missing."""

from __future__ import annotations

INVENTORY_READ = "inventory:read"
INVENTORY_WRITE = "inventory:write"
PRICING_READ = "pricing:read"
PRICING_ADMIN = "pricing:admin"
SCOPES = frozenset({INVENTORY_READ, INVENTORY_WRITE, PRICING_READ, PRICING_ADMIN})

_INVENTORY = "/holdfast.inventory.v1.InventoryService/"
_PRICING = "/holdfast.pricing.v1.PricingService/"

METHOD_SCOPES: dict[str, str] = {
    **{
        _INVENTORY + name: INVENTORY_READ
        for name in (
            "ListCategories",
            "GetProduct",
            "ListProducts",
            "GetVariant",
            "ListVariants",
            "GetLocation",
            "ListLocations",
            "GetChannel",
            "ListChannels",
            "BatchGetStockLevels",
            "WatchStockLevels",
            "StreamStockEvents",
            "ExportCatalog",
            "ListIncomingStock",
            "GetInventoryPolicy",
            "GetHold",
            "ListHolds",
        )
    },
    **{
        _INVENTORY + name: INVENTORY_WRITE
        for name in (
            "CreateCategory",
            "CreateProduct",
            "CreateVariant",
            "CreateLocation",
            "UpdateLocation",
            "CreateChannel",
            "UpdateChannel",
            "AdjustStock",
            "TransferStock",
            "BatchUpdateStock",
            "MoveStock",
            "CreateIncomingStock",
            "ReceiveStock",
            "CancelIncomingStock",
            "SetInventoryPolicy",
            "SetStockThreshold",
            "ImportCatalog",
            "CreateHold",
            "ExtendHold",
            "ReleaseHold",
            "CommitHold",
        )
    },
    **{
        _PRICING + name: PRICING_READ
        for name in ("QuotePrice", "QuoteCart", "BatchQuoteCarts", "GetPriceRule", "ListPriceRules")
    },
    **{_PRICING + name: PRICING_ADMIN for name in ("CreatePriceRule", "UpdatePriceRule", "DeletePriceRule")},
}
