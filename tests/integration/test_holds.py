"""Holds: all-or-nothing reservation, TTLs, extend/release/commit, expiry, idempotency, ledger."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from holdfast.inventory.v1 import inventory_pb2 as pb

from tests.conftest import make_settings, start_inventory
from tests.support.builders import duration, hold_request
from tests.support.grpc_helpers import failure, new_request_id, refusal

ACTIVE = pb.HOLD_STATE_ACTIVE
COMMITTED = pb.HOLD_STATE_COMMITTED
RELEASED = pb.HOLD_STATE_RELEASED
EXPIRED = pb.HOLD_STATE_EXPIRED
# Client and server run on one machine; this covers clock reading and rounding.
SLACK = timedelta(milliseconds=500)


def _owner() -> str:
    return f"cart-{uuid.uuid4().hex[:12]}"


def _dt(ts) -> datetime:
    return ts.ToDatetime(tzinfo=UTC)


def _commit(inventory, hold_id: str, request_id: str | None = None) -> pb.Hold:
    return inventory.stub.CommitHold(
        pb.CommitHoldRequest(request_id=request_id or new_request_id(), hold_id=hold_id)
    ).hold


def _release(inventory, hold_id: str, request_id: str | None = None) -> pb.Hold:
    return inventory.stub.ReleaseHold(
        pb.ReleaseHoldRequest(request_id=request_id or new_request_id(), hold_id=hold_id)
    ).hold


def _extend(inventory, hold_id: str, seconds: float, request_id: str | None = None) -> pb.Hold:
    return inventory.stub.ExtendHold(
        pb.ExtendHoldRequest(
            request_id=request_id or new_request_id(), hold_id=hold_id, ttl=duration(seconds)
        )
    ).hold


def _hold_ledger(db, hold_id: str) -> list[tuple]:
    """(reason, sku, delta_on_hand, delta_reserved) of a hold's ledger rows, in write order."""
    return db.execute(
        "SELECT reason, sku, delta_on_hand, delta_reserved FROM stock_ledger"
        " WHERE hold_id = %s::uuid ORDER BY id",
        (hold_id,),
    ).fetchall()


def _count(db, table: str) -> int:
    return db.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


def _levels(inventory, *skus: str) -> list[tuple[int, int, int]]:
    levels = inventory.stub.BatchGetStockLevels(pb.BatchGetStockLevelsRequest(skus=list(skus))).levels
    return [(x.on_hand, x.reserved, x.available) for x in levels]


def _db_state(db, hold_id: str) -> str:
    return db.execute("SELECT state FROM holds WHERE id = %s::uuid", (hold_id,)).fetchone()[0]


# ---------------------------------------------------------------- create


def test_create_hold_reserves_every_line(inventory, db):
    # Prefixes fix the SKUs' order, so the stock each starts with is known.
    a, b = inventory.client.sku(on_hand=5, prefix="A"), inventory.client.sku(on_hand=3, prefix="B")
    rid = new_request_id()
    owner = _owner()
    hold = inventory.stub.CreateHold(hold_request([(b, 3), (a, 2)], owner_id=owner, request_id=rid)).hold
    assert hold.state == ACTIVE
    assert hold.owner_id == owner
    assert [(x.sku, x.quantity) for x in hold.lines] == [(a, 2), (b, 3)], "one line per SKU, sorted"
    assert not hold.HasField("end_time")
    assert _levels(inventory, a, b) == [(5, 2, 3), (3, 3, 0)]
    assert sorted(_hold_ledger(db, hold.id)) == [("HOLD", a, 0, 2), ("HOLD", b, 0, 3)]
    request_ids = db.execute(
        "SELECT DISTINCT request_id FROM stock_ledger WHERE hold_id = %s::uuid", (hold.id,)
    ).fetchall()
    assert request_ids == [(rid,)]


