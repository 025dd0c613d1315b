"""BatchUpdateStock: SET (absolute, compare-and-set) and ADJUST rows over many (SKU, location)
pairs in one transaction; ALL_OR_NOTHING and PER_ROW; validate_only; idempotency; and no
deadlock with concurrent holds whatever order the rows come in."""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import grpc
import psycopg
import pytest
from google.rpc import error_details_pb2
from holdfast.inventory.v1 import inventory_pb2 as pb
from holdfast.inventory.v1 import inventory_pb2_grpc as pb_grpc

from holdfast_ops.audit import find_breaches
from tests.support.builders import hold_request
from tests.support.grpc_helpers import failure, new_request_id, refusal, unique_sku
from tests.support.polling import wait_until
from tests.support.row_locks import lock_waiters

PER_ROW = pb.STOCK_UPDATE_MODE_PER_ROW
ALL_OR_NOTHING = pb.STOCK_UPDATE_MODE_ALL_OR_NOTHING
RECEIVE = pb.ADJUSTMENT_REASON_RECEIVE
OK = grpc.StatusCode.OK.value[0]
FAILED_PRECONDITION = grpc.StatusCode.FAILED_PRECONDITION.value[0]
NOT_FOUND = grpc.StatusCode.NOT_FOUND.value[0]
INVALID_ARGUMENT = grpc.StatusCode.INVALID_ARGUMENT.value[0]


def set_row(sku: str, on_hand: int, location: str = "", **fields: Any) -> pb.StockUpdate:
    return pb.StockUpdate(sku=sku, location=location, set_on_hand=on_hand, **fields)


def adjust_row(sku: str, delta: int, location: str = "", **fields: Any) -> pb.StockUpdate:
    return pb.StockUpdate(sku=sku, location=location, adjust_delta=delta, **fields)


def batch(
    rows: list[pb.StockUpdate], mode=PER_ROW, request_id: str | None = None, validate_only: bool = False
) -> pb.BatchUpdateStockRequest:
    return pb.BatchUpdateStockRequest(
        request_id=new_request_id() if request_id is None else request_id,
        updates=rows,
        mode=mode,
        validate_only=validate_only,
    )


def reason_of(status) -> str:
    """The ErrorInfo reason of a row's google.rpc.Status."""
    info = error_details_pb2.ErrorInfo()
    for detail in status.details:
        if detail.Is(info.DESCRIPTOR):
            detail.Unpack(info)
    return info.reason


def metadata_of(status) -> dict[str, str]:
    info = error_details_pb2.ErrorInfo()
    for detail in status.details:
        if detail.Is(info.DESCRIPTOR):
            detail.Unpack(info)
    return dict(info.metadata)


def levels(db, sku: str) -> dict[str, tuple[int, int]]:
    rows = db.execute("SELECT location, on_hand, reserved FROM stock WHERE sku = %s", (sku,)).fetchall()
    return {location: (on_hand, reserved) for location, on_hand, reserved in rows}


def ledger(db, sku: str) -> list[tuple]:
    return db.execute(
        "SELECT location, reason, delta_on_hand, delta_reserved, request_id, note"
        " FROM stock_ledger WHERE sku = %s ORDER BY id",
        (sku,),
    ).fetchall()


def counts(db) -> tuple[int, int, int]:
    """Rows of stock, stock_ledger and idempotency_keys."""
    row = db.execute(
        "SELECT (SELECT count(*) FROM stock), (SELECT count(*) FROM stock_ledger),"
        " (SELECT count(*) FROM idempotency_keys)"
    ).fetchone()
    return tuple(row)


@pytest.fixture(scope="module")
def warehouse(inventory) -> pb.Location:
    """A second location, which no SKU has a row at until something puts stock there."""
    return inventory.stub.CreateLocation(
        pb.CreateLocationRequest(location=pb.Location(code=unique_sku("WH"), name="warehouse"))
    ).location


