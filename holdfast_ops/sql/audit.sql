-- Each query returns one row per breach of an invariant of docs/architecture.md ("Invariants"), with a
-- human-readable `breach` column; an empty result means the invariant holds.

-- name: audit_reserved_within_on_hand
SELECT sku, format('sku %s: reserved %s, on_hand %s (need 0 <= reserved <= on_hand)',
                   sku, reserved, on_hand) AS breach
FROM stock
WHERE reserved < 0 OR reserved > on_hand OR on_hand < 0;

-- name: audit_reserved_equals_active_holds
SELECT s.sku, format('sku %s: reserved %s but ACTIVE holds hold %s', s.sku, s.reserved,
                     COALESCE(a.held, 0)) AS breach
FROM stock s
LEFT JOIN (
    SELECT l.sku, sum(l.quantity) AS held
    FROM hold_lines l JOIN holds h ON h.id = l.hold_id
    WHERE h.state = 'ACTIVE'
    GROUP BY l.sku
) a ON a.sku = s.sku
WHERE s.reserved <> COALESCE(a.held, 0);

-- name: audit_stock_equals_ledger
SELECT s.sku, format('sku %s: on_hand %s / reserved %s but the ledger sums to %s / %s',
                     s.sku, s.on_hand, s.reserved, COALESCE(g.on_hand, 0),
                     COALESCE(g.reserved, 0)) AS breach
FROM stock s
LEFT JOIN (
    SELECT sku, sum(delta_on_hand) AS on_hand, sum(delta_reserved) AS reserved
    FROM stock_ledger GROUP BY sku
) g ON g.sku = s.sku
WHERE s.on_hand <> COALESCE(g.on_hand, 0) OR s.reserved <> COALESCE(g.reserved, 0);

-- name: audit_hold_ledger_rows
-- Every hold has one HOLD row per line; a terminal hold has exactly one row
-- per line of its own terminal reason and none of another; an ACTIVE hold none.
WITH expected AS (
    SELECT h.id, h.state, l.sku, l.quantity,
           CASE h.state WHEN 'COMMITTED' THEN 'COMMIT' WHEN 'RELEASED' THEN 'RELEASE'
                        WHEN 'EXPIRED' THEN 'EXPIRE' END AS terminal_reason
    FROM holds h JOIN hold_lines l ON l.hold_id = h.id
), counted AS (
    SELECT e.id, e.state, e.sku,
           count(*) FILTER (WHERE g.reason = 'HOLD' AND g.delta_reserved = e.quantity
                                  AND g.delta_on_hand = 0) AS hold_rows,
           count(*) FILTER (WHERE g.reason = e.terminal_reason
                                  AND g.delta_reserved = -e.quantity
                                  AND g.delta_on_hand = CASE WHEN e.terminal_reason = 'COMMIT'
                                                             THEN -e.quantity ELSE 0 END)
               AS terminal_rows,
           count(g.id) AS all_rows
    FROM expected e
    LEFT JOIN stock_ledger g ON g.hold_id = e.id AND g.sku = e.sku
    GROUP BY e.id, e.state, e.sku
)
SELECT id::text AS hold_id,
       format('hold %s (%s), sku %s: %s HOLD row(s), %s terminal row(s), %s row(s) in all',
              id, state, sku, hold_rows, terminal_rows, all_rows) AS breach
FROM counted
WHERE hold_rows <> 1
   OR terminal_rows <> CASE WHEN state = 'ACTIVE' THEN 0 ELSE 1 END
   OR all_rows <> hold_rows + terminal_rows;

-- name: audit_ledger_rows_match_hold_lines
SELECT g.id, format('ledger row %s names hold %s but that hold has no line for sku %s',
                    g.id, g.hold_id, g.sku) AS breach
FROM stock_ledger g
WHERE g.hold_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM hold_lines l WHERE l.hold_id = g.hold_id AND l.sku = g.sku);

-- name: audit_holds_have_lines
SELECT h.id::text, format('hold %s has no lines', h.id) AS breach
FROM holds h
WHERE NOT EXISTS (SELECT 1 FROM hold_lines l WHERE l.hold_id = h.id);

-- name: audit_priced_holds_price_every_line
-- A hold that locked prices has a unit price on every line; one that did not, on none.
SELECT h.id::text AS hold_id,
       format('hold %s: currency %s but %s of %s lines priced', h.id, COALESCE(h.currency, 'none'),
              count(l.unit_price_minor), count(*)) AS breach
FROM holds h JOIN hold_lines l ON l.hold_id = h.id
GROUP BY h.id, h.currency
HAVING count(l.unit_price_minor) <> CASE WHEN h.currency IS NULL THEN 0 ELSE count(*) END;
