"""The operations' named SQL (the role grants and the audit), loaded from holdfast_ops/sql/*.sql."""

from holdfast_common.db.sqlfiles import Queries

Q = Queries.of_package("holdfast_ops.sql")
