"""The inventory service's named SQL, loaded from inventory_svc/sql/*.sql."""

from pathlib import Path

from holdfast_common.sqlfiles import Queries

Q = Queries(Path(__file__).resolve().parent / "sql")
