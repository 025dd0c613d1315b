"""The inventory service as the command reaches it: INVENTORY_LISTEN, TLS and CLIENT_TOKEN from
the same settings the services and `make seed` read; and what a failed call says."""

from __future__ import annotations

from dataclasses import dataclass, field

import grpc
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status
from holdfast.inventory.v1 import inventory_pb2_grpc

from holdfast_common.rpc.channels import bearer, open_channel
from holdfast_common.settings import ClientSettings

# A single stock call that takes longer than this is stuck, not slow.
CALL_TIMEOUT_SECONDS = 30.0


@dataclass
class Inventory:
    """A stub of inventory_svc and the metadata every call sends."""

    stub: inventory_pb2_grpc.InventoryServiceStub
    metadata: tuple[tuple[str, str], ...]
    channel: grpc.Channel
    store_currency: str
    # GRPC_MAX_MESSAGE_BYTES: no message the service takes may be bigger.
    max_message_bytes: int

    def close(self) -> None:
        self.channel.close()


def connect(settings: ClientSettings | None = None) -> Inventory:
    """A channel to INVENTORY_LISTEN; SecurityConfigError when the TLS settings are unusable."""
    settings = settings or ClientSettings.from_environment()
    channel = open_channel(settings.server.inventory_listen, settings.security)
    return Inventory(
        inventory_pb2_grpc.InventoryServiceStub(channel),
        bearer(settings.security.client_token),
        channel,
        settings.server.store_currency,
        settings.server.grpc_max_message_bytes,
    )


@dataclass
class Refusal:
    """A google.rpc.Status unpacked: the code's name, message, ErrorInfo and the violations."""

    code: str
    message: str
    reason: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    violations: list[str] = field(default_factory=list)

    def line(self) -> str:
        """One line: `CODE: message (REASON: key=value, ...)`."""
        text = f"{self.code}: {self.message}"
        if self.reason:
            extra = ", ".join(f"{k}={v}" for k, v in sorted(self.metadata.items()))
            text += f" ({self.reason}{': ' + extra if extra else ''})"
        return text

    def as_dict(self) -> dict[str, object]:
        return {
            "code": self.code,
            "message": self.message,
            "reason": self.reason,
            "metadata": self.metadata,
            "violations": self.violations,
        }


def refusal_of_status(status: status_pb2.Status) -> Refusal:
    """A per-row status (an import row's, a stock update's) or a call's, unpacked."""
    try:
        code = grpc.StatusCode(next(c for c in grpc.StatusCode if c.value[0] == status.code)).name
    except StopIteration:
        code = str(status.code)
    refusal = Refusal(code, status.message)
    for detail in status.details:
        info = error_details_pb2.ErrorInfo()
        bad = error_details_pb2.BadRequest()
        pre = error_details_pb2.PreconditionFailure()
        if detail.Unpack(info):
            refusal.reason, refusal.metadata = info.reason, dict(info.metadata)
        elif detail.Unpack(bad):
            refusal.violations += [f"{v.field}: {v.description}" for v in bad.field_violations]
        elif detail.Unpack(pre):
            refusal.violations += [f"{v.type} {v.subject}: {v.description}" for v in pre.violations]
    return refusal


def refusal_of_call(error: grpc.RpcError) -> Refusal:
    """A failed call's status: its rich details when the server sent them, else code and details."""
    try:
        status = rpc_status.from_call(error)  # type: ignore[arg-type]
    except (AttributeError, ValueError):
        status = None  # not a call, or trailers that disagree with the code: use the code alone
    if status is not None:
        return refusal_of_status(status)
    code = error.code() if isinstance(error, grpc.Call) else None
    details = error.details() if isinstance(error, grpc.Call) else str(error)
    return Refusal(code.name if code else "UNKNOWN", details or "")
