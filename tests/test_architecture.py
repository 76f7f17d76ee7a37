"""The shape of app/, checked by walking its source with ``ast``.

Flask stays at the edge, so domain code can be used from the web, the API, the CLI and tests alike; and
dependencies point one way, down a declared order of layers, with nothing imported for its side effects.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app"


def _allowed(path: Path) -> bool:
    rel = path.relative_to(APP)
    return rel.parts[0] == "web" or rel.name == "views.py" or str(rel) in ("__init__.py", "cli.py")


def _flask_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0].startswith("flask")]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0].startswith("flask"):
            found.append(node.module)
    return found


def test_flask_is_imported_only_at_the_edge():
    offenders = {
        str(path.relative_to(APP)): names
        for path in sorted(APP.rglob("*.py"))
        if not _allowed(path) and (names := _flask_imports(path))
    }
    assert offenders == {}


def test_the_architecture_check_would_catch_an_offender(tmp_path):
    bad = tmp_path / "services.py"
    bad.write_text("from flask import request\nimport flask_wtf\n")
    assert _flask_imports(bad) == ["flask", "flask_wtf"]


def test_a_posts_state_columns_have_one_writer():
    """Only app/editorial/services.py assigns a post's state columns (its ``_move`` and the table beside
    it)."""
    guarded = {"review_state", "publication_state", "published_revision_id", "scheduled_approval_id"}
    writers = set()
    for path in APP.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
            for target in targets:
                if isinstance(target, ast.Attribute) and target.attr in guarded:
                    writers.add(str(path.relative_to(APP.parent)))
    assert writers == {"app/editorial/services.py"}


# --- dependencies point one way -----------------------------------------------------------------------

# app/'s packages and modules, lowest layer first. A module may import its own layer and the layers below;
# never one above: the higher layer calls the lower explicitly (no late import, no signal receivers kept
# alive by an import). Late imports, inside functions, count; imports for type checkers only
# (``if TYPE_CHECKING:``) do not, as they never run.
LAYERS: tuple[frozenset[str], ...] = tuple(
    frozenset(names.split())
    for names in (
        "clock cursors db errors events migrate outbound text",  # foundations: no Flask, no domain
        "wordpress",  # pure WXR reading, writing and content conversion: no database, nothing of the domain
        "jobs",  # claims on a scheduled job's period; the jobs themselves live at the edge (app/web/tasks.py)
        "gates",  # pure scanners (privacy, links) that posts' gates and comments' checks use
        "spam",  # pure spam checks and the Akismet adapter: nothing of comments, nothing of the database
        "accounts",
        "audit",
        "settings",  # run-time settings: the edge reads them and passes values down; no layer imports it
        "sso",  # single sign-on: links provider identities to accounts, audits the roles it maps
        "mail",
        "administration",  # staff accounts, passwords and tokens, audited; reset links by mail
        "contact",  # stands on mail alone
        "disclosures",
        "media",  # the image library: uploads cleaned of metadata, renditions, patient consent
        "posts",
        "search",  # the full-text index of what readers see: publishing and redaction keep it current
        "sites",  # the external sites registry: its decisions move published posts' cache version
        "drafts",  # the editor's autosaved working copies of posts
        "corrections",  # what a publication changed: publishing (editorial) calls it
        "editorial",
        "topics",  # the editors' topic list (the models live with posts, which are filed under them)
        "medical",  # health-information marks and medical reviews of posts, audited
        "comments",  # uses spam; knows nothing of moderation
        "moderation",  # builds on comments and contact
        "redaction",  # rewrites stored text (revisions, diffs, comments, reports, messages): the exception
        "staff",
        "importer",  # WordPress import: writes through posts, topics, comments, media, accounts, audit
        "export",  # reads every table below it, writes nothing: the JSON record and WXR
    )
)
EDGE = len(LAYERS)  # the rank of the Flask edge, on top of every layer

KNOWN_UPWARD: set[tuple[str, str]] = set()
KNOWN_SIDE_EFFECT_IMPORTS: set[tuple[str, str]] = set()


@dataclass(frozen=True)
class _Import:
    target: str  # the module imported, e.g. "app.comments.services"
    bound: str  # the name it binds in the importing module
    lines: range  # where the statement is
    for_type_checkers: bool  # inside ``if TYPE_CHECKING:``


def _module_name(path: Path) -> str:
    parts = path.relative_to(APP.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str) -> bool:
    path = APP.parent.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _imports(tree: ast.Module, module: str, *, is_package: bool = False) -> list[_Import]:
    """Every import in ``tree`` (``module``'s source), at any depth, resolved to the module it loads."""
    package = module if is_package else module.rpartition(".")[0]
    found: list[_Import] = []

    def visit(node: ast.AST, for_type_checkers: bool) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                bound = alias.asname or alias.name.split(".")[0]
                found.append(_Import(alias.name, bound, _lines(node), for_type_checkers))
        elif isinstance(node, ast.ImportFrom) and node.module != "__future__":
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                target = f"{base}.{alias.name}" if _is_module(f"{base}.{alias.name}") else base
                found.append(_Import(target, alias.asname or alias.name, _lines(node), for_type_checkers))
        for child in ast.iter_child_nodes(node):
            guarded = isinstance(node, ast.If) and child in node.body and _is_type_checking(node.test)
            visit(child, for_type_checkers or guarded)

    visit(tree, False)
    return found


def _lines(node: ast.stmt) -> range:
    return range(node.lineno, (node.end_lineno or node.lineno) + 1)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _rank(module: str) -> int | None:
    """The layer of an ``app`` module: its index in LAYERS, EDGE for Flask glue, None if unplaced."""
    parts = module.split(".")
    if parts[0] != "app":
        return None
    if len(parts) == 1 or parts[1] in ("web", "cli", "demo", "models") or parts[-1] in ("views", "forms"):
        return EDGE  # create_app, the web glue, the CLI, the demo, every model for Alembic, the views
    return next((rank for rank, names in enumerate(LAYERS) if parts[1] in names), None)


def _app_modules() -> list[tuple[str, Path]]:
    return [(_module_name(path), path) for path in sorted(APP.rglob("*.py"))]


def _imports_of(module: str, path: Path) -> list[_Import]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return _imports(tree, module, is_package=path.name == "__init__.py")


def test_every_module_of_app_has_a_place_in_the_layers():
    assert {module for module, _ in _app_modules() if _rank(module) is None} == set()


def test_no_layer_imports_a_higher_one_nor_the_edge():
    upward = set()
    for module, path in _app_modules():
        rank = _rank(module)
        if rank is None or rank == EDGE:
            continue
        for imported in _imports_of(module, path):
            target_rank = _rank(imported.target)
            if not imported.for_type_checkers and target_rank is not None and target_rank > rank:
                upward.add((module, imported.target))
    assert upward == KNOWN_UPWARD


def test_nothing_is_imported_only_for_its_side_effects():
    """An import whose name is never used, kept on purpose (``as _name``, or ruff's F401 silenced), is
    kept for what importing does: register routes, connect receivers. That hides a dependency; the
    caller should register or call what it needs explicitly. (Unused imports kept by accident are
    ruff's F401.)"""
    kept = set()
    for module, path in _app_modules():
        source = path.read_text()
        tree = ast.parse(source, filename=str(path))
        lines = source.splitlines()
        used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)} | _exported(tree)
        for imported in _imports_of(module, path):
            silenced = any("noqa: F401" in lines[n - 1] for n in imported.lines)
            if imported.bound not in used and (imported.bound.startswith("_") or silenced):
                kept.add((module, imported.target))
    assert kept == KNOWN_SIDE_EFFECT_IMPORTS


