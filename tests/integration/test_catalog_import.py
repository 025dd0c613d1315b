"""ImportCatalog and ExportCatalog: rows by natural key, each on its own; the same rows twice
change nothing; an export imported into an empty database gives the same export back."""

from __future__ import annotations

import contextlib
import threading
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import grpc
import psycopg
import pytest
from holdfast.inventory.v1 import inventory_pb2 as pb

from holdfast_ops.audit import find_breaches
from tests.conftest import RunningInventory, make_settings, new_database, start_inventory
from tests.support.builders import category_row, location_row, product_row, stock_row, variant_row
from tests.support.databases import drop_database
from tests.support.grpc_helpers import row_failure

CREATED = pb.IMPORT_OUTCOME_CREATED
UPDATED = pb.IMPORT_OUTCOME_UPDATED
UNCHANGED = pb.IMPORT_OUTCOME_UNCHANGED
FAILED = pb.IMPORT_OUTCOME_FAILED


def _outcomes(results: Sequence[pb.ImportRowResult]) -> list[int]:
    assert [r.index for r in results] == list(range(results[0].index, results[0].index + len(results)))
    return [r.outcome for r in results]


def _refusal(result: pb.ImportRowResult) -> tuple[grpc.StatusCode, str, list[str]]:
    """A FAILED row's code, reason and the fields its status names (BadRequest or metadata)."""
    assert result.outcome == FAILED, result
    f = row_failure(result.status)
    assert f.domain == "holdfast.inventory"
    return f.code, f.reason, [name for name, _ in f.field_violations] + list(f.metadata)


def _catalog(tag: str) -> list[pb.CatalogRow]:
    """A small catalog of every kind, its keys unique to `tag`."""
    top, shop, handle = f"Top {tag}", f"Shoes {tag}", f"trail-{tag}"
    return [
        location_row(f"WH-{tag}", "Warehouse"),
        location_row(f"SHOP-{tag}", "Shop", active=False),
        category_row(top),
        category_row(top, shop),
        product_row(handle, "Trail runner", 5990, category_path=(top, shop), description="Grippy"),
        product_row(f"plain-{tag}", "Plain", 100),
        variant_row(f"TR-{tag}-42", handle, -500),
        variant_row(f"TR-{tag}-43", handle),
        variant_row(f"PL-{tag}", f"plain-{tag}", 0),
        stock_row(f"TR-{tag}-42", 7),
        stock_row(f"TR-{tag}-42", 3, f"WH-{tag}"),
        stock_row(f"PL-{tag}", 0, f"SHOP-{tag}"),
    ]


@contextlib.contextmanager
def _fresh_inventory(pg_server_url: str, template: str) -> Iterator[tuple[RunningInventory, str]]:
    """An inventory service on an empty (migrated) database of its own, dropped afterwards."""
    name, url = new_database(pg_server_url, template)
    server = start_inventory(make_settings(url))
    try:
        yield server, url
    finally:
        server.stop()
        breaches = find_breaches(url)
        drop_database(pg_server_url, name)
        assert not breaches, breaches


