"""Catalog files <-> ImportCatalog/ExportCatalog rows: one CSV layout, and JSON Lines with the same
field names (docs/operators.md, "Catalog files").

A CSV file starts with a header naming some of COLUMNS, `kind` among them; every record is one
row of the catalog, its `kind` saying which, and fills only its kind's columns (KIND_COLUMNS). A
JSON Lines file holds one object a line with the same keys; category paths are lists there and
" > "-joined strings in CSV. Prices are decimals of the currency's major unit ("19.99").

A row that cannot be read (unknown kind or column, bad number, a code outside the SKU character
set, negative stock...) comes back as a BadRow with its line number, and the rows around it are
still read; a file that is not a catalog file at all is refused whole (NotACatalogFile) by
`survey`, which reads it through before anything is sent.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from google.type import money_pb2
from holdfast.inventory.v1 import inventory_pb2 as pb

from holdfast_common.values.limits import MAX_AMOUNT_MINOR, MAX_DESCRIPTION, MAX_NAME, MAX_STOCK_UNITS
from holdfast_common.values.money import INT64_MAX, Money, major_string, money_from_proto, parse_major
from holdfast_common.values.validation import Violations

FORMATS = ("csv", "jsonl")
_EXTENSIONS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl"}
# Every column, in the order an export writes them.
COLUMNS = (
    "kind",
    "code",
    "name",
    "active",
    "path",
    "handle",
    "title",
    "description",
    "category",
    "base_price",
    "currency",
    "sku",
    "product",
    "price_adjustment",
    "location",
    "on_hand",
)
# The columns each kind fills, in the order the server applies the kinds within a chunk.
KIND_COLUMNS = {
    "location": ("code", "name", "active"),
    "category": ("path",),
    "product": ("handle", "title", "description", "category", "base_price", "currency"),
    "variant": ("sku", "product", "price_adjustment", "currency"),
    "stock": ("sku", "location", "on_hand"),
}
PATH_SEPARATOR = " > "
_WHOLE = re.compile(r"-?[0-9]+")
_TRUE = {"true", "yes", "1"}
_FALSE = {"false", "no", "0"}


class NotACatalogFile(Exception):
    """The file is not a catalog file in the format asked for: nothing of it may be sent."""


@dataclass(frozen=True)
class FileRow:
    """A row read from the file, ready to send."""

    line: int
    kind: str
    key: str
    row: pb.CatalogRow


@dataclass(frozen=True)
class BadRow:
    """A row the file holds but that cannot be sent: `reason` is UPPER_SNAKE, `message` says what."""

    line: int
    kind: str
    key: str
    reason: str
    message: str


class _RowError(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def format_of(path: Path, given: str | None) -> str:
    """The format asked for, else the one the file's extension names; ValueError when neither."""
    if given:
        return given
    found = _EXTENSIONS.get(path.suffix.lower())
    if found is None:
        raise ValueError(f"cannot tell the format of {path.name} from its extension: pass --format csv|jsonl")
    return found


# ---------------------------------------------------------------- reading


def _text_lines(stream: TextIO) -> Iterator[str]:
    """The file's lines, refusing NUL (a binary file that happens to decode)."""
    for line in stream:
        if "\0" in line:
            raise NotACatalogFile("the file holds NUL bytes: not a text file")
        yield line


