-- Each query returns one row per breach of an invariant of docs/architecture.md ("Invariants"), with a
-- human-readable `breach` column; an empty result means the invariant holds.

-- name: audit_reserved_within_on_hand
SELECT sku, format('sku %s at %s: reserved %s, on_hand %s (need 0 <= reserved <= on_hand)',
                   sku, location, reserved, on_hand) AS breach
FROM stock
WHERE reserved < 0 OR reserved > on_hand OR on_hand < 0;

-- name: audit_unsellable_within_on_hand
SELECT sku, format('sku %s at %s: reserved %s + safety_stock %s + damaged %s + quality_control %s '
                   'over on_hand %s, or a count below 0', sku, location, reserved, safety_stock,
                   damaged, quality_control, on_hand) AS breach
FROM stock
WHERE reserved + safety_stock + damaged + quality_control > on_hand
   OR LEAST(safety_stock, damaged, quality_control, incoming, backordered, preordered, owed) < 0;

-- name: audit_beyond_stock_equals_active_allocations
SELECT s.sku, format('sku %s at %s: backordered %s / preordered %s but ACTIVE holds hold %s / %s',
                     s.sku, s.location, s.backordered, s.preordered, COALESCE(a.backordered, 0),
                     COALESCE(a.preordered, 0)) AS breach
FROM stock s
LEFT JOIN (
    SELECT a.sku, a.location, sum(a.backordered) AS backordered, sum(a.preordered) AS preordered
    FROM hold_allocations a JOIN holds h ON h.id = a.hold_id
    WHERE h.state = 'ACTIVE'
    GROUP BY a.sku, a.location
) a ON a.sku = s.sku AND a.location = s.location
WHERE s.backordered <> COALESCE(a.backordered, 0) OR s.preordered <> COALESCE(a.preordered, 0);

-- name: audit_owed_equals_owed_rows
SELECT s.sku, format('sku %s at %s: owed %s but owed rows sum to %s', s.sku, s.location, s.owed,
                     COALESCE(o.quantity, 0)) AS breach
FROM stock s
LEFT JOIN (SELECT sku, location, sum(quantity) AS quantity FROM owed GROUP BY sku, location) o
    ON o.sku = s.sku AND o.location = s.location
WHERE s.owed <> COALESCE(o.quantity, 0);

-- name: audit_incoming_equals_open_receipts
SELECT s.sku, format('sku %s at %s: incoming %s but open receipts expect %s more', s.sku,
                     s.location, s.incoming, COALESCE(r.remaining, 0)) AS breach
FROM stock s
LEFT JOIN (
    SELECT sku, location, sum(expected - received) AS remaining
    FROM receipts WHERE state = 'OPEN' GROUP BY sku, location
) r ON r.sku = s.sku AND r.location = s.location
WHERE s.incoming <> COALESCE(r.remaining, 0);

