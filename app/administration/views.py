"""Account administration on the web: the admins' staff pages, everyone's own tokens and password, the
"forgot password" and reset-link pages, and the JSON API for users and tokens.

Each POST calls one service; the request edge commits. Input a person can fix re-renders the form (422)
with the message beside its field; a forbidden move is the service's NotAllowed (403).
"""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from werkzeug.exceptions import HTTPException

from app.accounts import services as accounts
from app.accounts.models import ApiToken, Role, User
from app.accounts.permissions import can, require
from app.administration import services as admin
from app.administration.forms import (
    PASSWORD_HINT,
    ForgotForm,
    NewPasswordForm,
    NewUserForm,
    PasswordChangeForm,
    ProfileForm,
    RolesForm,
    TokenForm,
)
from app.clock import utc_now
from app.cursors import BadCursor
from app.errors import Conflict, InvalidInput
from app.search import services as search
from app.web import paging
from app.web.api import (
    BOOL,
    DATETIME,
    ID,
    PAGE_QUERY,
    TEXT,
    Routes,
    answer,
    bool_field,
    json_body,
    listing,
    listing_of,
    nullable,
    obj,
    page_args,
)
from app.web.auth import current_user, log_in
from app.web.database import db
from app.web.errors import http_error_response
from app.web.extensions import limiter, normalised_email_key, retry_message
from app.web.outside import site
from app.web.urls import public_url

bp = Blueprint("people", __name__, url_prefix="/staff")
public_bp = Blueprint("passwords", __name__)
API = Routes()

USERS_PER_PAGE = 50


def _token_days() -> int:
    return int(current_app.config["CANDOR_TOKEN_DAYS"])


def _reset_mail() -> admin.ResetMail:
    return admin.ResetMail(site(), lambda token: public_url("passwords.reset", token=token))


def _field_error(form: Any, exc: InvalidInput, fallback: str) -> None:
    name = exc.details.get("field")
    field = getattr(form, name, None) if isinstance(name, str) else None
    if field is None or not hasattr(field, "errors"):
        field = getattr(form, fallback)
    field.errors = [*field.errors, exc.message]


def _roles_of(values: list[str] | None) -> set[Role]:
    return accounts.parse_roles(values or [])


@bp.before_request
def _signed_in_staff() -> Any:
    if current_user() is None:
        target = request.path if request.method == "GET" else url_for("staff.dashboard")
        return redirect(url_for("accounts.login", next=target))
    require(current_user(), "tokens.own")
    return None


@bp.context_processor
def _vocabulary() -> dict[str, Any]:
    user = current_user()
    return {
        "is_editor": can(user, "post.request_changes"),
        "can_write": can(user, "post.create"),
        "is_admin": can(user, "users.manage"),
        "password_hint": PASSWORD_HINT,
        "now": utc_now(),
        "token_status": accounts.token_status,
    }


# --- admins: staff accounts -----------------------------------------------------------------------------


@bp.get("/users")
def users() -> Any:
    require(current_user(), "users.manage")
    if "page" in request.args:
        raise InvalidInput("This list pages with its “Next page” link (after=), not by number.", field="page")
    after, before = paging.cursors()
    query = request.args.get("q", "")[:200]
    role = request.args.get("role", "")
    if role not in ("", *(r.value for r in Role)):
        role = ""
    status = request.args.get("status", "")
    active = {"active": True, "inactive": False}.get(status)
    try:
        found, more = admin.search_users(
            db(),
            current_user(),
            query=query,
            role=role,
            active=active,
            after=after,
            before=before,
            per_page=USERS_PER_PAGE,
        )
    except BadCursor:
        raise
    except InvalidInput:
        found, more = [], False
    return render_template(
        "administration/users.html",
        users=found,
        next_cursor=admin.user_cursor(db(), found[-1]) if found and (more or before) else None,
        previous_cursor=admin.user_cursor(db(), found[0]) if found and (after or (before and more)) else None,
        after=after or (before if before and more else None),
        q=query,
        role=role,
        status=status if active is not None else "",
        staff_section="users",
    )