def _ledger(db: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
    """The ledger as numbers per (SKU, location): rows and their sums (ids and times aside)."""
    return db.execute(
        "SELECT sku, location, count(*), sum(delta_on_hand), sum(delta_reserved)"
        " FROM stock_ledger GROUP BY sku, location ORDER BY sku, location"
    ).fetchall()


# ---------------------------------------------------------------- each kind


def test_each_kind_is_created_then_unchanged_then_updated(inventory):
    tag = uuid.uuid4().hex[:8]
    rows = _catalog(tag)
    results, summary = inventory.client.import_catalog(rows)
    # Stock rows: at `default` the variant's empty row is updated; elsewhere a row is made,
    # even at 0.
    assert _outcomes(results) == [CREATED] * 9 + [UPDATED, CREATED, CREATED]
    counts = (summary.rows, summary.created, summary.updated, summary.unchanged, summary.failed)
    assert counts == (12, 11, 1, 0, 0)

    again, summary = inventory.client.import_catalog(rows)
    assert _outcomes(again) == [UNCHANGED] * 12
    assert (summary.rows, summary.unchanged) == (12, 12)

    changed = [
        location_row(f"WH-{tag}", "Main warehouse"),
        location_row(f"SHOP-{tag}", "Shop"),  # active again: an unset `active` means active
        category_row(f"Top {tag}"),  # nothing to change on a category
        product_row(f"trail-{tag}", "Trail runner", 6490, category_path=(f"Top {tag}",)),
        variant_row(f"TR-{tag}-42", f"plain-{tag}", 250),
        stock_row(f"TR-{tag}-42", 9, f"WH-{tag}"),
    ]
    results, _ = inventory.client.import_catalog(changed)
    assert _outcomes(results) == [UPDATED, UPDATED, UNCHANGED, UPDATED, UPDATED, UPDATED]

    stub = inventory.stub
    location = stub.GetLocation(pb.GetLocationRequest(location=f"SHOP-{tag}")).location
    assert (location.name, location.active) == ("Shop", True)
    variant = stub.GetVariant(pb.GetVariantRequest(sku=f"TR-{tag}-42")).variant
    product = stub.GetProduct(pb.GetProductRequest(id=variant.product_id)).product
    assert product.handle == f"plain-{tag}"
    assert (variant.price_adjustment.units, variant.price_adjustment.nanos) == (2, 500_000_000)
    levels = stub.BatchGetStockLevels(pb.BatchGetStockLevelsRequest(skus=[f"TR-{tag}-42"])).location_levels
    assert {(x.location, x.on_hand) for x in levels} == {("default", 7), (f"WH-{tag}", 9)}


def test_a_product_keeps_its_handle_and_shows_it(inventory):
    tag = uuid.uuid4().hex[:8]
    inventory.client.import_catalog([product_row(f"h-{tag}", "Hat", 1200)])
    exported = [r.product for r in inventory.client.export_catalog() if r.product.handle == f"h-{tag}"]
    assert [(p.title, p.base_price.units, p.base_price.nanos) for p in exported] == [("Hat", 12, 0)]


def test_a_new_variant_starts_with_an_empty_default_row_and_no_ledger_row(inventory, db):
    tag = uuid.uuid4().hex[:8]
    inventory.client.import_catalog([product_row(f"p-{tag}"), variant_row(f"V-{tag}", f"p-{tag}")])
    rows = db.execute(
        "SELECT location, on_hand, reserved FROM stock WHERE sku = %s", (f"V-{tag}",)
    ).fetchall()
    assert rows == [("default", 0, 0)]
    assert db.execute("SELECT count(*) FROM stock_ledger WHERE sku = %s", (f"V-{tag}",)).fetchone() == (0,)


def test_rows_are_applied_kind_by_kind_so_children_may_come_first(inventory):
    tag = uuid.uuid4().hex[:8]
    rows = [
        stock_row(f"S-{tag}", 4, f"L-{tag}"),
        variant_row(f"S-{tag}", f"p-{tag}"),
        product_row(f"p-{tag}", category_path=(f"A {tag}", "B")),
        category_row(f"A {tag}", "B"),
        category_row(f"A {tag}"),
        location_row(f"L-{tag}"),
    ]
    results, _ = inventory.client.import_catalog(rows)
    assert _outcomes(results) == [CREATED] * 6
    level = inventory.stub.BatchGetStockLevels(pb.BatchGetStockLevelsRequest(skus=[f"S-{tag}"]))
    assert {(x.location, x.on_hand) for x in level.location_levels} == {("default", 0), (f"L-{tag}", 4)}


def test_row_numbers_run_across_the_whole_stream(inventory):
    tag = uuid.uuid4().hex[:8]
    rows = [category_row(f"C {tag} {i}") for i in range(6)]
    chunks = [rows[:3], rows[3:4], rows[4:]]
    results, summary = inventory.client.import_catalog(*chunks)
    assert [r.index for r in results] == list(range(6))
    assert summary.rows == 6 and summary.created == 6


# ---------------------------------------------------------------- failures


def test_a_failed_row_writes_nothing_and_the_others_go_in(inventory, db):
    tag = uuid.uuid4().hex[:8]
    missing = f"Nowhere {tag}"
    rows = [
        category_row(missing, "Child"),  # 0: parent unknown
        category_row(f"Ok {tag}"),  # 1
        product_row(f"orphan-{tag}", category_path=(missing,)),  # 2: category unknown
        product_row(f"p-{tag}"),  # 3
        variant_row(f"V1-{tag}", f"no-such-{tag}"),  # 4: product unknown
        variant_row(f"V2-{tag}", f"p-{tag}"),  # 5
        variant_row("bad sku", f"p-{tag}"),  # 6: malformed
        variant_row(f"V2-{tag}", f"p-{tag}", 100),  # 7: the same SKU twice in one chunk
        stock_row(f"V2-{tag}", 5, f"NOLOC-{tag}"),  # 8: location unknown
        stock_row(f"V2-{tag}", -1),  # 9: negative
        stock_row(f"V2-{tag}", 5),  # 10
        pb.CatalogRow(),  # 11: no kind
    ]
    results, summary = inventory.client.import_catalog(rows)
    outcomes = _outcomes(results)
    assert [i for i, o in enumerate(outcomes) if o != FAILED] == [1, 3, 5, 10]
    assert (summary.failed, summary.created, summary.updated) == (8, 3, 1)
    refusals = {i: _refusal(results[i]) for i, o in enumerate(outcomes) if o == FAILED}
    NF, BAD = grpc.StatusCode.NOT_FOUND, grpc.StatusCode.INVALID_ARGUMENT
    assert refusals[0][:2] == (NF, "CATEGORY_NOT_FOUND") and "rows[0].category.path" in refusals[0][2]
    assert refusals[2][:2] == (NF, "CATEGORY_NOT_FOUND") and "rows[2].product.category_path" in refusals[2][2]
    assert refusals[4][:2] == (NF, "PRODUCT_NOT_FOUND") and "rows[4].variant.product_handle" in refusals[4][2]
    assert refusals[6][:2] == (BAD, "INVALID_FIELDS") and "rows[6].variant.sku" in refusals[6][2]
    assert refusals[7][:2] == (BAD, "INVALID_FIELDS") and "rows[7].variant.sku" in refusals[7][2]
    assert refusals[8][:2] == (NF, "LOCATION_NOT_FOUND")
    assert refusals[9][:2] == (BAD, "INVALID_FIELDS") and "rows[9].stock.on_hand" in refusals[9][2]
    assert refusals[11][:2] == (BAD, "INVALID_FIELDS") and "rows[11]" in refusals[11][2]

    def count(query: str, *args: str) -> int:
        row = db.execute(query, args).fetchone()
        assert row is not None
        return int(row[0])

    assert count("SELECT count(*) FROM categories WHERE name IN (%s, 'Child')", missing) == 0
    assert count("SELECT count(*) FROM products WHERE handle = %s", f"orphan-{tag}") == 0
    assert count("SELECT count(*) FROM variants WHERE sku IN (%s, 'bad sku')", f"V1-{tag}") == 0
    assert count("SELECT price_adjustment_minor FROM variants WHERE sku = %s", f"V2-{tag}") == 0
    assert count("SELECT count(*) FROM stock WHERE sku = %s", f"V2-{tag}") == 1
    assert count("SELECT on_hand FROM stock WHERE sku = %s", f"V2-{tag}") == 5


def test_a_stock_row_never_takes_on_hand_below_what_holds_reserve(inventory, db):
    sku = inventory.client.sku(on_hand=10)
    inventory.client.hold({sku: 4})
    results, _ = inventory.client.import_catalog([stock_row(sku, 3), stock_row(sku, 4)])
    code, reason, _ = _refusal(results[0])
    assert (code, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "ON_HAND_BELOW_RESERVED")
    # Named by its place in the import, not in the bulk update it went through.
    assert [subject for _, subject, _ in row_failure(results[0].status).precondition_violations] == [
        "rows[0].stock"
    ]
    assert "rows[1].stock" in _refusal(results[1])[2]  # the same (SKU, location) twice in one chunk
    default_id = inventory.stub.GetLocation(pb.GetLocationRequest(location="default")).location.id
    results, _ = inventory.client.import_catalog([stock_row(sku, 3), stock_row(sku, 5, default_id)])
    [(field, description)] = row_failure(results[1].status).field_violations
    assert (field, description) == ("rows[1].stock.location", "names the SKU and location of rows[0].stock")
    assert inventory.client.level(sku).on_hand == 10
    results, _ = inventory.client.import_catalog([stock_row(sku, 4)])
    assert _outcomes(results) == [UPDATED]
    assert (inventory.client.level(sku).on_hand, inventory.client.level(sku).reserved) == (4, 4)


def test_a_price_adjustment_must_be_in_the_products_currency(pg_server_url, template_database):
    # A product priced before the store's currency changed: only SQL can make one now. On a
    # database of its own, since no export with it can be imported in this store's currency.
    with _fresh_inventory(pg_server_url, template_database) as (server, url):
        with psycopg.connect(url, autocommit=True) as db:
            db.execute(
                "INSERT INTO products (id, handle, title, base_price_minor, currency)"
                " VALUES (gen_random_uuid(), 'eur', 'Old', 100, 'EUR')"
            )
        results, _ = server.client.import_catalog([variant_row("A", "eur", 100), variant_row("B", "eur")])
    f = row_failure(results[0].status)
    assert (f.code, f.reason, f.metadata["currency"]) == (
        grpc.StatusCode.FAILED_PRECONDITION,
        "CURRENCY_MISMATCH",
        "EUR",
    )
    assert [subject for _, subject, _ in f.precondition_violations] == ["rows[0].variant.price_adjustment"]
    assert results[1].outcome == CREATED


def test_an_empty_or_oversized_chunk_refuses_the_call(inventory):
    for rows in ([], [category_row(f"C {i}") for i in range(1001)]):
        with pytest.raises(grpc.RpcError) as refused:
            inventory.client.import_catalog(rows)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT


# ---------------------------------------------------------------- idempotency


def test_importing_the_same_rows_twice_changes_nothing_the_second_time(inventory, db, fingerprints):
    tag = uuid.uuid4().hex[:8]
    rows = _catalog(tag)
    inventory.client.import_catalog(rows[:5], rows[5:])
    before, ledger = fingerprints.take(), _ledger(db)
    results, summary = inventory.client.import_catalog(rows[:5], rows[5:])
    assert _outcomes(results) == [UNCHANGED] * len(rows)
    assert summary.unchanged == len(rows)
    # Every table row for row, update_time included; so no ledger row either.
    assert fingerprints.take() == before
    assert _ledger(db) == ledger


def test_concurrent_imports_of_the_same_rows_make_one_copy(inventory, db):
    tag = uuid.uuid4().hex[:8]
    rows = [product_row(f"p-{tag}-{i}", category_path=(f"Cat {tag}",)) for i in range(50)]
    rows += [category_row(f"Cat {tag}"), location_row(f"L-{tag}")]
    rows += [variant_row(f"V-{tag}-{i}", f"p-{tag}-{i % 50}") for i in range(200)]
    rows += [stock_row(f"V-{tag}-{i}", i + 1, f"L-{tag}") for i in range(200)]
    chunks = [rows[i : i + 100] for i in range(0, len(rows), 100)]
    start = threading.Barrier(2)
    answers: list[list[pb.ImportRowResult]] = [[], []]

    def run(n: int) -> None:
        start.wait()
        answers[n] = inventory.client.import_catalog(*chunks)[0]

    threads = [threading.Thread(target=run, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for first, second in zip(*answers, strict=True):
        # Each row written by exactly one of the two; the other found it done.
        assert sorted([first.outcome, second.outcome])[1] == UNCHANGED, (first, second)
        assert first.outcome != FAILED and second.outcome != FAILED
    counts = db.execute(
        "SELECT (SELECT count(*) FROM products WHERE handle LIKE %(p)s),"
        " (SELECT count(*) FROM variants WHERE sku LIKE %(v)s),"
        " (SELECT count(*) FROM categories WHERE name = %(c)s),"
        " (SELECT count(*) FROM stock WHERE sku LIKE %(v)s),"
        " (SELECT count(*) FROM stock_ledger WHERE sku LIKE %(v)s),"
        " (SELECT sum(on_hand) FROM stock WHERE sku LIKE %(v)s)",
        {"p": f"p-{tag}-%", "v": f"V-{tag}-%", "c": f"Cat {tag}"},
    ).fetchone()
    assert counts == (50, 200, 1, 400, 200, sum(range(1, 201)))


# ---------------------------------------------------------------- export and round trips


def test_export_pages_hold_page_size_rows_in_import_order(inventory):
    tag = uuid.uuid4().hex[:8]
    inventory.client.import_catalog(_catalog(tag))
    whole = inventory.client.export_catalog()
    pages = list(inventory.stub.ExportCatalog(pb.ExportCatalogRequest(page_size=7)))
    assert all(len(p.rows) == 7 for p in pages[:-1]) and 0 < len(pages[-1].rows) <= 7
    assert [r for p in pages for r in p.rows] == whole
    kinds = [r.WhichOneof("row") for r in whole]
    order = ["location", "category", "product", "variant", "stock"]
    assert kinds == sorted(kinds, key=order.index)
    paths = [tuple(r.category.path) for r in whole if r.HasField("category")]
    assert all(p[:-1] in paths for p in paths if len(p) > 1)
    assert paths.index((f"Top {tag}",)) < paths.index((f"Top {tag}", f"Shoes {tag}"))


def test_an_export_page_of_long_descriptions_is_cut_to_fit_a_message(pg_server_url, template_database):
    # 1,000 products of 5,000 characters each would make one 5 MB answer: over the 4 MiB limit.
    rows = [product_row(f"long-{i:04d}", description="d" * 5000) for i in range(1000)]
    with _fresh_inventory(pg_server_url, template_database) as (server, _):
        server.client.import_catalog(rows[:500], rows[500:])
        limit = server.settings.server.grpc_max_message_bytes
        pages = list(server.stub.ExportCatalog(pb.ExportCatalogRequest(), timeout=60))
    assert all(page.ByteSize() <= limit // 2 for page in pages)
    assert [r.product.handle for p in pages for r in p.rows if r.HasField("product")] == [
        f"long-{i:04d}" for i in range(1000)
    ]


def test_export_then_import_into_an_empty_database_gives_the_same_export(
    inventory, pg_server_url, template_database
):
    # The module's database: rows from every test so far, and products made by CreateProduct.
    inventory.client.product("made without a handle")
    inventory.client.sku(on_hand=3)
    inventory.client.import_catalog(_catalog(uuid.uuid4().hex[:8]))
    exported = inventory.client.export_catalog()
    with _fresh_inventory(pg_server_url, template_database) as (copy, _):
        chunks = [exported[i : i + 1000] for i in range(0, len(exported), 1000)]
        results, summary = copy.client.import_catalog(*chunks)
        assert summary.failed == 0, [r for r in results if r.outcome == FAILED][:3]
        assert copy.client.export_catalog() == exported


def test_an_import_cancelled_midway_then_run_again_equals_one_clean_run(pg_server_url, template_database):
    tag = uuid.uuid4().hex[:8]
    rows = [location_row(f"L-{tag}")]
    rows += [product_row(f"p-{tag}-{i}") for i in range(100)]
    rows += [variant_row(f"V-{tag}-{i}", f"p-{tag}-{i % 100}") for i in range(1000)]
    rows += [stock_row(f"V-{tag}-{i}", 10 + i, f"L-{tag}" if i % 2 else "") for i in range(1000)]
    chunks = [rows[i : i + 100] for i in range(0, len(rows), 100)]
    with (
        _fresh_inventory(pg_server_url, template_database) as (clean, clean_url),
        _fresh_inventory(pg_server_url, template_database) as (resumed, resumed_url),
    ):
        clean.client.import_catalog(*chunks)
        requests = iter([pb.ImportCatalogRequest(rows=chunk) for chunk in chunks])
        call = resumed.stub.ImportCatalog(requests, timeout=60)
        answered = 0
        for _ in call:
            answered += 1
            if answered == 3:
                call.cancel()
                break
        assert 0 < answered < len(chunks)
        _, summary = resumed.client.import_catalog(*chunks)
        assert summary.failed == 0 and summary.created + summary.updated < len(rows)
        assert resumed.client.export_catalog() == clean.client.export_catalog()
        with psycopg.connect(clean_url) as a, psycopg.connect(resumed_url) as b:
            assert _ledger(a) == _ledger(b)
