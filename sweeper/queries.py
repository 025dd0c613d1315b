"""The sweeper's named SQL, loaded from sweeper/sql/*.sql."""

from pathlib import Path

from holdfast_common.sqlfiles import Queries

Q = Queries(Path(__file__).resolve().parent / "sql")
