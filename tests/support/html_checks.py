"""Two judges of a page: the Nu HTML Checker (valid HTML, and CSS) and axe-core (WCAG 2.1 A and AA).

vnu is a Java program and the JVM takes seconds to start, so ``validate`` checks a whole batch of
documents in one run. It comes from the npm package ``vnu-jar``, which ``make install-test`` installs
into ``.venv/vnu``; ``CANDOR_VNU_JAR`` points elsewhere. Without it, or without Java, the check is
skipped, saying why (and fails under CANDOR_REQUIRE_ALL=1).

axe runs inside Chromium on the live page, so it judges what a reader gets: computed colours,
focusable elements, landmarks, accessible names.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

from tests.support.require_all import missing

ROOT = Path(__file__).resolve().parents[2]
VNU_ENV = "CANDOR_VNU_JAR"
DEFAULT_VNU_JAR = ROOT / ".venv" / "vnu" / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"
STYLESHEETS = sorted((ROOT / "static").glob("*.css"))

# --- the Nu HTML Checker ---------------------------------------------------------------------------

# vnu's "error" and "non-document-error" fail a page; so do its warnings ("info" with subType
# "warning"), which flag real mistakes (a missing lang, a redundant role that hides one). Plain info
# messages do not.


@dataclass(frozen=True)
class Message:
    document: str
    kind: str
    line: int | None
    column: int | None
    text: str
    extract: str

    def __str__(self) -> str:
        where = f"line {self.line}, column {self.column}" if self.line is not None else "document"
        extract = f"\n      {self.extract.strip()!r}" if self.extract.strip() else ""
        return f"  {self.document}: {where}: {self.kind}: {self.text}{extract}"


def vnu_command() -> list[str]:
    """``java -jar vnu.jar``, or a skip (a failure in CI) saying which part is missing."""
    java = shutil.which("java")
    jar = Path(os.environ.get(VNU_ENV, "").strip() or DEFAULT_VNU_JAR)
    if java is None:
        missing("HTML validation needs Java, and there is no `java` on PATH (Debian: default-jre-headless)")
    if not jar.is_file():
        missing(
            f"HTML validation needs the Nu HTML Checker, and there is none at {jar} "
            f"(run `make install-test` with npm present, or set {VNU_ENV})"
        )
    return [java, "-jar", str(jar)]


def validate(
    documents: dict[str, str],
    workdir: Path,
    *,
    stylesheets: list[Path] = STYLESHEETS,
    command: list[str] | None = None,
) -> list[Message]:
    """Check every document (label -> HTML) and stylesheet in one vnu run; return what fails.

    Each document is written to ``workdir`` under a numbered file name, and vnu's answers are mapped
    back to the labels, so a message names the page ("post [signed in] /posts/x"), not a temp file.
    """
    command = command or vnu_command()
    workdir.mkdir(parents=True, exist_ok=True)
    names: dict[str, str] = {}
    files: list[str] = []
    for n, (label, html) in enumerate(documents.items(), start=1):
        path = workdir / f"page-{n:03d}.html"
        path.write_text(html, encoding="utf-8")
        names[path.resolve().as_posix()] = label
        files.append(str(path))
    for sheet in stylesheets:
        names[sheet.resolve().as_posix()] = f"stylesheet {sheet.relative_to(ROOT)}"
        files.append(str(sheet))
    if not files:
        return []
    args = [*command, "--format", "json", "--stdout", "--also-check-css", *files]
    done = subprocess.run(args, capture_output=True, text=True, timeout=600, check=False)
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        raise AssertionError(
            f"vnu gave no JSON report (exit {done.returncode}):\n{done.stdout}\n{done.stderr}"
        ) from None
    return [message for raw in report.get("messages", []) if (message := _message(raw, names)) is not None]


def _message(raw: dict[str, Any], names: dict[str, str]) -> Message | None:
    kind = raw.get("type", "")
    if kind == "info":
        if raw.get("subType") != "warning":
            return None
        kind = "warning"
    url = raw.get("url", "")
    path = Path(unquote(urlsplit(url).path)).resolve().as_posix() if url else ""
    return Message(
        document=names.get(path, url or "(vnu)"),
        kind=kind,
        line=raw.get("lastLine"),
        column=raw.get("firstColumn", raw.get("lastColumn")),
        text=raw.get("message", ""),
        extract=raw.get("extract", ""),
    )


def format_messages(messages: list[Message]) -> str:
    return f"{len(messages)} HTML/CSS validation problem(s):\n" + "\n".join(str(m) for m in messages)


# --- axe-core --------------------------------------------------------------------------------------

WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
AXE_OPTIONS: dict[str, Any] = {
    "runOnly": {"type": "tag", "values": WCAG_TAGS},
    "resultTypes": ["violations"],
}
_axe = Axe()


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Run axe (WCAG 2.1 A and AA rules only) on the page as it stands; return its violations."""
    return list(_axe.run(page, options=AXE_OPTIONS).response["violations"])


def format_violations(label: str, violations: list[dict[str, Any]]) -> str:
    """Readable: each rule, why it matters, and every offending element with axe's own explanation."""
    lines = [f"{label}: {len(violations)} accessibility violation(s)"]
    for violation in violations:
        lines.append(f"  [{violation.get('impact')}] {violation['id']}: {violation['help']}")
        lines.append(f"    {violation['helpUrl']}")
        for node in violation["nodes"]:
            target = " ".join(str(t) for t in node.get("target", []))
            lines.append(f"    - {target}")
            lines.append(f"      {node.get('html', '').strip()[:300]}")
            for summary in node.get("failureSummary", "").splitlines():
                lines.append(f"      {summary.strip()}")
    return "\n".join(lines)