def test_set_and_adjust_rows_write_one_ledger_row_each(inventory, db, warehouse):
    a, b = inventory.client.sku(on_hand=10), inventory.client.sku(on_hand=4)
    rid = new_request_id()
    response = inventory.stub.BatchUpdateStock(
        batch(
            [
                set_row(a, 25, note="cycle count"),
                adjust_row(b, -3),
                # The SKU's first row at the warehouse, named by id.
                set_row(a, 7, location=warehouse.id, reason=RECEIVE),
            ],
            mode=ALL_OR_NOTHING,
            request_id=rid,
        )
    )
    assert [(r.index, r.status.code, r.changed, r.previous_on_hand) for r in response.results] == [
        (0, OK, True, 10),
        (1, OK, True, 4),
        (2, OK, True, 0),
    ]
    assert [r.stock_level for r in response.results] == [
        pb.StockLevel(sku=a, on_hand=25, reserved=0, available=25, location="default"),
        pb.StockLevel(sku=b, on_hand=1, reserved=0, available=1, location="default"),
        pb.StockLevel(sku=a, on_hand=7, reserved=0, available=7, location=warehouse.code),
    ]
    assert (response.changed_count, response.failed_count) == (3, 0)
    assert levels(db, a) == {"default": (25, 0), warehouse.code: (7, 0)}
    assert levels(db, b) == {"default": (1, 0)}
    assert sorted(ledger(db, a)[1:]) == sorted(
        [("default", "ADJUST", 15, 0, rid, "cycle count"), (warehouse.code, "RECEIVE", 7, 0, rid, "")]
    )
    assert ledger(db, b)[1:] == [("default", "ADJUST", -3, 0, rid, "")]


def test_set_to_the_current_value_changes_nothing_and_writes_no_ledger_row(inventory, db, warehouse):
    sku = inventory.client.sku(on_hand=6)
    before = counts(db)
    # The second row names a location the SKU has no row at yet: setting 0 there is no change.
    response = inventory.stub.BatchUpdateStock(
        batch([set_row(sku, 6, expected_on_hand=6), set_row(sku, 0, location=warehouse.code)])
    )
    assert [
        (r.status.code, r.changed, r.previous_on_hand, r.stock_level.on_hand) for r in response.results
    ] == [
        (OK, False, 6, 6),
        (OK, False, 0, 0),
    ]
    assert response.changed_count == 0
    # Only the request_id is kept; no stock row is made, no ledger row written.
    assert counts(db) == (before[0], before[1], before[2] + 1)


def test_set_below_reserved_is_refused_and_the_hold_is_untouched(inventory, db):
    sku, other = inventory.client.sku(on_hand=10), inventory.client.sku(on_hand=10)
    hold = inventory.client.hold({sku: 4})
    response = inventory.stub.BatchUpdateStock(batch([set_row(sku, 3), set_row(other, 3)]))
    below, fine = response.results
    assert (below.status.code, reason_of(below.status), below.changed) == (
        FAILED_PRECONDITION,
        "ON_HAND_BELOW_RESERVED",
        False,
    )
    assert below.stock_level == pb.StockLevel(
        sku=sku, on_hand=10, reserved=4, available=6, location="default"
    )
    assert metadata_of(below.status)["reserved"] == "4"
    assert (fine.status.code, fine.stock_level.on_hand) == (OK, 3)
    assert levels(db, sku) == {"default": (10, 4)}
    assert inventory.stub.GetHold(pb.GetHoldRequest(id=hold.id)).hold == hold
    # Down to exactly the reserved units is allowed.
    response = inventory.stub.BatchUpdateStock(batch([set_row(sku, 4)]))
    assert response.results[0].stock_level.available == 0


def test_compare_and_set_loses_to_a_sale_between_the_read_and_the_write(inventory, db, database_url):
    sku, other = inventory.client.sku(on_hand=10), inventory.client.sku(on_hand=10)
    read = inventory.client.level(sku).on_hand
    # A shopper buys 3 after the ERP read its count and before its write arrives.
    hold = inventory.client.hold({sku: 3})
    inventory.stub.CommitHold(pb.CommitHoldRequest(request_id=new_request_id(), hold_id=hold.id))
    response = inventory.stub.BatchUpdateStock(
        batch([set_row(sku, 20, expected_on_hand=read), set_row(other, 20, expected_on_hand=10)])
    )
    lost, won = response.results
    assert (lost.status.code, reason_of(lost.status), lost.changed) == (
        FAILED_PRECONDITION,
        "ON_HAND_MISMATCH",
        False,
    )
    assert metadata_of(lost.status) == {
        "sku": sku,
        "location": "default",
        "expected_on_hand": "10",
        "on_hand": "7",
    }
    assert (lost.previous_on_hand, lost.stock_level.on_hand) == (7, 7)
    assert (won.status.code, won.stock_level.on_hand) == (OK, 20)
    # The sale is not lost: the ERP retries with what it now knows.
    retry = inventory.stub.BatchUpdateStock(batch([set_row(sku, 17, expected_on_hand=7)]))
    assert retry.results[0].changed
    assert levels(db, sku) == {"default": (17, 0)}
    assert find_breaches(database_url) == {}


