"""Exact money: integer minor units inside, google.type.Money on the wire, never a float."""

from __future__ import annotations

import re
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
    return f"{major_string(minor, currency)} {currency}"


def major_string(minor: int, currency: str) -> str:
    """Minor units as a decimal of the major unit: 5990 USD -> "59.90", 500 JPY -> "500"."""
    exp = minor_exponent(currency)
    if exp == 0:
        return str(minor)
    units, rest = divmod(abs(minor), 10**exp)
    return f"{'-' if minor < 0 else ''}{units}.{rest:0{exp}d}"


_DECIMAL = re.compile(r"(-?)([0-9]+)(?:\.([0-9]+))?")


def parse_major(text: str, currency: str) -> int:
    """A decimal of the major unit as minor units: "19.99" EUR -> 1999, "-5" USD -> -500.

    ValueError for anything else, or for more decimals than the currency's minor unit has
    ("19.999" USD): an amount is never rounded on the way in. No exponents, no float."""
    found = _DECIMAL.fullmatch(text.strip())
    if not found:
        raise ValueError(f"{text!r} is not a decimal amount such as 19.99")
    sign, units, fraction = found.group(1), found.group(2), (found.group(3) or "").rstrip("0")
    exp = minor_exponent(currency)
    if len(fraction) > exp:
        raise ValueError(f"{text!r} has more decimals than {currency}'s {exp}")
    minor = int(units) * 10**exp + int(fraction.ljust(exp, "0") or "0")
    return -minor if sign else minor


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
