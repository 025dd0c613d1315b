"""`make seed`: a small demo catalog with stock and price rules of every stage, over gRPC.

Runs against the services `make run` started (INVENTORY_LISTEN / PRICING_LISTEN); a second
run finds the demo SKUs and changes nothing.
"""

from __future__ import annotations

import sys
import uuid
from datetime import UTC, datetime

import grpc
from google.type import money_pb2
from holdfast.inventory.v1 import inventory_pb2 as ipb
from holdfast.inventory.v1 import inventory_pb2_grpc
from holdfast.pricing.v1 import pricing_pb2 as ppb
from holdfast.pricing.v1 import pricing_pb2_grpc

from holdfast_common.rpc.channels import bearer, open_channel
from holdfast_common.security.tls import SecurityConfigError
from holdfast_common.settings import ClientSettings
from holdfast_common.values.money import Money
from holdfast_common.values.timestamps import timestamp

# Product title, category path, base price in cents, and (sku, adjustment in cents, on hand).
CATALOG = [
    (
        "Alpine shell jacket",
        ("Outdoor", "Outerwear", "Jackets"),
        5990,
        [("JKT-ALPINE-M-RED", -500, 200), ("JKT-ALPINE-L-BLUE", 0, 120)],
    ),
    ("Merino beanie", ("Outdoor", "Accessories"), 1999, [("BEANIE-MERINO-GREY", 0, 500)]),
]
SALE_START = datetime(2026, 11, 27, tzinfo=UTC)
SALE_END = datetime(2026, 12, 1, tzinfo=UTC)


def _usd(cents: int) -> money_pb2.Money:
    return Money(cents, "USD").to_proto()


class Seeder:
    def __init__(self, settings: ClientSettings) -> None:
        server, security = settings.server, settings.security
        channel = open_channel(server.inventory_listen, security)
        self._inventory = inventory_pb2_grpc.InventoryServiceStub(channel)
        self._pricing = pricing_pb2_grpc.PricingServiceStub(open_channel(server.pricing_listen, security))
        # With auth on, CLIENT_TOKEN needs inventory:write and pricing:admin.
        self._auth = bearer(security.client_token)
        self._categories: dict[tuple[str, str], str] = {}

    def already_seeded(self) -> bool:
        try:
            self._inventory.GetVariant(
                ipb.GetVariantRequest(sku=CATALOG[0][3][0][0]), timeout=10, metadata=self._auth
            )
        except grpc.RpcError as error:
            if error.code() == grpc.StatusCode.NOT_FOUND:
                return False
            raise
        return True

    def category(self, path: tuple[str, ...]) -> str:
        """The id of the last category of `path`, creating the missing ones."""
        parent = ""
        for name in path:
            key = (parent, name)
            if key not in self._categories:
                request = ipb.CreateCategoryRequest(name=name, parent_id=parent)
                self._categories[key] = self._inventory.CreateCategory(
                    request, metadata=self._auth
                ).category.id
            parent = self._categories[key]
        return parent

    def products(self) -> dict[str, str]:
        """Creates the catalog; returns product ids by title."""
        ids = {}
        for title, path, price, variants in CATALOG:
            request = ipb.CreateProductRequest(
                title=title, category_id=self.category(path), base_price=_usd(price)
            )
            product_id = self._inventory.CreateProduct(request, metadata=self._auth).product.id
            ids[title] = product_id
            for sku, adjustment, on_hand in variants:
                self._inventory.CreateVariant(
                    ipb.CreateVariantRequest(
                        product_id=product_id,
                        sku=sku,
                        price_adjustment=_usd(adjustment),
                        initial_on_hand=on_hand,
                    ),
                    metadata=self._auth,
                )
                print(f"seed: {sku} ({title}), {on_hand} on hand", flush=True)
        return ids

    def rules(self, product_ids: dict[str, str]) -> None:
        jacket = product_ids["Alpine shell jacket"]
        rules = [
            ppb.PriceRule(
                name="Black Friday",
                stage=ppb.PRICE_STAGE_SEASONAL,
                percent_off_bps=2000,
                start_time=timestamp(SALE_START),
                end_time=timestamp(SALE_END),
                category_id=self.category(("Outdoor",)),
            ),
            ppb.PriceRule(
                name="10+ jackets",
                stage=ppb.PRICE_STAGE_BULK,
                percent_off_bps=500,
                min_quantity=10,
                product_id=jacket,
            ),
            ppb.PriceRule(
                name="50+ jackets",
                stage=ppb.PRICE_STAGE_BULK,
                percent_off_bps=1000,
                min_quantity=50,
                product_id=jacket,
            ),
            ppb.PriceRule(
                name="Gold members",
                stage=ppb.PRICE_STAGE_TIER,
                amount_off=_usd(200),
                customer_tier="gold",
                all_skus=True,
            ),
        ]
        for rule in rules:
            request = ppb.CreatePriceRuleRequest(request_id=str(uuid.uuid4()), rule=rule)
            created = self._pricing.CreatePriceRule(request, metadata=self._auth).rule
            print(
                f"seed: rule {created.name!r} ({ppb.PriceStage.Name(created.stage)}) {created.id}", flush=True
            )


def main() -> int:
    settings = ClientSettings.from_environment()
    try:
        seeder = Seeder(settings)
    except SecurityConfigError as exc:
        print(f"seed: {exc}", file=sys.stderr)
        return 2
    try:
        if seeder.already_seeded():
            print("seed: the demo catalog is already loaded; nothing to do", flush=True)
            return 0
        seeder.rules(seeder.products())
    except grpc.RpcError as error:
        print(f"seed: failed: {error.code()} {error.details()}", file=sys.stderr)
        print("seed: is `make run` going in another terminal?", file=sys.stderr)
        return 1
    print("seed: done", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
