"""ImportCatalog: a chunk of catalog rows written by their natural keys, each row on its own.

A chunk is applied kind by kind, so a row may come before the row it needs: locations,
categories (parents first, a level at a time), products, variants, in one transaction of a
few set-based statements (catalog_sync.sql), then the stock rows through `update_stock`, the
stock module's bulk SET, which takes the stock locks in the global order. Each row is
all-or-nothing: it is checked before anything is written, and a row that cannot be written
(its parent, product or location unknown) is left out of the statements, with the refusal as
its result; the others are written. Rows that would change nothing are not written at all,
so importing the same rows again leaves the database exactly as it was.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import uuid6

from holdfast_common.db.pool import AsyncConn, AsyncPool, in_transaction
from holdfast_common.errors import ErrorKind, FieldViolation, HoldfastError, PreconditionViolation, not_found
from inventory_svc.models import (
    CatalogRow,
    CategoryRow,
    ImportOutcome,
    ImportRowResult,
    LocationRow,
    ProductRow,
    StockRow,
    StockUpdate,
    VariantRow,
)
from inventory_svc.queries import Q
from inventory_svc.stock import update_stock

R = TypeVar("R", bound=CatalogRow)
# A chunk's rows of one kind, each with its number in the import.
Numbered = list[tuple[int, R]]
Results = dict[int, ImportRowResult]

# What the ledger says of a stock row an import set.
IMPORT_NOTE = "catalog import"


def _failed(index: int, refusal: HoldfastError) -> ImportRowResult:
    return ImportRowResult(index, ImportOutcome.FAILED, refusal)


def _written(index: int, created: bool | None) -> ImportRowResult:
    """created: True, False for an update, None when the row was already as imported."""
    if created is None:
        return ImportRowResult(index, ImportOutcome.UNCHANGED)
    return ImportRowResult(index, ImportOutcome.CREATED if created else ImportOutcome.UPDATED)


def _of_kind(rows: Sequence[tuple[int, CatalogRow]], kind: type[R]) -> Numbered[R]:
    return [(i, row) for i, row in rows if isinstance(row, kind)]


async def _upsert(conn: AsyncConn, query: str, rows: list[dict[str, Any]]) -> dict[str, bool]:
    """Runs an import statement; {key: created} of the rows it wrote."""
    cur = await conn.execute(query, {"rows": json.dumps(rows)})
    return {r["key"]: r["created"] for r in await cur.fetchall()}


async def _category_ids(conn: AsyncConn, paths: Sequence[tuple[str, ...]]) -> dict[tuple[str, ...], str]:
    """The id of the category at the end of each path that exists all the way down."""
    unique = sorted({path for path in paths if path})
    if not unique:
        return {}
    wanted = [{"key": key, "path": list(path)} for key, path in enumerate(unique)]
    cur = await conn.execute(Q.resolve_category_paths, {"paths": json.dumps(wanted)})
    return {unique[r["key"]]: r["id"] for r in await cur.fetchall()}


async def _locations(conn: AsyncConn, rows: Numbered[LocationRow], results: Results) -> None:
    params = [
        {"id": str(uuid6.uuid7()), "code": row.code, "name": row.name, "active": row.active}
        for _, row in rows
    ]
    written = await _upsert(conn, Q.import_locations, params)
    for i, row in rows:
        results[i] = _written(i, written.get(row.code))


async def _categories(conn: AsyncConn, rows: Numbered[CategoryRow], results: Results) -> None:
    """A level at a time from the top, so a parent made by this chunk is found by its children."""
    for depth in sorted({len(row.path) for _, row in rows}):
        level = [(i, row) for i, row in rows if len(row.path) == depth]
        parents = await _category_ids(conn, [row.path[:-1] for _, row in level])
        placed: list[tuple[int, str]] = []
        params = []
        for i, row in level:
            parent_path = row.path[:-1]
            if parent_path and parent_path not in parents:
                results[i] = _failed(i, _no_category(i, "category.path", parent_path))
                continue
            new_id = str(uuid6.uuid7())
            placed.append((i, new_id))
            params.append({"id": new_id, "name": row.path[-1], "parent_id": parents.get(parent_path)})
        created = await _upsert(conn, Q.import_categories, params) if params else {}
        for i, new_id in placed:
            results[i] = _written(i, created.get(new_id))


def _no_category(index: int, field: str, path: tuple[str, ...]) -> HoldfastError:
    return not_found("category", f"rows[{index}].{field}", "/".join(path))


async def _products(conn: AsyncConn, rows: Numbered[ProductRow], results: Results) -> None:
    categories = await _category_ids(conn, [row.category_path for _, row in rows])
    params = []
    for i, row in rows:
        if row.category_path and row.category_path not in categories:
            results[i] = _failed(i, _no_category(i, "product.category_path", row.category_path))
            continue
        params.append(
            {
                "id": str(uuid6.uuid7()),
                "handle": row.handle,
                "title": row.title,
                "description": row.description,
                "category_id": categories.get(row.category_path),
                "base_price_minor": row.base_price_minor,
                "currency": row.currency,
            }
        )
    written = await _upsert(conn, Q.import_products, params) if params else {}
    for i, row in rows:
        if i not in results:
            results[i] = _written(i, written.get(row.handle))


async def _variants(conn: AsyncConn, rows: Numbered[VariantRow], results: Results) -> None:
    cur = await conn.execute(Q.products_by_handle, {"handles": sorted({r.product_handle for _, r in rows})})
    products = {r["handle"]: r for r in await cur.fetchall()}
    params = []
    for i, row in rows:
        product = products.get(row.product_handle)
        if product is None:
            refusal = not_found("product", f"rows[{i}].variant.product_handle", row.product_handle)
            results[i] = _failed(i, refusal)
        elif row.currency is not None and row.currency != product["currency"]:
            results[i] = _failed(i, _currency_mismatch(i, row, product["currency"]))
        else:
            params.append(
                {
                    "id": str(uuid6.uuid7()),
                    "product_id": product["id"],
                    "sku": row.sku,
                    "price_adjustment_minor": row.price_adjustment_minor,
                }
            )
    written = await _upsert(conn, Q.import_variants, params) if params else {}
    for i, row in rows:
        if i not in results:
            results[i] = _written(i, written.get(row.sku))


def _currency_mismatch(index: int, row: VariantRow, currency: str) -> HoldfastError:
    message = (
        f"the price adjustment is in {row.currency} but product {row.product_handle} is priced in {currency}"
    )
    return HoldfastError(
        ErrorKind.FAILED_PRECONDITION,
        "CURRENCY_MISMATCH",
        message,
        metadata={"product_handle": row.product_handle, "currency": currency},
        precondition_violations=[
            PreconditionViolation("CURRENCY_MISMATCH", f"rows[{index}].variant.price_adjustment", message)
        ],
    )


_CATALOG_KINDS: tuple[tuple[type[Any], Callable[..., Any]], ...] = (
    (LocationRow, _locations),
    (CategoryRow, _categories),
    (ProductRow, _products),
    (VariantRow, _variants),
)


async def _catalog(pool: AsyncPool, rows: Sequence[tuple[int, CatalogRow]]) -> Results:
    """Every row but the stock rows, in one transaction, kind by kind."""

    async def work(conn: AsyncConn) -> Results:
        results: Results = {}  # afresh on a retry after a deadlock
        for kind, apply in _CATALOG_KINDS:
            numbered = _of_kind(rows, kind)
            if numbered:
                await apply(conn, numbered, results)
        return results

    return await in_transaction(pool, work)


async def _stock(pool: AsyncPool, rows: Numbered[StockRow]) -> Results:
    """The stock rows as one PER_ROW bulk SET: the stock module's locking, checks and ledger."""
    updates = [
        StockUpdate(row.sku, row.location, set_on_hand=row.on_hand, adjust_delta=None, note=IMPORT_NOTE)
        for _, row in rows
    ]
    done = await update_stock(
        pool, updates, all_or_nothing=False, validate_only=False, record=None, make_rows=True
    )
    # update_stock names a row updates[k] by its place in the batch; an import names it by its
    # place in the stream.
    names = {f"updates[{k}]": f"rows[{i}].stock" for k, (i, _) in enumerate(rows)}
    results: Results = {}
    for (i, _), result in zip(rows, done, strict=True):
        if result.refusal is not None:
            results[i] = _failed(i, _renamed(result.refusal, names))
        else:
            results[i] = _written(i, True if result.created else False if result.changed else None)
    return results


