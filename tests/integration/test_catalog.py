"""Catalog RPCs: categories, products and variants, their success paths and every refusal."""

from __future__ import annotations

import uuid
from typing import Any

import grpc
import pytest
from google.type import money_pb2
from holdfast.inventory.v1 import inventory_pb2 as pb

from tests.conftest import make_settings, start_inventory
from tests.support.grpc_helpers import refusal, unique_sku


def _name(prefix: str = "cat") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _category(inventory, name: str | None = None, parent_id: str = "") -> pb.Category:
    request = pb.CreateCategoryRequest(name=name or _name(), parent_id=parent_id)
    return inventory.stub.CreateCategory(request).category


def _money(units: int, nanos: int = 0, currency: str = "USD") -> money_pb2.Money:
    return money_pb2.Money(currency_code=currency, units=units, nanos=nanos)


def _all_pages(fetch, page_size: int) -> list[list]:
    """Every page of a list call; `fetch(page_size, token)` returns (items, next_token)."""
    pages, token = [], ""
    while True:
        items, token = fetch(page_size, token)
        pages.append(list(items))
        if not token:
            return pages
        assert len(pages) < 1000, "pagination never ended"


# ---------------------------------------------------------------- categories


def test_create_top_level_category(inventory):
    name = _name()
    category = _category(inventory, name)
    assert category.name == name
    assert category.parent_id == ""
    assert uuid.UUID(category.id)
    assert category.HasField("create_time") and category.create_time.seconds > 0


def test_create_child_category(inventory):
    parent = _category(inventory)
    child = _category(inventory, parent_id=parent.id)
    assert child.parent_id == parent.id
    assert child.id != parent.id


def test_create_category_with_missing_parent_is_not_found(inventory):
    missing = str(uuid.uuid4())
    f = refusal(inventory.stub.CreateCategory, pb.CreateCategoryRequest(name=_name(), parent_id=missing))
    assert f.code == grpc.StatusCode.NOT_FOUND
    assert f.reason == "CATEGORY_NOT_FOUND"
    assert f.domain == "holdfast.inventory"
    assert f.metadata.get("parent_id") == missing


def test_duplicate_sibling_category_name_already_exists(inventory):
    parent = _category(inventory)
    name = _name()
    _category(inventory, name, parent_id=parent.id)
    f = refusal(inventory.stub.CreateCategory, pb.CreateCategoryRequest(name=name, parent_id=parent.id))
    assert f.code == grpc.StatusCode.ALREADY_EXISTS
    assert f.reason == "CATEGORY_ALREADY_EXISTS"
    # The same name under another parent, or at the top level, is a different category.
    other = _category(inventory)
    assert _category(inventory, name, parent_id=other.id).name == name
    assert _category(inventory, name).parent_id == ""


def test_duplicate_top_level_category_name_already_exists(inventory):
    name = _name()
    _category(inventory, name)
    f = refusal(inventory.stub.CreateCategory, pb.CreateCategoryRequest(name=name))
    assert f.code == grpc.StatusCode.ALREADY_EXISTS
    assert f.reason == "CATEGORY_ALREADY_EXISTS"


def test_list_categories_pages_through_everything(inventory):
    created = {_category(inventory).id for _ in range(5)}

    def fetch(size, token):
        r = inventory.stub.ListCategories(pb.ListCategoriesRequest(page_size=size, page_token=token))
        return r.categories, r.next_page_token

    pages = _all_pages(fetch, 2)
    assert len(pages) >= 3
    assert all(len(p) == 2 for p in pages[:-1])
    assert 1 <= len(pages[-1]) <= 2, "the last page must not be empty"
    ids = [c.id for p in pages for c in p]
    assert len(ids) == len(set(ids)), "a category was listed twice"
    assert ids == sorted(ids, key=uuid.UUID)
    assert created <= set(ids)
    # One big page lists the same categories with no next token.
    everything = inventory.stub.ListCategories(pb.ListCategoriesRequest(page_size=len(ids) + 10))
    assert [c.id for c in everything.categories] == ids
    assert everything.next_page_token == ""


# ---------------------------------------------------------------- products


