"""Flask stays at the edge: domain code can be used from the web, the API, the CLI and tests alike."""

from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parent.parent / "app"


def _allowed(path: Path) -> bool:
    rel = path.relative_to(APP)
    return (
        rel.parts[0] == "web"
        or rel.name == "views.py"
        or str(rel) in ("__init__.py", "cli.py")
    )


def _flask_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0].startswith("flask")]
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0].startswith("flask"):
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
    """Only app/editorial/services.py assigns a post's state columns (its ``_move`` and the table beside it)."""
    import ast
    from pathlib import Path

    guarded = {"review_state", "publication_state", "published_revision_id", "scheduled_approval_id"}
    writers = set()
    for path in Path("app").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
            for target in targets:
                if isinstance(target, ast.Attribute) and target.attr in guarded:
                    writers.add(str(path))
    assert writers == {"app/editorial/services.py"}