def _records(path: Path, fmt: str) -> Iterator[tuple[int, dict[str, Any] | _RowError]]:
    """(line number, raw values or why the record cannot be read) of each record; refuses a file
    that is not text or whose first line is not the format's (the header, or a JSON object)."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as stream:
            if fmt == "csv":
                yield from _csv_records(_text_lines(stream))
            else:
                yield from _jsonl_records(_text_lines(stream))
    except UnicodeDecodeError as error:
        raise NotACatalogFile(f"not UTF-8 text (byte {error.start} of a block): not a catalog file") from None


def _csv_header(cells: list[str]) -> list[str]:
    header = [cell.strip().lower() for cell in cells]
    unknown = [name for name in header if name not in COLUMNS]
    if "kind" not in header or unknown:
        raise NotACatalogFile(
            "line 1 is not the catalog header"
            + (f" (unknown columns: {', '.join(map(repr, unknown))})" if unknown else " (no kind column)")
            + f"; the columns are {', '.join(COLUMNS)}"
        )
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if duplicated:
        raise NotACatalogFile(f"the header names {', '.join(duplicated)} twice")
    return header


def _csv_records(lines: Iterator[str]) -> Iterator[tuple[int, dict[str, Any] | _RowError]]:
    reader = csv.reader(lines, strict=True)
    header: list[str] | None = None
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as error:
            if header is None:
                raise NotACatalogFile(f"line {start} is not CSV: {error}") from None
            yield start, _RowError("BAD_CSV", str(error))
            continue
        if not any(cell.strip() for cell in cells):
            continue
        if header is None:
            header = _csv_header(cells)
            continue
        if len(cells) > len(header):
            yield (
                start,
                _RowError("UNKNOWN_COLUMN", f"{len(cells)} values, the header has {len(header)} columns"),
            )
            continue
        yield start, {name: cell for name, cell in zip(header, cells, strict=False) if cell != ""}
    if header is None:
        raise NotACatalogFile("the file is empty: no header")


def _jsonl_records(lines: Iterator[str]) -> Iterator[tuple[int, dict[str, Any] | _RowError]]:
    seen_one = False
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line, parse_float=Decimal)
            if not isinstance(value, dict):
                raise ValueError(f"a JSON {type(value).__name__}, not an object")
        except ValueError as error:
            if not seen_one:
                raise NotACatalogFile(f"line {number} is not a JSON object: not JSON Lines") from None
            yield number, _RowError("BAD_JSON", f"not a JSON object: {error}")
            continue
        seen_one = True
        yield number, {name: item for name, item in value.items() if item is not None}
    if not seen_one:
        raise NotACatalogFile("the file is empty: no rows")


def survey(path: Path, fmt: str) -> int:
    """Reads the whole file and counts its rows (good or bad); NotACatalogFile when it is not a
    catalog file in `fmt` at all."""
    return sum(1 for _ in _records(path, fmt))


def read_rows(path: Path, fmt: str, currency: str) -> Iterator[FileRow | BadRow]:
    """Every row of the file in order: a FileRow to send or a BadRow saying why not. `currency`
    is the one of prices whose row names none (the store's)."""
    for line, record in _records(path, fmt):
        if isinstance(record, _RowError):
            yield BadRow(line, "", "", record.reason, record.message)
            continue
        kind = str(record.get("kind", ""))
        key = _key(kind, record)
        try:
            row = _row(kind, record, currency)
        except _RowError as error:
            yield BadRow(line, kind, key, error.reason, error.message)
            continue
        yield FileRow(line, kind, key, row)


def _key(kind: str, values: dict[str, Any]) -> str:
    """The row's natural key as the error report names it, from whatever the row holds."""

    def text(name: str) -> str:
        value = values.get(name, "")
        return PATH_SEPARATOR.join(map(str, value)) if isinstance(value, list) else str(value)

    if kind == "stock":
        return f"{text('sku')}@{text('location') or 'default'}"
    column = {"location": "code", "category": "path", "product": "handle", "variant": "sku"}.get(kind)
    return text(column) if column else ""


def _row(kind: str, values: dict[str, Any], currency: str) -> pb.CatalogRow:
    if not kind:
        raise _RowError("MISSING_VALUE", "kind is required")
    if kind not in KIND_COLUMNS:
        raise _RowError("UNKNOWN_KIND", f"kind {kind!r} is not one of {', '.join(KIND_COLUMNS)}")
    allowed = KIND_COLUMNS[kind]
    stray = [name for name in values if name != "kind" and name not in allowed]
    if stray:
        raise _RowError(
            "UNKNOWN_COLUMN",
            f"{', '.join(stray)}: not a column of a {kind} row (its columns: {', '.join(allowed)})",
        )
    fields = _Fields(values)
    if kind == "location":
        location = pb.LocationRow(code=fields.code("code"), name=fields.text("name", MAX_NAME))
        active = fields.boolean("active")
        if active is not None:
            location.active = active
        return pb.CatalogRow(location=location)
    if kind == "category":
        return pb.CatalogRow(category=pb.CategoryRow(path=fields.path("path", required=True)))
    if kind == "product":
        product_currency = fields.currency(currency)
        return pb.CatalogRow(
            product=pb.ProductRow(
                handle=fields.code("handle"),
                title=fields.text("title", MAX_NAME, required=True),
                description=fields.text("description", MAX_DESCRIPTION),
                category_path=fields.path("category", required=False),
                base_price=fields.money("base_price", product_currency, required=True, negative=False),
            )
        )
    if kind == "variant":
        variant = pb.VariantRow(sku=fields.code("sku"), product_handle=fields.code("product"))
        variant_currency = fields.currency(currency)
        if "price_adjustment" in values:
            variant.price_adjustment.CopyFrom(fields.money("price_adjustment", variant_currency))
        return pb.CatalogRow(variant=variant)
    return pb.CatalogRow(
        stock=pb.StockRow(
            sku=fields.code("sku"),
            location=fields.code("location", required=False),
            on_hand=fields.on_hand("on_hand"),
        )
    )


class _Fields:
    """One record's raw values (CSV strings, or JSON values) read as typed fields."""

    def __init__(self, values: dict[str, Any]) -> None:
        self._values = values

    def _string(self, name: str, *, required: bool) -> str:
        value = self._values.get(name, "")
        if not isinstance(value, str):
            raise _RowError("BAD_VALUE", f"{name} must be a string, not {json.dumps(value, default=str)}")
        if required and not value:
            raise _RowError("MISSING_VALUE", f"{name} is required")
        return value

    def text(self, name: str, limit: int, *, required: bool = False) -> str:
        value = self._string(name, required=required)
        if len(value) > limit:
            raise _RowError("TOO_LONG", f"{name} is {len(value)} characters, at most {limit}")
        return value

    def code(self, name: str, *, required: bool = True) -> str:
        """A SKU, handle or location code: the SKU character set."""
        value = self._string(name, required=required)
        violations = Violations()
        if value and not violations.sku(name, value):
            raise _RowError("BAD_CODE", f"{name} {value!r} {violations.items[0].description}")
        return value

    def path(self, name: str, *, required: bool) -> list[str]:
        value = self._values.get(name, [])
        if isinstance(value, str):
            value = value.split(PATH_SEPARATOR.strip()) if value else []
            value = [part.strip() for part in value]
        if not isinstance(value, list) or not all(isinstance(part, str) for part in value):
            raise _RowError("BAD_PATH", f"{name} must be category names joined by ' > ' (a list in JSON)")
        if required and not value:
            raise _RowError("MISSING_VALUE", f"{name} is required")
        if any(not part for part in value):
            raise _RowError("BAD_PATH", f"{name} has an empty category name")
        if any(len(part) > MAX_NAME for part in value):
            raise _RowError("TOO_LONG", f"{name} has a category name over {MAX_NAME} characters")
        return value

    def boolean(self, name: str) -> bool | None:
        value = self._values.get(name)
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise _RowError("BAD_BOOLEAN", f"{name} must be true or false, not {value!r}")

    def _decimal_text(self, name: str) -> str:
        value = self._values.get(name, "")
        if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
            raise _RowError("BAD_NUMBER", f"{name} must be a number, not {json.dumps(value, default=str)}")
        return str(value).strip()

    def on_hand(self, name: str) -> int:
        text = self._decimal_text(name)
        if not text:
            raise _RowError("MISSING_VALUE", f"{name} is required")
        if not _WHOLE.fullmatch(text):
            raise _RowError("BAD_NUMBER", f"{name} {text!r} is not a whole number")
        count = int(text)
        if count < 0:
            raise _RowError("NEGATIVE_STOCK", f"{name} {count} is negative")
        if count > MAX_STOCK_UNITS:
            raise _RowError("BAD_NUMBER", f"{name} {count} is more than {MAX_STOCK_UNITS:,} units")
        return count

    def currency(self, default: str) -> str:
        value = self._string("currency", required=False) or default
        if len(value) != 3 or not value.isascii() or not value.isupper():
            raise _RowError("BAD_CURRENCY", f"currency {value!r} is not an ISO 4217 code such as EUR")
        return value

    def money(
        self, name: str, currency: str, *, required: bool = False, negative: bool = True
    ) -> money_pb2.Money:
        text = self._decimal_text(name)
        if not text and required:
            raise _RowError("MISSING_VALUE", f"{name} is required")
        try:
            minor = parse_major(text or "0", currency)
        except ValueError as error:
            raise _RowError("BAD_MONEY", f"{name}: {error}") from None
        if minor < 0 and not negative:
            raise _RowError("BAD_MONEY", f"{name} {text} is negative")
        if abs(minor) > MAX_AMOUNT_MINOR:
            limit = major_string(MAX_AMOUNT_MINOR, currency)
            raise _RowError("BAD_MONEY", f"{name} {text} is past ±{limit} {currency}")
        return Money(minor, currency).to_proto()


# ---------------------------------------------------------------- writing


def row_kind(row: pb.CatalogRow) -> str:
    kind = row.WhichOneof("row")
    assert kind is not None, "an empty CatalogRow"
    return kind


def _major(value: money_pb2.Money) -> str:
    violations = Violations()
    money = money_from_proto(
        violations,
        "money",
        value,
        store_currency=value.currency_code,
        allow_negative=True,
        max_minor=INT64_MAX,
    )
    if money is None:
        raise ValueError(f"the server sent an amount that is not exact: {value}")
    return major_string(money.minor, money.currency)


def row_values(row: pb.CatalogRow) -> dict[str, Any]:
    """A row as the file holds it (JSON types: lists, booleans, integers, decimal strings),
    without empty fields."""
    kind = row_kind(row)
    values: dict[str, Any] = {"kind": kind}
    if kind == "location":
        values.update(code=row.location.code, name=row.location.name)
        if row.location.HasField("active"):
            values["active"] = row.location.active
    elif kind == "category":
        values["path"] = list(row.category.path)
    elif kind == "product":
        product = row.product
        values.update(
            handle=product.handle,
            title=product.title,
            description=product.description,
            category=list(product.category_path),
        )
        if product.HasField("base_price"):
            values.update(base_price=_major(product.base_price), currency=product.base_price.currency_code)
    elif kind == "variant":
        values.update(sku=row.variant.sku, product=row.variant.product_handle)
        if row.variant.HasField("price_adjustment"):
            adjustment = row.variant.price_adjustment
            values.update(price_adjustment=_major(adjustment), currency=adjustment.currency_code)
    else:
        values.update(sku=row.stock.sku, location=row.stock.location, on_hand=row.stock.on_hand)
    return {name: value for name, value in values.items() if value not in ("", [])}


def _csv_cell(name: str, value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        if any(PATH_SEPARATOR.strip() in part for part in value):
            raise ValueError(f"{name} {value} holds '>': CSV cannot carry it, export as --format jsonl")
        return PATH_SEPARATOR.join(value)
    return str(value)


class RowWriter:
    """Writes rows to a text stream in one of FORMATS (the CSV header first)."""

    def __init__(self, out: TextIO, fmt: str) -> None:
        self._out = out
        self._csv = csv.writer(out, lineterminator="\n") if fmt == "csv" else None
        if self._csv is not None:
            self._csv.writerow(COLUMNS)

    def write(self, rows: Iterable[pb.CatalogRow]) -> int:
        written = 0
        for row in rows:
            values = row_values(row)
            if self._csv is not None:
                self._csv.writerow(
                    [_csv_cell(name, values[name]) if name in values else "" for name in COLUMNS]
                )
            else:
                self._out.write(json.dumps(values, ensure_ascii=False) + "\n")
            written += 1
        return written