def test_create_and_get_product_with_cents(inventory):
    category = _category(inventory)
    created = inventory.stub.CreateProduct(
        pb.CreateProductRequest(
            title="Kettle", description="1.7 l", category_id=category.id, base_price=_money(12, 340_000_000)
        )
    ).product
    assert (created.title, created.description, created.category_id) == ("Kettle", "1.7 l", category.id)
    assert created.base_price == _money(12, 340_000_000)
    got = inventory.stub.GetProduct(pb.GetProductRequest(id=created.id)).product
    assert got == created


def test_product_without_category(inventory):
    product = inventory.stub.CreateProduct(
        pb.CreateProductRequest(title="Loose", base_price=_money(0))
    ).product
    assert product.category_id == ""
    assert product.base_price.currency_code == "USD"
    assert (product.base_price.units, product.base_price.nanos) == (0, 0)


def test_a_product_takes_the_handle_given_or_else_its_id(inventory):
    handle = unique_sku("shoe")
    named = inventory.stub.CreateProduct(
        pb.CreateProductRequest(title="Named", base_price=_money(1), handle=handle)
    ).product
    unnamed = inventory.stub.CreateProduct(
        pb.CreateProductRequest(title="Unnamed", base_price=_money(1))
    ).product
    assert (named.handle, unnamed.handle) == (handle, unnamed.id)
    assert inventory.stub.GetProduct(pb.GetProductRequest(id=named.id)).product.handle == handle


def test_a_product_written_without_a_handle_gets_its_id(inventory, db):
    # As the release before handles (during a rolling upgrade) or a seed script writes one.
    product_id = str(uuid.uuid4())
    db.execute(
        "INSERT INTO products (id, title, base_price_minor, currency) VALUES (%s, 'Old', 100, 'USD')",
        (product_id,),
    )
    assert inventory.stub.GetProduct(pb.GetProductRequest(id=product_id)).product.handle == product_id


def test_a_taken_handle_is_already_exists_and_a_bad_one_invalid(inventory, db):
    handle = unique_sku("shoe")
    inventory.stub.CreateProduct(pb.CreateProductRequest(title="First", base_price=_money(1), handle=handle))
    before = db.execute("SELECT count(*) FROM products").fetchone()[0]
    f = refusal(
        inventory.stub.CreateProduct,
        pb.CreateProductRequest(title="Second", base_price=_money(1), handle=handle),
    )
    assert (f.code, f.reason, f.metadata) == (
        grpc.StatusCode.ALREADY_EXISTS,
        "PRODUCT_ALREADY_EXISTS",
        {"handle": handle},
    )
    f = refusal(
        inventory.stub.CreateProduct, pb.CreateProductRequest(title="Bad", base_price=_money(1), handle="a b")
    )
    assert (f.code, [name for name, _ in f.field_violations]) == (
        grpc.StatusCode.INVALID_ARGUMENT,
        ["handle"],
    )
    assert db.execute("SELECT count(*) FROM products").fetchone()[0] == before


@pytest.mark.parametrize(
    ("price", "field"),
    [
        (_money(10, currency="EUR"), "base_price.currency_code"),
        (_money(10, 5_000_000, currency=""), "base_price.currency_code"),
        (_money(10, 5_000_000), "base_price.nanos"),  # 10.005: below a cent
        (_money(0, 1), "base_price.nanos"),
        (_money(-1), "base_price"),
        (_money(0, -10_000_000), "base_price"),
        (_money(1, -10_000_000), "base_price.nanos"),  # mixed signs
    ],
)
def test_create_product_bad_money_is_invalid_argument(inventory, db, price, field):
    before = db.execute("SELECT count(*) FROM products").fetchone()[0]
    f = refusal(inventory.stub.CreateProduct, pb.CreateProductRequest(title="Bad money", base_price=price))
    assert f.code == grpc.StatusCode.INVALID_ARGUMENT
    assert f.reason == "INVALID_FIELDS"
    assert field in [name for name, _ in f.field_violations]
    assert db.execute("SELECT count(*) FROM products").fetchone()[0] == before


def test_create_product_without_price_is_invalid_argument(inventory):
    f = refusal(inventory.stub.CreateProduct, pb.CreateProductRequest(title="No price"))
    assert f.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "base_price" in [name for name, _ in f.field_violations]


def test_create_product_in_unknown_category_is_not_found(inventory):
    missing = str(uuid.uuid4())
    f = refusal(
        inventory.stub.CreateProduct,
        pb.CreateProductRequest(title="Orphan", category_id=missing, base_price=_money(1)),
    )
    assert f.code == grpc.StatusCode.NOT_FOUND
    assert f.reason == "CATEGORY_NOT_FOUND"