def _exported(tree: ast.Module) -> set[str]:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "__all__" for t in node.targets):
            return {elt.value for elt in getattr(node.value, "elts", []) if isinstance(elt, ast.Constant)}
    return set()


def test_the_import_checks_would_catch_an_offender():
    source = (
        "from typing import TYPE_CHECKING\n"
        "from app.spam import relevance\n"
        "from . import impersonation as _impersonation\n"
        "if TYPE_CHECKING:\n"
        "    from app.posts.models import Post\n"
        "def late():\n"
        "    from app.comments.models import Comment\n"
        "    return relevance, Comment\n"
    )
    found = _imports(ast.parse(source), "app.spam.pipeline")
    assert [(i.target, i.bound, i.for_type_checkers) for i in found] == [
        ("typing", "TYPE_CHECKING", False),
        ("app.spam.relevance", "relevance", False),
        ("app.spam.impersonation", "_impersonation", False),
        ("app.posts.models", "Post", True),
        ("app.comments.models", "Comment", False),
    ]
    assert _rank("app.comments.models") > _rank("app.spam.pipeline")  # the late import is upward
    assert _rank("app.comments.views") == _rank("app.web.jobs") == EDGE


def test_comment_and_contact_statuses_have_one_writer_each():
    """``Comment.status`` is written only by app/comments/states.py; a contact message's by its ``_move``."""
    import ast

    writers = set()
    for folder in ("comments", "moderation", "contact", "spam"):
        for path in (APP / folder).rglob("*.py"):
            for node in ast.walk(ast.parse(path.read_text())):
                targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
                for target in targets:
                    if isinstance(target, ast.Attribute) and target.attr == "status":
                        writers.add(str(path.relative_to(APP)))
    assert writers == {"comments/states.py", "contact/services.py"}
