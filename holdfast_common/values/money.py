"""Exact money: integer minor units inside, google.type.Money on the wire, never a float."""

from __future__ import annotations

from dataclasses import dataclass

from google.type import money_pb2

from holdfast_common.values.limits import MAX_AMOUNT_MINOR
from holdfast_common.values.validation import Violations

# ISO 4217 minor-unit exponents that differ from the usual 2.
_EXPONENT_OVERRIDES = {
    **dict.fromkeys(
        [
            "BIF",
            "CLP",
            "DJF",
            "GNF",
            "ISK",
            "JPY",
            "KMF",
            "KRW",
            "PYG",
            "RWF",
            "UGX",
            "UYI",
            "VND",
            "VUV",
            "XAF",
            "XOF",
            "XPF",
        ],
        0,
    ),
    **dict.fromkeys(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"], 3),
}
_NANOS_PER_UNIT = 1_000_000_000
INT64_MAX = 2**63 - 1


def minor_exponent(currency: str) -> int:
    """Decimal places of the currency's minor unit (2 for USD, 0 for JPY)."""
    return _EXPONENT_OVERRIDES.get(currency, 2)


def format_minor(minor: int, currency: str) -> str:
    """Minor units as people read them: 5990 USD -> "59.90 USD", -500 -> "-5.00 USD"."""
    exp = minor_exponent(currency)
    if exp == 0:
        return f"{minor} {currency}"
    units, rest = divmod(abs(minor), 10**exp)
    return f"{'-' if minor < 0 else ''}{units}.{rest:0{exp}d} {currency}"


@dataclass(frozen=True, order=True)
class Money:
    minor: int
    currency: str

    def to_proto(self) -> money_pb2.Money:
        exp = minor_exponent(self.currency)
        scale = 10**exp
        sign = -1 if self.minor < 0 else 1
        units, rest = divmod(abs(self.minor), scale)
        nanos = rest * (_NANOS_PER_UNIT // scale)
        return money_pb2.Money(currency_code=self.currency, units=sign * units, nanos=sign * nanos)


def money_from_proto(
    violations: Violations,
    field: str,
    value: money_pb2.Money,
    *,
    store_currency: str,
    allow_negative: bool,
    max_minor: int = MAX_AMOUNT_MINOR,
) -> Money | None:
    """Converts wire money to minor units, adding a violation when it is not exact or allowed.

    Amounts past `max_minor` either way are refused; amounts a service computed itself
    (a quote read back) may pass INT64_MAX.
    """
    if value.currency_code != store_currency:
        violations.add(f"{field}.currency_code", f"must be the store currency {store_currency}")
        return None
    if not -_NANOS_PER_UNIT < value.nanos < _NANOS_PER_UNIT:
        violations.add(f"{field}.nanos", "must be within (-1e9, 1e9)")
        return None
    if (value.units > 0 and value.nanos < 0) or (value.units < 0 and value.nanos > 0):
        violations.add(f"{field}.nanos", "must have the same sign as units")
        return None
    exp = minor_exponent(store_currency)
    nanos_per_minor = _NANOS_PER_UNIT // 10**exp
    if value.nanos % nanos_per_minor:
        violations.add(f"{field}.nanos", f"must be a whole number of 1/{10**exp} units")
        return None
    minor = value.units * 10**exp + value.nanos // nanos_per_minor
    if abs(minor) > max_minor:
        violations.add(field, f"must be within ±{format_minor(max_minor, store_currency)}")
        return None
    if minor < 0 and not allow_negative:
        violations.add(field, "must not be negative")
        return None
    return Money(minor, store_currency)
