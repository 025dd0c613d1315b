"""The stock event feed (StreamStockEvents): how fast events get their cursors, how long
they are kept."""

from __future__ import annotations

from pydantic import Field

from holdfast_common.settings.section import Section


class EventSettings(Section):
    """inventory_svc's sequencer gives committed events their cursors every interval (back to
    back while events keep coming faster than a batch a pass); the sweeper prunes events older
    than the retention (a consumer whose cursor is older gets OUT_OF_RANGE and re-syncs)."""

    event_sequencer_interval_seconds: float = Field(
        default=0.1,
        gt=0,
        le=60,
        description="how often the sequencer looks for committed events without a cursor: "
        "the longest one waits for it, when the feed is quiet",
    )
    event_retention_hours: float = Field(
        default=168.0,
        gt=0,
        description="stock events are kept at least this long (cursors older are OUT_OF_RANGE)",
    )
