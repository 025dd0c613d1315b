"""inventory_svc's holds: their lifetimes, their size, and how concurrent CreateHolds batch."""

from __future__ import annotations

from pydantic import Field

from holdfast_common.settings.lines import MAX_QUANTITY_PER_LINE
from holdfast_common.settings.section import Section


class HoldSettings(Section):
    """Holds in inventory_svc. CreateHolds that arrive together share one transaction (one lock
    per SKU, one commit): batches are capped, run one at a time, and more start beside the
    running ones only while those are stuck (on a lock, say)."""

    hold_default_ttl_seconds: int = Field(default=900, gt=0, description="TTL of a hold created without one")
    hold_max_ttl_seconds: int = Field(
        default=3600, gt=0, description="largest TTL CreateHold/ExtendHold accept"
    )
    hold_max_lifetime_seconds: int = Field(
        default=7200, gt=0, description="ExtendHold never pushes expire_time past create_time + this"
    )
    max_lines_per_hold: int = Field(default=100, gt=0, description="lines per CreateHold")
    max_quantity_per_line: int = MAX_QUANTITY_PER_LINE
    hold_batch_max_size: int = Field(
        default=64, gt=0, description="most CreateHolds that share one transaction"
    )
    hold_batch_concurrency: int = Field(
        default=4,
        gt=0,
        description="most hold batches at once: one runs at a time, and more start beside it only "
        "while the running ones take over 50 ms (stuck on a lock)",
    )
    hold_batch_max_wait_seconds: float = Field(
        default=5.0,
        gt=0,
        description="longest a CreateHold waits for its batch before ABORTED (`QUEUE_TIMEOUT`)",
    )
