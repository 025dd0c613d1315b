"""AIP-155 request ids: the first response is stored with the effect, in the same transaction."""

from __future__ import annotations

import hashlib
from functools import cache
from typing import Any, TypeVar

import psycopg
from pydantic import TypeAdapter

from holdfast_common.errors import ErrorKind, HoldfastError
from inventory_svc.queries import Q

T = TypeVar("T")


@cache
def _adapter(result_type: Any) -> TypeAdapter[Any]:
    return TypeAdapter(result_type)


def fingerprint(method: str, payload: bytes) -> bytes:
    """Identifies a request's content; `payload` must exclude the request_id itself."""
    return hashlib.sha256(method.encode() + b"\x00" + payload).digest()


class RequestRecord:
    """One request_id inside a transaction: claim it, or replay what it answered before."""

    def __init__(self, request_id: str, method: str, request_fingerprint: bytes) -> None:
        self.request_id = request_id
        self.method = method
        self.fingerprint = request_fingerprint

    async def claim(self, conn: psycopg.AsyncConnection, result_type: type[T]) -> T | None:
        """None when this transaction owns the key; the first response when it is a retry."""
        params = {"request_id": self.request_id, "method": self.method, "fingerprint": self.fingerprint}
        cur = await conn.execute(Q.claim_request_id, params)
        if await cur.fetchone():
            return None
        cur = await conn.execute(Q.get_request_record, params)
        record = await cur.fetchone()
        if record is None or record["response"] is None:
            # The key's holder rolled back between our insert and read: let the client retry.
            raise HoldfastError(
                ErrorKind.ABORTED, "REQUEST_IN_FLIGHT", "the same request_id is being processed"
            )
        if record["method"] != self.method or bytes(record["fingerprint"]) != self.fingerprint:
            raise HoldfastError(
                ErrorKind.INVALID_ARGUMENT,
                "IDEMPOTENCY_KEY_REUSED",
                "request_id was already used for a different request",
                metadata={"request_id": self.request_id, "first_method": record["method"]},
            )
        return _adapter(result_type).validate_json(record["response"])

    async def store(self, conn: psycopg.AsyncConnection, result: object) -> None:
        """Saves the response the client gets now, for every retry to come."""
        response = _adapter(type(result)).dump_json(result)
        await conn.execute(Q.store_response, {"request_id": self.request_id, "response": response})
