"""Outside `providers`, code asks what a provider kind can do (`providers.clients`: the
capability table in providers/clients/capabilities.py; `providers.webhooks`) and never branches
on the kind itself. This scans the source and names every such branch by file:line.

A branch on a kind is:
- a member of ProviderKind (`ProviderKind.SENDGRID`, also through an import alias,
  `ProviderKind["SMTP"]`, `ProviderKind("smtp")`); its enumerations (`.choices`, `.values`,
  `.labels`, `.names`) list every kind alike and are allowed (form choices, labels, order);
- a kind value ("sendgrid", "mailchimp_marketing", ...) compared (==, !=, in, not in; alone or
  in a tuple, list or set), matched in a `match` case, used as a dict key, or given to a query's
  kind argument (`kind=`, `kind__in=`, `account__kind=`, `provider_kind=`...);
- a webhook module's `KIND` constant (`sendgrid.KIND`).

Not scanned: providers/ (where kinds are declared and implemented), tests/, bench/ (the
benchmark harness seeds accounts of given kinds and injects faults per provider, as tests do),
migrations, and the demo seeding modules (*/demo.py), which create one account of each kind
and wire each to its own sandbox: naming the kind is what they are for.
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

from providers.models import ProviderKind

PROJECT_DIR = Path(__file__).resolve().parent.parent
KIND_VALUES = frozenset(ProviderKind.values)
ENUMERATIONS = frozenset({"choices", "values", "labels", "names"})
SKIPPED_DIRS = frozenset({"providers", "tests", "bench", "migrations"})
SKIPPED_FILES = frozenset({"demo.py"})


def _is_kind_value(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return node.value in KIND_VALUES
    if isinstance(node, ast.Tuple | ast.List | ast.Set):
        return any(_is_kind_value(element) for element in node.elts)
    return False


def _is_kind_argument(name: str | None) -> bool:
    """`kind`, `provider_kind`, `kind__in`, `account__kind`...: a query on the kind."""
    return bool(name) and any(p == "kind" or p.endswith("_kind") for p in name.split("__"))


def kind_branches(source: str) -> list[tuple[int, str]]:
    """(line, what) of every branch on a provider kind in `source`, in line order."""
    tree = ast.parse(source)
    names = {"ProviderKind"} | {
        alias.asname
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
        if alias.name == "ProviderKind" and alias.asname
    }

    def is_provider_kind(node: ast.AST) -> bool:
        return isinstance(node, ast.Name) and node.id in names

    found: set[tuple[int, str]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            if is_provider_kind(node.value) and node.attr not in ENUMERATIONS:
                found.add((node.lineno, f"ProviderKind.{node.attr}"))
            elif node.attr == "KIND":
                found.add((node.lineno, "a webhook module's KIND"))
        elif isinstance(node, ast.Subscript | ast.Call):
            if is_provider_kind(node.value if isinstance(node, ast.Subscript) else node.func):
                found.add((node.lineno, "a ProviderKind member"))
        elif isinstance(node, ast.Compare):
            if any(_is_kind_value(operand) for operand in (node.left, *node.comparators)):
                found.add((node.lineno, "a comparison with a kind value"))
        elif isinstance(node, ast.Dict):
            for key in node.keys:
                if key is not None and _is_kind_value(key):
                    found.add((key.lineno, "a kind value as a dict key"))
        elif isinstance(node, ast.MatchValue):
            if _is_kind_value(node.value):
                found.add((node.lineno, "a kind value as a match case"))
        elif (
            isinstance(node, ast.keyword)
            and _is_kind_argument(node.arg)
            and _is_kind_value(node.value)
        ):
            found.add((node.lineno, f"a kind value as {node.arg}="))
    return sorted(found)


def scanned_files(root: Path) -> list[Path]:
    """The project's Python files that must not branch on a kind (see the module docstring)."""
    files = []
    for directory, subdirectories, names in os.walk(root):
        # Pruned in place, so os.walk never enters them (.venv, .git, the skipped ones).
        subdirectories[:] = [
            d for d in subdirectories if not d.startswith(".") and d not in SKIPPED_DIRS
        ]
        files += [
            Path(directory, name)
            for name in names
            if name.endswith(".py") and name not in SKIPPED_FILES
        ]
    return sorted(files)