def test_short_line_refuses_the_whole_cart_and_names_every_short_sku(inventory, db):
    plenty = inventory.client.sku(on_hand=10)
    short_1 = inventory.client.sku(on_hand=1)
    short_2 = inventory.client.sku(on_hand=2)
    inventory.client.hold({short_2: 1})  # leaves 1 available
    counts = [_count(db, t) for t in ("holds", "hold_lines", "stock_ledger", "idempotency_keys")]

    f = refusal(
        inventory.stub.CreateHold,
        hold_request([(plenty, 4), (short_1, 2), (short_2, 5)]),
    )
    assert f.code == grpc.StatusCode.FAILED_PRECONDITION
    assert f.reason == "INSUFFICIENT_STOCK"
    assert f.domain == "holdfast.inventory"
    assert sorted(f.metadata["skus"].split(",")) == sorted([short_1, short_2])
    # The single-SKU fields describe one of the short lines consistently.
    expected = {short_1: ("2", "1"), short_2: ("5", "1")}
    assert (f.metadata["requested"], f.metadata["available"]) == expected[f.metadata["sku"]]
    assert sorted((t, s) for t, s, _ in f.precondition_violations) == sorted(
        [("STOCK", short_1), ("STOCK", short_2)]
    )
    assert plenty not in f.metadata["skus"]

    assert [_count(db, t) for t in ("holds", "hold_lines", "stock_ledger", "idempotency_keys")] == counts
    assert _levels(inventory, plenty, short_1, short_2) == [(10, 0, 10), (1, 0, 1), (2, 1, 1)]


def test_lines_naming_one_sku_twice_are_summed(inventory, db):
    a = inventory.client.sku(on_hand=6)
    b = inventory.client.sku(on_hand=6)
    hold = inventory.stub.CreateHold(hold_request([(a, 2), (b, 1), (a, 3)])).hold
    assert sorted((x.sku, x.quantity) for x in hold.lines) == sorted([(a, 5), (b, 1)])
    assert len(hold.lines) == 2
    assert _levels(inventory, a, b) == [(6, 5, 1), (6, 1, 5)]
    assert sorted(_hold_ledger(db, hold.id)) == sorted([("HOLD", a, 0, 5), ("HOLD", b, 0, 1)])

    # The summed quantity is what must be available.
    f = refusal(inventory.stub.CreateHold, hold_request([(a, 1), (a, 1)]))
    assert f.reason == "INSUFFICIENT_STOCK"
    assert (f.metadata["sku"], f.metadata["requested"], f.metadata["available"]) == (a, "2", "1")


def test_default_ttl_when_unset(inventory):
    sku = inventory.client.sku(on_hand=1)
    hold = inventory.stub.CreateHold(hold_request([(sku, 1)])).hold
    lifetime = _dt(hold.expire_time) - _dt(hold.create_time)
    assert lifetime == timedelta(seconds=inventory.settings.holds.hold_default_ttl_seconds)


def test_explicit_ttl(inventory):
    sku = inventory.client.sku(on_hand=1)
    before = datetime.now(UTC)
    hold = inventory.stub.CreateHold(hold_request([(sku, 1)], ttl_seconds=90.5)).hold
    after = datetime.now(UTC)
    assert _dt(hold.expire_time) - _dt(hold.create_time) == timedelta(seconds=90.5)
    assert before - SLACK <= _dt(hold.create_time) <= after + SLACK


def test_get_hold(inventory):
    sku = inventory.client.sku(on_hand=2)
    created = inventory.client.hold({sku: 2})
    assert inventory.stub.GetHold(pb.GetHoldRequest(id=created.id)).hold == created


def test_get_unknown_hold_is_not_found(inventory):
    missing = str(uuid.uuid4())
    f = refusal(inventory.stub.GetHold, pb.GetHoldRequest(id=missing))
    assert (f.code, f.reason) == (grpc.StatusCode.NOT_FOUND, "HOLD_NOT_FOUND")
    for call, request in [
        (inventory.stub.CommitHold, pb.CommitHoldRequest(request_id=new_request_id(), hold_id=missing)),
        (inventory.stub.ReleaseHold, pb.ReleaseHoldRequest(request_id=new_request_id(), hold_id=missing)),
        (
            inventory.stub.ExtendHold,
            pb.ExtendHoldRequest(request_id=new_request_id(), hold_id=missing, ttl=duration(10)),
        ),
    ]:
        f = refusal(call, request)
        assert (f.code, f.reason) == (grpc.StatusCode.NOT_FOUND, "HOLD_NOT_FOUND")


# ---------------------------------------------------------------- list