def test_get_unknown_product_is_not_found(inventory):
    missing = str(uuid.uuid4())
    f = refusal(inventory.stub.GetProduct, pb.GetProductRequest(id=missing))
    assert f.code == grpc.StatusCode.NOT_FOUND
    assert f.reason == "PRODUCT_NOT_FOUND"
    assert f.metadata.get("product_id") == missing


def test_list_products_by_category_includes_descendants_only(inventory):
    root = _category(inventory)
    child = _category(inventory, parent_id=root.id)
    grandchild = _category(inventory, parent_id=child.id)
    sibling = _category(inventory)  # another top-level category
    cousin = _category(inventory, parent_id=sibling.id)

    in_root = inventory.client.product("root item", category_id=root.id)
    in_child = inventory.client.product("child item", category_id=child.id)
    in_grandchild = inventory.client.product("grandchild item", category_id=grandchild.id)
    inventory.client.product("sibling item", category_id=sibling.id)
    inventory.client.product("cousin item", category_id=cousin.id)
    inventory.client.product("uncategorised item")

    def listed(category_id):
        return {
            p.id
            for p in inventory.stub.ListProducts(
                pb.ListProductsRequest(category_id=category_id, page_size=100)
            ).products
        }

    assert listed(root.id) == {in_root.id, in_child.id, in_grandchild.id}
    assert listed(child.id) == {in_child.id, in_grandchild.id}
    assert listed(grandchild.id) == {in_grandchild.id}


def test_list_products_pagination_within_a_category(inventory):
    root = _category(inventory)
    child = _category(inventory, parent_id=root.id)
    made = [inventory.client.product(f"p{i}", category_id=(root.id if i % 2 else child.id)) for i in range(5)]

    def fetch(size, token):
        r = inventory.stub.ListProducts(
            pb.ListProductsRequest(category_id=root.id, page_size=size, page_token=token)
        )
        return r.products, r.next_page_token

    pages = _all_pages(fetch, 2)
    assert [len(p) for p in pages] == [2, 2, 1]
    assert [p.id for page in pages for p in page] == sorted((p.id for p in made), key=uuid.UUID)


def test_list_products_unfiltered_pages_through_everything(inventory):
    made = {inventory.client.product().id for _ in range(3)}

    def fetch(size, token):
        r = inventory.stub.ListProducts(pb.ListProductsRequest(page_size=size, page_token=token))
        return r.products, r.next_page_token

    pages = _all_pages(fetch, 3)
    assert all(len(p) == 3 for p in pages[:-1]) and pages[-1]
    ids = [p.id for page in pages for p in page]
    assert len(ids) == len(set(ids))
    assert made <= set(ids)


def test_list_products_in_unknown_category_is_not_found(inventory):
    missing = str(uuid.uuid4())
    f = refusal(inventory.stub.ListProducts, pb.ListProductsRequest(category_id=missing))
    assert f.code == grpc.StatusCode.NOT_FOUND
    assert f.reason == "CATEGORY_NOT_FOUND"


def test_page_size_over_the_maximum_is_capped(database_url):
    small = start_inventory(make_settings(database_url, max_page_size=2, default_page_size=1))
    try:
        category = small.stub.CreateCategory(pb.CreateCategoryRequest(name=_name())).category
        for i in range(3):
            small.client.product(f"capped {i}", category_id=category.id)
        huge = small.stub.ListProducts(pb.ListProductsRequest(category_id=category.id, page_size=1000))
        assert len(huge.products) == 2 and huge.next_page_token
        default = small.stub.ListProducts(pb.ListProductsRequest(category_id=category.id))
        assert len(default.products) == 1 and default.next_page_token
    finally:
        small.stop()


# ---------------------------------------------------------------- variants


