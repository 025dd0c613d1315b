-- What each service's PostgreSQL role may do, applied by holdfast_ops/roles.py
-- (docs/operations.md, "Database roles") as the schema owner after every migration, in one
-- transaction: reset_role first takes away whatever a role had, then grant_<service>
-- gives back exactly what that service's SQL needs. A migration that adds a table or a
-- column a service uses adds its grant here (tests/integration/test_db_roles.py fails
-- for a table nobody was granted).
-- {role}, {schema} and {database} are identifiers quoted by psycopg.sql; {password},
-- {verifier} and the timeouts are filled the same way (sql.SQL(...).format), never by
-- string formatting.
--
-- Column lists on UPDATE keep each role to the columns its statements set (the sweeper
-- lowers stock.reserved but never touches on_hand). SELECT ... FOR UPDATE needs UPDATE
-- on at least one column of the locked table, which is all some of these UPDATEs are for.
-- Foreign keys and triggers are checked as the tables' owner: a role needs no rights on
-- the tables its rows point at. stock_ledger's id is an identity column, which needs no
-- sequence privilege. LISTEN, pg_notify (the stock_levels trigger) and advisory locks
-- need none either.

-- name: lock_bootstrap
-- Serializes bootstraps of one database: concurrent GRANTs on one table would fail.
SELECT pg_advisory_xact_lock(hashtext('holdfast_ops.roles'));

-- name: where_we_are
-- The owner the roles must not be, and the schema and database they are granted on.
SELECT current_user, current_schema(), current_database();

-- name: role_is_superuser
-- No row: the role does not exist yet.
SELECT rolsuper FROM pg_roles WHERE rolname = %(name)s;

-- name: create_login_role
CREATE ROLE {role} LOGIN {password};

-- name: make_role_login
ALTER ROLE {role} LOGIN {password};

-- name: password_clause
PASSWORD {verifier}

-- name: reset_role
REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {role};
REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM {role};
REVOKE ALL ON SCHEMA {schema} FROM {role};
REVOKE ALL ON DATABASE {database} FROM {role};
GRANT CONNECT ON DATABASE {database} TO {role};
GRANT USAGE ON SCHEMA {schema} TO {role};

-- name: harden_schema
-- Only the owner creates objects. PostgreSQL 15+ already gives PUBLIC no CREATE on the
-- public schema; older servers do. Temporary tables are no service's business either.
REVOKE CREATE ON SCHEMA {schema} FROM PUBLIC;
REVOKE TEMPORARY ON DATABASE {database} FROM PUBLIC;

-- name: grant_inventory
-- inventory_svc/sql/*.sql (the holds gauge too), holdfast_common/db/sql/idempotency.sql.
-- The audit runs as the owner.
GRANT SELECT, INSERT ON categories, hold_lines, hold_allocations TO {role};
-- ImportCatalog updates products by handle and variants by SKU (INSERT ... ON CONFLICT DO UPDATE).
GRANT SELECT, INSERT, UPDATE (title, description, category_id, base_price_minor, currency) ON products
    TO {role};
GRANT SELECT, INSERT, UPDATE (product_id, price_adjustment_minor) ON variants TO {role};
GRANT SELECT, INSERT, UPDATE (on_hand, reserved, safety_stock, damaged, quality_control, incoming,
                              backordered, preordered, owed, update_time) ON stock TO {role};
GRANT SELECT, INSERT, UPDATE (low_stock_at, update_time) ON stock_thresholds TO {role};
-- Stock events: the ledger trigger (migration 0008) inserts them as the writer; the sequencer
-- positions them, adds the crossings and keeps its per-key memory; StreamStockEvents reads them.
GRANT SELECT, INSERT, UPDATE (position, seq) ON stock_events TO {role};
-- The sequencer's scan mark reads the last serial drawn.
GRANT SELECT ON SEQUENCE stock_events_serial_seq TO {role};
GRANT SELECT, INSERT, UPDATE ON stock_event_keys TO {role};
GRANT SELECT, UPDATE (last_position, scan_from, settle_serial, settle_xid) ON stock_event_cursor TO {role};
GRANT SELECT, INSERT, UPDATE (name, active) ON locations TO {role};
-- Receipts are never deleted; owed rows only shrink as units are covered.
GRANT SELECT, INSERT, UPDATE (received, state, update_time) ON receipts TO {role};
GRANT SELECT, INSERT, UPDATE (policy, backorder_limit, preorder_limit, preorder_end_time, update_time)
    ON inventory_policies TO {role};
GRANT SELECT, INSERT, UPDATE (quantity) ON owed TO {role};
GRANT SELECT, INSERT, UPDATE (name, strategy) ON channels TO {role};
GRANT SELECT, INSERT, DELETE ON channel_locations TO {role};
GRANT SELECT, INSERT, UPDATE (state, end_time, expire_time) ON holds TO {role};
GRANT INSERT ON stock_ledger TO {role};
GRANT SELECT, INSERT, UPDATE (response) ON idempotency_keys TO {role};

-- name: grant_pricing
-- pricing_svc/sql/*.sql, holdfast_common/db/sql/idempotency.sql: reads the catalog, owns the rules.
GRANT SELECT ON categories, products, variants TO {role};
GRANT SELECT, INSERT, UPDATE, DELETE ON price_rules TO {role};
GRANT SELECT, INSERT, UPDATE (response) ON idempotency_keys TO {role};

-- name: grant_sweeper
-- sweeper/sql/*.sql: expires overdue holds (stock.reserved down, an EXPIRE ledger row)
-- and deletes old idempotency records, which it locks first (hence the UPDATE).
GRANT SELECT ON hold_lines, hold_allocations TO {role};
GRANT SELECT, UPDATE (state, end_time) ON holds TO {role};
GRANT SELECT, UPDATE (reserved, backordered, preordered, update_time) ON stock TO {role};
GRANT INSERT ON stock_ledger TO {role};
-- The EXPIRE rows' events (the ledger trigger), and the pruning of old events.
GRANT SELECT, INSERT, DELETE ON stock_events TO {role};
GRANT SELECT, UPDATE (pruned_through) ON stock_event_cursor TO {role};
GRANT SELECT, UPDATE (create_time), DELETE ON idempotency_keys TO {role};

-- name: role_timeouts
-- The session defaults of every login as the role; each service also sets them on its own
-- connections, so these are the backstop for any other session (psql, a script) as it.
ALTER ROLE {role} SET statement_timeout = {statement_timeout};
ALTER ROLE {role} SET lock_timeout = {lock_timeout};
ALTER ROLE {role} SET idle_in_transaction_session_timeout = {idle_in_transaction_session_timeout};