def test_list_holds_by_owner_with_state_filter_and_pagination(inventory):
    owner = _owner()
    sku = inventory.client.sku(on_hand=100)
    made = [inventory.client.hold({sku: 1}, owner_id=owner) for _ in range(7)]
    released = {_release(inventory, made[1].id).id, _release(inventory, made[4].id).id}
    committed = {_commit(inventory, made[5].id).id}
    inventory.client.hold({sku: 1}, owner_id=_owner())  # someone else's

    def pages(state, size):
        out, token = [], ""
        while True:
            r = inventory.stub.ListHolds(
                pb.ListHoldsRequest(owner_id=owner, state=state, page_size=size, page_token=token)
            )
            out.append(list(r.holds))
            token = r.next_page_token
            if not token:
                return out
            assert len(out) < 50

    every = pages(pb.HOLD_STATE_UNSPECIFIED, 3)
    assert [len(p) for p in every] == [3, 3, 1]
    assert [h.id for p in every for h in p] == [h.id for h in made], "oldest first, each once"
    assert all(h.owner_id == owner for p in every for h in p)

    active = pages(ACTIVE, 2)
    assert [len(p) for p in active] == [2, 2]
    active_ids = [h.id for p in active for h in p]
    assert active_ids == [h.id for h in made if h.id not in released | committed]
    assert all(h.state == ACTIVE for p in active for h in p)

    assert {h.id for p in pages(RELEASED, 1) for h in p} == released
    assert [[h.id for h in p] for p in pages(COMMITTED, 5)] == [list(committed)]
    assert pages(EXPIRED, 5) == [[]]


# ---------------------------------------------------------------- extend


def test_extend_sets_expire_time_to_now_plus_ttl(inventory, db):
    sku = inventory.client.sku(on_hand=1)
    hold = inventory.client.hold({sku: 1}, ttl_seconds=30)
    ledger = _hold_ledger(db, hold.id)
    before = datetime.now(UTC)
    extended = _extend(inventory, hold.id, 600)
    after = datetime.now(UTC)
    assert extended.id == hold.id and extended.state == ACTIVE
    assert extended.create_time == hold.create_time
    assert before + timedelta(seconds=600) - SLACK <= _dt(extended.expire_time)
    assert _dt(extended.expire_time) <= after + timedelta(seconds=600) + SLACK
    assert inventory.stub.GetHold(pb.GetHoldRequest(id=hold.id)).hold == extended
    assert _hold_ledger(db, hold.id) == ledger, "extending moves no stock"
    assert _levels(inventory, sku) == [(1, 1, 0)]

    # now + ttl also when that is sooner than the current expire_time.
    shorter = _extend(inventory, hold.id, 5)
    assert _dt(shorter.expire_time) <= datetime.now(UTC) + timedelta(seconds=5) + SLACK


def test_extend_is_capped_by_the_maximum_lifetime(database_url):
    small = start_inventory(
        make_settings(database_url, hold_max_lifetime_seconds=20, hold_default_ttl_seconds=10)
    )
    try:
        sku = small.client.sku(on_hand=1)
        hold = small.client.hold({sku: 1})
        extended = _extend(small, hold.id, 600)
        assert _dt(extended.expire_time) == _dt(hold.create_time) + timedelta(seconds=20)
        # Under the cap, now + ttl applies as usual.
        near = _extend(small, hold.id, 2)
        assert _dt(near.expire_time) < _dt(hold.create_time) + timedelta(seconds=20)
        assert _dt(near.expire_time) <= datetime.now(UTC) + timedelta(seconds=2) + SLACK
        _release(small, hold.id)
    finally:
        small.stop()


# ---------------------------------------------------------------- release / commit


def test_release_returns_the_stock(inventory, db):
    a, b = inventory.client.sku(on_hand=4), inventory.client.sku(on_hand=4)
    hold = inventory.client.hold({a: 3, b: 1})
    rid = new_request_id()
    released = _release(inventory, hold.id, rid)
    assert released.state == RELEASED
    assert released.HasField("end_time")
    assert _dt(hold.create_time) <= _dt(released.end_time) <= datetime.now(UTC) + SLACK
    assert released.lines == hold.lines
    assert _levels(inventory, a, b) == [(4, 0, 4), (4, 0, 4)]
    rows = _hold_ledger(db, hold.id)
    assert sorted(rows[2:]) == sorted([("RELEASE", a, 0, -3), ("RELEASE", b, 0, -1)])
    assert len(rows) == 4
    assert (
        db.execute(
            "SELECT count(*) FROM stock_ledger WHERE hold_id = %s::uuid AND request_id = %s", (hold.id, rid)
        ).fetchone()[0]
        == 2
    )
    assert inventory.stub.GetHold(pb.GetHoldRequest(id=hold.id)).hold == released


