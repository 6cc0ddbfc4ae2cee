"""Who may use the panel and the API: users with a role and a language, API tokens (hashes only), the audit log.

Every change is one transaction on the writer thread, and the rules that must never break are checked inside it:
the first admin is created only while no user exists (two browsers finishing the first-run setup at once make one
admin, not two), and no change leaves the box without an admin. Passwords arrive hashed (the panel hashes them);
tokens arrive as their SHA-256 (a token is 256 random bits, so a fast hash is enough and a lookup is one index
probe).
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from datetime import UTC, datetime, timedelta
from typing import Any

from appliance.errors import AccessInvalid
from appliance.records.db import Database

__all__ = ["ROLES", "Accounts"]

ROLES = ("admin", "reviewer")
TOKEN_TOUCH_S = 60  # a token's "last used" is written at most this often (not one write per API request)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _user(row: sqlite3.Row) -> dict[str, Any]:
    return {"username": row["username"], "role": row["role"], "lang": row["lang"], "created_at": row["created_at"]}


def _first_generation() -> int:
    """A new user's first session generation, random: a user deleted and made again under the same name does not
    take over the old one's cookies."""
    return secrets.randbelow(2**31) + 1


def _admins(conn: sqlite3.Connection) -> int:
    return int(conn.execute("SELECT COUNT(*) FROM users WHERE role='admin'").fetchone()[0])


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise AccessInvalid(f"role must be one of {', '.join(ROLES)}", code="bad_role", field="role")