@bp.route("/users/new", methods=["GET", "POST"])
def new_user() -> Any:
    require(current_user(), "users.manage")
    form = NewUserForm(request.form) if request.method == "POST" else NewUserForm(data={"roles": ["author"]})
    if request.method == "POST" and form.validate():
        try:
            user = admin.create_user(
                db(),
                current_user(),
                _profile(form),
                _roles_of(form.roles.data),
                password=None,
            )
            admin.send_reset_link(db(), current_user(), user, _reset_mail())
        except InvalidInput as exc:
            _field_error(form, exc, "email")
        except Conflict as exc:
            form.email.errors = [*form.email.errors, exc.message]
        else:
            flash(f"Created {user.name}'s account and e-mailed them a link to set their password.")
            return redirect(url_for(".user", user_id=user.id))
    status = 422 if request.method == "POST" else 200
    return render_template("administration/new_user.html", form=form, staff_section="users"), status


def _profile(form: ProfileForm) -> admin.Profile:
    return admin.Profile(
        email=form.email.data or "",
        name=form.name.data or "",
        title=form.title.data or "",
        department=form.department.data or "",
        bio=form.bio.data or "",
        photo_alt=form.photo_alt.data or "",
    )


def _user_page(
    user: User, *, profile_form: ProfileForm | None = None, roles_form: RolesForm | None = None
) -> Any:
    profile_form = profile_form or ProfileForm(obj=user)
    roles_form = roles_form or RolesForm(data={"roles": sorted(r.value for r in user.roles)})
    failed = bool(profile_form.errors or roles_form.errors)
    return render_template(
        "administration/user.html",
        user=user,
        profile_form=profile_form,
        roles_form=roles_form,
        tokens=accounts.tokens_of(db(), user),
        staff_section="users",
    ), (422 if failed else 200)


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
def user(user_id: int) -> Any:
    require(current_user(), "users.manage")
    target = admin.get_user(db(), user_id)
    if request.method == "GET":
        return _user_page(target)
    form = ProfileForm(request.form)
    if form.validate():
        try:
            changed = admin.update_profile(db(), current_user(), target, _profile(form))
            if "name" in changed:
                search.reindex_author(db(), target)  # bylines are searchable words
        except InvalidInput as exc:
            _field_error(form, exc, "name")
        except Conflict as exc:
            form.email.errors = [*form.email.errors, exc.message]
        else:
            flash(f"Saved: {', '.join(changed)}." if changed else "Nothing changed.")
            return redirect(url_for(".user", user_id=target.id))
    return _user_page(target, profile_form=form)


@bp.post("/users/<int:user_id>/roles")
def user_roles(user_id: int) -> Any:
    require(current_user(), "users.manage")
    target = admin.get_user(db(), user_id)
    form = RolesForm(request.form)
    if form.validate():
        try:
            changed = admin.set_roles(db(), current_user(), target, _roles_of(form.roles.data))
        except InvalidInput as exc:
            _field_error(form, exc, "roles")
        else:
            flash("Roles saved." if changed else "Roles unchanged.")
            return redirect(url_for(".user", user_id=target.id))
    return _user_page(target, roles_form=form)


@bp.route("/users/<int:user_id>/deactivate", methods=["GET", "POST"])
def deactivate(user_id: int) -> Any:
    """A page saying what deactivation does, whose form does it."""
    require(current_user(), "users.manage")
    target = admin.get_user(db(), user_id)
    if request.method == "POST":
        revoked = admin.deactivate(db(), current_user(), target)
        flash(f"Deactivated {target.name}: signed out everywhere, {revoked} API token(s) revoked.")
        return redirect(url_for(".user", user_id=target.id))
    live = [t for t in accounts.tokens_of(db(), target) if t.is_live(utc_now())]
    return render_template(
        "administration/deactivate.html", user=target, live_tokens=live, staff_section="users"
    )


@bp.post("/users/<int:user_id>/reactivate")
def reactivate(user_id: int) -> Any:
    require(current_user(), "users.manage")
    target = admin.get_user(db(), user_id)
    admin.reactivate(db(), current_user(), target)
    flash(f"Reactivated {target.name}. Their old API tokens stay revoked.")
    return redirect(url_for(".user", user_id=target.id))