def test_all_or_nothing_with_one_bad_row_writes_nothing(inventory, db):
    a, b = inventory.client.sku(on_hand=10), inventory.client.sku(on_hand=10)
    inventory.client.hold({b: 5})
    rid = new_request_id()
    before = counts(db)
    rows = [
        set_row(a, 1),
        set_row(b, 1),  # below reserved
        adjust_row(a, 1, location="nowhere"),
        adjust_row("bad sku", 1),
    ]
    f = refusal(inventory.stub.BatchUpdateStock, batch(rows, mode=ALL_OR_NOTHING, request_id=rid))
    assert (f.code, f.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "STOCK_UPDATES_REFUSED")
    assert f.metadata["refused_rows"] == "1,2,3" and f.metadata["refused_count"] == "3"
    assert [name for name, _ in f.field_violations] == ["updates[2].location", "updates[3].sku"]
    ((kind, subject, description),) = f.precondition_violations
    assert (kind, subject) == ("ON_HAND_BELOW_RESERVED", "updates[1]")
    assert b in description and "reserved 5" in description
    assert counts(db) == before
    assert levels(db, a) == {"default": (10, 0)}
    # The request_id was not kept: the corrected batch can use it.
    fixed = inventory.stub.BatchUpdateStock(batch(rows[:1], mode=ALL_OR_NOTHING, request_id=rid))
    assert fixed.results[0].changed


def test_all_or_nothing_refusal_kind_follows_the_refusals(inventory):
    sku = inventory.client.sku(on_hand=1)
    malformed = refusal(
        inventory.stub.BatchUpdateStock,
        batch([set_row(sku, -1), adjust_row(sku, 0, "x")], mode=ALL_OR_NOTHING),
    )
    assert (malformed.code, malformed.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "STOCK_UPDATES_REFUSED")
    assert [name for name, _ in malformed.field_violations] == [
        "updates[0].set_on_hand",
        "updates[1].adjust_delta",
    ]
    unknown = refusal(
        inventory.stub.BatchUpdateStock, batch([set_row(unique_sku("NOPE"), 1)], mode=ALL_OR_NOTHING)
    )
    assert (unknown.code, unknown.field_violations[0][0]) == (grpc.StatusCode.NOT_FOUND, "updates[0].sku")


def test_per_row_writes_the_good_rows_and_reports_the_others(inventory, db, warehouse):
    good, known, shrunk, received = (inventory.client.sku(on_hand=10) for _ in range(4))
    rows = [
        adjust_row(good, 5),
        set_row(unique_sku("NOPE"), 1),
        set_row(known, 1, location="nowhere"),
        set_row(known, 2, expected_on_hand=9),
        set_row(known, -1, location=warehouse.code),
        # A code and the id of one location: the later row is refused.
        adjust_row(good, 2, location=warehouse.code),
        adjust_row(good, 2, location=warehouse.id),
        adjust_row(shrunk, -1, reason=RECEIVE),
        set_row(received, 3, reason=RECEIVE),
    ]
    response = inventory.stub.BatchUpdateStock(batch(rows))
    got = [(r.index, r.status.code, reason_of(r.status), r.changed) for r in response.results]
    assert got == [
        (0, OK, "", True),
        (1, NOT_FOUND, "SKU_NOT_FOUND", False),
        (2, NOT_FOUND, "LOCATION_NOT_FOUND", False),
        (3, FAILED_PRECONDITION, "ON_HAND_MISMATCH", False),
        (4, INVALID_ARGUMENT, "INVALID_FIELDS", False),
        (5, OK, "", True),
        (6, INVALID_ARGUMENT, "INVALID_FIELDS", False),
        (7, INVALID_ARGUMENT, "INVALID_FIELDS", False),
        (8, FAILED_PRECONDITION, "RECEIVE_LOWERS_ON_HAND", False),
    ]
    assert (response.changed_count, response.failed_count) == (2, 7)
    bad = error_details_pb2.BadRequest()
    response.results[4].status.details[1].Unpack(bad)
    assert bad.field_violations[0].field == "updates[4].set_on_hand"
    # An unknown SKU has no level; a known one is reported as it is.
    assert not response.results[1].HasField("stock_level")
    assert response.results[3].stock_level.on_hand == 10
    assert levels(db, good) == {"default": (15, 0), warehouse.code: (2, 0)}
    assert levels(db, known) == {"default": (10, 0)}


def test_a_retry_returns_the_first_answer_and_writes_nothing_more(inventory, db):
    sku = inventory.client.sku(on_hand=10)
    request = batch([adjust_row(sku, 4), set_row(sku, 1, location="nowhere")])
    first = inventory.stub.BatchUpdateStock(request)
    after_first = counts(db)
    # Meanwhile the level moves: the retry still answers what the first call did.
    inventory.client.hold({sku: 1})
    again = inventory.stub.BatchUpdateStock(request)
    assert again == first
    assert counts(db)[1] == after_first[1] + 1  # the hold's ledger row only
    assert levels(db, sku) == {"default": (14, 1)}


