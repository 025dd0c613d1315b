"""The sequencer's pass as a pure function: per-key numbers, and one crossing event per
crossing of a location's or a channel's threshold, in either direction."""

from __future__ import annotations

from inventory_svc.event_feed import NO_LEVELS, Judges, Levels, Memory, ScanMark, sequence


def on_hand(n: int) -> Levels:
    return (n, *NO_LEVELS[1:])


def test_each_key_is_numbered_on_from_its_memory_and_positions_follow_the_counter() -> None:
    memory = {("A", "w1", ""): Memory(last_seq=7, levels=on_hand(3))}
    events = [(10, "A", "w1", on_hand(4)), (11, "B", "w1", on_hand(1)), (12, "A", "w1", on_hand(5))]
    done = sequence(100, events, memory, Judges({}, {}))
    assert done.positioned == [(10, 101, 8), (11, 102, 1), (12, 103, 9)]
    assert done.last_position == 103 and not done.crossings
    assert done.memory[("A", "w1", "")] == Memory(9, on_hand(5))
    assert done.memory[("B", "w1", "")] == Memory(1, on_hand(1))


def test_a_dip_and_a_recovery_inside_one_pass_are_two_crossings_each_after_its_change() -> None:
    judges = Judges({("A", "", ""): 5}, {})
    levels = [8, 6, 5, 2, 4, 6, 9]
    events = [(n, "A", "w1", on_hand(v)) for n, v in enumerate(levels)]
    done = sequence(0, events, {("A", "w1", ""): Memory(0, on_hand(10))}, judges)
    kinds = [(c.position, c.seq, c.type, c.levels[0]) for c in done.crossings]
    # 6 -> 5 crosses down (5 is low: to or below), 4 -> 6 back up; 2 and 4 stay low: no event.
    assert kinds == [(4, 4, "LOW_STOCK", 5), (8, 8, "BACK_IN_STOCK", 6)]
    assert [p for _, p, _ in done.positioned] == [1, 2, 3, 5, 6, 7, 9]
    assert done.memory[("A", "w1", "")] == Memory(9, on_hand(9), low=False, crossings=2)


def test_a_location_override_beats_the_default_and_a_key_low_across_passes_stays_low() -> None:
    judges = Judges({("A", "", ""): 8, ("A", "w1", ""): 2}, {})
    first = sequence(0, [(1, "A", "w1", on_hand(2)), (2, "A", "w2", on_hand(7))], {}, judges)
    assert [(c.key, c.type, c.low_stock_at) for c in first.crossings] == [
        (("A", "w1", ""), "LOW_STOCK", 2),
        (("A", "w2", ""), "LOW_STOCK", 8),
    ]
    second = sequence(first.last_position, [(3, "A", "w1", on_hand(1))], first.memory, judges)
    assert not second.crossings


def test_a_channel_threshold_judges_the_total_over_its_locations() -> None:
    judges = Judges({("A", "", "web"): 10}, {"web": ("w1", "w2")})
    memory = {("A", "w1", ""): Memory(1, on_hand(8)), ("A", "w2", ""): Memory(1, on_hand(8))}
    # 16 -> 12 -> 10 (low) -> 11 (back); w3 is not the channel's: no judgement.
    events = [
        (1, "A", "w1", on_hand(4)),
        (2, "A", "w2", on_hand(6)),
        (3, "A", "w3", on_hand(0)),
        (4, "A", "w1", on_hand(5)),
    ]
    done = sequence(0, events, memory, judges)
    assert [(c.key, c.type, c.levels[0], c.seq, c.position) for c in done.crossings] == [
        (("A", "", "web"), "LOW_STOCK", 10, 1, 3),
        (("A", "", "web"), "BACK_IN_STOCK", 11, 2, 6),
    ]
    assert done.memory[("A", "", "web")].low is False


def test_the_scan_mark_waits_for_every_transaction_that_could_still_insert_below_it() -> None:
    mark = ScanMark(scan_from=101, settle_serial=150, settle_xid=900)
    # A transaction older than xid 900 is still open: nothing moves, however much was read.
    assert mark.after(read_xmin=899, allocated=180, covered=None) == (mark, False)
    # All of them ended and the pass positioned all it saw: past 150, a new settle point (the
    # pass's own xid is taken by the statement that writes it).
    assert mark.after(read_xmin=900, allocated=180, covered=None) == (ScanMark(151, 180, 900), True)
    # A full batch that stopped at serial 120 moves the mark only over what it covered.
    assert mark.after(read_xmin=905, allocated=180, covered=120) == (ScanMark(121, 150, 900), False)
    # Nothing drawn since the settle point: the mark stays as it is, nothing to write.
    quiet = ScanMark(scan_from=151, settle_serial=150, settle_xid=900)
    assert quiet.after(read_xmin=990, allocated=150, covered=None) == (quiet, False)
