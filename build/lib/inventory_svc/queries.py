"""The named SQL of inventory_svc, loaded from inventory_svc/sql/*.sql."""

from holdfast_common.db.sqlfiles import Queries

Q = Queries.of_package("inventory_svc.sql")