@bp.post("/users/<int:user_id>/reset-link")
def send_reset(user_id: int) -> Any:
    require(current_user(), "users.manage")
    target = admin.get_user(db(), user_id)
    admin.send_reset_link(db(), current_user(), target, _reset_mail())
    flash(f"E-mailed {target.email} a link to set a new password (valid for one hour, once).")
    return redirect(url_for(".user", user_id=target.id))


@bp.post("/users/<int:user_id>/tokens/<int:token_id>/revoke")
def revoke_user_token(user_id: int, token_id: int) -> Any:
    require(current_user(), "users.manage")
    owner = admin.get_user(db(), user_id)
    row = admin.revoke_token(db(), current_user(), token_id, owner=owner)
    flash(f"Revoked the token {row.prefix}….")
    return redirect(url_for(".user", user_id=user_id))


# --- everyone: their own tokens and password ----------------------------------------------------------


def _tokens_page(form: TokenForm, *, secret: str | None = None, status: int = 200) -> Any:
    user = current_user()
    assert user is not None
    return render_template(
        "administration/tokens.html",
        form=form,
        tokens=accounts.tokens_of(db(), user),
        secret=secret,
        staff_section="tokens",
    ), status


@bp.get("/tokens")
def tokens() -> Any:
    # A token just issued is shown on this one answer (POST, redirect, GET: a reload never issues a
    # second one): it waited in the signed session cookie for this request alone, and is gone from it now.
    secret = session.pop("new_token", None)
    body, status = _tokens_page(TokenForm(data={"days": _token_days()}), secret=secret)
    return body, status, {"Cache-Control": "no-store"}


@bp.post("/tokens")
def create_token() -> Any:
    form = TokenForm(request.form)
    if form.validate():
        try:
            issued = admin.issue_token(
                db(),
                current_user(),
                current_user(),
                name=form.name.data or "",
                lifetime_days=form.days.data or _token_days(),
            )
        except InvalidInput as exc:
            _field_error(form, exc, "name")
        else:
            # Shown once, on the page this redirects to; the database keeps its digest alone.
            session["new_token"] = issued.secret
            return redirect(url_for(".tokens"), 303)
    return _tokens_page(form, status=422)


@bp.post("/tokens/<int:token_id>/revoke")
def revoke_token(token_id: int) -> Any:
    row = admin.revoke_token(db(), current_user(), token_id, owner=current_user())
    flash(f"Revoked “{row.name or row.prefix}”.")
    return redirect(url_for(".tokens"))


