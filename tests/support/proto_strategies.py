"""Hypothesis strategies for any protobuf message, built from its descriptor.

Made to fuzz request validation: scalars lean on their extremes (0, -1, the bounds of
their type), strings include the empty, blank, NUL-laden, astral and right-to-left ones
and long ones (10-100 KB), enums include numbers no version of the contract defines
(proto3 enums are open), repeated fields can run past a service's caps, and the
well-known google.type.Money, google.protobuf.Timestamp and Duration get out-of-range
and mismatched-sign values. Nothing here knows a service: callers mix in values that
look valid (`samples`) or replace a field's strategy (`overrides`), both keyed by a
field's full name ("pkg.Message.field") or, more loosely, its bare name ("sku").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import descriptor as d
from google.protobuf import duration_pb2, message_factory, timestamp_pb2
from google.protobuf.message import Message
from google.type import money_pb2
from hypothesis import strategies as st

Strategy = st.SearchStrategy[Any]

INT32_MIN, INT32_MAX = -(2**31), 2**31 - 1
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
UINT32_MAX, UINT64_MAX = 2**32 - 1, 2**64 - 1
NANOS_PER_SECOND = 1_000_000_000
# The range google.protobuf.Timestamp documents: 0001-01-01 to 9999-12-31T23:59:59Z.
TIMESTAMP_MIN_SECONDS, TIMESTAMP_MAX_SECONDS = -62_135_596_800, 253_402_300_799
# And Duration's: about +-10,000 years.
DURATION_MAX_SECONDS = 315_576_000_000

_ODD_STRINGS = [
    "",
    " ",
    "\t\n\r",
    "\x00",
    "a\x00b",
    "\x00" * 3,
    "é",
    "e\u0301",  # e + combining acute accent
    "\u202eevil",  # right-to-left override
    "\u05e9\u05c1\u05b8\u05dc\u05d5\u05b9\u05dd",  # Hebrew with vowel points, right to left
    "\U0001d518\U0001d52b \U0001f389",  # astral plane: Fraktur letters and an emoji
    "\ufeff",
    "\u200b",
    "' OR 1=1 --",
    "%s %(x)s {0}",
    "../../etc/passwd",
    "null",
    "-1",
    "00000000-0000-0000-0000-000000000000",
    "ffffffff-ffff-ffff-ffff-ffffffffffff",
]
_SMALL_INTS = [0, 1, -1, 2, 100, 1000]


def _ints(low: int, high: int) -> Strategy:
    edges = sorted({low, high, low + 1, high - 1, *(n for n in _SMALL_INTS if low <= n <= high)})
    return st.one_of(st.sampled_from(edges), st.integers(low, high))


def long_strings(min_len: int = 10_000, max_len: int = 100_000) -> Strategy:
    """Long strings made by repeating a short one: cheap to draw, whatever the length."""
    return st.builds(
        lambda unit, n: (unit * (n // len(unit) + 1))[:n],
        st.text(min_size=1, max_size=4),
        st.integers(min_len, max_len),
    )


def strings(*, long: bool = True) -> Strategy:
    """Odd, random and (unless `long` is False) 10-100 KB long text."""
    options = [st.sampled_from(_ODD_STRINGS), st.text(max_size=80)]
    if long:
        options.append(long_strings())
    return st.one_of(options)


def money() -> Strategy:
    """google.type.Money: bad currency codes, units and nanos of either sign, nanos out of range."""
    return st.builds(
        money_pb2.Money,
        currency_code=st.one_of(
            st.sampled_from(["USD", "", "usd", "EUR", "JPY", "KWD", "XXX", "US", "USDD", "\x00\x00\x00"]),
            st.text(max_size=5),
        ),
        units=_ints(INT64_MIN, INT64_MAX),
        nanos=st.one_of(
            st.sampled_from([0, 1, -1, 10_000_000, 999_999_999, -999_999_999, 1_000_000_000]),
            _ints(INT32_MIN, INT32_MAX),
        ),
    )


def timestamps() -> Strategy:
    """google.protobuf.Timestamp: inside and far outside years 1-9999, nanos out of range."""
    return st.builds(
        timestamp_pb2.Timestamp,
        seconds=st.one_of(
            _ints(INT64_MIN, INT64_MAX),
            st.sampled_from([TIMESTAMP_MIN_SECONDS - 1, TIMESTAMP_MAX_SECONDS + 1]),
            st.integers(TIMESTAMP_MIN_SECONDS, TIMESTAMP_MAX_SECONDS),
        ),
        nanos=st.one_of(
            st.sampled_from([0, -1, NANOS_PER_SECOND - 1, NANOS_PER_SECOND]), _ints(INT32_MIN, INT32_MAX)
        ),
    )


def durations() -> Strategy:
    """google.protobuf.Duration: zero, negative, tiny, huge, signs mismatched, nanos out of range."""
    return st.builds(
        duration_pb2.Duration,
        seconds=st.one_of(
            _ints(INT64_MIN, INT64_MAX),
            st.sampled_from([DURATION_MAX_SECONDS, DURATION_MAX_SECONDS + 1]),
            st.integers(-10, 100_000),
        ),
        nanos=st.one_of(
            st.sampled_from([0, 1, -1, 999, NANOS_PER_SECOND - 1, NANOS_PER_SECOND]),
            _ints(INT32_MIN, INT32_MAX),
        ),
    )


_WELL_KNOWN: dict[str, Callable[[], Strategy]] = {
    "google.type.Money": money,
    "google.protobuf.Timestamp": timestamps,
    "google.protobuf.Duration": durations,
}

_SCALARS: dict[int, Callable[[], Strategy]] = {
    d.FieldDescriptor.TYPE_BOOL: st.booleans,
    d.FieldDescriptor.TYPE_INT32: lambda: _ints(INT32_MIN, INT32_MAX),
    d.FieldDescriptor.TYPE_SINT32: lambda: _ints(INT32_MIN, INT32_MAX),
    d.FieldDescriptor.TYPE_SFIXED32: lambda: _ints(INT32_MIN, INT32_MAX),
    d.FieldDescriptor.TYPE_INT64: lambda: _ints(INT64_MIN, INT64_MAX),
    d.FieldDescriptor.TYPE_SINT64: lambda: _ints(INT64_MIN, INT64_MAX),
    d.FieldDescriptor.TYPE_SFIXED64: lambda: _ints(INT64_MIN, INT64_MAX),
    d.FieldDescriptor.TYPE_UINT32: lambda: _ints(0, UINT32_MAX),
    d.FieldDescriptor.TYPE_FIXED32: lambda: _ints(0, UINT32_MAX),
    d.FieldDescriptor.TYPE_UINT64: lambda: _ints(0, UINT64_MAX),
    d.FieldDescriptor.TYPE_FIXED64: lambda: _ints(0, UINT64_MAX),
    d.FieldDescriptor.TYPE_FLOAT: lambda: st.floats(width=32),
    d.FieldDescriptor.TYPE_DOUBLE: st.floats,
    d.FieldDescriptor.TYPE_BYTES: lambda: st.one_of(st.binary(max_size=64), st.just(b"\x00" * 20_000)),
}


# Left out of a message when drawn as a field's value.
_UNSET = object()


@dataclass(frozen=True)
class _Builder:
    samples: Mapping[str, Strategy] = field(default_factory=dict)
    overrides: Mapping[str, Strategy] = field(default_factory=dict)
    long_repeats: Sequence[int] = ()
    max_repeats: int = 4
    max_depth: int = 4
    # In a near-valid message, the chance in ten that a guided field is wild instead.
    wild_in_ten: int = 1

    def _keyed(self, table: Mapping[str, Strategy], fd: d.FieldDescriptor) -> Strategy | None:
        return table.get(fd.full_name, table.get(fd.name))

    def guided(self, fd: d.FieldDescriptor, depth: int = 0) -> bool:
        """Whether the caller gave values for this field or for one inside it."""
        if self._keyed(self.samples, fd) is not None or self._keyed(self.overrides, fd) is not None:
            return True
        if fd.type == d.FieldDescriptor.TYPE_ENUM:
            return True  # its known values are the valid-looking ones
        sub = fd.message_type
        if sub is None or sub.full_name in _WELL_KNOWN or depth >= self.max_depth:
            return False
        return any(self.guided(f, depth + 1) for f in sub.fields)

    def top(self, descriptor: d.Descriptor) -> Strategy:
        """Near-valid messages (guided fields from their samples, a few gone wild) and wild ones."""
        wild = self.message(descriptor, 0, compact=False, near=False)
        if not any(self.guided(f) for f in descriptor.fields):
            return wild
        return st.one_of(self.message(descriptor, 0, compact=False, near=True), wild)

    def _mostly(self, good: Strategy, bad: Strategy) -> Strategy:
        return st.integers(0, 9).flatmap(lambda k: bad if k < self.wild_in_ten else good)

    def message(self, descriptor: d.Descriptor, depth: int, compact: bool, near: bool) -> Strategy:
        well_known = _WELL_KNOWN.get(descriptor.full_name)
        if well_known is not None:
            return well_known()
        cls = message_factory.GetMessageClass(descriptor)
        if depth > self.max_depth:
            return st.builds(cls)
        oneofs = [o for o in descriptor.oneofs if not _synthetic(o)]
        in_oneof = {f.name for o in oneofs for f in o.fields}
        required: dict[str, Strategy] = {}
        optional: dict[str, Strategy] = {}
        for f in descriptor.fields:
            if f.name in in_oneof:
                continue
            if near and self.guided(f, depth):
                wild = st.one_of(st.just(_UNSET), self.field(f, depth, compact, near=False))
                required[f.name] = self._mostly(self.field(f, depth, compact, near=True), wild)
            else:
                optional[f.name] = self.field(f, depth, compact, near=False)
        # At most one member of each oneof, or none; near-valid, a guided member if any.
        choices = []
        for o in oneofs:
            members = [st.tuples(st.just(f.name), self.field(f, depth, compact, near)) for f in o.fields]
            anything = st.one_of(st.none(), *members)
            guided = [m for f, m in zip(o.fields, members, strict=True) if self.guided(f, depth)]
            choices.append(self._mostly(st.one_of(guided), anything) if near and guided else anything)
        return st.builds(
            _make, st.just(cls), st.fixed_dictionaries(required, optional=optional), st.tuples(*choices)
        )

    def field(self, fd: d.FieldDescriptor, depth: int, compact: bool, near: bool) -> Strategy:
        override = self._keyed(self.overrides, fd)
        if override is not None:
            return override
        if fd.is_repeated:
            return self.repeated(fd, depth, compact, near)
        return self.single(fd, depth, compact, near)

    def single(self, fd: d.FieldDescriptor, depth: int, compact: bool, near: bool) -> Strategy:
        sample = self._keyed(self.samples, fd)
        if near and sample is not None:
            return sample
        if fd.message_type is not None:
            generic = self.message(fd.message_type, depth + 1, compact, near)
        elif fd.enum_type is not None:
            known = st.sampled_from([v.number for v in fd.enum_type.values])
            if near:
                return known
            # Open (proto3) enums carry any int32 on the wire; closed ones only their values.
            generic = known if fd.enum_type.is_closed else st.one_of(known, _ints(INT32_MIN, INT32_MAX))
        elif fd.type == d.FieldDescriptor.TYPE_STRING:
            generic = strings(long=not compact)
        else:
            generic = _SCALARS[fd.type]()
        return generic if sample is None else st.one_of(sample, generic)

    def repeated(self, fd: d.FieldDescriptor, depth: int, compact: bool, near: bool) -> Strategy:
        # Elements of a list are compact (no long strings, no oversized lists of their
        # own) so a request stays well under the message size limit.
        element = self.single(fd, depth, compact=True, near=near)
        if near:
            return st.lists(element, min_size=1, max_size=self.max_repeats)
        options = [st.lists(element, max_size=self.max_repeats)]
        if self.long_repeats and not compact:
            # Oversized lists cycle a few drawn elements: cheap to draw at any length.
            options.append(
                st.builds(
                    _cycle,
                    st.lists(element, min_size=1, max_size=3),
                    st.sampled_from(list(self.long_repeats)),
                )
            )
        return st.one_of(options)


def _synthetic(oneof: d.OneofDescriptor) -> bool:
    """The oneof protoc makes for a proto3 `optional` field: a plain field with presence."""
    return len(oneof.fields) == 1 and oneof.name == "_" + oneof.fields[0].name


def _cycle(items: list[Any], length: int) -> list[Any]:
    return [items[i % len(items)] for i in range(length)]


def _make(cls: type[Message], fields: dict[str, Any], chosen: tuple[tuple[str, Any] | None, ...]) -> Message:
    values = {name: value for name, value in fields.items() if value is not _UNSET}
    values.update(choice for choice in chosen if choice is not None)
    return cls(**values)


def messages(
    message_type: type[Message] | d.Descriptor,
    *,
    samples: Mapping[str, Strategy] | None = None,
    overrides: Mapping[str, Strategy] | None = None,
    long_repeats: Sequence[int] = (),
    max_depth: int = 4,
) -> Strategy:
    """Any message of `message_type`: half near-valid, half wild.

    `samples` are a field's valid-looking values (a list field's samples are its
    elements'); `overrides` replace a field's values altogether (a list field's override
    draws the whole list). A near-valid message sets every field that has samples (or has
    them inside) from them, except that one in ten goes wild or unset; a wild message
    sets each field or not, from its generic values mixed with its samples.
    `long_repeats` are the lengths an oversized top-level list may have, typically each
    cap of the service plus one. Nested messages deeper than `max_depth` come out empty.
    """
    descriptor = message_type if isinstance(message_type, d.Descriptor) else message_type.DESCRIPTOR
    assert isinstance(descriptor, d.Descriptor)
    builder = _Builder(
        samples=samples or {},
        overrides=overrides or {},
        long_repeats=tuple(long_repeats),
        max_depth=max_depth,
    )
    return builder.top(descriptor)
