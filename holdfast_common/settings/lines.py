"""The cap on one line's quantity, which holds and quotes both read."""

from __future__ import annotations

from pydantic import Field

# One variable for both sections: a priced hold's cart is quoted line for line, so a quantity
# a hold accepts must be one a quote accepts too.
MAX_QUANTITY_PER_LINE = Field(
    default=10_000, gt=0, description="units per SKU in one hold or quoted cart (holds and quotes alike)"
)