def test_commit_lowers_on_hand_and_reserved(inventory, db):
    a, b = inventory.client.sku(on_hand=5), inventory.client.sku(on_hand=2)
    hold = inventory.client.hold({a: 3, b: 2})
    committed = _commit(inventory, hold.id)
    assert committed.state == COMMITTED and committed.HasField("end_time")
    assert _levels(inventory, a, b) == [(2, 0, 2), (0, 0, 0)]
    rows = _hold_ledger(db, hold.id)
    assert len(rows) == 4
    assert sorted(rows[2:]) == sorted([("COMMIT", a, -3, -3), ("COMMIT", b, -2, -2)])
    assert _db_state(db, hold.id) == "COMMITTED"


@pytest.mark.parametrize(
    ("finish", "then"),
    [
        ("commit", "commit"),
        ("commit", "release"),
        ("commit", "extend"),
        ("release", "release"),
        ("release", "commit"),
        ("release", "extend"),
    ],
)
def test_finishing_a_hold_that_is_not_active_is_refused_and_writes_nothing(inventory, db, finish, then):
    sku = inventory.client.sku(on_hand=3)
    hold = inventory.client.hold({sku: 2})
    done = {"commit": _commit, "release": _release}[finish](inventory, hold.id)
    counts = [_count(db, t) for t in ("stock_ledger", "idempotency_keys")]
    level = _levels(inventory, sku)

    rid = new_request_id()
    call = {
        "commit": lambda: _commit(inventory, hold.id, rid),
        "release": lambda: _release(inventory, hold.id, rid),
        "extend": lambda: _extend(inventory, hold.id, 60, rid),
    }[then]
    with pytest.raises(grpc.RpcError) as caught:
        call()
    f = failure(caught.value)
    assert f.code == grpc.StatusCode.FAILED_PRECONDITION
    assert f.reason == "HOLD_NOT_ACTIVE"
    assert f.metadata["hold_id"] == hold.id
    assert [_count(db, t) for t in ("stock_ledger", "idempotency_keys")] == counts
    assert _levels(inventory, sku) == level
    assert inventory.stub.GetHold(pb.GetHoldRequest(id=hold.id)).hold == done


# ---------------------------------------------------------------- idempotency


def test_create_hold_retry_returns_the_first_hold_once(inventory, db):
    sku = inventory.client.sku(on_hand=5)
    request = hold_request([(sku, 2)], owner_id=_owner(), ttl_seconds=60)
    first = inventory.stub.CreateHold(request).hold
    holds = _count(db, "holds")
    _commit(inventory, first.id)  # the world moves on; the retry still answers as before
    again = inventory.stub.CreateHold(request).hold
    assert again == first
    assert _count(db, "holds") == holds
    assert _levels(inventory, sku) == [(3, 0, 3)]
    assert len(_hold_ledger(db, first.id)) == 2

    for changed in (
        hold_request([(sku, 3)], owner_id=request.owner_id, request_id=request.request_id, ttl_seconds=60),
        hold_request([(sku, 2)], owner_id="someone-else", request_id=request.request_id, ttl_seconds=60),
        hold_request([(sku, 2)], owner_id=request.owner_id, request_id=request.request_id, ttl_seconds=61),
        hold_request([(sku, 2)], owner_id=request.owner_id, request_id=request.request_id),
    ):
        f = refusal(inventory.stub.CreateHold, changed)
        assert (f.code, f.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "IDEMPOTENCY_KEY_REUSED")
    assert _count(db, "holds") == holds
    assert _levels(inventory, sku) == [(3, 0, 3)]


