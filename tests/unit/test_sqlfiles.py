"""holdfast_common.db.sqlfiles: named queries from .sql files (reads only a temporary folder)."""

from __future__ import annotations

from pathlib import Path

import pytest

from holdfast_common.db.sqlfiles import Queries
from inventory_svc.queries import Q
from pricing_svc.queries import Q as PRICING_Q


def write(folder: Path, name: str, text: str) -> None:
    (folder / name).write_text(text)


def test_loads_named_queries_from_every_file(tmp_path: Path) -> None:
    write(
        tmp_path,
        "a.sql",
        "-- A header that belongs to no query.\n\n"
        "-- name: first\n-- explains the query\nSELECT 1;\n\n"
        "--name:second\nSELECT 2\nFROM t;\n",
    )
    write(tmp_path, "b.sql", "-- name: third\nSELECT 3;\n")
    write(tmp_path, "ignored.txt", "-- name: not_sql\nSELECT 4;\n")
    q = Queries(tmp_path)
    assert q.first == "-- explains the query\nSELECT 1;"
    assert q.second == "SELECT 2\nFROM t;"
    assert q.third == "SELECT 3;"
    assert "header" not in q.first
    with pytest.raises(AttributeError):
        q.not_sql  # noqa: B018


def test_duplicate_name_across_files_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "a.sql", "-- name: same\nSELECT 1;\n")
    write(tmp_path, "b.sql", "-- name: same\nSELECT 2;\n")
    with pytest.raises(ValueError, match="same"):
        Queries(tmp_path)


def test_duplicate_name_in_one_file_is_refused(tmp_path: Path) -> None:
    write(tmp_path, "a.sql", "-- name: same\nSELECT 1;\n-- name: same\nSELECT 2;\n")
    with pytest.raises(ValueError, match="same"):
        Queries(tmp_path)


def test_unknown_name_is_an_attribute_error(tmp_path: Path) -> None:
    write(tmp_path, "a.sql", "-- name: known\nSELECT 1;\n")
    q = Queries(tmp_path)
    with pytest.raises(AttributeError, match="missing"):
        q.missing  # noqa: B018
    assert not hasattr(q, "missing")
    assert hasattr(q, "known")


def test_empty_folder_has_no_queries(tmp_path: Path) -> None:
    assert not hasattr(Queries(tmp_path), "anything")


def test_the_service_queries_load() -> None:
    assert Q.lock_stock.startswith("-- Locks")
    assert "FOR UPDATE" in Q.lock_stock
    assert "SKIP LOCKED" in Q.reclaim_overdue_holds
    assert "WITH RECURSIVE" in PRICING_Q.sku_pricing
    assert PRICING_Q.lock_rule.rstrip().endswith("FOR UPDATE;")
