"""Instants on the wire: aware datetimes inside, google.protobuf.Timestamp outside."""

from __future__ import annotations

from datetime import datetime
from typing import overload

from google.protobuf import timestamp_pb2


@overload
def timestamp(value: datetime) -> timestamp_pb2.Timestamp: ...
@overload
def timestamp(value: None) -> None: ...
def timestamp(value: datetime | None) -> timestamp_pb2.Timestamp | None:
    """The Timestamp of an instant; None (an unset field) stays None."""
    if value is None:
        return None
    ts = timestamp_pb2.Timestamp()
    ts.FromDatetime(value)
    return ts
