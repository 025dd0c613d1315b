"""The `import` scenario: a generated catalog file of 100,000 variants (10 per product) with
stock at one location, loaded by `holdfast import` as an operator runs it (a subprocess, timed
from its start to its exit), into the running bench stack."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import psycopg
from holdfast.inventory.v1 import inventory_pb2 as pb

from bench.drivers import Targets
from bench.processes import Child
from bench.stack import child_env
from holdfast_cli.catalog_files import RowWriter
from holdfast_common.values.money import Money

IMPORT_TARGET_VARIANTS = 100_000
VARIANTS_PER_PRODUCT = 10
ON_HAND = 100
# Keys of their own: the scenario's rows never meet the SKUs the other scenarios reserve.
_PREFIX = "IMPORT"
_CATEGORY = ["Bench import"]


@dataclass(frozen=True)
class ImportResult:
    variants: int
    rows: int
    seconds: float
    exit_code: int
    # Variants of the scenario found in the database afterwards.
    imported_variants: int

    @property
    def rows_per_second(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and self.imported_variants == self.variants

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "rows_per_second": round(self.rows_per_second)}


def _rows(variants: int) -> Iterator[pb.CatalogRow]:
    """A category, the products, their variants, then a stock row each at `default`: parents
    first, as `holdfast export` writes them."""
    products = max(1, variants // VARIANTS_PER_PRODUCT)
    yield pb.CatalogRow(category=pb.CategoryRow(path=_CATEGORY))
    for n in range(products):
        yield pb.CatalogRow(
            product=pb.ProductRow(
                handle=f"{_PREFIX.lower()}-{n:06d}",
                title=f"Imported product {n}",
                category_path=_CATEGORY,
                base_price=Money(500 + n % 5000, "USD").to_proto(),
            )
        )
    skus = [(f"{_PREFIX}-{i:07d}", f"{_PREFIX.lower()}-{i % products:06d}") for i in range(variants)]
    for sku, handle in skus:
        variant = pb.VariantRow(sku=sku, product_handle=handle, price_adjustment=Money(0, "USD").to_proto())
        yield pb.CatalogRow(variant=variant)
    for sku, _ in skus:
        yield pb.CatalogRow(stock=pb.StockRow(sku=sku, location="default", on_hand=ON_HAND))


def write_catalog(path: Path, variants: int) -> int:
    """The scenario's CSV file; returns its row count."""
    with path.open("w", encoding="utf-8", newline="") as out:
        return RowWriter(out, "csv").write(_rows(variants))


def import_with_cli(
    database_url: str, targets: Targets, *, variants: int, log_dir: Path, timeout: float
) -> ImportResult:
    """Writes the file, then times `holdfast import` of it against `targets.inventory`."""
    path = log_dir / "import-catalog.csv"
    rows = write_catalog(path, variants)
    print(f"bench: holdfast import of {rows:,} rows ({variants:,} variants)", flush=True)
    env = child_env(database_url, INVENTORY_LISTEN=targets.inventory)
    if targets.security is not None:
        env.update(targets.security.load_env())
    started = time.perf_counter()
    cli = Child("holdfast import", ["holdfast", "import", str(path)], env, log_dir / "holdfast-import.log")
    try:
        exit_code = cli.process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        cli.stop_session()
        exit_code = -1
    seconds = time.perf_counter() - started
    if exit_code != 0:
        print(f"bench: holdfast import exited {exit_code}; its log ends:\n{cli.log_tail()}", flush=True)
    with psycopg.connect(database_url, autocommit=True) as conn:
        found = conn.execute("SELECT count(*) FROM variants WHERE sku LIKE %s", (f"{_PREFIX}-%",)).fetchone()
    return ImportResult(variants, rows, seconds, exit_code, int(found[0]) if found else 0)