-- name: audit_caps_never_exceeded
-- Where a BACKORDER or PREORDER policy is in force (the location's override, else the
-- variant's default), what is outstanding beyond stock stays within its limit.
SELECT s.sku, format('sku %s at %s: %s units beyond stock under %s limit %s', s.sku, s.location,
                     s.backordered + s.preordered + s.owed, p.policy,
                     CASE p.policy WHEN 'BACKORDER' THEN p.backorder_limit ELSE p.preorder_limit END)
    AS breach
FROM stock s
JOIN LATERAL (
    SELECT * FROM inventory_policies ip
    WHERE ip.sku = s.sku AND (ip.location = s.location OR ip.location IS NULL)
    ORDER BY ip.location NULLS LAST LIMIT 1
) p ON true
WHERE p.policy <> 'DENY'
  AND s.backordered + s.preordered + s.owed
      > CASE p.policy WHEN 'BACKORDER' THEN p.backorder_limit ELSE p.preorder_limit END;

-- name: audit_reserved_equals_active_allocations
SELECT s.sku, format('sku %s at %s: reserved %s but ACTIVE holds hold %s there', s.sku, s.location,
                     s.reserved, COALESCE(a.held, 0)) AS breach
FROM stock s
LEFT JOIN (
    SELECT a.sku, a.location, sum(a.quantity) AS held
    FROM hold_allocations a JOIN holds h ON h.id = a.hold_id
    WHERE h.state = 'ACTIVE'
    GROUP BY a.sku, a.location
) a ON a.sku = s.sku AND a.location = s.location
WHERE s.reserved <> COALESCE(a.held, 0);

-- name: audit_stock_equals_ledger
-- Every count of every (SKU, location) equals the sum of its ledger deltas.
WITH sums AS (
    SELECT sku, location, sum(delta_on_hand)::bigint AS on_hand, sum(delta_reserved)::bigint AS reserved,
           sum(delta_safety_stock)::bigint AS safety_stock, sum(delta_damaged)::bigint AS damaged,
           sum(delta_quality_control)::bigint AS quality_control, sum(delta_incoming)::bigint AS incoming,
           sum(delta_backordered)::bigint AS backordered, sum(delta_preordered)::bigint AS preordered,
           sum(delta_owed)::bigint AS owed
    FROM stock_ledger GROUP BY sku, location
)
SELECT s.sku, format('sku %s at %s: counts (on_hand, reserved, safety_stock, damaged, quality_control, '
                     'incoming, backordered, preordered, owed) %s but the ledger sums to %s',
                     s.sku, s.location,
                     ARRAY[s.on_hand, s.reserved, s.safety_stock, s.damaged, s.quality_control,
                           s.incoming, s.backordered, s.preordered, s.owed],
                     ARRAY[g.on_hand, g.reserved, g.safety_stock, g.damaged, g.quality_control,
                           g.incoming, g.backordered, g.preordered, g.owed]) AS breach
FROM stock s
LEFT JOIN sums g ON g.sku = s.sku AND g.location = s.location
WHERE ARRAY[s.on_hand, s.reserved, s.safety_stock, s.damaged, s.quality_control, s.incoming,
            s.backordered, s.preordered, s.owed]
      <> ARRAY[COALESCE(g.on_hand, 0), COALESCE(g.reserved, 0), COALESCE(g.safety_stock, 0),
               COALESCE(g.damaged, 0), COALESCE(g.quality_control, 0), COALESCE(g.incoming, 0),
               COALESCE(g.backordered, 0), COALESCE(g.preordered, 0), COALESCE(g.owed, 0)];

-- name: audit_allocations_sum_to_lines
-- Every hold line's allocations (from stock, backordered and preordered) add up to its
-- quantity (and a line has at least one).
SELECT l.hold_id::text AS hold_id,
       format('hold %s, sku %s: line of %s but allocations of %s', l.hold_id, l.sku, l.quantity,
              COALESCE(sum(a.quantity + a.backordered + a.preordered), 0)) AS breach
FROM hold_lines l
LEFT JOIN hold_allocations a ON a.hold_id = l.hold_id AND a.sku = l.sku
GROUP BY l.hold_id, l.sku, l.quantity
HAVING COALESCE(sum(a.quantity + a.backordered + a.preordered), 0) <> l.quantity;

-- name: audit_pinned_lines_stay_pinned
-- A pinned line is held at its pin and nowhere else.
SELECT l.hold_id::text AS hold_id,
       format('hold %s, sku %s: pinned to %s but allocated at %s', l.hold_id, l.sku, l.location,
              a.location) AS breach
FROM hold_lines l JOIN hold_allocations a ON a.hold_id = l.hold_id AND a.sku = l.sku
WHERE l.location IS NOT NULL AND a.location <> l.location;

-- name: audit_hold_ledger_rows
-- Every hold has one HOLD row per allocation; a terminal hold has exactly one row per
-- allocation of its own terminal reason and none of another; an ACTIVE hold none.
WITH expected AS (
    SELECT h.id, h.state, a.sku, a.location, a.quantity, a.backordered, a.preordered,
           CASE h.state WHEN 'COMMITTED' THEN 'COMMIT' WHEN 'RELEASED' THEN 'RELEASE'
                        WHEN 'EXPIRED' THEN 'EXPIRE' END AS terminal_reason
    FROM holds h JOIN hold_allocations a ON a.hold_id = h.id
), counted AS (
    SELECT e.id, e.state, e.sku, e.location,
           count(*) FILTER (WHERE g.reason = 'HOLD' AND g.delta_reserved = e.quantity
                                  AND g.delta_on_hand = 0 AND g.delta_backordered = e.backordered
                                  AND g.delta_preordered = e.preordered) AS hold_rows,
           count(*) FILTER (WHERE g.reason = e.terminal_reason
                                  AND g.delta_reserved = -e.quantity
                                  AND g.delta_on_hand = CASE WHEN e.terminal_reason = 'COMMIT'
                                                             THEN -e.quantity ELSE 0 END
                                  AND g.delta_backordered = -e.backordered
                                  AND g.delta_preordered = -e.preordered
                                  AND g.delta_owed = CASE WHEN e.terminal_reason = 'COMMIT'
                                                          THEN e.backordered + e.preordered ELSE 0 END)
               AS terminal_rows,
           -- COVER rows deliver owed units later: not a transition of the hold.
           count(g.id) FILTER (WHERE g.reason <> 'COVER') AS all_rows
    FROM expected e
    LEFT JOIN stock_ledger g ON g.hold_id = e.id AND g.sku = e.sku AND g.location = e.location
    GROUP BY e.id, e.state, e.sku, e.location
)
SELECT id::text AS hold_id,
       format('hold %s (%s), sku %s at %s: %s HOLD row(s), %s terminal row(s), %s row(s) in all',
              id, state, sku, location, hold_rows, terminal_rows, all_rows) AS breach
FROM counted
WHERE hold_rows <> 1
   OR terminal_rows <> CASE WHEN state = 'ACTIVE' THEN 0 ELSE 1 END
   OR all_rows <> hold_rows + terminal_rows;

-- name: audit_ledger_rows_match_allocations
SELECT g.id, format('ledger row %s names hold %s but that hold has no allocation of sku %s at %s',
                    g.id, g.hold_id, g.sku, g.location) AS breach
FROM stock_ledger g
WHERE g.hold_id IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM hold_allocations a
                  WHERE a.hold_id = g.hold_id AND a.sku = g.sku AND a.location = g.location);

