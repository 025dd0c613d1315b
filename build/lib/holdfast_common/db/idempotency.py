"""AIP-155 request ids: the first response is stored with the effect, in the same transaction."""

from __future__ import annotations

import hashlib
from functools import cache
from typing import Any, TypeVar

from google.protobuf.message import Message
from pydantic import TypeAdapter

from holdfast_common.db.pool import AsyncConn
from holdfast_common.errors import ErrorKind, HoldfastError

T = TypeVar("T")

# Waits for a concurrent transaction holding the same key; returns a row only
# if this transaction now owns the key.
CLAIM_REQUEST_ID = """
INSERT INTO idempotency_keys (request_id, method, fingerprint)
VALUES (%(request_id)s, %(method)s, %(fingerprint)s)
ON CONFLICT (request_id) DO NOTHING
RETURNING request_id
"""
GET_REQUEST_RECORD = (
    "SELECT method, fingerprint, response FROM idempotency_keys WHERE request_id = %(request_id)s"
)
STORE_RESPONSE = "UPDATE idempotency_keys SET response = %(response)s WHERE request_id = %(request_id)s"
GET_REQUEST_RECORDS = """
SELECT request_id, method, fingerprint, response
FROM idempotency_keys
WHERE request_id = ANY(%(request_ids)s::text[])
"""


@cache
def _adapter(result_type: Any) -> TypeAdapter[Any]:
    return TypeAdapter(result_type)


def request_in_flight() -> HoldfastError:
    """ABORTED: another transaction holds this request_id and has not stored its answer."""
    return HoldfastError(ErrorKind.ABORTED, "REQUEST_IN_FLIGHT", "the same request_id is being processed")


def fingerprint(method: str, payload: bytes) -> bytes:
    """Identifies a request's content; `payload` must exclude the request_id itself."""
    return hashlib.sha256(method.encode() + b"\x00" + payload).digest()


def request_record(method: str, request: Message) -> RequestRecord:
    """The idempotency record of a mutating protobuf request, keyed by its request_id."""
    payload = type(request)()
    payload.CopyFrom(request)
    payload.ClearField("request_id")
    request_id: str = request.request_id  # type: ignore[attr-defined]
    return RequestRecord(
        request_id, method, fingerprint(method, payload.SerializeToString(deterministic=True))
    )


class RequestRecord:
    """One request_id inside a transaction: claim it, or replay what it answered before."""

    def __init__(self, request_id: str, method: str, request_fingerprint: bytes) -> None:
        self.request_id = request_id
        self.method = method
        self.fingerprint = request_fingerprint

    async def claim(self, conn: AsyncConn, result_type: type[T]) -> T | None:
        """None when this transaction owns the key; the first response when it is a retry."""
        params = {"request_id": self.request_id, "method": self.method, "fingerprint": self.fingerprint}
        cur = await conn.execute(CLAIM_REQUEST_ID, params)
        if await cur.fetchone():
            return None
        replay = await self.replay(conn, result_type)
        if replay is None:
            # The key's holder rolled back between our insert and read: let the client retry.
            raise request_in_flight()
        return replay

    async def replay(self, conn: AsyncConn, result_type: type[T]) -> T | None:
        """The stored response of an earlier call with this request_id, or None if there is none yet.

        Lets a caller skip work that must not run twice (or cannot run now) before it claims the key.
        """
        cur = await conn.execute(GET_REQUEST_RECORD, {"request_id": self.request_id})
        return self.answer(await cur.fetchone(), result_type)

    def answer(self, record: dict[str, Any] | None, result_type: type[T]) -> T | None:
        """The first response in a stored record row (None: none stored yet); a record of
        a different request is IDEMPOTENCY_KEY_REUSED."""
        if record is None or record["response"] is None:
            return None
        if record["method"] != self.method or bytes(record["fingerprint"]) != self.fingerprint:
            raise HoldfastError(
                ErrorKind.INVALID_ARGUMENT,
                "IDEMPOTENCY_KEY_REUSED",
                "request_id was already used for a different request",
                metadata={"request_id": self.request_id, "first_method": record["method"]},
            )
        # mypy does not see a class object as Hashable (its __hash__ is the unbound method).
        return _adapter(result_type).validate_json(record["response"])  # type: ignore[arg-type]

    async def store(self, conn: AsyncConn, result: object) -> None:
        """Saves the response the client gets now, for every retry to come."""
        await conn.execute(STORE_RESPONSE, {"request_id": self.request_id, "response": encode(result)})


def encode(result: object) -> bytes:
    """A response as stored for replay."""
    return _adapter(type(result)).dump_json(result)  # type: ignore[arg-type]  # as in answer()
