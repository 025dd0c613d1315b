-- name: database_exists
SELECT 1 FROM pg_database WHERE datname = %(database)s;

-- name: create_database
-- The placeholder is the database's name, filled with psycopg.sql.Identifier.
CREATE DATABASE {};

-- name: create_database_from_template
-- The database, then the template it is cloned from (a migrated one, in the tests).
CREATE DATABASE {} TEMPLATE {};
