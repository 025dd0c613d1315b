"""The named SQL of pricing_svc, loaded from pricing_svc/sql/*.sql."""

from holdfast_common.db.sqlfiles import Queries

Q = Queries.of_package("pricing_svc.sql")
