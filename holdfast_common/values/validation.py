"""Collects field violations so a bad request names every bad field at once."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

from google.protobuf import timestamp_pb2

from holdfast_common.errors import FieldViolation, invalid_argument

_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,64}")
_SKU = re.compile(r"[A-Za-z0-9][A-Za-z0-9._\-]{0,63}")
_CUSTOMER_TIER = re.compile(r"[A-Za-z0-9._\-]{0,64}")
# A refusal names at most this many bad fields, then says how many it left out: a list of
# a thousand bad SKUs would otherwise make a status too big for gRPC's trailing metadata
# (8 KiB by default), which the client would see as RESOURCE_EXHAUSTED instead.
MAX_REPORTED_VIOLATIONS = 10


def resource_id(value: str, *, field: str = "id", request_id: str | None = None) -> str:
    """A request naming one resource by UUID (and, for a mutation, its request_id), or INVALID_ARGUMENT."""
    v = Violations()
    if request_id is not None:
        v.request_id("request_id", request_id)
    canonical = v.uuid(field, value)
    v.raise_if_any()
    assert canonical is not None
    return canonical


class Violations:
    """Accumulates FieldViolations; `raise_if_any` turns them into INVALID_ARGUMENT."""

    def __init__(self) -> None:
        self.items: list[FieldViolation] = []

    def add(self, field: str, description: str) -> None:
        self.items.append(FieldViolation(field, description))

    def raise_if_any(self) -> None:
        if not self.items:
            return
        reported = self.items[:MAX_REPORTED_VIOLATIONS]
        left_out = self.items[MAX_REPORTED_VIOLATIONS:]
        if left_out:
            reported.append(
                FieldViolation(left_out[0].field, f"and {len(left_out)} more bad fields, not listed")
            )
        raise invalid_argument(reported)

    def uuid(self, field: str, value: str, *, required: bool = True) -> str | None:
        """Checks a resource id; returns its canonical form, or None when empty and optional."""
        if not value:
            if required:
                self.add(field, "is required")
            return None
        try:
            parsed = uuid.UUID(value)
        except ValueError:
            self.add(field, "must be a UUID")
            return None
        return str(parsed)

    def instant(self, field: str, value: timestamp_pb2.Timestamp) -> datetime | None:
        """A Timestamp field as an aware datetime; None (and a violation) when it is out of range."""
        try:
            return value.ToDatetime(tzinfo=UTC)
        except (ValueError, OverflowError):
            self.add(field, "is not a valid timestamp")
            return None

    def request_id(self, field: str, value: str) -> None:
        if not _REQUEST_ID.fullmatch(value):
            self.add(field, "must be 1-64 characters of A-Z a-z 0-9 . _ : -")

    def sku(self, field: str, value: str) -> bool:
        """Checks a SKU; True when it is well formed."""
        return self.pattern(
            field, value, _SKU, "must be 1-64 characters of A-Z a-z 0-9 . _ - starting with a letter or digit"
        )

    def code(self, field: str, value: str) -> bool:
        """Checks a location's or channel's code: the SKU character set, so codes sort and
        lock as SKUs do; True when it is well formed."""
        return self.sku(field, value)

    def customer_tier(self, field: str, value: str) -> None:
        """A tier name, or empty for a customer with none."""
        self.pattern(field, value, _CUSTOMER_TIER, "must be 0-64 characters of A-Z a-z 0-9 . _ -")

    def text(self, field: str, value: str, *, max_len: int, required: bool = True) -> None:
        if required and not value.strip():
            self.add(field, "is required")
        elif len(value) > max_len:
            self.add(field, f"must be at most {max_len} characters")
        elif "\x00" in value:
            self.add(field, "must not contain NUL characters")

    def pattern(self, field: str, value: str, regex: re.Pattern[str], description: str) -> bool:
        if regex.fullmatch(value):
            return True
        self.add(field, description)
        return False