_BATCH_ROW = re.compile(r"updates\[\d+\]")


def _renamed(refusal: HoldfastError, names: dict[str, str]) -> HoldfastError:
    """The refusal with every batch row name in it replaced by the import's."""

    def rename(text: str) -> str:
        return _BATCH_ROW.sub(lambda m: names.get(m.group(0), m.group(0)), text)

    return dataclasses.replace(
        refusal,
        message=rename(refusal.message),
        metadata={rename(key): rename(value) for key, value in refusal.metadata.items()},
        field_violations=[
            FieldViolation(rename(v.field), rename(v.description)) for v in refusal.field_violations
        ],
        precondition_violations=[
            PreconditionViolation(v.type, rename(v.subject), rename(v.description))
            for v in refusal.precondition_violations
        ],
    )


async def import_chunk(
    pool: AsyncPool, first_index: int, rows: Sequence[CatalogRow | HoldfastError]
) -> list[ImportRowResult]:
    """Writes a chunk's valid rows (numbered from first_index); a row given as a refusal is
    FAILED with it. One result per row, in the chunk's order."""
    results: Results = {}
    valid: list[tuple[int, CatalogRow]] = []
    for offset, row in enumerate(rows):
        index = first_index + offset
        if isinstance(row, HoldfastError):
            results[index] = _failed(index, row)
        else:
            valid.append((index, row))
    if any(not isinstance(row, StockRow) for _, row in valid):
        results.update(await _catalog(pool, valid))
    stock_rows = _of_kind(valid, StockRow)
    if stock_rows:
        results.update(await _stock(pool, stock_rows))
    return [results[first_index + offset] for offset in range(len(rows))]