def test_the_same_request_id_with_another_payload_is_refused(inventory, db):
    sku = inventory.client.sku(on_hand=10)
    rid = new_request_id()
    inventory.stub.BatchUpdateStock(batch([adjust_row(sku, 1)], request_id=rid))
    f = refusal(inventory.stub.BatchUpdateStock, batch([adjust_row(sku, 2)], request_id=rid))
    assert (f.code, f.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "IDEMPOTENCY_KEY_REUSED")
    assert levels(db, sku) == {"default": (11, 0)}


def test_validate_only_reports_the_would_be_levels_and_writes_nothing(inventory, db, warehouse, fingerprints):
    sku = inventory.client.sku(on_hand=10)
    inventory.client.hold({sku: 2})
    fingerprints.last = fingerprints.take()
    response = inventory.stub.BatchUpdateStock(
        batch(
            [
                set_row(sku, 30, expected_on_hand=10),
                set_row(sku, 5, location=warehouse.code),
                adjust_row(sku, -9, location="nowhere"),
            ],
            mode=ALL_OR_NOTHING,
            request_id="",
            validate_only=True,
        )
    )
    assert [(r.status.code, r.changed) for r in response.results] == [
        (OK, True),
        (OK, True),
        (NOT_FOUND, False),
    ]
    assert [r.stock_level for r in response.results[:2]] == [
        pb.StockLevel(sku=sku, on_hand=30, reserved=2, available=28, location="default"),
        pb.StockLevel(sku=sku, on_hand=5, reserved=0, available=5, location=warehouse.code),
    ]
    assert (response.changed_count, response.failed_count) == (2, 1)
    assert fingerprints.take() == fingerprints.last, "validate_only changed the database"


def test_request_shape_problems_refuse_the_call(inventory):
    sku = inventory.client.sku(on_hand=1)
    cases = {
        "request_id": batch([set_row(sku, 1)], request_id=""),
        "updates": batch([]),
        "mode": batch([set_row(sku, 1)], mode=7),
        "updates[1]": batch([set_row(sku, 1), adjust_row(sku, 1, location="default")]),
    }
    for field, request in cases.items():
        f = refusal(inventory.stub.BatchUpdateStock, request)
        assert (f.code, f.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "INVALID_FIELDS")
        assert field in [name for name, _ in f.field_violations]


def test_a_thousand_refused_rows_fit_in_one_status(inventory, db):
    sku = inventory.client.sku(on_hand=1)
    before = counts(db)
    rows = [adjust_row(f"{sku}-{i}", 1) for i in range(1000)]
    f = refusal(inventory.stub.BatchUpdateStock, batch(rows, mode=ALL_OR_NOTHING))
    assert (f.code, f.reason) == (grpc.StatusCode.NOT_FOUND, "STOCK_UPDATES_REFUSED")
    assert f.metadata["refused_count"] == "1000"
    assert f.metadata["refused_rows"].split(",") == [str(i) for i in range(1000)]
    assert len(f.field_violations) == 11 and f.field_violations[-1][1] == "and 990 more, not listed"
    assert counts(db) == before


def _while_another_stocks_a_new_location(database_url: str, sku: str, location: str, call: Any) -> Any:
    """Makes `call` while another session holds the SKU's rows; once the call waits for them,
    that session puts 4 units at `location` (a row the SKU did not have, with its ledger row,
    as a receipt would) and commits. The call's lock was taken on a snapshot without the row."""
    with psycopg.connect(database_url) as other, ThreadPoolExecutor(1) as pool:
        other.execute("SELECT 1 FROM stock WHERE sku = %s FOR UPDATE", (sku,))
        answer = pool.submit(call)
        wait_until(lambda: lock_waiters(database_url) > 0, 10, "the call to wait for the SKU's rows")
        other.execute("INSERT INTO stock (sku, location, on_hand) VALUES (%s, %s, 4)", (sku, location))
        other.execute(
            "INSERT INTO stock_ledger (sku, location, delta_on_hand, delta_reserved, reason)"
            " VALUES (%s, %s, 4, 0, 'RECEIVE')",
            (sku, location),
        )
        other.commit()
        return answer.result(timeout=30)


