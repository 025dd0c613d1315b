"""ExportCatalog: the whole catalog, locations and stock as catalog rows, from one snapshot.

One REPEATABLE READ READ ONLY transaction reads every kind in the order an import needs them
(locations, categories parents first, products, variants, stock rows), each in its natural
key order, through a server-side cursor: the export is handed out a page at a time and never
held in memory whole. Importing it into an empty database gives the same catalog back.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

from holdfast_common.db.pool import AsyncPool, transaction
from inventory_svc.models import CatalogRow, CategoryRow, LocationRow, ProductRow, StockRow, VariantRow
from inventory_svc.queries import Q

_KINDS: tuple[tuple[str, Callable[[dict[str, Any]], CatalogRow]], ...] = (
    (Q.export_locations, lambda r: LocationRow(r["code"], r["name"], r["active"])),
    (Q.export_categories, lambda r: CategoryRow(tuple(r["path"]))),
    (
        Q.export_products,
        lambda r: ProductRow(
            r["handle"],
            r["title"],
            r["description"],
            tuple(r["category_path"]),
            r["base_price_minor"],
            r["currency"],
        ),
    ),
    (
        Q.export_variants,
        lambda r: VariantRow(r["sku"], r["product_handle"], r["price_adjustment_minor"], r["currency"]),
    ),
    (Q.export_stock, lambda r: StockRow(r["sku"], r["location"], r["on_hand"])),
)


async def export_catalog(pool: AsyncPool, page_size: int) -> AsyncIterator[list[CatalogRow]]:
    """Pages of page_size rows (the last one shorter); a page may hold rows of two kinds.

    The snapshot's transaction stays open while the caller takes the pages: a caller that
    stops reading for longer than idle_in_transaction_session_timeout loses it.
    """
    page: list[CatalogRow] = []
    async with transaction(pool) as conn:
        await conn.execute(Q.begin_export)
        for query, row_of in _KINDS:
            async with conn.cursor(name="catalog_export") as cursor:
                await cursor.execute(query)
                while rows := await cursor.fetchmany(page_size):
                    for row in rows:
                        page.append(row_of(row))
                        if len(page) == page_size:
                            yield page
                            page = []
    if page:
        yield page
