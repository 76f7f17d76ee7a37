"""Compile once per test process what every test app compiles again: URL rules and templates.

The suite builds a new Flask app for each test (about 3,400 a run, each on its own database). Profiled,
``create_app`` took ~0.3 s, 80 % of it in werkzeug compiling each of ~160 URL rules' URL builders
(Python source generated from an AST, then ``compile()``); each app then compiles every template it
renders again (Jinja parses and generates Python for each). Both results depend only on their input,
never on the app:

* a rule's builder is a plain function of the rule (its text, the parsed parts, constant defaults,
  whether unknown arguments are appended), bound to each Rule afterwards (``Rule.compile``), so rules
  equal in those respects share one function;
* a template's bytecode is keyed by Jinja on its name and file and checked against its source's
  checksum on every load (``jinja2.bccache.Bucket``), so a changed template is compiled again.

``install()`` (tests/conftest.py) shares both within the test process. Nothing else changes: each app
still has its own URL map, matcher, Jinja environment and template cache.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jinja2 import BytecodeCache
from jinja2.bccache import Bucket
from werkzeug.routing.rules import Rule


class SharedTemplates(BytecodeCache):
    """Jinja bytecode in memory, shared by every test app of this process."""

    def __init__(self) -> None:
        self._code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self._code.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)  # ignored by Jinja unless the source's checksum matches

    def dump_bytecode(self, bucket: Bucket) -> None:
        self._code[bucket.key] = bucket.bytecode_to_string()


TEMPLATES = SharedTemplates()
_builders: dict[tuple[Any, ...], Callable[..., tuple[str, str]]] = {}


def _shared_builder(compile_builder: Callable[..., Any]) -> Callable[..., Any]:
    def builder(self: Rule, append_unknown: bool = True) -> Callable[..., tuple[str, str]]:
        key = (
            self.rule,
            self.host,
            self.subdomain,
            self.map.host_matching,
            self.merge_slashes,
            tuple(self._trace),
            repr(sorted((self.defaults or {}).items())),
            tuple((name, type(converter)) for name, converter in self._converters.items()),
            append_unknown,
        )
        found = _builders.get(key)
        if found is None:
            found = _builders[key] = compile_builder(self, append_unknown)
        return found

    return builder


def install() -> None:
    if not getattr(Rule, "_candor_shared_builder", False):
        Rule._compile_builder = _shared_builder(Rule._compile_builder)  # type: ignore[method-assign]
        Rule._candor_shared_builder = True  # type: ignore[attr-defined]


def share_templates(app: Any) -> None:
    """Before the app renders anything: its templates' bytecode comes from (and goes to) TEMPLATES."""
    app.jinja_env.bytecode_cache = TEMPLATES