@bp.route("/password", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"])  # guesses at the current password from a stolen session
def password() -> Any:
    form = PasswordChangeForm(request.form) if request.method == "POST" else PasswordChangeForm()
    if request.method == "POST" and form.validate():
        user = current_user()
        assert user is not None
        try:
            admin.change_own_password(db(), user, form.current_password.data or "", form.password.data or "")
        except InvalidInput as exc:
            _field_error(form, exc, "password")
        else:
            log_in(user)  # this session goes on; every other one has ended
            flash("Password changed. You were signed out everywhere else.")
            return redirect(url_for("staff.dashboard"))
    status = 422 if request.method == "POST" else 200
    return render_template("administration/password.html", form=form, staff_section="password"), status


@bp.errorhandler(429)
def _too_many(exc: HTTPException) -> Any:
    """Over the password form's limit: the form again (empty: never a password) and when to try again."""
    if request.endpoint != "people.password" or current_user() is None:
        return http_error_response(exc)
    form = PasswordChangeForm(formdata=None)
    form.current_password.errors = [retry_message()]
    return render_template("administration/password.html", form=form, staff_section="password"), 429


# --- anyone: forgot password, reset link ----------------------------------------------------------------


@public_bp.route("/forgot-password", methods=["GET", "POST"])
@limiter.limit("5 per hour", methods=["POST"])
@limiter.limit(
    "3 per hour",
    methods=["POST"],
    key_func=normalised_email_key,
    exempt_when=lambda: not request.form.get("email", "").strip(),
)
def forgot() -> Any:
    form = ForgotForm(request.form) if request.method == "POST" else ForgotForm()
    sent = False
    if request.method == "POST" and form.validate():
        admin.request_reset(db(), form.email.data or "", _reset_mail())
        sent = True  # the same answer whether or not the address has an account
    status = 422 if request.method == "POST" and not sent else 200
    return render_template("administration/forgot.html", form=form, sent=sent), status


@public_bp.route("/reset-password/<token>", methods=["GET", "POST"])
@limiter.limit("10 per hour", methods=["POST"])
def reset(token: str) -> Any:
    try:
        user = admin.user_for_reset(db(), current_app.config["SECRET_KEY"], token)
    except InvalidInput as exc:
        return render_template("administration/reset.html", form=None, problem=exc.message), 404
    form = NewPasswordForm(request.form) if request.method == "POST" else NewPasswordForm()
    if request.method == "POST" and form.validate():
        try:
            admin.reset_password(db(), current_app.config["SECRET_KEY"], token, form.password.data or "")
        except InvalidInput as exc:
            _field_error(form, exc, "password")
        else:
            flash("Your password is set; every earlier session has ended. Sign in with the new password.")
            return redirect(url_for("accounts.login"))
    status = 422 if request.method == "POST" else 200
    return render_template(
        "administration/reset.html", form=form, problem=None, user=user, password_hint=PASSWORD_HINT
    ), status


@public_bp.errorhandler(429)
def _too_many_anyone(exc: HTTPException) -> Any:
    """Over a limit of the forgot-password or reset form: the form again with the address typed (never a
    password) and when to try again, not the plain 429 page with no way back to the form."""
    if request.endpoint == "passwords.forgot":
        form = ForgotForm(formdata=None, email=request.form.get("email", "")[:320])
        form.email.errors = [retry_message()]
        return render_template("administration/forgot.html", form=form, sent=False), 429
    if request.endpoint == "passwords.reset":
        token = (request.view_args or {}).get("token", "")
        try:
            user = admin.user_for_reset(db(), current_app.config["SECRET_KEY"], token)
        except InvalidInput as invalid:
            return render_template("administration/reset.html", form=None, problem=invalid.message), 404
        reset_form = NewPasswordForm(formdata=None)
        reset_form.password.errors = [retry_message()]
        return render_template(
            "administration/reset.html", form=reset_form, problem=None, user=user, password_hint=PASSWORD_HINT
        ), 429
    return http_error_response(exc)


# --- JSON API ---------------------------------------------------------------------------------------------


def user_json(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "email": user.email,
        "name": user.name,
        "title": user.title,
        "department": user.department,
        "bio": user.bio,
        "photo_alt": user.photo_alt,
        "roles": sorted(r.value for r in user.roles),
        "active": user.is_active,
        "created_at": user.created_at.isoformat(timespec="seconds"),
    }


def token_json(row: ApiToken) -> dict[str, Any]:
    def stamp(value: Any) -> str | None:
        return value.isoformat(timespec="seconds") if value is not None else None

    return {
        "id": row.id,
        "name": row.name,
        "prefix": row.prefix,
        "created_at": stamp(row.created_at),
        "expires_at": stamp(row.expires_at),
        "last_used_at": stamp(row.last_used_at),
        "revoked_at": stamp(row.revoked_at),
        "status": accounts.token_status(row, utc_now()),
    }


def _api_roles(data: dict[str, Any]) -> set[Role]:
    roles = data.get("roles")
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles) or len(roles) > 10:
        raise InvalidInput("roles must be a list of role names.", field="roles")
    return accounts.parse_roles(roles)


def _api_profile(data: dict[str, Any]) -> admin.Profile:
    values = {}
    for name in ("email", "name", "title", "department", "bio", "photo_alt"):
        if name in data:
            if not isinstance(data[name], str):
                raise InvalidInput(f"{name} must be text.", field=name)
            values[name] = data[name]
    return admin.Profile(**values)


def _any_case(word: str) -> str:
    return "".join(f"[{c.upper()}{c}]" for c in word)


