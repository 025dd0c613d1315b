"""Quotes: the size of a quoted cart and how concurrent quotes batch."""

from __future__ import annotations

from pydantic import Field

from holdfast_common.settings.lines import MAX_QUANTITY_PER_LINE
from holdfast_common.settings.section import Section


class QuoteSettings(Section):
    """Concurrent quotes in pricing_svc share their two catalog reads, batched like holds;
    inventory_svc's pricing client batches the carts of concurrent priced holds into one
    BatchQuoteCarts call by these same settings. A priced hold's cart is a quote, so pricing_svc
    refuses one of more than `MAX_LINES_PER_QUOTE` lines: keep it at least `MAX_LINES_PER_HOLD`."""

    max_lines_per_quote: int = Field(
        default=100, gt=0, description="lines per quoted cart (QuoteCart, each cart of BatchQuoteCarts)"
    )
    max_quantity_per_line: int = MAX_QUANTITY_PER_LINE
    quote_batch_max_size: int = Field(
        default=64,
        gt=0,
        description="most carts quoted together: per batch in pricing_svc, and per BatchQuoteCarts from "
        "inventory_svc",
    )
    quote_batch_concurrency: int = Field(default=4, gt=0, description="most quote batches at once")
    quote_batch_max_wait_seconds: float = Field(
        default=5.0,
        gt=0,
        description="longest a quote (in pricing_svc) or a priced hold's cart (in inventory_svc) waits for "
        "its batch before ABORTED",
    )
