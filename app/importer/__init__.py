"""Moving in from WordPress: a WXR export imported into Candor in one transaction (issue 13).

``import_wordpress`` is the stable entry point (the CLI, the tests and the export's round trip call it).
It is loaded on first use (PEP 562): every web worker imports this package for the old addresses'
redirects (``app.importer.views``, ``app.importer.legacy``), and the import's converters (Beautiful
Soup, markdownify, lxml: about 12 MB) are not needed for that.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Report", "import_wordpress"]


def __getattr__(name: str) -> Any:
    if name == "import_wordpress":
        from app.importer.services import import_wordpress

        return import_wordpress
    if name == "Report":
        from app.importer.report import Report

        return Report
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