def test_a_first_row_made_while_the_batch_waited_is_judged_as_it_is_then(inventory, db, database_url):
    sku = inventory.client.sku(on_hand=5)
    place = inventory.stub.CreateLocation(
        pb.CreateLocationRequest(location=pb.Location(code=unique_sku("WH"), name="new"))
    ).location
    request = batch([set_row(sku, 9, location=place.code, expected_on_hand=0), adjust_row(sku, 1)])
    response = _while_another_stocks_a_new_location(
        database_url, sku, place.code, lambda: inventory.stub.BatchUpdateStock(request)
    )
    mismatch, adjusted = response.results
    assert (reason_of(mismatch.status), metadata_of(mismatch.status)["on_hand"]) == ("ON_HAND_MISMATCH", "4")
    assert (adjusted.status.code, adjusted.stock_level.on_hand) == (OK, 6)
    assert levels(db, sku) == {"default": (6, 0), place.code: (4, 0)}
    assert find_breaches(database_url) == {}


def test_adjust_at_a_first_row_made_while_it_waited_adds_to_that_row(inventory, db, database_url):
    sku = inventory.client.sku(on_hand=5)
    place = inventory.stub.CreateLocation(
        pb.CreateLocationRequest(location=pb.Location(code=unique_sku("WH"), name="new"))
    ).location
    request = pb.AdjustStockRequest(
        request_id=new_request_id(), sku=sku, location=place.code, delta=3, reason=RECEIVE
    )
    level = _while_another_stocks_a_new_location(
        database_url, sku, place.code, lambda: inventory.stub.AdjustStock(request).stock_level
    )
    assert (level.location, level.on_hand) == (place.code, 7)
    assert find_breaches(database_url) == {}


# ---------------------------------------------------------------- concurrency

BATCHERS = 4
SHOPPERS = 4
ROUNDS = 12
CALL_TIMEOUT = 60


def _deadlocks(db) -> int:
    return db.execute("SELECT deadlocks FROM pg_stat_database WHERE datname = current_database()").fetchone()[
        0
    ]


def test_batches_in_any_row_order_and_holds_never_deadlock(inventory, db, database_url, warehouse):
    """Batches over overlapping SKU sets, their rows shuffled, race holds and releases on the
    same SKUs: every call is answered (no ABORTED, no lock timeout), no deadlock is ever
    detected (not even one retried away), and every level equals its ledger sums."""
    skus = [inventory.client.sku(on_hand=50) for _ in range(8)]
    deadlocks_before = _deadlocks(db)
    channels = [
        grpc.insecure_channel(inventory.client.target, options=[("test.channel", i)]) for i in range(8)
    ]
    stubs = [pb_grpc.InventoryServiceStub(c) for c in channels]
    errors: list[Any] = []
    refused_rows: list[str] = []

    def batcher(n: int) -> None:
        stub, rng = stubs[n], random.Random(n)
        for _ in range(ROUNDS):
            chosen = rng.sample(skus, 5)
            rows = []
            for sku in chosen:
                location = rng.choice(["", warehouse.code])
                if rng.random() < 0.5:
                    rows.append(set_row(sku, rng.randint(0, 60), location=location))
                else:
                    rows.append(adjust_row(sku, rng.choice([-3, -1, 2, 5]), location=location))
            try:
                response = stub.BatchUpdateStock(batch(rows), timeout=CALL_TIMEOUT)
            except grpc.RpcError as error:
                errors.append(failure(error))
                continue
            refused_rows.extend(reason_of(r.status) for r in response.results if r.status.code)

    def shopper(n: int) -> None:
        stub, rng = stubs[BATCHERS + n], random.Random(100 + n)
        for _ in range(ROUNDS * 2):
            cart = {sku: rng.randint(1, 3) for sku in rng.sample(skus, 3)}
            try:
                hold = stub.CreateHold(hold_request(cart), timeout=CALL_TIMEOUT).hold
                if rng.random() < 0.5:
                    stub.ReleaseHold(
                        pb.ReleaseHoldRequest(request_id=new_request_id(), hold_id=hold.id),
                        timeout=CALL_TIMEOUT,
                    )
            except grpc.RpcError as error:
                refused = failure(error)
                if refused.reason != "INSUFFICIENT_STOCK":
                    errors.append(refused)

    threads = [threading.Thread(target=batcher, args=(n,)) for n in range(BATCHERS)]
    threads += [threading.Thread(target=shopper, args=(n,)) for n in range(SHOPPERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for channel in channels:
        channel.close()

    assert errors == []
    # Only refusals a batch row can meet on a moving level.
    assert set(refused_rows) <= {"ON_HAND_BELOW_RESERVED"}
    assert find_breaches(database_url) == {}
    # A backend reports its deadlocks to the statistics when it next goes idle (within 1 s).
    time.sleep(1.5)
    assert _deadlocks(db) == deadlocks_before
