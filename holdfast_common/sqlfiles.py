"""Named SQL queries kept in .sql files, each introduced by a `-- name: <query>` line."""

from __future__ import annotations

import re
from pathlib import Path

_NAME_LINE = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)


class Queries:
    """Attribute access to the queries of every .sql file in a folder."""

    def __init__(self, folder: Path) -> None:
        self._queries: dict[str, str] = {}
        for path in sorted(folder.glob("*.sql")):
            parts = _NAME_LINE.split(path.read_text())
            for name, body in zip(parts[1::2], parts[2::2], strict=True):
                if name in self._queries:
                    raise ValueError(f"query {name!r} defined twice (in {path.name})")
                self._queries[name] = body.strip()

    def __getattr__(self, name: str) -> str:
        try:
            return self._queries[name]
        except KeyError:
            raise AttributeError(f"no SQL query named {name!r}") from None
