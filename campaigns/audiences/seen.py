"""Find repeated keys in one import, however long the file, in bounded memory.

An import remembers the first row of every external id it has read so that a repeat is
reported with both rows ("u1 is also on row 2"). A Python set of a million ids would take
about a hundred megabytes; the ids are kept instead in a private temporary SQLite database
(the standard library's ``sqlite3``; ``sqlite3.connect("")`` makes an on-disk database
that SQLite deletes when it is closed, its pages cached in a small, fixed amount of memory
and spilled to a temporary file beyond that). It is not the project's database: nothing
is written there, and it works the same on SQLite and PostgreSQL deployments.
"""

from __future__ import annotations

import sqlite3
from types import TracebackType

# Pages SQLite may cache (negative: KiB), so memory stays flat whatever the number of ids.
_CACHE_KIB = 4096


class FirstSeen:
    """Remember the first row of each key; ``first_row(key, row)`` answers the earlier row
    of a repeat, or None for a key seen for the first time. Use as a context manager (or
    call ``close``) so the temporary database is removed."""

    def __init__(self) -> None:
        self._db = sqlite3.connect("", isolation_level=None)
        self._db.execute(f"PRAGMA cache_size = -{_CACHE_KIB}")
        self._db.execute("PRAGMA journal_mode = OFF")
        self._db.execute("PRAGMA synchronous = OFF")
        self._db.execute("CREATE TABLE seen (key TEXT PRIMARY KEY, row INTEGER NOT NULL) WITHOUT ROWID")
        self._db.execute("BEGIN")

    def first_row(self, key: str, row: int) -> int | None:
        """Record ``key`` as read on ``row``; return the row it was first read on if earlier."""
        inserted = self._db.execute(
            "INSERT INTO seen (key, row) VALUES (?, ?) ON CONFLICT (key) DO NOTHING", (key, row)
        ).rowcount
        if inserted:
            return None
        return self._db.execute("SELECT row FROM seen WHERE key = ?", (key,)).fetchone()[0]

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> FirstSeen:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
