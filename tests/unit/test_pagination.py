"""holdfast_common.values.pagination: AIP-158 page sizes and opaque, signed, query-bound page tokens."""

from __future__ import annotations

import base64
import json

import pytest

from holdfast_common.values.pagination import PageRequest, PageTokens
from holdfast_common.values.validation import Violations

QUERY = {"list": "products", "category_id": None}


@pytest.fixture
def tokens() -> PageTokens:
    return PageTokens("secret-1", default_size=50, max_size=500)


def parse(tokens: PageTokens, size: int = 0, token: str = "", query: dict | None = None):
    v = Violations()
    page = tokens.parse(v, size, token, QUERY if query is None else query)
    return page, [x.field for x in v.items]


def test_zero_means_default_size(tokens: PageTokens) -> None:
    assert parse(tokens, 0) == (PageRequest(50, None), [])


def test_explicit_size_is_kept(tokens: PageTokens) -> None:
    assert parse(tokens, 7) == (PageRequest(7, None), [])
    assert parse(tokens, 500) == (PageRequest(500, None), [])


@pytest.mark.parametrize("size", [501, 10_000, 2**31 - 1])
def test_too_big_is_capped(tokens: PageTokens, size: int) -> None:
    assert parse(tokens, size) == (PageRequest(500, None), [])


@pytest.mark.parametrize("size", [-1, -(2**31)])
def test_negative_size_is_a_violation(tokens: PageTokens, size: int) -> None:
    _, violations = parse(tokens, size)
    assert violations == ["page_size"]


def test_token_round_trip(tokens: PageTokens) -> None:
    after = ["0190f3a2-0000-7000-8000-000000000001", 42]
    token = tokens.encode(after, QUERY)
    assert token and all(c.isalnum() or c in "-_." for c in token)  # URL safe
    page, violations = parse(tokens, 10, token)
    assert violations == []
    assert page == PageRequest(10, after)


def test_query_key_order_does_not_matter(tokens: PageTokens) -> None:
    token = tokens.encode(["x"], {"b": 1, "a": 2})
    assert parse(tokens, 0, token, {"a": 2, "b": 1}) == (PageRequest(50, ["x"]), [])


def test_token_for_another_query_is_refused(tokens: PageTokens) -> None:
    token = tokens.encode(["x"], {"list": "products", "category_id": "c1"})
    page, violations = parse(tokens, 0, token, {"list": "products", "category_id": "c2"})
    assert violations == ["page_token"]
    assert page.after is None
    _, violations = parse(tokens, 0, token, {"list": "variants", "category_id": "c1"})
    assert violations == ["page_token"]


def test_token_signed_with_another_secret_is_refused(tokens: PageTokens) -> None:
    foreign = PageTokens("secret-2", default_size=50, max_size=500).encode(["x"], QUERY)
    _, violations = parse(tokens, 0, foreign)
    assert violations == ["page_token"]


def test_tampered_token_is_refused(tokens: PageTokens) -> None:
    token = tokens.encode(["a"], QUERY)
    body, signature = token.split(".", 1)
    raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    forged_raw = raw.replace(b'"a"]', b'"z"]')
    assert forged_raw != raw
    forged = base64.urlsafe_b64encode(forged_raw).decode().rstrip("=") + "." + signature
    _, violations = parse(tokens, 0, forged)
    assert violations == ["page_token"]
    # Flipping one signature character is caught as well.
    flipped = body + "." + ("0" if signature[0] != "0" else "1") + signature[1:]
    _, violations = parse(tokens, 0, flipped)
    assert violations == ["page_token"]


def test_forged_token_without_the_secret_is_refused(tokens: PageTokens) -> None:
    raw = json.dumps({"a": ["x"], "q": QUERY}, sort_keys=True, separators=(",", ":")).encode()
    forged = base64.urlsafe_b64encode(raw).decode().rstrip("=") + "." + "0" * 32
    _, violations = parse(tokens, 0, forged)
    assert violations == ["page_token"]


@pytest.mark.parametrize("garbage", ["abc", ".", "!!!.###", "é.é", "a.b.c", "=" * 5])
def test_garbage_token_is_refused_not_crashed(tokens: PageTokens, garbage: str) -> None:
    page, violations = parse(tokens, 0, garbage)
    assert violations == ["page_token"]
    assert page.after is None


def test_bad_size_and_bad_token_are_both_reported(tokens: PageTokens) -> None:
    _, violations = parse(tokens, -5, "nonsense")
    assert sorted(violations) == ["page_size", "page_token"]