def scan(root: Path) -> dict[str, list[str]]:
    """Path (relative to `root`) -> "path:line: what" of each branch on a kind in it."""
    out = {}
    for path in scanned_files(root):
        relative = path.relative_to(root).as_posix()
        found = kind_branches(path.read_text(encoding="utf-8"))
        if found:
            out[relative] = [f"{relative}:{line}: {what}" for line, what in found]
    return out


# --- the project -------------------------------------------------------------------------------
def test_no_code_outside_providers_branches_on_a_provider_kind():
    found = [line for lines in scan(PROJECT_DIR).values() for line in lines]

    assert not found, (
        "Branches on a provider kind: ask providers.clients (capabilities) or "
        "providers.webhooks what the kind can do instead:\n" + "\n".join(found)
    )


def test_the_scan_covers_the_apps_and_skips_what_the_docstring_says():
    files = {path.relative_to(PROJECT_DIR).as_posix() for path in scanned_files(PROJECT_DIR)}

    assert {
        "analytics/webhooks/views.py",
        "returns_mail/services/campaigns.py",
        "templates_lib/selectors.py",
        "config/settings.py",
    } <= files
    assert not {f for f in files if f.startswith(("providers/", "tests/", "bench/", ".venv/"))}
    assert not {f for f in files if "/migrations/" in f or f.endswith("/demo.py")}


# --- the scanner itself: it finds what it must, and only that ----------------------------------
@pytest.mark.parametrize(
    ("source", "what"),
    [
        ("if account.kind == ProviderKind.SMTP: pass", "ProviderKind.SMTP"),
        ("KINDS = (ProviderKind.SENDGRID,)", "ProviderKind.SENDGRID"),
        ("from providers.models import ProviderKind as K\nx = K.SMTP", "ProviderKind.SMTP"),
        ('x = ProviderKind("smtp")', "a ProviderKind member"),
        ('x = ProviderKind["SMTP"]', "a ProviderKind member"),
        ('if account.kind == "sendgrid": pass', "a comparison with a kind value"),
        ('if "smtp" != kind: pass', "a comparison with a kind value"),
        ('ok = kind in ("sendgrid", "mailchimp_marketing")', "a comparison with a kind value"),
        ('ok = kind not in ["smtp"]', "a comparison with a kind value"),
        ('RUNNERS = {"sendgrid": 2}', "a kind value as a dict key"),
        ('match kind:\n    case "mailchimp_transactional": pass', "a kind value as a match case"),
        ('q = Account.objects.filter(kind="smtp")', "a kind value as kind="),
        ('q = Account.objects.exclude(kind__in=["smtp"])', "a kind value as kind__in="),
        ('q = Campaign.objects.filter(account__kind="sendgrid")', "a kind value as account__kind="),
        ('f = Filters(provider_kind="smtp")', "a kind value as provider_kind="),
        ("if account.kind == sendgrid.KIND: pass", "a webhook module's KIND"),
    ],
)
def test_the_scanner_finds_each_way_of_branching_on_a_kind(source, what):
    assert what in {found for _, found in kind_branches(source)}


@pytest.mark.parametrize(
    "source",
    [
        'choices = [("", "All"), *ProviderKind.choices]',
        "labels = dict(ProviderKind.choices)",
        "order = {kind: i for i, kind in enumerate(ProviderKind.values)}",
        "provider = account.kind",
        "if by_account.get(pk) == kind: pass",
        'if tag.kind == "open": pass',
        'x = {"provider": "sendgrid"}',
        'path("sendgrid/<int:account_id>/", view, name="sendgrid")',
        "if account_can(account, Capability.SEND): pass",
    ],
)
def test_the_scanner_lets_other_uses_pass(source):
    assert kind_branches(source) == []


def test_the_scan_names_file_and_line_and_skips_what_it_should(tmp_path):
    branch = 'x = 1\nif account.kind == "smtp":\n    pass\n'
    for relative in (
        "app/services.py",
        "app/demo.py",
        "app/migrations/0001_initial.py",
        "providers/clients/smtp.py",
        "tests/test_app.py",
        "bench/seed.py",
        ".venv/lib/site.py",
    ):
        (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / relative).write_text(branch)
    (tmp_path / "app" / "clean.py").write_text("x = account.kind\n")

    assert scan(tmp_path) == {
        "app/services.py": ["app/services.py:2: a comparison with a kind value"]
    }
