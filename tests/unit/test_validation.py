"""inventory_svc.validation: protobuf requests validated into domain inputs, every bad field named."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import pytest
from holdfast.inventory.v1 import inventory_pb2 as pb

from holdfast_common.errors import ErrorKind, HoldfastError
from holdfast_common.settings import HoldSettings
from inventory_svc import validation
from inventory_svc.models import (
    AdjustmentReason,
    CategoryRow,
    HoldLine,
    LocationRow,
    ProductRow,
    StockAdjustment,
    StockRow,
    VariantRow,
)
from tests.support import builders

SETTINGS = HoldSettings(
    hold_default_ttl_seconds=900,
    hold_max_ttl_seconds=3600,
    max_lines_per_hold=5,
    max_quantity_per_line=100,
)


def hold_request(
    lines: list[tuple[str, int]] | None = None, request_id: str = "req-1", owner_id: str = "cart-1"
) -> pb.CreateHoldRequest:
    """A fixed request (the same ids every run), one line of SKU-A unless `lines` are given."""
    return builders.hold_request(
        [("SKU-A", 1)] if lines is None else lines, request_id=request_id, owner_id=owner_id
    )


def with_ttl(request: pb.CreateHoldRequest, seconds: int, nanos: int = 0) -> pb.CreateHoldRequest:
    request.ttl.seconds = seconds
    request.ttl.nanos = nanos
    return request


def refused(call, *args) -> list[str]:
    """The fields a refused request names; fails if the request was accepted."""
    with pytest.raises(HoldfastError) as caught:
        call(*args)
    error = caught.value
    assert error.kind is ErrorKind.INVALID_ARGUMENT
    assert error.reason == "INVALID_FIELDS"
    return [v.field for v in error.field_violations]


# ------------------------------------------------------------------ create_hold


def test_duplicate_skus_are_summed_and_lines_sorted() -> None:
    new = validation.create_hold(
        hold_request([("SKU-C", 2), ("SKU-A", 1), ("SKU-C", 3), ("SKU-B", 4)]), SETTINGS
    )
    assert new.lines == (HoldLine("SKU-A", 1), HoldLine("SKU-B", 4), HoldLine("SKU-C", 5))
    assert (new.request_id, new.owner_id) == ("req-1", "cart-1")


def test_lines_sort_by_byte_order() -> None:
    new = validation.create_hold(hold_request([("b-1", 1), ("B-1", 1), ("a", 1), ("9", 1)]), SETTINGS)
    assert [line.sku for line in new.lines] == ["9", "B-1", "a", "b-1"]


def test_ttl_defaults_to_the_configured_ttl() -> None:
    assert validation.create_hold(hold_request(), SETTINGS).ttl == timedelta(seconds=900)


def test_ttl_given_is_used_with_sub_second_precision() -> None:
    new = validation.create_hold(with_ttl(hold_request(), 30, 500_000_000), SETTINGS)
    assert new.ttl == timedelta(seconds=30.5)
    assert validation.create_hold(with_ttl(hold_request(), 3600), SETTINGS).ttl == timedelta(hours=1)


@pytest.mark.parametrize(
    ("seconds", "nanos"),
    [
        (0, 0),
        (-1, 0),
        (0, -1),
        (3600, 1),
        (3601, 0),
        (10**9, 0),
        (0, 999),  # under a microsecond: would round to no TTL at all
        (2, -1),  # nanos of the other sign than seconds: not a valid Duration
        (0, 1_000_000_000),  # nanos out of range
        (2**63 - 1, 999_999_999),
    ],
)
def test_ttl_must_be_positive_and_at_most_the_maximum(seconds: int, nanos: int) -> None:
    assert refused(validation.create_hold, with_ttl(hold_request(), seconds, nanos), SETTINGS) == ["ttl"]


def test_ttl_of_one_microsecond_is_the_shortest() -> None:
    assert validation.create_hold(with_ttl(hold_request(), 0, 1000), SETTINGS).ttl == timedelta(
        microseconds=1
    )


def test_lines_are_required() -> None:
    assert refused(validation.create_hold, hold_request([]), SETTINGS) == ["lines"]


def test_too_many_lines() -> None:
    lines = [(f"SKU-{i}", 1) for i in range(6)]
    assert refused(validation.create_hold, hold_request(lines), SETTINGS) == ["lines"]
    assert len(validation.create_hold(hold_request(lines[:5]), SETTINGS).lines) == 5


@pytest.mark.parametrize("quantity", [0, -1, 101, 2**62])
def test_line_quantity_within_limits(quantity: int) -> None:
    fields = refused(validation.create_hold, hold_request([("SKU-A", 1), ("SKU-B", quantity)]), SETTINGS)
    assert fields == ["lines[1].quantity"]


def test_quantity_at_the_cap_is_accepted() -> None:
    assert validation.create_hold(hold_request([("SKU-A", 100)]), SETTINGS).lines == (HoldLine("SKU-A", 100),)


def test_summed_duplicates_over_the_cap_are_refused() -> None:
    assert refused(validation.create_hold, hold_request([("SKU-A", 60), ("SKU-A", 41)]), SETTINGS) == [
        "lines"
    ]


@pytest.mark.parametrize("sku", ["", "-leading-dash", "has space", "x" * 65, "ünïcode", "a/b"])
def test_bad_sku(sku: str) -> None:
    assert refused(validation.create_hold, hold_request([(sku, 1)]), SETTINGS) == ["lines[0].sku"]


@pytest.mark.parametrize("request_id", ["", "has space", "x" * 65, "semi;colon"])
def test_bad_request_id(request_id: str) -> None:
    assert refused(validation.create_hold, hold_request(request_id=request_id), SETTINGS) == ["request_id"]


@pytest.mark.parametrize("owner_id", ["", "   ", "o" * 129, "nul\x00"])
def test_bad_owner_id(owner_id: str) -> None:
    assert refused(validation.create_hold, hold_request(owner_id=owner_id), SETTINGS) == ["owner_id"]


def test_every_bad_field_is_named_at_once() -> None:
    request = with_ttl(hold_request([("bad sku", 0)], request_id="", owner_id=""), 0)
    assert sorted(refused(validation.create_hold, request, SETTINGS)) == [
        "lines[0].quantity",
        "lines[0].sku",
        "owner_id",
        "request_id",
        "ttl",
    ]


# ------------------------------------------------------------------ adjust_stock


def adjust_request(**fields: object) -> pb.AdjustStockRequest:
    values: dict[str, object] = {
        "request_id": "adj-1",
        "sku": "SKU-A",
        "delta": 5,
        "reason": pb.ADJUSTMENT_REASON_RECEIVE,
        "note": "pallet 7",
    }
    values.update(fields)
    return pb.AdjustStockRequest(**values)  # type: ignore[arg-type]


def test_adjust_stock_valid() -> None:
    assert validation.adjust_stock(adjust_request()) == StockAdjustment(
        "adj-1", "SKU-A", 5, AdjustmentReason.RECEIVE, "pallet 7"
    )
    negative = validation.adjust_stock(adjust_request(delta=-3, reason=pb.ADJUSTMENT_REASON_ADJUST, note=""))
    assert negative == StockAdjustment("adj-1", "SKU-A", -3, AdjustmentReason.ADJUST, "")


def test_adjust_stock_delta_must_not_be_zero() -> None:
    assert refused(validation.adjust_stock, adjust_request(delta=0)) == ["delta"]
    assert refused(validation.adjust_stock, adjust_request(delta=0, reason=pb.ADJUSTMENT_REASON_ADJUST)) == [
        "delta"
    ]


def test_receive_must_be_positive() -> None:
    assert refused(validation.adjust_stock, adjust_request(delta=-1)) == ["delta"]


@pytest.mark.parametrize("delta", [10**12 + 1, -(10**12) - 1])
def test_delta_is_bounded(delta: int) -> None:
    fields = refused(validation.adjust_stock, adjust_request(delta=delta, reason=pb.ADJUSTMENT_REASON_ADJUST))
    assert fields == ["delta"]


def test_receive_delta_is_bounded() -> None:
    assert refused(validation.adjust_stock, adjust_request(delta=10**12 + 1)) == ["delta"]


def test_reason_is_required_and_known() -> None:
    assert refused(validation.adjust_stock, adjust_request(reason=pb.ADJUSTMENT_REASON_UNSPECIFIED)) == [
        "reason"
    ]
    assert refused(validation.adjust_stock, adjust_request(reason=99)) == ["reason"]


def test_note_is_optional_but_bounded() -> None:
    assert validation.adjust_stock(adjust_request(note="")).note == ""
    assert refused(validation.adjust_stock, adjust_request(note="n" * 501)) == ["note"]


def test_adjust_stock_names_every_bad_field() -> None:
    request = adjust_request(request_id="", sku="", delta=0, reason=0, note="n" * 501)
    assert sorted(refused(validation.adjust_stock, request)) == [
        "delta",
        "note",
        "reason",
        "request_id",
        "sku",
    ]


# ---------------------------------------------------------------- catalog import


def import_rows(*rows: pb.CatalogRow, first_index: int = 0) -> Sequence[object]:
    return validation.import_catalog(pb.ImportCatalogRequest(rows=rows), first_index, "USD")


def row_fields(row: object) -> list[str]:
    assert isinstance(row, HoldfastError) and row.kind is ErrorKind.INVALID_ARGUMENT, row
    return [v.field for v in row.field_violations]


def test_import_rows_become_domain_rows_with_their_defaults() -> None:
    rows = import_rows(
        builders.location_row("WH"),
        builders.category_row("A", "B"),
        builders.product_row("p", "Hat", 1250, category_path=("A",)),
        builders.variant_row("S1", "p"),
        builders.variant_row("S2", "p", -5),
        builders.stock_row("S1", 3),
    )
    assert rows == [
        LocationRow("WH", "WH", True),
        CategoryRow(("A", "B")),
        ProductRow("p", "Hat", "", ("A",), 1250, "USD"),
        VariantRow("S1", "p", 0, None),
        VariantRow("S2", "p", -5, "USD"),
        StockRow("S1", "default", 3),
    ]


def test_a_bad_row_is_refused_alone_naming_its_fields_by_stream_index() -> None:
    rows = import_rows(
        builders.variant_row("ok", "p"),
        builders.variant_row("bad sku", ""),
        builders.stock_row("S", -1, "bad location"),
        pb.CatalogRow(),
        builders.category_row(),
        first_index=1000,
    )
    assert rows[0] == VariantRow("ok", "p", 0, None)
    assert row_fields(rows[1]) == ["rows[1001].variant.sku", "rows[1001].variant.product_handle"]
    assert row_fields(rows[2]) == ["rows[1002].stock.location", "rows[1002].stock.on_hand"]
    assert row_fields(rows[3]) == ["rows[1003]"]
    assert row_fields(rows[4]) == ["rows[1004].category.path"]


def test_a_key_named_twice_in_a_chunk_refuses_the_later_row() -> None:
    rows = import_rows(
        builders.product_row("p"),
        builders.product_row("p", "Other title"),
        builders.stock_row("S", 1),
        builders.stock_row("S", 2, "default"),
        builders.category_row("A"),
        builders.location_row("A"),
    )
    assert isinstance(rows[0], ProductRow) and isinstance(rows[2], StockRow)
    assert row_fields(rows[1]) == ["rows[1].product.handle"]
    assert row_fields(rows[3]) == ["rows[3].stock"]
    assert isinstance(rows[4], CategoryRow) and isinstance(rows[5], LocationRow)


@pytest.mark.parametrize("count", [0, 1001])
def test_an_empty_or_oversized_chunk_refuses_the_call(count: int) -> None:
    assert refused(import_rows, *[builders.category_row(f"c{i}") for i in range(count)]) == ["rows"]


def test_export_page_size_defaults_and_caps_at_1000() -> None:
    sizes = [validation.export_catalog(pb.ExportCatalogRequest(page_size=n)) for n in (0, 7, 5000)]
    assert sizes == [1000, 7, 1000]
    assert refused(validation.export_catalog, pb.ExportCatalogRequest(page_size=-1)) == ["page_size"]
