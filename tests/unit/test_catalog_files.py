"""holdfast_cli.catalog_files: catalog files (CSV, JSON Lines) <-> CatalogRow, bad rows named by
line, files that are not catalog files refused whole; and the money they carry."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from holdfast.inventory.v1 import inventory_pb2 as pb

from holdfast_cli.catalog_files import (
    COLUMNS,
    BadRow,
    FileRow,
    NotACatalogFile,
    RowWriter,
    format_of,
    read_rows,
    row_values,
    survey,
)
from holdfast_common.values.money import Money, major_string, parse_major
from tests.support.paths import REPO_ROOT

SAMPLE = REPO_ROOT / "samples" / "catalog.csv"
HEADER = ",".join(COLUMNS)


def csv_line(**values: str) -> str:
    return ",".join(values.get(column, "") for column in COLUMNS)


def write(tmp_path: Path, name: str, text: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def read(path: Path, fmt: str = "csv") -> tuple[list[FileRow], list[BadRow]]:
    rows = list(read_rows(path, fmt, "USD"))
    return [r for r in rows if isinstance(r, FileRow)], [r for r in rows if isinstance(r, BadRow)]


def test_the_sample_file_reads_whole_with_every_kind() -> None:
    good, bad = read(SAMPLE)
    assert bad == []
    assert survey(SAMPLE, "csv") == len(good)
    kinds = [row.kind for row in good]
    assert {kind: kinds.count(kind) for kind in dict.fromkeys(kinds)} == {
        "location": 3,
        "category": 6,
        "product": 5,
        "variant": 10,
        "stock": 12,
    }
    assert good[0].line == 2  # the header is line 1
    shell = next(r.row.product for r in good if r.kind == "product" and r.key == "alpine-shell")
    assert list(shell.category_path) == ["Outdoor", "Outerwear"]
    assert (shell.base_price.units, shell.base_price.nanos, shell.base_price.currency_code) == (159, 0, "USD")
    red = next(r.row.variant for r in good if r.key == "SHELL-M-RED")
    assert (red.price_adjustment.units, red.price_adjustment.nanos) == (-10, 0)
    default_stock = next(r for r in good if r.key == "MUG-WHITE@default")
    assert default_stock.row.stock.location == "" and default_stock.row.stock.on_hand == 100
    outlet = next(r.row.location for r in good if r.key == "outlet")
    store = next(r.row.location for r in good if r.key == "store-1")
    assert outlet.HasField("active") and not outlet.active
    assert not store.HasField("active")


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_rows_written_then_read_are_the_same_rows(tmp_path: Path, fmt: str) -> None:
    original, _ = read(SAMPLE)
    out = io.StringIO()
    assert RowWriter(out, fmt).write(row.row for row in original) == len(original)
    again, bad = read(write(tmp_path, f"again.{fmt}", out.getvalue()), fmt)
    assert bad == []
    assert [row.row for row in again] == [row.row for row in original]


def test_jsonl_uses_the_csv_column_names_with_lists_for_paths() -> None:
    product = pb.ProductRow(
        handle="mug", title="Mug", category_path=["Home", "Kitchen"], base_price=Money(1250, "EUR").to_proto()
    )
    row = pb.CatalogRow(product=product)
    assert row_values(row) == {
        "kind": "product",
        "handle": "mug",
        "title": "Mug",
        "category": ["Home", "Kitchen"],
        "base_price": "12.50",
        "currency": "EUR",
    }
    assert set(row_values(row)) <= set(COLUMNS)


def test_bad_rows_are_named_by_line_and_the_rest_still_read(tmp_path: Path) -> None:
    lines = [
        HEADER,
        csv_line(kind="location", code="wh"),  # 2: good
        csv_line(kind="warehouse", code="x"),  # 3
        csv_line(kind="location", code="wh2", on_hand="5"),  # 4: a stock column on a location row
        csv_line(kind="stock", sku="MUG-1", location="wh", on_hand="12x"),  # 5
        csv_line(kind="variant", sku="MUG 1", product="mug"),  # 6: space outside the character set
        csv_line(kind="stock", sku="MUG-1", location="wh", on_hand="-3"),  # 7
        csv_line(kind="product", handle="mug", title="Mug", base_price="12.505"),  # 8: a tenth of a cent
        # 9-10: a quoted description across two lines; the row is named by its first line.
        csv_line(kind="product", handle="cup", title="Cup", base_price="3", description='"two\nlines"'),
        csv_line(kind="stock", sku="MUG-1", on_hand="1") + ",extra",  # 11: more values than columns
        "",  # 12: blank, skipped
        csv_line(kind="product", handle="bowl", base_price="1.00"),  # 13: no title
        csv_line(kind="location", code="wh3", active="maybe"),  # 14
        csv_line(kind="category", path="Home >  > Kitchen"),  # 15
        csv_line(kind="product", handle="plate", title="Plate", base_price="-1.00"),  # 16
        csv_line(kind="stock", sku="MUG-1", location="wh", on_hand="7"),  # 17: good
    ]
    good, bad = read(write(tmp_path, "bad.csv", "\n".join(lines) + "\n"))
    assert [(b.line, b.reason) for b in bad] == [
        (3, "UNKNOWN_KIND"),
        (4, "UNKNOWN_COLUMN"),
        (5, "BAD_NUMBER"),
        (6, "BAD_CODE"),
        (7, "NEGATIVE_STOCK"),
        (8, "BAD_MONEY"),
        (11, "UNKNOWN_COLUMN"),
        (13, "MISSING_VALUE"),
        (14, "BAD_BOOLEAN"),
        (15, "BAD_PATH"),
        (16, "BAD_MONEY"),
    ]
    assert [(g.line, g.key) for g in good] == [(2, "wh"), (9, "cup"), (17, "MUG-1@wh")]
    assert good[1].row.product.description == "two\nlines"
    by_line = {b.line: b for b in bad}
    assert by_line[6].key == "MUG 1" and "character" in by_line[6].message
    assert by_line[5].key == "MUG-1@wh" and "12x" in by_line[5].message
    assert "on_hand" in by_line[4].message


def test_jsonl_bad_rows_are_named_by_line(tmp_path: Path) -> None:
    lines = [
        '{"kind": "location", "code": "wh", "active": false}',
        '{"kind": "stock", "sku": "MUG-1", "location": "wh", "on_hand": 4, "colour": "red"}',
        "not json",
        "",
        '{"kind": "category", "path": "Home"}',
        '{"kind": "category", "path": [1, 2]}',
        '{"kind": "stock", "sku": "MUG-1", "on_hand": 2.5}',
        '{"kind": "stock", "sku": "MUG-1", "on_hand": true}',
        '{"kind": "variant", "sku": "MUG-1", "product": "mug", "price_adjustment": -0.25}',
        '{"kind": "product", "handle": "mug", "title": "Mug", "base_price": "9.90", "currency": "eur"}',
    ]
    good, bad = read(write(tmp_path, "rows.jsonl", "\n".join(lines)), "jsonl")
    assert [(b.line, b.reason) for b in bad] == [
        (2, "UNKNOWN_COLUMN"),
        (3, "BAD_JSON"),
        (6, "BAD_PATH"),
        (7, "BAD_NUMBER"),
        (8, "BAD_NUMBER"),
        (10, "BAD_CURRENCY"),
    ]
    assert [g.line for g in good] == [1, 5, 9]
    assert not good[0].row.location.active and good[0].row.location.HasField("active")
    assert list(good[1].row.category.path) == ["Home"]
    assert (good[2].row.variant.price_adjustment.units, good[2].row.variant.price_adjustment.nanos) == (
        0,
        -250_000_000,
    )


@pytest.mark.parametrize(
    ("name", "content", "fmt", "says"),
    [
        ("photo.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "csv", "not"),
        ("latin1.csv", HEADER.encode() + b"\nproduct,,,,,caf\xe9\n", "csv", "UTF-8"),
        ("nul.csv", (HEADER + "\nlocation,a\x00b\n").encode(), "csv", "NUL"),
        ("other.csv", b"id,title,price\n1,Mug,9.90\n", "csv", "unknown columns"),
        ("nokind.csv", b"sku,on_hand\nA,1\n", "csv", "no kind column"),
        ("headerless.csv", b"location,wh,Warehouse\n", "csv", "header"),
        ("empty.csv", b"", "csv", "empty"),
        ("blank.csv", b"\n\n", "csv", "empty"),
        ("twice.csv", b"kind,sku,sku\n", "csv", "twice"),
        ("rows.jsonl", b"kind,code\nlocation,wh\n", "jsonl", "JSON"),
        ("array.jsonl", b'[{"kind": "location"}]\n', "jsonl", "JSON object"),
        ("empty.jsonl", b"", "jsonl", "empty"),
    ],
)
def test_a_file_that_is_not_a_catalog_file_is_refused_whole(
    tmp_path: Path, name: str, content: bytes, fmt: str, says: str
) -> None:
    path = write(tmp_path, name, content)
    with pytest.raises(NotACatalogFile, match=says):
        survey(path, fmt)


def test_survey_counts_every_row_good_or_bad(tmp_path: Path) -> None:
    text = "\n".join([HEADER, csv_line(kind="location", code="wh"), "", csv_line(kind="nope")]) + "\n"
    assert survey(write(tmp_path, "two.csv", text), "csv") == 2


def test_the_format_comes_from_the_extension_unless_given() -> None:
    assert format_of(Path("a.CSV"), None) == "csv"
    assert format_of(Path("a.jsonl"), None) == "jsonl"
    assert format_of(Path("a.ndjson"), None) == "jsonl"
    assert format_of(Path("a.txt"), "csv") == "csv"
    with pytest.raises(ValueError, match="--format"):
        format_of(Path("a.txt"), None)


def test_a_path_holding_the_separator_cannot_be_written_as_csv() -> None:
    row = pb.CatalogRow(category=pb.CategoryRow(path=["Sizes > 40"]))
    with pytest.raises(ValueError, match="jsonl"):
        RowWriter(io.StringIO(), "csv").write([row])
    out = io.StringIO()
    RowWriter(out, "jsonl").write([row])
    assert out.getvalue() == '{"kind": "category", "path": ["Sizes > 40"]}\n'


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("19.99", "EUR", 1999),
        ("19.9", "USD", 1990),
        ("19", "USD", 1900),
        ("19.990", "USD", 1999),
        (" 0.05 ", "USD", 5),
        ("-5", "USD", -500),
        ("-0.25", "USD", -25),
        ("500", "JPY", 500),
        ("1.000", "JPY", 1),
        ("0.125", "KWD", 125),
    ],
)
def test_decimal_amounts_become_exact_minor_units(text: str, currency: str, minor: int) -> None:
    assert parse_major(text, currency) == minor


@pytest.mark.parametrize(
    ("text", "currency"),
    [
        ("19.999", "USD"),
        ("1.5", "JPY"),
        ("1e3", "USD"),
        ("1,000.00", "USD"),
        ("12.", "USD"),
        (".5", "USD"),
        ("$5", "USD"),
        ("", "USD"),
        ("NaN", "USD"),
        ("١٢", "USD"),
    ],
)
def test_anything_but_an_exact_decimal_is_refused(text: str, currency: str) -> None:
    with pytest.raises(ValueError):
        parse_major(text, currency)


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [(1999, "EUR", "19.99"), (-500, "USD", "-5.00"), (5, "USD", "0.05"), (7, "JPY", "7")],
)
def test_minor_units_print_as_the_decimal_they_were_read_from(minor: int, currency: str, text: str) -> None:
    assert major_string(minor, currency) == text
    assert parse_major(text, currency) == minor
