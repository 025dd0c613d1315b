"""One error hierarchy for domain code; the gRPC layer maps it to a status (AIP-193)."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class ErrorKind(enum.Enum):
    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    NOT_FOUND = "NOT_FOUND"
    ALREADY_EXISTS = "ALREADY_EXISTS"
    FAILED_PRECONDITION = "FAILED_PRECONDITION"
    ABORTED = "ABORTED"
    UNAVAILABLE = "UNAVAILABLE"
    RESOURCE_EXHAUSTED = "RESOURCE_EXHAUSTED"
    UNAUTHENTICATED = "UNAUTHENTICATED"
    PERMISSION_DENIED = "PERMISSION_DENIED"
    OUT_OF_RANGE = "OUT_OF_RANGE"


@dataclass(frozen=True)
class FieldViolation:
    field: str
    description: str


@dataclass(frozen=True)
class PreconditionViolation:
    type: str
    subject: str
    description: str


@dataclass
class HoldfastError(Exception):
    """A refusal the caller can act on: a kind, an UPPER_SNAKE reason and details."""

    kind: ErrorKind
    reason: str
    message: str
    metadata: dict[str, str] = field(default_factory=dict)
    field_violations: list[FieldViolation] = field(default_factory=list)
    precondition_violations: list[PreconditionViolation] = field(default_factory=list)

    def __str__(self) -> str:
        return f"{self.kind.value}/{self.reason}: {self.message}"


def invalid_argument(violations: list[FieldViolation]) -> HoldfastError:
    """A bad request naming every offending field."""
    fields = ", ".join(v.field for v in violations)
    return HoldfastError(
        ErrorKind.INVALID_ARGUMENT,
        "INVALID_FIELDS",
        f"invalid request fields: {fields}",
        metadata={"fields": fields},
        field_violations=violations,
    )


def not_found(resource: str, key: str, value: str) -> HoldfastError:
    """The named resource does not exist."""
    return HoldfastError(
        ErrorKind.NOT_FOUND,
        f"{resource.upper().replace(' ', '_')}_NOT_FOUND",
        f"{resource} {key}={value!r} not found",
        metadata={key: value},
    )


def unknown_skus(skus: list[str]) -> HoldfastError:
    """NOT_FOUND naming every unknown SKU."""
    return HoldfastError(
        ErrorKind.NOT_FOUND,
        "SKU_NOT_FOUND",
        f"unknown SKU(s): {', '.join(skus)}",
        metadata={"sku": skus[0], "skus": ",".join(skus)},
    )
