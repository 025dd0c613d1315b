"""The catalog a bench run reserves and prices: a category tree, products, SKUs with stock
that never runs out, price rules of every stage so quotes do real work, and two more
locations with the channels that sell from all three."""

from __future__ import annotations

import psycopg

from bench.skus import SkuSet

# Units on hand per SKU: a whole run at full speed reserves a few hundred thousand.
ON_HAND = 10**12
TIER = "gold"

# The locations besides `default`, each empty for the SKUs i with i % 3 == its residue, so
# that a line spills past an empty location for a third of the SKUs.
EMPTY_EVERY_THIRD = {"bench-east": 0, "bench-west": 1}
# Each channel sells from every location, in this priority order.
CHANNEL_LOCATIONS = ("bench-east", "bench-west", "default")
PRIORITY_CHANNEL = "bench-priority"
FEWEST_CHANNEL = "bench-fewest"
_CHANNEL_STRATEGIES = {PRIORITY_CHANNEL: "PRIORITY", FEWEST_CHANNEL: "FEWEST_LOCATIONS"}

_CATEGORY = "INSERT INTO categories (id, name, parent_id) VALUES (gen_random_uuid(), %s, %s) RETURNING id"

# Product n sits in leaf n mod leaves; SKU i belongs to product i mod products. Every SKU
# gets its stock at `default` and the RECEIVE ledger row that explains it (the audit checks both).
_PRODUCTS_AND_STOCK = """
WITH p AS (
    SELECT n, gen_random_uuid() AS id FROM generate_series(0, %(products)s - 1) n
), products AS (
    INSERT INTO products (id, title, category_id, base_price_minor, currency)
    SELECT id, 'Bench product ' || n,
           (%(leaves)s::uuid[])[1 + n %% cardinality(%(leaves)s::uuid[])],
           500 + (n * 7919) %% 20000, 'USD'
    FROM p
), variants AS (
    INSERT INTO variants (id, product_id, sku, price_adjustment_minor)
    SELECT gen_random_uuid(), p.id, %(prefix)s || '-' || i, (i %% 5 - 2) * 100
    FROM generate_series(0, %(skus)s - 1) i JOIN p ON p.n = i %% %(products)s
    RETURNING sku
), stock AS (
    INSERT INTO stock (sku, location, on_hand) SELECT sku, 'default', %(on_hand)s FROM variants
)
INSERT INTO stock_ledger (sku, location, delta_on_hand, delta_reserved, reason)
SELECT sku, 'default', %(on_hand)s, 0, 'RECEIVE' FROM variants
"""

_LOCATIONS = """
INSERT INTO locations (id, code, name)
SELECT gen_random_uuid(), code, 'Bench ' || code FROM unnest(%(codes)s::text[]) code
"""

# Stock of every SKU at each extra location (ON_HAND or, for its third, 0), with the RECEIVE
# ledger row of every non-zero row (the audit checks on_hand = ledger sum per location).
_STOCK_ELSEWHERE = """
WITH units AS (
    SELECT %(prefix)s || '-' || i AS sku, l.code AS location,
           CASE WHEN i %% 3 = l.empty_residue THEN 0 ELSE %(on_hand)s END AS on_hand
    FROM generate_series(0, %(skus)s - 1) i,
         unnest(%(codes)s::text[], %(empty_residues)s::int[]) AS l(code, empty_residue)
), stock AS (
    INSERT INTO stock (sku, location, on_hand) SELECT sku, location, on_hand FROM units
)
INSERT INTO stock_ledger (sku, location, delta_on_hand, delta_reserved, reason)
SELECT sku, location, on_hand, 0, 'RECEIVE' FROM units WHERE on_hand > 0
"""

# One channel and its locations, position 0 first.
_CHANNEL = """
WITH channel AS (
    INSERT INTO channels (id, code, name, strategy)
    VALUES (gen_random_uuid(), %(code)s, 'Bench ' || %(code)s, %(strategy)s)
    RETURNING id
)
INSERT INTO channel_locations (channel_id, position, location)
SELECT channel.id, l.position - 1, l.code
FROM channel, unnest(%(locations)s::text[]) WITH ORDINALITY AS l(code, position)
"""

# A sale on one top-level category (so quotes walk the category ancestry), a bulk
# discount from 2 units, and a tier discount for every SKU.
_RULES = """
INSERT INTO price_rules (id, name, stage, percent_off_bp, amount_off_minor, currency, start_time,
                         end_time, min_quantity, customer_tier, scope_category_id)
VALUES
    (gen_random_uuid(), 'Bench sale', 'SEASONAL', 1500, NULL, 'USD', now() - interval '1 day',
     now() + interval '1 day', NULL, NULL, %(sale_category)s),
    (gen_random_uuid(), 'Bench bulk', 'BULK', 500, NULL, 'USD', NULL, NULL, 2, NULL, NULL),
    (gen_random_uuid(), 'Bench gold', 'TIER', NULL, 200, 'USD', NULL, NULL, NULL, %(tier)s, NULL)
"""


def _category_tree(
    conn: psycopg.Connection, *, roots: int = 4, children: int = 4, leaves: int = 2
) -> tuple[list[object], list[object]]:
    """Three levels deep; returns the top-level ids and the leaf ids."""
    top, bottom = [], []
    for r in range(roots):
        root = conn.execute(_CATEGORY, (f"Bench {r}", None)).fetchone()[0]  # type: ignore[index]
        top.append(root)
        for c in range(children):
            middle = conn.execute(_CATEGORY, (f"Bench {r}.{c}", root)).fetchone()[0]  # type: ignore[index]
            for leaf in range(leaves):
                row = conn.execute(_CATEGORY, (f"Bench {r}.{c}.{leaf}", middle)).fetchone()
                bottom.append(row[0])  # type: ignore[index]
    return top, bottom


def _seed_locations(conn: psycopg.Connection, skus: SkuSet) -> None:
    """The extra locations, every SKU's stock there, and the channels selling from all."""
    codes = list(EMPTY_EVERY_THIRD)
    conn.execute(_LOCATIONS, {"codes": codes})
    conn.execute(
        _STOCK_ELSEWHERE,
        {
            "prefix": skus.prefix,
            "skus": skus.count,
            "codes": codes,
            "empty_residues": list(EMPTY_EVERY_THIRD.values()),
            "on_hand": ON_HAND,
        },
    )
    for code, strategy in _CHANNEL_STRATEGIES.items():
        conn.execute(_CHANNEL, {"code": code, "strategy": strategy, "locations": list(CHANNEL_LOCATIONS)})


def seed_catalog(conn: psycopg.Connection, skus: SkuSet, *, products: int = 200) -> None:
    """Seeds the catalog, stock, locations, channels and price rules in one transaction, then
    refreshes statistics."""
    with conn.transaction():
        top, leaves = _category_tree(conn)
        conn.execute(
            _PRODUCTS_AND_STOCK,
            {
                "prefix": skus.prefix,
                "skus": skus.count,
                "products": min(products, skus.count),
                "leaves": leaves,
                "on_hand": ON_HAND,
            },
        )
        _seed_locations(conn, skus)
        conn.execute(_RULES, {"sale_category": top[0], "tier": TIER})
    conn.execute("ANALYZE")