def test_create_variant_with_negative_adjustment_and_initial_stock(inventory, db):
    product = inventory.client.product(price_cents=2000)
    sku = unique_sku()
    response = inventory.stub.CreateVariant(
        pb.CreateVariantRequest(
            product_id=product.id,
            sku=sku,
            price_adjustment=_money(-2, -500_000_000),
            initial_on_hand=7,
        )
    )
    variant = response.variant
    assert (variant.product_id, variant.sku) == (product.id, sku)
    assert variant.price_adjustment == _money(-2, -500_000_000)
    # The level at location `default`, where a variant's initial stock goes.
    assert response.stock_level == pb.StockLevel(
        sku=sku, on_hand=7, reserved=0, available=7, location="default"
    )
    # All of it at `default`, which channel `default` sells from: the channel's total is the same.
    assert inventory.client.level(sku) == pb.StockLevel(sku=sku, on_hand=7, reserved=0, available=7)
    rows = db.execute(
        "SELECT reason, delta_on_hand, delta_reserved FROM stock_ledger WHERE sku = %s", (sku,)
    ).fetchall()
    assert rows == [("RECEIVE", 7, 0)]


def test_create_variant_without_stock_writes_no_ledger_row(inventory, db):
    product = inventory.client.product()
    sku = unique_sku()
    response = inventory.stub.CreateVariant(pb.CreateVariantRequest(product_id=product.id, sku=sku))
    assert response.stock_level == pb.StockLevel(
        sku=sku, on_hand=0, reserved=0, available=0, location="default"
    )
    assert response.variant.price_adjustment == _money(0)
    assert db.execute("SELECT count(*) FROM stock_ledger WHERE sku = %s", (sku,)).fetchone()[0] == 0


def test_duplicate_sku_already_exists_and_writes_nothing(inventory, db):
    product = inventory.client.product()
    sku = inventory.client.sku(on_hand=3, product_id=product.id)
    counts_before = db.execute(
        "SELECT (SELECT count(*) FROM variants), (SELECT count(*) FROM stock_ledger)"
    ).fetchone()
    other = inventory.client.product()
    f = refusal(
        inventory.stub.CreateVariant,
        pb.CreateVariantRequest(product_id=other.id, sku=sku, initial_on_hand=100),
    )
    assert f.code == grpc.StatusCode.ALREADY_EXISTS
    assert f.reason == "VARIANT_ALREADY_EXISTS"
    assert f.metadata.get("sku") == sku
    counts_after = db.execute(
        "SELECT (SELECT count(*) FROM variants), (SELECT count(*) FROM stock_ledger)"
    ).fetchone()
    assert counts_after == counts_before
    assert inventory.client.level(sku).on_hand == 3


def test_create_variant_of_unknown_product_is_not_found(inventory, db):
    sku = unique_sku()
    f = refusal(
        inventory.stub.CreateVariant,
        pb.CreateVariantRequest(product_id=str(uuid.uuid4()), sku=sku, initial_on_hand=1),
    )
    assert f.code == grpc.StatusCode.NOT_FOUND
    assert f.reason == "PRODUCT_NOT_FOUND"
    assert db.execute("SELECT count(*) FROM variants WHERE sku = %s", (sku,)).fetchone()[0] == 0


def test_get_variant_by_id_and_by_sku(inventory):
    product = inventory.client.product()
    created = inventory.stub.CreateVariant(
        pb.CreateVariantRequest(
            product_id=product.id,
            sku=unique_sku(),
            price_adjustment=_money(1, 990_000_000),
            initial_on_hand=4,
        )
    )
    inventory.client.hold({created.variant.sku: 1})
    expected_level = pb.StockLevel(sku=created.variant.sku, on_hand=4, reserved=1, available=3)

    by_id = inventory.stub.GetVariant(pb.GetVariantRequest(id=created.variant.id))
    by_sku = inventory.stub.GetVariant(pb.GetVariantRequest(sku=created.variant.sku))
    for got in (by_id, by_sku):
        assert got.variant == created.variant
        assert got.stock_level == expected_level


def test_get_unknown_variant_is_not_found(inventory):
    f = refusal(inventory.stub.GetVariant, pb.GetVariantRequest(id=str(uuid.uuid4())))
    assert (f.code, f.reason) == (grpc.StatusCode.NOT_FOUND, "VARIANT_NOT_FOUND")
    f = refusal(inventory.stub.GetVariant, pb.GetVariantRequest(sku=unique_sku()))
    assert (f.code, f.reason) == (grpc.StatusCode.NOT_FOUND, "VARIANT_NOT_FOUND")


def test_get_variant_without_key_is_invalid_argument(inventory):
    f = refusal(inventory.stub.GetVariant, pb.GetVariantRequest())
    assert f.code == grpc.StatusCode.INVALID_ARGUMENT


