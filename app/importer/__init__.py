"""Moving in from WordPress: a WXR export imported into Candor in one transaction (issue 13).

``import_wordpress`` is the stable entry point (the CLI, the tests and the export's round trip call it).
"""

from app.importer.report import Report
from app.importer.services import import_wordpress

__all__ = ["Report", "import_wordpress"]
