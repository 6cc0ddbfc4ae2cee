"""The Users and API tokens page and the audit log page, both an admin's.

Users: create (admin or reviewer), change a role, reset a password, delete (never the last admin: the box refuses
inside the same transaction). API tokens: made here with a name, shown once (only a hash is kept), listed with
when they were last used, revoked. Every change goes to the audit log (``web.audit.record_change``), never a
password or a token.
"""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response as BaseResponse

from appliance.errors import AccessInvalid
from web.access import MIN_PASSWORD, ROLES, refusal, service
from web.audit import actor, record_change
from web.auth import SESSION_USER, role_required

log = logging.getLogger(__name__)

bp = Blueprint("users_page", __name__)
audit = Blueprint("audit_page", __name__)

AUDIT_PAGE = 50


def _page(*, error: str | None = None, new_token: str | None = None, new_token_name: str = "",
          status: int = 200) -> tuple[str, int]:
    access = service().access
    return render_template("users.html", users=access.users(), tokens=access.tokens(), roles=ROLES, error=error,
                           new_token=new_token, new_token_name=new_token_name, min_password=MIN_PASSWORD,
                           me=session.get(SESSION_USER), page="users"), status


def _done(message: str) -> BaseResponse:
    flash(message, "good")
    return redirect(url_for("users_page.index"))


@bp.get("/users")
@role_required("admin")
def index() -> tuple[str, int]:
    return _page()


@bp.post("/users")
@role_required("admin")
def create() -> BaseResponse | tuple[str, int]:
    username, role = request.form.get("username", "").strip(), request.form.get("role", "")
    try:
        user = service().access.create_user(username, request.form.get("password", ""), role)
    except AccessInvalid as exc:
        return _page(error=refusal(exc), status=400)
    record_change(f"user:{user['username']}", None, {"role": user["role"]})
    return _done(_("%(user)s can sign in now, as %(role)s.", user=user["username"], role=_role(user["role"])))


@bp.post("/users/<username>/role")
@role_required("admin")
def set_role(username: str) -> BaseResponse | tuple[str, int]:
    try:
        before, after = service().access.set_role(username, request.form.get("role", ""))
    except AccessInvalid as exc:
        return _page(error=refusal(exc), status=400)
    if before != after:
        record_change(f"user:{username}.role", before, after)
    return _done(_("%(user)s is %(role)s now.", user=username, role=_role(after)))


@bp.post("/users/<username>/password")
@role_required("admin")
def reset_password(username: str) -> BaseResponse | tuple[str, int]:
    try:
        service().access.reset_password(username, request.form.get("password", ""))
    except AccessInvalid as exc:
        return _page(error=refusal(exc), status=400)
    record_change(f"user:{username}.password", None, "reset")
    return _done(_("The password of %(user)s was reset.", user=username))


@bp.post("/users/<username>/delete")
@role_required("admin")
def delete(username: str) -> BaseResponse | tuple[str, int]:
    try:
        gone = service().access.delete_user(username)
    except AccessInvalid as exc:
        return _page(error=refusal(exc), status=400)
    record_change(f"user:{username}", {"role": gone["role"]}, None)
    return _done(_("%(user)s was deleted.", user=username))


@bp.post("/tokens")
@role_required("admin")
def create_token() -> tuple[str, int]:
    try:
        token, secret = service().access.create_token(request.form.get("name", ""), actor())
    except AccessInvalid as exc:
        return _page(error=refusal(exc), status=400)
    record_change(f"token:{token['id']}", None, {"name": token["name"]})
    log.info("API token %d (%s) made by %s", token["id"], token["name"], actor())
    return _page(new_token=secret, new_token_name=token["name"], status=201)


@bp.post("/tokens/<int:token_id>/revoke")
@role_required("admin")
def revoke_token(token_id: int) -> BaseResponse | tuple[str, int]:
    gone = service().access.revoke_token(token_id)
    if gone is None:
        return _page(error=_("There is no such token."), status=404)
    record_change(f"token:{token_id}", {"name": gone["name"]}, None)
    return _done(_("The token %(name)s was revoked: it no longer works.", name=gone["name"]))


def _role(role: str) -> str:
    return _("an admin") if role == "admin" else _("a reviewer")


@audit.get("/audit", endpoint="index")
@role_required("admin")
def index_audit() -> str:
    try:
        page = max(1, min(int(request.args.get("page", "1")), 2**40))  # offset fits SQLite
    except ValueError:
        page = 1
    log_page: dict[str, Any] = service().access.audit_page(limit=AUDIT_PAGE, offset=(page - 1) * AUDIT_PAGE)
    pages = max(1, -(-int(log_page["total"]) // AUDIT_PAGE))
    return render_template("audit.html", entries=log_page["items"], total=log_page["total"], page_no=page,
                           pages=pages, page="users")
