"""A records file on an old schema, for the tests of one migration (records, retention, statistics, access)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from appliance.records.db import MIGRATIONS


def schema_at(path: Path, version: int) -> sqlite3.Connection:
    """The file built by the migrations up to ``version`` (as a box of that age made it), so a test of one
    migration needs no undoing of the later ones. Autocommit; rows as ``sqlite3.Row``."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.row_factory = sqlite3.Row
    for number, script in enumerate(MIGRATIONS[:version], start=1):
        if isinstance(script, str):
            conn.executescript(f"BEGIN;\n{script}\nPRAGMA user_version={number};\nCOMMIT;")
            continue
        conn.execute("BEGIN")
        script(conn)
        conn.execute(f"PRAGMA user_version={number}")
        conn.execute("COMMIT")
    return conn