@pytest.mark.parametrize("action", ["commit", "release"])
def test_finish_retry_returns_the_first_response_once(inventory, db, action):
    finish = {"commit": _commit, "release": _release}[action]
    sku = inventory.client.sku(on_hand=5)
    hold = inventory.client.hold({sku: 2})
    other = inventory.client.hold({sku: 1})
    rid = new_request_id()
    first = finish(inventory, hold.id, rid)
    level = _levels(inventory, sku)
    ledger = _count(db, "stock_ledger")
    again = finish(inventory, hold.id, rid)
    assert again == first
    assert _levels(inventory, sku) == level
    assert _count(db, "stock_ledger") == ledger
    assert len(_hold_ledger(db, hold.id)) == 2

    # The same id for another hold, or for the other way of finishing, is refused.
    f = refusal(
        inventory.stub.CommitHold if action == "commit" else inventory.stub.ReleaseHold,
        (pb.CommitHoldRequest if action == "commit" else pb.ReleaseHoldRequest)(
            request_id=rid, hold_id=other.id
        ),
    )
    assert (f.code, f.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "IDEMPOTENCY_KEY_REUSED")
    switch = _release if action == "commit" else _commit
    with pytest.raises(grpc.RpcError) as caught:
        switch(inventory, hold.id, rid)
    assert failure(caught.value).reason == "IDEMPOTENCY_KEY_REUSED"
    assert inventory.stub.GetHold(pb.GetHoldRequest(id=other.id)).hold.state == ACTIVE
    assert _count(db, "stock_ledger") == ledger


def test_extend_retry_returns_the_first_response_once(inventory, db):
    sku = inventory.client.sku(on_hand=1)
    hold = inventory.client.hold({sku: 1})
    rid = new_request_id()
    first = _extend(inventory, hold.id, 120, rid)
    time.sleep(0.05)
    again = _extend(inventory, hold.id, 120, rid)
    assert again == first, "a retry must not push expire_time again"
    stored = db.execute("SELECT expire_time FROM holds WHERE id = %s::uuid", (hold.id,)).fetchone()[0]
    assert stored == _dt(first.expire_time)
    f = refusal(
        inventory.stub.ExtendHold, pb.ExtendHoldRequest(request_id=rid, hold_id=hold.id, ttl=duration(121))
    )
    assert (f.code, f.reason) == (grpc.StatusCode.INVALID_ARGUMENT, "IDEMPOTENCY_KEY_REUSED")
    assert db.execute("SELECT expire_time FROM holds WHERE id = %s::uuid", (hold.id,)).fetchone()[0] == stored


# ---------------------------------------------------------------- overdue holds


@dataclass
class Overdue:
    """Holds created with a 1 s TTL, all past their expire_time (one shared wait)."""

    commit_me: pb.Hold
    release_me: pb.Hold
    extend_me: pb.Hold
    read_me: pb.Hold
    reclaim_me: pb.Hold
    reclaim_skus: tuple[str, str]
    list_owner: str
    list_active: pb.Hold
    list_overdue: pb.Hold


@pytest.fixture(scope="module")
def overdue(inventory) -> Overdue:
    client = inventory.client
    a, b = client.sku(on_hand=1), client.sku(on_hand=1)
    owner = _owner()
    made = Overdue(
        commit_me=client.hold({client.sku(on_hand=2): 2}, ttl_seconds=1),
        release_me=client.hold({client.sku(on_hand=2): 1}, ttl_seconds=1),
        extend_me=client.hold({client.sku(on_hand=2): 1}, ttl_seconds=1),
        read_me=client.hold({client.sku(on_hand=3): 3, client.sku(on_hand=1): 1}, ttl_seconds=1),
        reclaim_me=client.hold({a: 1, b: 1}, ttl_seconds=1),
        reclaim_skus=(a, b),
        list_owner=owner,
        list_overdue=client.hold({client.sku(on_hand=1): 1}, owner_id=owner, ttl_seconds=1),
        list_active=client.hold({client.sku(on_hand=1): 1}, owner_id=owner),
    )
    time.sleep(1.2)
    return made


