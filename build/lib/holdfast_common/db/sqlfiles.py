"""Named SQL queries kept in .sql files, each introduced by a `-- name: <query>` line."""

from __future__ import annotations

import re
from importlib.resources import files
from importlib.resources.abc import Traversable

_NAME_LINE = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)


class Queries:
    """Attribute access to the queries of every .sql file in a folder."""

    def __init__(self, folder: Traversable) -> None:
        self._queries: dict[str, str] = {}
        sql_files = sorted((f for f in folder.iterdir() if f.name.endswith(".sql")), key=lambda f: f.name)
        for path in sql_files:
            parts = _NAME_LINE.split(path.read_text())
            for name, body in zip(parts[1::2], parts[2::2], strict=True):
                if name in self._queries:
                    raise ValueError(f"query {name!r} defined twice (in {path.name})")
                self._queries[name] = body.strip()

    @classmethod
    def of_package(cls, package: str) -> Queries:
        """The queries shipped as data files of `package` (found through the import system)."""
        return cls(files(package))

    def __getattr__(self, name: str) -> str:
        try:
            return self._queries[name]
        except KeyError:
            raise AttributeError(f"no SQL query named {name!r}") from None
