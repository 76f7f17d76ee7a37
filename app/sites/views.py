"""The external sites registry: its public page (``/policies/external-sites``) and the staff desk where a
site is proposed and Public Affairs and Compliance decide on it. Each POST calls one service; the edge
commits once."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from app.accounts.permissions import can, require
from app.errors import Conflict, InvalidInput
from app.sites import services as sites
from app.sites.forms import KIND_LABELS, DecideForm, ProposeSiteForm
from app.sites.models import Capacity
from app.web.auth import current_user
from app.web.database import db

public_bp = Blueprint("sites", __name__)
desk_bp = Blueprint("sites_desk", __name__, url_prefix="/staff/external-sites")

_VOCABULARY = {
    "kind_labels": {k.value: v for k, v in KIND_LABELS.items()},
    "capacity_labels": {c.value: v for c, v in sites.CAPACITY_LABELS.items()},
}


@public_bp.app_template_global()
def embed_parts(html: str) -> list[str | tuple[sites.SiteStatus, str]]:
    """Stored post HTML cut around the embeds of approved sites (``_macros/posts.html`` draws them).

    Decided when the page is drawn, not when the revision was saved, so a revocation takes embeds down
    at once everywhere; the registry is read once per request, and only for HTML that could embed.
    """
    if not sites.may_embed(html):
        return [html]
    if "external_sites" not in g:
        g.external_sites = sites.registry(db())
    return sites.split_embeds(html, g.external_sites)


@public_bp.get("/policies/external-sites")
def policy() -> Any:
    return render_template("sites/policy.html", registry=sites.registry(db()), **_VOCABULARY)


@desk_bp.before_request
def _staff_only() -> Any:
    if current_user() is None:
        target = request.path if request.method == "GET" else url_for(".index")
        return redirect(url_for("accounts.login", next=target))
    require(current_user(), "sites.propose")
    return None


def _capacities() -> list[str]:
    user = current_user()
    return [c.value for c in Capacity if can(user, sites.DECISION_PERMISSION[c])]


@desk_bp.get("/")
def index() -> Any:
    return render_template(
        "sites/desk.html", registry=sites.registry(db()), capacities=_capacities(), **_VOCABULARY
    )


def _field_error(form: Any, exc: InvalidInput, fallback: str) -> None:
    name = exc.details.get("field")
    field = getattr(form, name, None) if isinstance(name, str) else None
    (field if field is not None and hasattr(field, "errors") else getattr(form, fallback)).errors.append(
        exc.message
    )


@desk_bp.route("/new", methods=["GET", "POST"])
def propose() -> Any:
    form = ProposeSiteForm(request.form if request.method == "POST" else None)
    problem = ""
    if request.method == "POST" and form.validate():
        try:
            site = sites.propose(
                db(),
                current_user(),
                name=form.name.data or "",
                kind=form.kind.data or "",
                hosts=form.hosts.data or "",
                embed_template=form.embed_template.data or "",
                note=form.note.data or "",
            )
        except InvalidInput as exc:
            db().rollback()
            _field_error(form, exc, "hosts")
        except Conflict as exc:
            db().rollback()
            problem = exc.message
        else:
            flash(f"{site.name} is proposed. Public Affairs and Compliance each decide on it next.")
            return redirect(url_for(".show", site_id=site.id), 303)
    status = 200 if request.method == "GET" else (409 if problem else 422)
    return render_template("sites/new.html", form=form, problem=problem), status


def _show(site_id: int, form: DecideForm, *, status: int = 200, problem: str = "") -> Any:
    capacities = _capacities()
    if len(capacities) == 1 and not form.capacity.data:
        form.capacity.data = capacities[0]
    form.capacity.choices = [c for c in form.capacity.choices if c.value in capacities]  # type: ignore[union-attr]
    return render_template(
        "sites/show.html",
        entry=sites.get_site(db(), site_id),
        form=form,
        capacities=capacities,
        problem=problem,
        **_VOCABULARY,
    ), status


@desk_bp.get("/<int:site_id>")
def show(site_id: int) -> Any:
    return _show(site_id, DecideForm())


@desk_bp.post("/<int:site_id>/decide")
def decide(site_id: int) -> Any:
    form = DecideForm(request.form)
    if not form.validate():
        return _show(site_id, form, status=422)
    try:
        decision = sites.decide(
            db(),
            current_user(),
            site_id,
            capacity=form.capacity.data or "",
            verdict=form.verdict.data or "",
            note=form.note.data or "",
        )
    except InvalidInput as exc:
        db().rollback()
        _field_error(form, exc, "note")
        return _show(site_id, form, status=422)
    except Conflict as exc:
        db().rollback()
        return _show(site_id, DecideForm(), status=409, problem=exc.message)
    done = "Approved" if decision.verdict == "approve" else "Revoked"
    flash(f"{done} for {sites.CAPACITY_LABELS[Capacity(decision.capacity)]}; recorded with your note.")
    return redirect(url_for(".show", site_id=site_id), 303)