def test_list_variants_of_a_product_with_pagination(inventory):
    product = inventory.client.product()
    skus = [inventory.client.sku(on_hand=i, product_id=product.id) for i in range(4)]
    inventory.client.sku(on_hand=1)  # a variant of another product

    def fetch(size, token):
        r = inventory.stub.ListVariants(
            pb.ListVariantsRequest(product_id=product.id, page_size=size, page_token=token)
        )
        return r.variants, r.next_page_token

    pages = _all_pages(fetch, 2)
    assert [len(p) for p in pages] == [2, 2]
    variants = [v for page in pages for v in page]
    assert {v.sku for v in variants} == set(skus)
    assert all(v.product_id == product.id for v in variants)
    assert [v.id for v in variants] == sorted((v.id for v in variants), key=uuid.UUID)

    one_page = inventory.stub.ListVariants(pb.ListVariantsRequest(product_id=product.id))
    assert len(one_page.variants) == 4 and one_page.next_page_token == ""


def test_list_variants_of_unknown_product_is_not_found(inventory):
    f = refusal(inventory.stub.ListVariants, pb.ListVariantsRequest(product_id=str(uuid.uuid4())))
    assert (f.code, f.reason) == (grpc.StatusCode.NOT_FOUND, "PRODUCT_NOT_FOUND")


# ---------------------------------------------------------------- retries with a request_id


def _creates(inventory) -> list[tuple[str, Any, str]]:
    """(method, request, table) for each catalog create, every one with a fresh request_id."""
    product = inventory.client.product()
    return [
        (
            "CreateCategory",
            pb.CreateCategoryRequest(name=_name(), request_id=str(uuid.uuid4())),
            "categories",
        ),
        (
            "CreateProduct",
            pb.CreateProductRequest(title=_name("p"), base_price=_money(12), request_id=str(uuid.uuid4())),
            "products",
        ),
        (
            "CreateVariant",
            pb.CreateVariantRequest(
                product_id=product.id, sku=unique_sku(), initial_on_hand=4, request_id=str(uuid.uuid4())
            ),
            "variants",
        ),
    ]


def _count(db, table: str) -> int:
    return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]  # table names from _creates


def test_a_retried_catalog_create_returns_the_first_response_and_creates_once(inventory, db):
    for method, request, table in _creates(inventory):
        call = getattr(inventory.stub, method)
        first = call(request)
        before = (_count(db, table), _count(db, "stock_ledger"))
        assert call(request) == first, method
        assert (_count(db, table), _count(db, "stock_ledger")) == before, method


def test_a_catalog_request_id_reused_for_another_create_is_refused_and_writes_nothing(inventory, db):
    for method, request, table in _creates(inventory):
        call = getattr(inventory.stub, method)
        call(request)
        other = type(request)()
        other.CopyFrom(request)
        if method == "CreateVariant":
            other.sku = unique_sku()
        elif method == "CreateCategory":
            other.name = _name()
        else:
            other.title = _name("p")
        before = (_count(db, table), _count(db, "stock_ledger"))
        f = refusal(call, other)
        assert (f.code, f.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "IDEMPOTENCY_KEY_REUSED"), method
        assert (_count(db, table), _count(db, "stock_ledger")) == before, method


def test_a_malformed_catalog_request_id_is_invalid_argument(inventory, db):
    for method, request, table in _creates(inventory):
        request.request_id = "not a valid id!"
        before = _count(db, table)
        f = refusal(getattr(inventory.stub, method), request)
        assert f.code == grpc.StatusCode.INVALID_ARGUMENT, method
        assert ("request_id", "must be 1-64 characters of A-Z a-z 0-9 . _ : -") in f.field_violations
        assert _count(db, table) == before


def test_initial_stock_of_a_variant_records_its_request_id_in_the_ledger(inventory, db):
    product = inventory.client.product()
    sku, request_id = unique_sku(), str(uuid.uuid4())
    inventory.stub.CreateVariant(
        pb.CreateVariantRequest(product_id=product.id, sku=sku, initial_on_hand=2, request_id=request_id)
    )
    rows = db.execute("SELECT reason, delta_on_hand, request_id FROM stock_ledger WHERE sku = %s", (sku,))
    assert rows.fetchall() == [("RECEIVE", 2, request_id)]
