"""The import layers: `config` is the foundation every app may import, and imports no app; the
apps import one another only downwards, in the order settings.PROJECT_APPS declares
(providers ← templates_lib ← returns_mail ← analytics). A higher app plugs into a lower one by
dotted string (URLconfs, settings), a system check tag or a registry, never by import.

Read statically (ast), so an import inside a function counts as much as one at the top, and so
does importlib.import_module("app.module") with a literal name. Each failure names file:line.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
APPS = ("providers", "templates_lib", "returns_mail", "analytics")  # lowest first
LAYERS = ("config", *APPS)
# Calls that import the module their first argument names.
IMPORTING_CALLS = {"import_module", "import_string", "__import__"}


@dataclass(frozen=True)
class Import:
    path: str  # relative to the project root
    line: int
    module: str  # the dotted name imported

    @property
    def layer(self) -> str:
        return self.module.split(".")[0]

    def __str__(self) -> str:
        return f"{self.path}:{self.line} imports {self.module}"


def _called_name(node: ast.Call) -> str | None:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def imports_in(source: str, path: str) -> Iterator[Import]:
    """Every absolute import in `source`, wherever it stands (module level, function, class)."""
    for node in ast.walk(ast.parse(source, filename=path)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(path, node.lineno, alias.name)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield Import(path, node.lineno, node.module)
        elif isinstance(node, ast.Call) and _called_name(node) in IMPORTING_CALLS and node.args:
            first = node.args[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                yield Import(path, node.lineno, first.value)


def package_imports(package: str) -> Iterator[Import]:
    for file in sorted((ROOT / package).rglob("*.py")):
        path = str(file.relative_to(ROOT))
        yield from imports_in(file.read_text(encoding="utf-8"), path)


def against_the_order(package: str) -> list[Import]:
    """The imports of `package` that reach a layer above it."""
    rank = LAYERS.index(package)
    return [
        found
        for found in package_imports(package)
        if found.layer in LAYERS and LAYERS.index(found.layer) > rank
    ]


def _report(found: list[Import], rule: str) -> str:
    return f"{rule}:\n" + "\n".join(f"  {f}" for f in found)


def test_the_app_order_is_the_one_settings_declare():
    assert list(APPS) == settings.PROJECT_APPS


def test_config_imports_no_app():
    found = against_the_order("config")
    assert not found, _report(
        found,
        "config imports no app (name an app's module by dotted string, as INSTALLED_APPS and "
        "config/urls.py do, or move the code into the app that owns it)",
    )


def test_each_app_imports_only_config_and_the_apps_below_it():
    order = " ← ".join(LAYERS)
    found = [f for app in APPS for f in against_the_order(app)]
    assert not found, _report(
        found,
        f"an app imports only config and the apps below it ({order}); invert the dependency "
        "(a registry the higher app fills in its AppConfig.ready, a setting, a dotted string)",
    )


def test_the_reader_finds_imports_at_every_level():
    source = (
        "import analytics\n"
        "from returns_mail.models import Message\n"
        "from . import sibling\n"
        "def f():\n"
        "    from providers import clients\n"
        "    return importlib.import_module('templates_lib.catalogue')\n"
        "class C:\n"
        "    import_string('analytics.views.prometheus.metrics')\n"
        "    import_module(name)\n"
    )

    found = [str(f) for f in sorted(imports_in(source, "config/x.py"), key=lambda f: f.line)]

    assert found == [
        "config/x.py:1 imports analytics",
        "config/x.py:2 imports returns_mail.models",
        "config/x.py:5 imports providers",
        "config/x.py:6 imports templates_lib.catalogue",
        "config/x.py:8 imports analytics.views.prometheus.metrics",
    ]