-- name: audit_transfers_pair_up
-- A transfer moves units, it never makes or loses them: its request's TRANSFER rows sum to 0.
SELECT request_id, format('transfer %s: its ledger rows sum to %s', request_id, sum(delta_on_hand))
    AS breach
FROM stock_ledger
WHERE reason = 'TRANSFER'
GROUP BY request_id
HAVING sum(delta_on_hand) <> 0 OR count(*) <> 2;

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

-- name: audit_moves_pair_up
-- A move changes no on_hand: its request's MOVE rows are two, and their state deltas cancel out
-- but for what went to or came from available.
SELECT request_id, format('move %s: %s ledger rows, on_hand delta %s', request_id, count(*),
                          sum(delta_on_hand)) AS breach
FROM stock_ledger
WHERE reason = 'MOVE'
GROUP BY request_id
HAVING count(*) <> 2 OR sum(delta_on_hand) <> 0;

-- name: audit_ledger_rows_have_one_event
-- Every ledger row since the feed began has one event, and the sequencer has numbered each
-- key's events without a gap: a key's last number counts its ledger rows and crossings, less
-- the events still waiting for their number; the events kept (the oldest may be pruned) are
-- the last ones; each ledger event is the event of a distinct ledger row of the same key and
-- reason; and once a key's events are all numbered, the sequencer's memory of its levels is
-- its stock row.
WITH ledger AS (
    SELECT g.sku, g.location, count(*) AS rows
    FROM stock_ledger g, stock_event_cursor c
    WHERE g.id > c.feed_start_ledger_id
    GROUP BY g.sku, g.location
), kept AS (
    SELECT e.sku, e.location, e.channel, count(e.seq) AS events, min(e.seq) AS first_seq,
           max(e.seq) AS last_seq, count(*) - count(e.seq) AS waiting
    FROM stock_events e GROUP BY e.sku, e.location, e.channel
), keys AS (
    SELECT COALESCE(m.sku, s.sku) AS sku, COALESCE(m.location, s.location) AS location,
           COALESCE(m.channel, '') AS channel, COALESCE(m.last_seq, 0) AS last_seq,
           COALESCE(m.crossings, 0) AS crossings,
           s.sku IS NOT NULL AND m.sku IS NOT NULL
               AND (m.on_hand, m.reserved, m.safety_stock, m.damaged, m.quality_control, m.incoming,
                    m.backordered, m.preordered, m.owed)
                   IS DISTINCT FROM
                   (s.on_hand, s.reserved, s.safety_stock, s.damaged, s.quality_control, s.incoming,
                    s.backordered, s.preordered, s.owed) AS levels_differ
    FROM stock_event_keys m
    FULL JOIN stock s ON s.sku = m.sku AND s.location = m.location AND m.channel = ''
)
SELECT k.sku, format('%s at %s%s: %s ledger rows, %s crossings, numbered through %s, %s waiting, '
                     'events kept %s (seq %s-%s)%s',
                     k.sku, k.location, CASE WHEN k.channel <> '' THEN ' channel ' || k.channel ELSE '' END,
                     COALESCE(l.rows, 0), k.crossings, k.last_seq, COALESCE(e.waiting, 0),
                     COALESCE(e.events, 0), e.first_seq, e.last_seq,
                     CASE WHEN k.levels_differ THEN ', remembered levels differ from the stock row' ELSE '' END)
           AS breach