# parse_roles takes a role's name in any case, with spaces around it.
ROLE_NAME: dict[str, Any] = {
    "type": "string",
    "pattern": r"^\s*(" + "|".join(_any_case(r.value) for r in Role) + r")\s*$",
    "description": "author, editor, moderator, compliance or admin.",
}
ROLES: dict[str, Any] = {
    "type": "array",
    "items": ROLE_NAME,
    "minItems": 1,
    "maxItems": 10,
    "description": "Exactly the roles the account is to have (at least one).",
}
PROFILE_FIELDS: dict[str, Any] = {
    "email": {
        **TEXT,
        # What normalise_email accepts, loosely: something, "@", then a dot somewhere after it.
        "pattern": r"^[^@]*[^@\s][^@]*@[\s\S]*\.",
        "description": "An e-mail address, at most 320 characters; unique.",
    },
    "name": {**TEXT, "description": "One line, at most 200 characters; required."},
    "title": {**TEXT, "description": "One line, at most 200 characters."},
    "department": {**TEXT, "description": "One line, at most 200 characters."},
    "bio": {**TEXT, "description": "At most 5,000 characters."},
    "photo_alt": {**TEXT, "description": "One line, at most 300 characters."},
}
NEW_USER = obj(
    {
        **PROFILE_FIELDS,
        "roles": ROLES,
        "password": {
            **nullable(TEXT),
            "description": "Without one, the account gets no usable password and is e-mailed a link "
            "to set it (valid one hour).",
        },
    },
    "email",
    "name",
    "roles",
)
USER_CHANGES = obj(
    {
        **PROFILE_FIELDS,
        "roles": ROLES,
        "active": {**BOOL, "description": "false ends every session and revokes every token."},
        "id": {**ID, "description": "Ignored when it is the account's own id; it cannot change."},
    },
    closed=True,
)
USER = answer(
    {
        "id": ID,
        "email": TEXT,
        "name": TEXT,
        "title": TEXT,
        "department": TEXT,
        "bio": TEXT,
        "photo_alt": TEXT,
        "roles": {"type": "array", "items": {"type": "string", "enum": [r.value for r in Role]}},
        "active": BOOL,
        "created_at": DATETIME,
    }
)
USERS_QUERY: dict[str, dict[str, Any]] = {
    **PAGE_QUERY,
    "q": {**TEXT, "description": "Words in the name, e-mail, title or department (at most 200 characters)."},
    "role": ROLE_NAME,
    "active": BOOL,
}
TOKEN = answer(
    {
        "id": ID,
        "name": TEXT,
        "prefix": {**TEXT, "description": "The secret's first characters, to recognise it by."},
        "created_at": DATETIME,
        "expires_at": DATETIME,
        "last_used_at": nullable(DATETIME),
        "revoked_at": nullable(DATETIME),
        "status": {"type": "string", "enum": ["active", "expired", "revoked"]},
    }
)
NEW_TOKEN = obj(
    {
        "name": {**nullable(TEXT), "description": "What it is for: one line, at most 100 characters."},
        "days": {
            "type": "integer",
            "minimum": 1,
            "maximum": accounts.MAX_TOKEN_DAYS,
            "description": "Its lifetime in days (default CANDOR_TOKEN_DAYS).",
        },
    }
)
TOKEN_ISSUED = answer(
    {**TOKEN["properties"], "token": {**TEXT, "description": "The secret: shown this once, never again."}}
)


@API.get(
    "/users",
    summary="Staff accounts, by name (admins)",
    query=USERS_QUERY,
    responses={200: listing_of(USER)},
)
def api_users() -> Any:
    require(current_user(), "users.manage")
    after, per_page = page_args(USERS_PER_PAGE)
    q = request.args.get("q", "")
    role = request.args.get("role")
    if role is not None and not role.strip():
        raise InvalidInput("role must be author, editor, moderator, compliance or admin.", field="role")
    active_arg = request.args.get("active")
    if active_arg not in (None, "true", "false"):
        raise InvalidInput("active must be true or false.", field="active")
    active = None if active_arg is None else active_arg == "true"
    found, more = admin.search_users(
        db(), current_user(), query=q, role=role or "", active=active, after=after, per_page=per_page
    )
    extra = {"q": q or None, "role": role, "active": active_arg}
    nxt = admin.user_cursor(db(), found[-1]) if more and found else None
    return listing([user_json(u) for u in found], nxt, "api.api_users", per_page, **extra)


