-- name: claim_request_id
-- Waits for a concurrent transaction holding the same key; returns a row only
-- if this transaction now owns the key.
INSERT INTO idempotency_keys (request_id, method, fingerprint)
VALUES (%(request_id)s, %(method)s, %(fingerprint)s)
ON CONFLICT (request_id) DO NOTHING
RETURNING request_id;

-- name: get_request_record
SELECT method, fingerprint, response FROM idempotency_keys WHERE request_id = %(request_id)s;

-- name: store_response
UPDATE idempotency_keys SET response = %(response)s WHERE request_id = %(request_id)s;

-- name: get_request_records
SELECT request_id, method, fingerprint, response
FROM idempotency_keys
WHERE request_id = ANY(%(request_ids)s::text[]);