class Accounts:
    """The users, API tokens and audit log tables of the records database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # -- users -------------------------------------------------------------------
    def count(self) -> int:
        return int(self.db.read(lambda c: c.execute("SELECT COUNT(*) FROM users").fetchone()[0]))

    def user(self, username: str) -> dict[str, Any] | None:
        row = self.db.read(lambda c: c.execute("SELECT * FROM users WHERE username=?", (username,)).fetchone())
        return _user(row) if row else None

    def password_hash(self, username: str) -> str | None:
        row = self.db.read(
            lambda c: c.execute("SELECT password_hash FROM users WHERE username=?", (username,)).fetchone())
        return str(row[0]) if row else None

    def users(self) -> list[dict[str, Any]]:
        rows = self.db.read(lambda c: c.execute("SELECT * FROM users ORDER BY role, username").fetchall())
        return [_user(r) for r in rows]

    def create(self, username: str, password_hash: str, role: str, *, first: bool = False) -> dict[str, Any]:
        """A new user; with ``first``, only while no user exists (the first-run setup)."""
        _check_role(role)

        def insert(conn: sqlite3.Connection) -> dict[str, Any]:
            if first and conn.execute("SELECT 1 FROM users LIMIT 1").fetchone():
                raise AccessInvalid("the box already has an admin", code="setup_done")
            if conn.execute("SELECT 1 FROM users WHERE username=?", (username,)).fetchone():
                raise AccessInvalid(f"{username} already exists", code="username_taken", field="username")
            conn.execute("INSERT INTO users (username, password_hash, created_at, role, session_gen) "
                         "VALUES (?,?,?,?,?)", (username, password_hash, _now(), role, _first_generation()))
            return _user(conn.execute("SELECT * FROM users WHERE username=?", (username,)).fetchone())

        return self.db.write(insert)

    def upsert(self, username: str, password_hash: str, role: str | None = None) -> None:
        """``callbox passwd``: set the password, creating the user (an admin unless ``role``) if need be."""
        if role is not None:
            _check_role(role)

        def write(conn: sqlite3.Connection) -> None:
            old = conn.execute("SELECT role FROM users WHERE username=?", (username,)).fetchone()
            if old is None:
                conn.execute("INSERT INTO users (username, password_hash, created_at, role, session_gen) "
                             "VALUES (?,?,?,?,?)", (username, password_hash, _now(), role or "admin",
                                                   _first_generation()))
                return
            if role is not None and old["role"] == "admin" and role != "admin" and _admins(conn) == 1:
                raise AccessInvalid(f"{username} is the only admin", code="last_admin", field="role")
            conn.execute("UPDATE users SET password_hash=?, role=COALESCE(?, role), session_gen=session_gen+1 "
                         "WHERE username=?", (password_hash, role, username))

        self.db.write(write)

    def set_role(self, username: str, role: str) -> tuple[str, str]:
        """(role before, role after); never takes the last admin's role away."""
        _check_role(role)

        def write(conn: sqlite3.Connection) -> tuple[str, str]:
            old = conn.execute("SELECT role FROM users WHERE username=?", (username,)).fetchone()
            if old is None:
                raise AccessInvalid(f"no user {username}", code="no_user", field="username")
            if old["role"] == "admin" and role != "admin" and _admins(conn) == 1:
                raise AccessInvalid(f"{username} is the only admin", code="last_admin", field="role")
            conn.execute("UPDATE users SET role=?, session_gen=session_gen+1 WHERE username=?", (role, username))
            return str(old["role"]), role

        return self.db.write(write)

    def set_password(self, username: str, password_hash: str) -> None:
        def write(conn: sqlite3.Connection) -> None:
            if conn.execute("UPDATE users SET password_hash=?, session_gen=session_gen+1 WHERE username=?",
                            (password_hash, username)).rowcount == 0:
                raise AccessInvalid(f"no user {username}", code="no_user", field="username")

        self.db.write(write)

    def session_generation(self, username: str) -> int | None:
        """The user's session generation (a signed-in cookie carries the one it was made with), or None."""
        row = self.db.read(
            lambda c: c.execute("SELECT session_gen FROM users WHERE username=?", (username,)).fetchone())
        return int(row[0]) if row else None

    def session_user(self, username: str) -> dict[str, Any] | None:
        """:meth:`user` with its ``session_gen``, in one query: what the panel's guard reads on every request."""
        row = self.db.read(lambda c: c.execute("SELECT * FROM users WHERE username=?", (username,)).fetchone())
        return {**_user(row), "session_gen": int(row["session_gen"])} if row else None

    def end_sessions(self, username: str) -> None:
        """Every session of the user ends: signing out, here or on any other browser."""
        self.db.write(lambda c: c.execute("UPDATE users SET session_gen=session_gen+1 WHERE username=?",
                                          (username,)))

    def set_language(self, username: str, lang: str | None) -> None:
        self.db.write(lambda c: c.execute("UPDATE users SET lang=? WHERE username=?", (lang, username)))

    def delete(self, username: str) -> dict[str, Any]:
        """The user as it was; never the last admin."""

        def write(conn: sqlite3.Connection) -> dict[str, Any]:
            row = conn.execute("SELECT * FROM users WHERE username=?", (username,)).fetchone()
            if row is None:
                raise AccessInvalid(f"no user {username}", code="no_user", field="username")
            if row["role"] == "admin" and _admins(conn) == 1:
                raise AccessInvalid(f"{username} is the only admin", code="last_admin", field="username")
            conn.execute("DELETE FROM users WHERE username=?", (username,))
            return _user(row)

        return self.db.write(write)

    # -- API tokens ----------------------------------------------------------------
    def add_token(self, name: str, token_hash: str, created_by: str) -> dict[str, Any]:
        def insert(conn: sqlite3.Connection) -> dict[str, Any]:
            at = _now()
            cursor = conn.execute("INSERT INTO api_tokens (name, token_hash, created_by, created_at) VALUES (?,?,?,?)",
                                  (name, token_hash, created_by, at))
            return {"id": cursor.lastrowid, "name": name, "created_by": created_by, "created_at": at,
                    "last_used_at": None}

        return self.db.write(insert)

    def tokens(self) -> list[dict[str, Any]]:
        rows = self.db.read(lambda c: c.execute(
            "SELECT id, name, created_by, created_at, last_used_at FROM api_tokens ORDER BY id DESC").fetchall())
        return [dict(r) for r in rows]

    def revoke_token(self, token_id: int) -> dict[str, Any] | None:
        def write(conn: sqlite3.Connection) -> dict[str, Any] | None:
            row = conn.execute("SELECT id, name, created_by, created_at, last_used_at FROM api_tokens WHERE id=?",
                               (token_id,)).fetchone()
            if row is None:
                return None
            conn.execute("DELETE FROM api_tokens WHERE id=?", (token_id,))
            return dict(row)

        return self.db.write(write)

    def token_by_hash(self, token_hash: str) -> dict[str, Any] | None:
        """The token with this hash (its use noted, at most once a minute), or None."""
        row = self.db.read(lambda c: c.execute(
            "SELECT id, name, created_by, created_at, last_used_at FROM api_tokens WHERE token_hash=?",
            (token_hash,)).fetchone())
        if row is None:
            return None
        now = datetime.now(UTC)
        last = row["last_used_at"]
        if last is None or now - datetime.fromisoformat(last) > timedelta(seconds=TOKEN_TOUCH_S):
            self.db.write(lambda c: c.execute("UPDATE api_tokens SET last_used_at=? WHERE id=?",
                                              (now.isoformat(timespec="seconds"), row["id"])))
        return dict(row)

    # -- the audit log -------------------------------------------------------------
    def audit(self, who: str, what: str, before: Any, after: Any) -> None:
        def dump(value: Any) -> str | None:
            return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)

        self.db.write(lambda c: c.execute("INSERT INTO audit_log (at, who, what, before, after) VALUES (?,?,?,?,?)",
                                          (_now(), who, what, dump(before), dump(after))))

    def audit_page(self, *, limit: int = 50, offset: int = 0) -> dict[str, Any]:
        """Newest first: ``{items: [{id, at, who, what, before, after}], total, limit, offset}``."""

        def read(conn: sqlite3.Connection) -> dict[str, Any]:
            total = int(conn.execute("SELECT COUNT(*) FROM audit_log").fetchone()[0])
            rows = conn.execute("SELECT * FROM audit_log ORDER BY id DESC LIMIT ? OFFSET ?",
                                (limit, offset)).fetchall()
            items = [{"id": r["id"], "at": r["at"], "who": r["who"], "what": r["what"],
                      "before": None if r["before"] is None else json.loads(r["before"]),
                      "after": None if r["after"] is None else json.loads(r["after"])} for r in rows]
            return {"items": items, "total": total, "limit": limit, "offset": offset}

        return self.db.read(read)
