"""The panel's users, roles, API tokens and audit log (``web.service.AccessService``), over
``appliance.records.access.Accounts``.

Passwords are hashed here (werkzeug's scrypt), never stored or logged as given. An API token is shown once when it
is made: only its SHA-256 is kept, so a lost token is revoked and made again, never read back.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from typing import Any

from werkzeug.security import check_password_hash, generate_password_hash

from appliance.errors import AccessInvalid
from appliance.records.access import ROLES, Accounts

__all__ = ["MIN_PASSWORD", "ROLES", "AccessAdmin", "token_hash"]

MIN_PASSWORD = 10  # the panel's rule (the first-run setup, new users, resets)
USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
MAX_TOKEN_NAME = 80
TOKEN_PREFIX = "cbx_"
_DUMMY_HASH = generate_password_hash("not a password")  # a wrong user costs as much time as a wrong password


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_username(username: str) -> str:
    name = username.strip()
    if not USERNAME.fullmatch(name):
        raise AccessInvalid("a username is 1 to 64 letters, digits or . _ @ - (starting with a letter or digit)",
                            code="bad_username", field="username")
    return name


def check_password(password: str, repeat: str | None = None) -> str:
    if len(password) < MIN_PASSWORD:
        raise AccessInvalid(f"the password must have at least {MIN_PASSWORD} characters", code="short_password",
                            field="password")
    if repeat is not None and repeat != password:
        raise AccessInvalid("the two passwords differ", code="passwords_differ", field="password2")
    return password


class AccessAdmin:
    def __init__(self, accounts: Accounts) -> None:
        self.accounts = accounts

    # -- users -------------------------------------------------------------------
    def needs_setup(self) -> bool:
        """True while no user exists: the first visit makes the admin (``/setup``)."""
        return self.accounts.count() == 0

    def verify(self, username: str, password: str) -> dict[str, Any] | None:
        """The user (username, role, lang) when the password is right, else None."""
        stored = self.accounts.password_hash(username)
        if stored is None:
            check_password_hash(_DUMMY_HASH, password)
            return None
        return self.accounts.user(username) if check_password_hash(stored, password) else None

    def user(self, username: str) -> dict[str, Any] | None:
        return self.accounts.user(username)

    def users(self) -> list[dict[str, Any]]:
        return self.accounts.users()

    def session_generation(self, username: str) -> int | None:
        """What a signed-in cookie must carry to still count (web.auth); bumped by a new password, a new role,
        and :meth:`end_sessions`. None: no such user."""
        return self.accounts.session_generation(username)

    def session_user(self, username: str) -> dict[str, Any] | None:
        """The user (as :meth:`user`) with its ``session_gen``, in one read; None: no such user."""
        return self.accounts.session_user(username)

    def end_sessions(self, username: str) -> None:
        """Sign the user out everywhere (a cookie copied before stops working, across restarts too)."""
        self.accounts.end_sessions(username)

    def create_first_admin(self, username: str, password: str, repeat: str) -> dict[str, Any]:
        """The first-run admin; refused (``setup_done``) once any user exists."""
        name = check_username(username)
        check_password(password, repeat)
        return self.accounts.create(name, generate_password_hash(password), "admin", first=True)

    def create_user(self, username: str, password: str, role: str) -> dict[str, Any]:
        name = check_username(username)
        check_password(password)
        return self.accounts.create(name, generate_password_hash(password), role)

    def set_role(self, username: str, role: str) -> tuple[str, str]:
        return self.accounts.set_role(username, role)

    def reset_password(self, username: str, password: str) -> None:
        check_password(password)
        self.accounts.set_password(username, generate_password_hash(password))

    def set_password(self, username: str, password: str, role: str | None = None) -> None:
        """Set a password, creating the user (an admin unless ``role``): ``callbox demo``'s and tests' way in."""
        self.accounts.upsert(username, generate_password_hash(password), role)

    def delete_user(self, username: str) -> dict[str, Any]:
        return self.accounts.delete(username)

    def set_language(self, username: str, lang: str | None) -> None:
        self.accounts.set_language(username, lang)

    # -- API tokens ----------------------------------------------------------------
    def tokens(self) -> list[dict[str, Any]]:
        return self.accounts.tokens()

    def create_token(self, name: str, created_by: str) -> tuple[dict[str, Any], str]:
        """(the stored token, the token itself: shown once, never kept)."""
        label = " ".join(name.split())
        if not label or len(label) > MAX_TOKEN_NAME:
            raise AccessInvalid(f"a token's name is 1 to {MAX_TOKEN_NAME} characters", code="bad_token_name",
                                field="name")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        return self.accounts.add_token(label, token_hash(token), created_by), token

    def revoke_token(self, token_id: int) -> dict[str, Any] | None:
        return self.accounts.revoke_token(token_id)

    def token(self, token: str) -> dict[str, Any] | None:
        """The stored token this bearer token is (its use noted), or None."""
        if not token.startswith(TOKEN_PREFIX):
            return None
        return self.accounts.token_by_hash(token_hash(token))

    # -- the audit log -------------------------------------------------------------
    def audit(self, who: str, what: str, before: Any, after: Any) -> None:
        self.accounts.audit(who, what, before, after)

    def audit_page(self, *, limit: int = 50, offset: int = 0) -> dict[str, Any]:
        return self.accounts.audit_page(limit=limit, offset=offset)