@pytest.mark.parametrize("action", ["commit", "release", "extend"])
def test_overdue_hold_cannot_be_committed_released_or_extended(inventory, db, overdue, action):
    hold = {"commit": overdue.commit_me, "release": overdue.release_me, "extend": overdue.extend_me}[action]
    call = {"commit": _commit, "release": _release, "extend": lambda i, h, r: _extend(i, h, 60, r)}[action]
    rid = new_request_id()
    ledger = _count(db, "stock_ledger")
    for _ in range(2):  # a retry with the same request_id is refused the same way
        with pytest.raises(grpc.RpcError) as caught:
            call(inventory, hold.id, rid)
        f = failure(caught.value)
        assert f.code == grpc.StatusCode.FAILED_PRECONDITION
        assert f.reason == "HOLD_EXPIRED"
        assert f.metadata["hold_id"] == hold.id
    got = inventory.stub.GetHold(pb.GetHoldRequest(id=hold.id)).hold
    assert got.state == EXPIRED
    assert got.expire_time == hold.expire_time
    assert _count(db, "stock_ledger") in (ledger, ledger + len(hold.lines))
    (sku,) = [x.sku for x in hold.lines]
    assert _levels(inventory, sku)[0][1] == 0, "an overdue hold reserves nothing"
    if action == "commit":
        assert _levels(inventory, sku)[0][0] == 2, "nothing was taken off the shelf"


def test_overdue_hold_reads_expired_before_any_sweep(inventory, db, overdue):
    hold = overdue.read_me
    got = inventory.stub.GetHold(pb.GetHoldRequest(id=hold.id)).hold
    assert got.state == EXPIRED
    assert got.end_time == hold.expire_time
    assert _db_state(db, hold.id) == "ACTIVE", "nothing reclaimed it yet"
    held = {x.sku: x.quantity for x in hold.lines}
    skus = sorted(held)
    # Each SKU had exactly the held quantity on hand; all of it reads as available again.
    assert _levels(inventory, *skus) == [(held[s], 0, held[s]) for s in skus]
    rows = db.execute(
        "SELECT sku, on_hand, reserved FROM stock WHERE sku = ANY(%s) ORDER BY sku", (skus,)
    ).fetchall()
    assert rows == [(s, held[s], held[s]) for s in skus]


def test_list_holds_counts_overdue_holds_as_expired(inventory, overdue):
    def ids(state):
        r = inventory.stub.ListHolds(pb.ListHoldsRequest(owner_id=overdue.list_owner, state=state))
        return [h.id for h in r.holds], [h.state for h in r.holds]

    assert ids(ACTIVE) == ([overdue.list_active.id], [ACTIVE])
    assert ids(EXPIRED) == ([overdue.list_overdue.id], [EXPIRED])
    everything, states = ids(pb.HOLD_STATE_UNSPECIFIED)
    assert everything == [overdue.list_overdue.id, overdue.list_active.id]
    assert states == [EXPIRED, ACTIVE]


def test_new_hold_reclaims_an_overdue_hold_before_any_sweeper(inventory, db, overdue):
    a, b = overdue.reclaim_skus
    old = overdue.reclaim_me
    assert db.execute("SELECT on_hand, reserved FROM stock WHERE sku = %s", (a,)).fetchone() == (1, 1)

    new = inventory.client.hold({a: 1})
    assert new.state == ACTIVE

    assert _db_state(db, old.id) == "EXPIRED"
    got = inventory.stub.GetHold(pb.GetHoldRequest(id=old.id)).hold
    assert got.state == EXPIRED
    assert got.end_time == old.expire_time, "it ended when it expired, not when it was reclaimed"
    assert sorted(_hold_ledger(db, old.id)) == sorted(
        [("HOLD", a, 0, 1), ("HOLD", b, 0, 1), ("EXPIRE", a, 0, -1), ("EXPIRE", b, 0, -1)]
    )
    # Every line of the old hold was freed, not just the one the new hold wanted.
    assert db.execute("SELECT on_hand, reserved FROM stock WHERE sku = %s", (a,)).fetchone() == (1, 1)
    assert db.execute("SELECT on_hand, reserved FROM stock WHERE sku = %s", (b,)).fetchone() == (1, 0)
    assert _levels(inventory, a, b) == [(1, 1, 0), (1, 0, 1)]

    f = refusal(inventory.stub.CommitHold, pb.CommitHoldRequest(request_id=new_request_id(), hold_id=old.id))
    assert (f.code, f.reason) == (grpc.StatusCode.FAILED_PRECONDITION, "HOLD_EXPIRED")