@API.post(
    "/users",
    summary="Create a staff account (admins)",
    description="Without `password`, the new account is e-mailed a link to set one. "
    "409 when another account has the e-mail address.",
    body=NEW_USER,
    responses={201: USER},
    headers={201: {"Location": "The new account's address in this API."}},
    errors=(409,),
)
def api_create_user() -> Any:
    require(current_user(), "users.manage")
    data = json_body()
    password = data.get("password")
    if password is not None and not isinstance(password, str):
        raise InvalidInput("password must be text.", field="password")
    user = admin.create_user(db(), current_user(), _api_profile(data), _api_roles(data), password=password)
    if password is None:
        admin.send_reset_link(db(), current_user(), user, _reset_mail())
    return user_json(user), 201, {"Location": public_url("api.api_user", user_id=user.id)}


@API.get("/users/<int:user_id>", summary="A staff account (admins)", responses={200: USER})
def api_user(user_id: int) -> Any:
    require(current_user(), "users.manage")
    return user_json(admin.get_user(db(), user_id))


@API.patch(
    "/users/<int:user_id>",
    summary="Change a staff account's profile, roles or whether it is active (admins)",
    description="Only the fields sent change. 409 when another account has the e-mail address, or when "
    "the change would leave the blog without an active admin.",
    body=USER_CHANGES,
    responses={200: USER},
    errors=(409,),
)
def api_update_user(user_id: int) -> Any:
    """Change any of the profile fields, ``roles`` and ``active`` (false ends sessions and tokens)."""
    require(current_user(), "users.manage")
    data = json_body()
    known = {"email", "name", "title", "department", "bio", "photo_alt", "roles", "active", "id"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise InvalidInput(f"Unknown field(s): {', '.join(unknown)[:200]}.", field=unknown[0][:100])
    if "id" in data and data["id"] != user_id:
        raise InvalidInput("id cannot be changed.", field="id")
    target = admin.get_user(db(), user_id)
    active = bool_field(data, "active") if "active" in data else None
    roles = _api_roles(data) if "roles" in data else None
    if "name" in admin.update_profile(db(), current_user(), target, _api_profile(data)):
        search.reindex_author(db(), target)  # bylines are searchable words
    if roles is not None:
        admin.set_roles(db(), current_user(), target, roles)
    if active is True:
        admin.reactivate(db(), current_user(), target)
    elif active is False:
        admin.deactivate(db(), current_user(), target)
    return user_json(target)


@API.get(
    "/me/tokens", summary="The caller's own API tokens, newest first", responses={200: listing_of(TOKEN)}
)
def api_my_tokens() -> Any:
    user = require(current_user(), "tokens.own")
    return {"items": [token_json(t) for t in accounts.tokens_of(db(), user)], "next": None}


@API.post(
    "/me/tokens",
    summary="Issue the caller a new API token",
    body=NEW_TOKEN,
    responses={201: TOKEN_ISSUED},
    headers={201: {"Cache-Control": "no-store: the answer carries the secret."}},
)
def api_create_token() -> Any:
    user = require(current_user(), "tokens.own")
    data = json_body()
    name = data.get("name", "")
    days = data.get("days", _token_days())
    issued = admin.issue_token(db(), user, user, name=name, lifetime_days=days)
    return {**token_json(issued.row), "token": issued.secret}, 201, {"Cache-Control": "no-store"}


@API.delete(
    "/me/tokens/<int:token_id>",
    summary="Revoke one of the caller's API tokens (again: nothing changes)",
    responses={204: {}},
)
def api_revoke_token(token_id: int) -> Any:
    user = require(current_user(), "tokens.own")
    admin.revoke_token(db(), user, token_id, owner=user)
    return "", 204