FROM keys k
LEFT JOIN ledger l ON l.sku = k.sku AND l.location = k.location AND k.channel = ''
LEFT JOIN kept e ON e.sku = k.sku AND e.location = k.location AND e.channel = k.channel
WHERE k.last_seq + COALESCE(e.waiting, 0) <> COALESCE(l.rows, 0) + k.crossings
   OR (e.events > 0 AND (e.last_seq <> k.last_seq OR e.events <> e.last_seq - e.first_seq + 1))
   OR (k.levels_differ AND COALESCE(e.waiting, 0) = 0)
UNION ALL
SELECT e.sku, format('event %s does not match its ledger row %s', e.id, e.ledger_id)
FROM stock_events e
LEFT JOIN stock_ledger g ON g.id = e.ledger_id
WHERE e.ledger_id IS NOT NULL
  AND (g.id IS NULL OR g.sku <> e.sku OR g.location <> e.location OR g.reason <> e.type)
UNION ALL
SELECT min(e.sku), format('%s events share ledger row %s', count(*), e.ledger_id)
FROM stock_events e WHERE e.ledger_id IS NOT NULL
GROUP BY e.ledger_id HAVING count(*) > 1;

-- name: audit_event_positions_dense
-- Cursors given so far are unique (a constraint) and dense: every position after the pruned
-- mark up to the last one given belongs to a kept event; and every event below the
-- sequencer's scan mark has one.
SELECT 'positions', format('positions %s-%s: %s kept events, pruned through %s, last given %s',
                           min(e.position), max(e.position), count(e.position), c.pruned_through,
                           c.last_position) AS breach
FROM stock_event_cursor c LEFT JOIN stock_events e ON e.position IS NOT NULL
GROUP BY c.pruned_through, c.last_position
HAVING count(e.position) <> c.last_position - c.pruned_through
    OR (count(e.position) > 0 AND (min(e.position) <> c.pruned_through + 1
                                   OR max(e.position) <> c.last_position))
UNION ALL
-- The sequencer's scan mark never passes an event it has not positioned (migration 0008).
SELECT min(e.sku), format('%s events below the scan mark %s have no cursor, the first serial %s',
                          count(*), min(c.scan_from), min(e.serial))
FROM stock_events e, stock_event_cursor c
WHERE e.position IS NULL AND e.serial < c.scan_from
HAVING count(*) > 0;
