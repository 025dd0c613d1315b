"""The named SQL of sweeper, loaded from sweeper/sql/*.sql."""

from holdfast_common.db.sqlfiles import Queries

Q = Queries.of_package("sweeper.sql")
