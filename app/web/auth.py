"""Browser sign-in (session cookie) and CSRF protection of every HTML form."""
from __future__ import annotations

import secrets
from functools import wraps

from flask import Blueprint, abort, g, redirect, render_template, request, session, url_for

from ..domain.errors import NotAuthenticated, NotAuthorized
from ..services.auth import actor_for_user_id, authenticate

bp = Blueprint("auth", __name__, template_folder="templates")


def csrf_token() -> str:
    token = session.get("csrf")
    if not token:
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def check_csrf() -> None:
    """Every state-changing HTML request carries the session's token (the JSON API uses bearer tokens)."""
    if request.method in {"POST", "PUT", "PATCH", "DELETE"} and not request.path.startswith("/api/"):
        sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token")
        if not sent or not secrets.compare_digest(sent, session.get("csrf", "")):
            abort(400, description="表单已过期，请刷新页面后重试 (CSRF token missing or wrong)")


def current_actor():
    if "actor" not in g:
        g.actor = actor_for_user_id(session.get("uid"))
    return g.actor


def login_required(check=None):
    """Page decorator: sign-in required, and ``check(actor)`` must hold (else 403)."""
    def decorate(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            actor = current_actor()
            if actor is None:
                return redirect(url_for("auth.login", next=request.full_path))
            if check is not None and not check(actor):
                raise NotAuthorized("无权访问该页面")
            return view(*args, **kwargs)
        return wrapped
    return decorate


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    if request.method == "POST":
        try:
            actor = authenticate(request.form.get("username", ""), request.form.get("password", ""))
        except NotAuthenticated as exc:
            error = exc.message
        else:
            lang = session.get("lang")
            session.clear()
            session["uid"] = actor.id
            if lang:
                session["lang"] = lang
            target = request.args.get("next") or "/"
            if not target.startswith("/") or target.startswith("//"):
                target = "/"
            return redirect(target)
    return render_template("auth/login.html", error=error), (401 if error else 200)


@bp.post("/logout")
def logout():
    session.clear()
    return redirect(url_for("auth.login"))
