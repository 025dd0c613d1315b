"""AIP-155 request ids: the first response is stored with the effect, in the same transaction."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from functools import cache
from typing import Any, TypeVar

import psycopg
from google.protobuf.message import Message
from psycopg.rows import DictRow
from pydantic import TypeAdapter

from holdfast_common.db.pool import AsyncConn, AsyncPool, in_transaction
from holdfast_common.db.sqlfiles import Queries
from holdfast_common.errors import ErrorKind, HoldfastError

T = TypeVar("T")

Q = Queries.of_package("holdfast_common.db.sql")


@cache
def _adapter(result_type: Any) -> TypeAdapter[Any]:
    return TypeAdapter(result_type)


def request_in_flight() -> HoldfastError:
    """ABORTED: another transaction holds this request_id and has not stored its answer."""
    return HoldfastError(ErrorKind.ABORTED, "REQUEST_IN_FLIGHT", "the same request_id is being processed")


def fingerprint(method: str, payload: bytes) -> bytes:
    """Identifies a request's content; `payload` must exclude the request_id itself."""
    return hashlib.sha256(method.encode() + b"\x00" + payload).digest()


async def send_record_lookup(conn: AsyncConn, request_ids: list[str]) -> psycopg.AsyncCursor[DictRow]:
    """Sends the lookup of the records stored for `request_ids`; the rows (for
    RequestRecord.answer) arrive when the cursor is fetched, so a pipelined caller
    can send more statements before it waits for them."""
    return await conn.execute(Q.get_request_records, {"request_ids": request_ids})


async def in_recorded_transaction(
    pool: AsyncPool,
    record: RequestRecord | None,
    result_type: type[T],
    work: Callable[[AsyncConn], Awaitable[T]],
    *,
    pipelined: bool = False,
) -> T:
    """Runs `work` in one transaction that first claims the record's request_id and stores
    `work`'s result with its effect; a retry gets the first result back and `work` does not
    run. Without a record (an optional request_id left unset), `work` just runs.

    Pipelined (see in_transaction), the stored result travels with COMMIT and whatever
    `work` sent last without fetching it.
    """

    async def claimed(conn: AsyncConn) -> T:
        if record is not None:
            replay = await record.claim(conn, result_type)
            if replay is not None:
                return replay
        result = await work(conn)
        if record is not None:
            await record.store(conn, result)
        return result

    return await in_transaction(pool, claimed, pipelined=pipelined)


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
        cur = await conn.execute(Q.claim_request_id, params)
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
        cur = await conn.execute(Q.get_request_record, {"request_id": self.request_id})
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
        await conn.execute(Q.store_response, {"request_id": self.request_id, "response": encode(result)})


def encode(result: object) -> bytes:
    """A response as stored for replay."""
    return _adapter(type(result)).dump_json(result)  # type: ignore[arg-type]  # as in answer()
