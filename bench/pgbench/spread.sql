-- spread: CreateHold of 1 unit of a random SKU of the catalog, as raw SQL. It writes
-- exactly the rows the service writes, in the service's order: claim the request_id,
-- lock the stock rows in ascending SKU order, then one statement for the hold, its lines,
-- one HOLD ledger row per line and the reserved counts, and last the stored response.
-- Variables: -D prefix=... -D skus=...
\set sku random(0, :skus - 1)
BEGIN;
INSERT INTO idempotency_keys (request_id, method, fingerprint)
VALUES ('pgbench-' || gen_random_uuid(), 'CreateHold', sha256(convert_to(random()::text, 'UTF8')))
ON CONFLICT (request_id) DO NOTHING
RETURNING request_id \gset
SELECT sku, on_hand, reserved, now() FROM stock
WHERE sku = ANY(ARRAY[:prefix::text || '-' || :sku::text])
ORDER BY sku FOR UPDATE;
WITH hold AS (
    INSERT INTO holds (id, owner_id, state, create_time, expire_time)
    VALUES (gen_random_uuid(), 'pgbench', 'ACTIVE', now(), now() + interval '15 minutes')
    RETURNING id
), cart AS (
    SELECT sku, 1::bigint AS quantity FROM unnest(ARRAY[:prefix::text || '-' || :sku::text]) AS sku
), lines AS (
    INSERT INTO hold_lines (hold_id, sku, quantity) SELECT hold.id, cart.sku, cart.quantity FROM hold, cart
), ledger AS (
    INSERT INTO stock_ledger (sku, delta_on_hand, delta_reserved, reason, hold_id, request_id)
    SELECT cart.sku, 0, cart.quantity, 'HOLD', hold.id, :request_id FROM hold, cart
)
UPDATE stock s SET reserved = s.reserved + cart.quantity, update_time = now()
FROM cart WHERE s.sku = cart.sku;
UPDATE idempotency_keys SET response = convert_to(repeat('x', 300), 'UTF8')
WHERE request_id = :request_id;
COMMIT;
