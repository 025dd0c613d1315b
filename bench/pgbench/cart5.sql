-- cart5: CreateHold of 5 distinct random SKUs, 1 unit each, as raw SQL (one per fifth of
-- the catalog, so always distinct). Batched like the service: one locking SELECT in
-- ascending SKU order, one statement writing the hold, its 5 lines, 5 HOLD ledger rows
-- and the reserved counts; with the request_id claim and the stored response around it.
-- Variables: -D prefix=... -D skus=... (at least 5)
\set stripe :skus / 5
\set s1 random(0, :stripe - 1)
\set s2 :stripe + random(0, :stripe - 1)
\set s3 2 * :stripe + random(0, :stripe - 1)
\set s4 3 * :stripe + random(0, :stripe - 1)
\set s5 4 * :stripe + random(0, :stripe - 1)
BEGIN;
INSERT INTO idempotency_keys (request_id, method, fingerprint)
VALUES ('pgbench-' || gen_random_uuid(), 'CreateHold', sha256(convert_to(random()::text, 'UTF8')))
ON CONFLICT (request_id) DO NOTHING
RETURNING request_id \gset
SELECT sku, on_hand, reserved, now() FROM stock
WHERE sku = ANY(ARRAY[
    :prefix::text || '-' || :s1::text, :prefix::text || '-' || :s2::text,
    :prefix::text || '-' || :s3::text, :prefix::text || '-' || :s4::text,
    :prefix::text || '-' || :s5::text])
ORDER BY sku FOR UPDATE;
WITH hold AS (
    INSERT INTO holds (id, owner_id, state, create_time, expire_time)
    VALUES (gen_random_uuid(), 'pgbench', 'ACTIVE', now(), now() + interval '15 minutes')
    RETURNING id
), cart AS (
    SELECT sku, 1::bigint AS quantity FROM unnest(ARRAY[
        :prefix::text || '-' || :s1::text, :prefix::text || '-' || :s2::text,
        :prefix::text || '-' || :s3::text, :prefix::text || '-' || :s4::text,
        :prefix::text || '-' || :s5::text]) AS sku
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
