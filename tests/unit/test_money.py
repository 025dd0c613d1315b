"""holdfast_common.values.money: exact minor units <-> google.type.Money, never a float."""

from __future__ import annotations

import pytest
from google.type import money_pb2

from holdfast_common.values.money import (
    INT64_MAX,
    MAX_AMOUNT_MINOR,
    Money,
    format_minor,
    minor_exponent,
    money_from_proto,
)
from holdfast_common.values.validation import Violations


def parse(
    units: int = 0,
    nanos: int = 0,
    currency: str = "USD",
    *,
    store: str | None = None,
    allow_negative: bool = True,
    max_minor: int = MAX_AMOUNT_MINOR,
) -> tuple[Money | None, list[tuple[str, str]]]:
    v = Violations()
    result = money_from_proto(
        v,
        "price",
        money_pb2.Money(currency_code=currency, units=units, nanos=nanos),
        store_currency=store or currency,
        allow_negative=allow_negative,
        max_minor=max_minor,
    )
    return result, [(x.field, x.description) for x in v.items]


def fields(violations: list[tuple[str, str]]) -> list[str]:
    return [f for f, _ in violations]


@pytest.mark.parametrize(
    ("minor", "currency", "units", "nanos"),
    [
        (1234, "USD", 12, 340_000_000),
        (5, "USD", 0, 50_000_000),
        (0, "USD", 0, 0),
        (-1234, "USD", -12, -340_000_000),
        (-5, "USD", 0, -50_000_000),
        (1500, "JPY", 1500, 0),
        (-7, "JPY", -7, 0),
        (1234, "KWD", 1, 234_000_000),
        (-1, "KWD", 0, -1_000_000),
        (9_223_372_036_854_775_807, "USD", 92_233_720_368_547_758, 70_000_000),
    ],
)
def test_to_proto_and_back_is_exact(minor: int, currency: str, units: int, nanos: int) -> None:
    wire = Money(minor, currency).to_proto()
    assert (wire.currency_code, wire.units, wire.nanos) == (currency, units, nanos)
    back, violations = parse(wire.units, wire.nanos, currency, max_minor=INT64_MAX)
    assert violations == []
    assert back == Money(minor, currency)


def test_minor_exponents() -> None:
    assert minor_exponent("USD") == 2
    assert minor_exponent("EUR") == 2
    assert minor_exponent("JPY") == 0
    assert minor_exponent("KWD") == 3


def test_sub_cent_amount_is_refused() -> None:
    result, violations = parse(1, 5_000_000, "USD")  # 1.005 USD
    assert result is None
    assert fields(violations) == ["price.nanos"]
    assert "1/100" in violations[0][1]


def test_jpy_has_no_minor_unit() -> None:
    assert parse(1500, 0, "JPY")[0] == Money(1500, "JPY")
    result, violations = parse(1500, 500_000_000, "JPY")  # 1500.5 JPY
    assert result is None
    assert fields(violations) == ["price.nanos"]


def test_kwd_has_three_decimals() -> None:
    assert parse(1, 234_000_000, "KWD")[0] == Money(1234, "KWD")
    result, violations = parse(1, 234_500_000, "KWD")  # 1.2345 KWD
    assert result is None
    assert fields(violations) == ["price.nanos"]


def test_wrong_currency_is_refused() -> None:
    result, violations = parse(10, 0, "EUR", store="USD")
    assert result is None
    assert fields(violations) == ["price.currency_code"]
    assert "USD" in violations[0][1]


def test_empty_currency_is_refused() -> None:
    result, violations = parse(10, 0, "", store="USD")
    assert result is None
    assert fields(violations) == ["price.currency_code"]


@pytest.mark.parametrize(("units", "nanos"), [(1, -10_000_000), (-1, 10_000_000)])
def test_mixed_sign_units_and_nanos_are_refused(units: int, nanos: int) -> None:
    result, violations = parse(units, nanos, "USD")
    assert result is None
    assert fields(violations) == ["price.nanos"]


def test_negative_nanos_with_zero_units_is_a_negative_amount() -> None:
    assert parse(0, -500_000_000, "USD")[0] == Money(-50, "USD")


@pytest.mark.parametrize("nanos", [1_000_000_000, -1_000_000_000, 2_000_000_000])
def test_nanos_out_of_range_are_refused(nanos: int) -> None:
    result, violations = parse(0, nanos, "USD")
    assert result is None
    assert fields(violations) == ["price.nanos"]


def test_negative_amount_only_where_allowed() -> None:
    assert parse(-1, -500_000_000, "USD", allow_negative=True)[0] == Money(-150, "USD")
    result, violations = parse(-1, -500_000_000, "USD", allow_negative=False)
    assert result is None
    assert fields(violations) == ["price"]


def test_amount_beyond_int64_minor_units_is_refused() -> None:
    # 2**62 dollars is 2**62 * 100 cents: more than a BIGINT holds.
    result, violations = parse(2**62, 0, "USD", max_minor=INT64_MAX)
    assert result is None
    assert fields(violations) == ["price"]
    # The same number of yen fits, having no minor unit.
    assert parse(2**62, 0, "JPY", max_minor=INT64_MAX)[0] == Money(2**62, "JPY")


@pytest.mark.parametrize("currency", ["USD", "JPY", "KWD"])
def test_amounts_past_the_request_maximum_are_refused(currency: str) -> None:
    # Regression (fuzz): a price near int64 times a cart's quantity overflowed a quote.
    biggest = Money(MAX_AMOUNT_MINOR, currency).to_proto()
    assert parse(biggest.units, biggest.nanos, currency)[0] == Money(MAX_AMOUNT_MINOR, currency)
    assert parse(-biggest.units, -biggest.nanos, currency)[0] == Money(-MAX_AMOUNT_MINOR, currency)
    over = Money(MAX_AMOUNT_MINOR + 1, currency).to_proto()
    for units, nanos in [(over.units, over.nanos), (-over.units, -over.nanos), (2**63 - 1, 0)]:
        result, violations = parse(units, nanos, currency)
        assert result is None
        assert fields(violations) == ["price"]


@pytest.mark.parametrize(
    ("minor", "currency", "text"),
    [
        (5990, "USD", "59.90 USD"),
        (-500, "USD", "-5.00 USD"),
        (-7, "USD", "-0.07 USD"),
        (0, "USD", "0.00 USD"),
        (500, "JPY", "500 JPY"),
        (1234, "KWD", "1.234 KWD"),
    ],
)
def test_format_minor_reads_as_people_write_money(minor: int, currency: str, text: str) -> None:
    assert format_minor(minor, currency) == text
