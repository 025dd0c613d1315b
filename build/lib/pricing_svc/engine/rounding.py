"""Exact integer rounding: prices never pass through a float."""

from __future__ import annotations


def div_round_half_even(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded to the nearest int, ties to the even neighbour."""
    if denominator <= 0:
        raise ValueError("denominator must be positive")
    # divmod floors, so the remainder is always in [0, denominator) and negatives need no special case.
    quotient, remainder = divmod(numerator, denominator)
    twice = 2 * remainder
    if twice > denominator or (twice == denominator and quotient % 2):
        quotient += 1
    return quotient
