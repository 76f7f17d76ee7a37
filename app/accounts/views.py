"""Staff sign-in and sign-out. Rate-limited per IP; CSRF-protected like every form."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException
from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from app.accounts.services import authenticate
from app.web.auth import current_user, log_in, log_out
from app.web.database import db
from app.web.errors import http_error_response
from app.web.extensions import csrf, limiter, normalised_email_key, retry_message
from app.web.forms import Form, TextSafe

bp = Blueprint("accounts", __name__)


class LoginForm(Form):
    email = EmailField("E-mail", validators=[DataRequired(), Length(max=320), TextSafe()])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1000), TextSafe()])


def safe_next(target: str | None, default: str = "staff.dashboard") -> str:
    """Only same-site paths (an open redirect after login would be a phishing aid); by default, the
    staff dashboard, where each role finds its work."""
    # Browsers drop tabs and newlines from URLs and read a backslash as a slash, so "/\t/evil.example"
    # and "/\\evil.example" would leave the site: any such character sends the user to the default.
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and not any(c == "\\" or not c.isprintable() or c.isspace() for c in target)
        and not urlsplit(target).netloc
        and len(target) <= 2000
    ):
        return target
    return url_for(default)


def _sso_only() -> bool:
    return bool(current_app.config.get("OIDC_ISSUER") and current_app.config.get("OIDC_ONLY"))


@bp.route("/login", methods=["GET", "POST"])
@csrf.exempt  # the form checks its own CSRF token, after the rate limit has counted the attempt
@limiter.limit("10 per minute; 50 per hour", methods=["POST"])
@limiter.limit(
    lambda: current_app.config["LOGIN_ACCOUNT_LIMIT"],
    methods=["POST"],
    key_func=normalised_email_key,
    exempt_when=lambda: not request.form.get("email", "").strip(),  # no account named, none to protect
    deduct_when=lambda response: response.status_code != 302,  # only failed sign-ins count
)
def login() -> Any:
    form = LoginForm()
    if _sso_only():
        # Staff sign in through the provider only: a password, right or wrong, is not even checked.
        status = 403 if request.method == "POST" else 200
        return render_template("accounts/login.html", form=None, password_refused=status == 403), status
    if form.validate_on_submit():
        user = authenticate(db(), form.email.data or "", form.password.data or "")
        if user is not None:
            log_in(user)
            flash(f"Signed in as {user.name}.")
            return redirect(safe_next(request.args.get("next")))
        form.password.errors = ["That e-mail and password do not match an active staff account."]
    elif request.method == "POST" and form.csrf_token.errors:
        form.password.errors = ["The form expired or came from elsewhere. Please sign in again."]
    status = 422 if request.method == "POST" else 200
    return render_template("accounts/login.html", form=form), status


@bp.errorhandler(429)
def _too_many(exc: HTTPException) -> Any:
    """Over a sign-in limit: the form again with the address typed and when to try again; never the
    password (the plain 429 page lost the address and the way back to the form)."""
    if request.endpoint != "accounts.login" or _sso_only():
        return http_error_response(exc)
    form = LoginForm(formdata=None, email=request.form.get("email", "")[:320])
    form.password.errors = [retry_message()]
    return render_template("accounts/login.html", form=form), 429


@bp.post("/logout")
def logout() -> Any:
    form = Form()
    if form.validate_on_submit() and current_user() is not None:
        log_out()
        flash("Signed out.")
    return redirect(url_for("posts.index"))
