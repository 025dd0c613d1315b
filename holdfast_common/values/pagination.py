"""AIP-158 pagination: page sizes with a default and a cap, opaque signed page tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from holdfast_common.values.validation import Violations


@dataclass(frozen=True)
class PageRequest:
    size: int
    # Keyset position after which the page starts; None for the first page.
    after: list[Any] | None


@dataclass(frozen=True)
class PageQuery:
    """A validated list call: its page, and the filter its page tokens are bound to."""

    page: PageRequest
    query: dict[str, Any]


class PageTokens:
    """Signs and checks page tokens, each bound to the query filter it was made for."""

    def __init__(self, secret: str, *, default_size: int, max_size: int) -> None:
        self._key = secret.encode()
        self._default_size = default_size
        self._max_size = max_size

    def _sign(self, payload: bytes) -> str:
        return hmac.new(self._key, payload, hashlib.sha256).hexdigest()[:32]

    def encode(self, after: list[Any], query: dict[str, Any]) -> str:
        payload = json.dumps({"a": after, "q": query}, sort_keys=True, separators=(",", ":"))
        raw = payload.encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=") + "." + self._sign(raw)

    def next_token(self, after: Any | None, query: dict[str, Any]) -> str:
        """The token of the page after `after` (the last key of this one), "" at the end."""
        return self.encode([after], query) if after else ""

    def page_query(self, page_size: int, page_token: str, query: dict[str, Any]) -> PageQuery:
        """The page of a list call with no field to check but its page, or INVALID_ARGUMENT."""
        v = Violations()
        page = self.parse(v, page_size, page_token, query)
        v.raise_if_any()
        return PageQuery(page, query)

    def parse(
        self, violations: Violations, page_size: int, page_token: str, query: dict[str, Any]
    ) -> PageRequest:
        """Validates size and token; a token made for another filter is refused."""
        if page_size < 0:
            violations.add("page_size", "must not be negative")
        size = min(page_size or self._default_size, self._max_size)
        if not page_token:
            return PageRequest(size, None)
        try:
            body, signature = page_token.split(".", 1)
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
            if not hmac.compare_digest(signature, self._sign(raw)):
                raise ValueError("bad signature")
            payload = json.loads(raw)
            if payload["q"] != query or not isinstance(payload["a"], list):
                raise ValueError("token made for another query")
        except (ValueError, KeyError, TypeError):
            violations.add("page_token", "is not a page token issued for this query")
            return PageRequest(size, None)
        return PageRequest(size, payload["a"])
