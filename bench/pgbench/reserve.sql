-- CreateHold of one cart as raw SQL, one transaction per cart, in the service's shape: the
-- request_id's stored response looked up, the cart's stock rows (every location of its SKUs)
-- locked in ascending (SKU, location) order, then one statement writing the idempotency
-- record with its response, the hold, its lines and their allocations at `default`, one HOLD
-- ledger row per allocation and the reserved counts; then COMMIT.
-- bench/pgbench_baseline.py fills in the double-braced names per scenario: the \set lines
-- that pick the SKUs, and the cart's SKUs as an array; pgbench passes -D prefix= -D skus=.
{{choose}}
BEGIN;
SELECT r.id AS request_id, k.response
FROM (SELECT 'pgbench-' || gen_random_uuid()::text AS id) r
LEFT JOIN idempotency_keys k ON k.request_id = r.id \gset
SELECT sku, location, on_hand, reserved, now() FROM stock WHERE sku = ANY({{cart}})
ORDER BY sku, location FOR UPDATE;
WITH keys AS (
    INSERT INTO idempotency_keys (request_id, method, fingerprint, response)
    VALUES (:request_id, 'CreateHold', sha256(convert_to(:request_id, 'UTF8')),
            convert_to(repeat('x', 300), 'UTF8'))
    ON CONFLICT (request_id) DO NOTHING
    RETURNING request_id
), hold AS (
    INSERT INTO holds (id, owner_id, state, create_time, expire_time, channel, strategy)
    SELECT gen_random_uuid(), 'pgbench', 'ACTIVE', now(), now() + interval '15 minutes',
           'default', 'PRIORITY'
    FROM keys
    RETURNING id
), cart AS (
    SELECT sku, 1::bigint AS quantity FROM unnest({{cart}}) AS sku
), lines AS (
    INSERT INTO hold_lines (hold_id, sku, quantity) SELECT hold.id, cart.sku, cart.quantity FROM hold, cart
), allocations AS (
    INSERT INTO hold_allocations (hold_id, sku, location, quantity)
    SELECT hold.id, cart.sku, 'default', cart.quantity FROM hold, cart
), ledger AS (
    INSERT INTO stock_ledger (sku, location, delta_on_hand, delta_reserved, reason, hold_id, request_id)
    SELECT cart.sku, 'default', 0, cart.quantity, 'HOLD', hold.id, :request_id FROM hold, cart
)
UPDATE stock s SET reserved = s.reserved + cart.quantity, update_time = now()
FROM cart, hold
WHERE s.sku = cart.sku AND s.location = 'default' AND s.sku = ANY({{cart}});
COMMIT;
