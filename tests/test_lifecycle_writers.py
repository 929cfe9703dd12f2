"""Only returns_mail/services/lifecycle.py writes a message's status (and status_changed_at and
the provider-reported times) or a campaign recipient's state: every other module asks it.

How writes are found: each .py file of returns_mail/, analytics/, providers/ and templates_lib/
(not migrations, not the lifecycle module) is parsed (ast) and these are looked at (a
recipient's error text is not guarded: erasure scrubs addresses out of it):
- `<queryset>.update(field=...)` and `.update(**values)`;
- `rows_save(Model, rows, fields)` and `<queryset>.bulk_update(rows, fields)`, the field names
  read from the literal or from the module's tuple constant it names;
- `obj.field = ...` (also in tuple targets and `+=`), `setattr(obj, "field", ...)`, and
  `obj.save(update_fields=[...])`.

The model a queryset or an object belongs to is resolved from the expression: `X.objects...`
chains resolve to X, through any method calls; related managers (`event.messages`,
`campaign.recipients`) to their model; a parameter to its annotation; a local name to what the
function (or module) assigned to it or looped over; a call of a function of the same module to
what it returns. So
`CampaignChunk.objects.filter(...).update(status=...)`, `alert.status = ...` after
`alert = Alert.objects.get(...)` or a sandbox's `entry.update(status=...)` on a dict are not
flagged. A write whose model cannot be resolved (a parameter, an attribute) is flagged only in
a module that imports Message or CampaignRecipient: only there can it be one of theirs without
naming the model (an object handed over by a caller), and there a reader should be told."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCANNED = ("returns_mail", "analytics", "providers", "templates_lib")
OWNER = ROOT / "returns_mail" / "services" / "lifecycle.py"
GUARDED = {
    "Message": {"status", "status_changed_at", "delivered_at", "opened_at", "clicked_at"},
    "CampaignRecipient": {
        "status",
        "sent_at",
        "delivered_at",
        "opened_at",
        "clicked_at",
        "bounced_at",
        "rejected_at",
        "unsubscribed_at",
    },
}
MANAGERS = {"objects", "_default_manager", "_base_manager"}
RELATED = {"messages": "Message", "resends": "Message", "recipients": "CampaignRecipient"}
UNKNOWN = None


class _Module:
    """One parsed module, with what resolving names needs: its functions and assignments."""

    def __init__(self, tree: ast.Module):
        self.tree = tree
        self.functions = {
            node.name: node
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        }
        self.imports = {
            alias.asname or alias.name
            for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom)
            for alias in node.names
        }
        self.parents: dict[ast.AST, ast.AST] = {}
        for parent in ast.walk(tree):
            for child in ast.iter_child_nodes(parent):
                self.parents[child] = parent

    def scope_of(self, node: ast.AST) -> ast.AST:
        while node in self.parents:
            node = self.parents[node]
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                return node
        return self.tree

    def bindings(self, name: str, scope: ast.AST) -> list[ast.expr]:
        """What `name` is bound to in `scope` (assignments; loops over an iterable: the
        iterable, whose model is the element's), or at module level when `scope` has none."""
        found = []
        for node in ast.walk(scope):
            if isinstance(node, ast.Assign | ast.AnnAssign) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                    found.append(node.value)
            elif isinstance(node, ast.For | ast.comprehension):
                if isinstance(node.target, ast.Name) and node.target.id == name:
                    found.append(node.iter)
            elif isinstance(node, ast.NamedExpr) and node.target.id == name:
                found.append(node.value)
        if not found and scope is not self.tree:
            return self.bindings_at_module_level(name)
        return found

    def bindings_at_module_level(self, name: str) -> list[ast.expr]:
        return [
            node.value
            for node in self.tree.body
            if isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == name for t in node.targets)
        ]

    def model_of(self, node: ast.expr, scope: ast.AST, seen: frozenset = frozenset()) -> str:
        """The model `node` (a queryset, manager or instance expression) is of, or UNKNOWN."""
        if isinstance(node, ast.Attribute):
            if node.attr in MANAGERS:
                base = node.value
                if isinstance(base, ast.Name):
                    return base.id
                if isinstance(base, ast.Attribute):
                    return base.attr
                return UNKNOWN
            if node.attr in RELATED:
                return RELATED[node.attr]
            return UNKNOWN
        if isinstance(node, ast.Call):
            if isinstance(node.func, ast.Attribute):  # a queryset method: same model
                return self.model_of(node.func.value, scope, seen)
            if isinstance(node.func, ast.Name) and node.func.id in ("list", "tuple", "iter"):
                return self.model_of(node.args[0], scope, seen) if node.args else UNKNOWN
            if isinstance(node.func, ast.Name) and node.func.id in self.functions:
                function = self.functions[node.func.id]
                if function in seen:
                    return UNKNOWN
                returns = [
                    r.value
                    for r in ast.walk(function)
                    if isinstance(r, ast.Return) and r.value is not None
                ]
                return self._one(returns, function, seen | {function})
            return UNKNOWN
        if isinstance(node, ast.Subscript):
            return self.model_of(node.value, scope, seen)
        if isinstance(node, ast.Name):
            annotated = self.annotation_of(node.id, scope)
            if annotated is not UNKNOWN:
                return annotated
            if (node.id, scope) in seen:
                return UNKNOWN
            bound = self.bindings(node.id, scope)
            return self._one(bound, scope, seen | {(node.id, scope)})
        return UNKNOWN

    def annotation_of(self, name: str, scope: ast.AST) -> str:
        """The model a parameter of `scope` is annotated with (`x: Model`, `x: Model | None`,
        or the same as a string)."""
        if not isinstance(scope, ast.FunctionDef | ast.AsyncFunctionDef):
            return UNKNOWN
        arguments = scope.args
        for argument in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs):
            if argument.arg == name and argument.annotation is not None:
                return _annotated(argument.annotation)
        return UNKNOWN

    def _one(self, nodes: list[ast.expr], scope, seen) -> str:
        models = {self.model_of(n, scope, seen) for n in nodes}
        guarded = models & set(GUARDED)
        if guarded:
            return sorted(guarded)[0]
        if len(models) == 1:
            return models.pop()
        return UNKNOWN

    def names_in(self, node: ast.expr, scope) -> set[str] | None:
        """The string constants of a field list (a literal, starred parts, or a constant it
        names); None when they cannot be read."""
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return {node.value}
        if isinstance(node, ast.List | ast.Tuple | ast.Set):
            names: set[str] = set()
            for element in node.elts:
                part = self.names_in(
                    element.value if isinstance(element, ast.Starred) else element, scope
                )
                if part is None:
                    return None
                names |= part
            return names
        if isinstance(node, ast.Name):
            bound = self.bindings(node.id, scope)
            if len(bound) == 1:
                return self.names_in(bound[0], scope)
        return None


def _annotated(node: ast.expr) -> str:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return _annotated(ast.parse(node.value, mode="eval").body)
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.BinOp):  # X | None
        models = {_annotated(node.left), _annotated(node.right)} - {"None"}
        return models.pop() if len(models) == 1 else UNKNOWN
    return UNKNOWN


def _fields(model: str | None, module: _Module) -> set[str]:
    """The guarded fields of `model`; of the models the module imports when it is unknown."""
    if model in GUARDED:
        return GUARDED[model]
    if model is UNKNOWN:
        return set().union(*(GUARDED[m] for m in GUARDED if m in module.imports))
    return set()


def writes(source: str) -> list[tuple[int, str]]:
    """(line, what) of every guarded write in `source`."""
    module = _Module(ast.parse(source))
    found = []

    def flag(node: ast.AST, what: str) -> None:
        found.append((node.lineno, what))

    for node in ast.walk(module.tree):
        scope = module.scope_of(node)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            method, target = node.func.attr, node.func.value
            if method == "update":
                fields = _fields(module.model_of(target, scope), module)
                named = {k.arg for k in node.keywords if k.arg is not None}
                spread = any(k.arg is None for k in node.keywords)
                if named & fields or (spread and fields):
                    flag(node, f".update({', '.join(sorted(named & fields)) or '**'})")
            elif method == "bulk_update" and len(node.args) >= 2:
                fields = _fields(module.model_of(target, scope), module)
                names = module.names_in(node.args[1], scope)
                if fields and (names is None or names & fields):
                    flag(node, ".bulk_update of " + ", ".join(sorted((names or fields) & fields)))
            elif method == "save":
                for keyword in node.keywords:
                    if keyword.arg != "update_fields":
                        continue
                    fields = _fields(module.model_of(target, scope), module)
                    names = module.names_in(keyword.value, scope)
                    if fields and (names is None or names & fields):
                        flag(node, ".save(update_fields=...)")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            if node.func.id == "rows_save" and len(node.args) >= 3:
                model = node.args[0]  # the model class itself
                if isinstance(model, ast.Name):
                    fields = GUARDED.get(model.id, set())
                else:
                    fields = _fields(UNKNOWN, module)
                names = module.names_in(node.args[2], scope)
                if fields and (names is None or names & fields):
                    flag(node, "rows_save of " + ", ".join(sorted((names or fields) & fields)))
            elif node.func.id == "setattr" and len(node.args) == 3:
                # A name only known at run time (a generic helper) counts on a guarded model.
                model = module.model_of(node.args[0], scope)
                names = module.names_in(node.args[1], scope)
                fields = _fields(model, module)
                if names & fields if names is not None else model in GUARDED:
                    flag(node, "setattr")
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for element in target.elts if isinstance(target, ast.Tuple) else [target]:
                    if not isinstance(element, ast.Attribute):
                        continue
                    owner = element.value
                    if isinstance(owner, ast.Name) and owner.id == "self":
                        continue
                    fields = _fields(module.model_of(owner, scope), module)
                    if element.attr in fields:
                        flag(node, f".{element.attr} = ...")
    return sorted(found)


def scanned_files() -> list[Path]:
    files = []
    for app in SCANNED:
        for path in sorted((ROOT / app).rglob("*.py")):
            if "migrations" in path.parts or path == OWNER:
                continue
            files.append(path)
    return files


def test_only_the_lifecycle_module_writes_message_status_and_recipient_state():
    found = [
        f"{path.relative_to(ROOT)}:{line}: {what}"
        for path in scanned_files()
        for line, what in writes(path.read_text(encoding="utf-8"))
    ]

    assert found == [], "write these through returns_mail/services/lifecycle.py:\n" + "\n".join(
        found
    )


def test_the_scan_covers_the_apps():
    names = {str(path.relative_to(ROOT)) for path in scanned_files()}

    assert "returns_mail/services/sending.py" in names
    assert "analytics/services/deliveries.py" in names
    assert "returns_mail/services/lifecycle.py" not in names


FLAGGED = {
    "a chain on Message": """
from returns_mail.models import Message
def f(pk):
    Message.objects.filter(pk=pk, status="queued").update(status="cancelled")
""",
    "a queryset kept in a name": """
from returns_mail.models import Message
def sweep(now):
    stuck = Message.objects.filter(status="sending")
    stuck.filter(handed_over_at__isnull=True).update(status="queued", status_changed_at=now)
""",
    "a queryset a helper returns": """
from returns_mail.models import CampaignRecipient
def _pending(chunk):
    return CampaignRecipient.objects.filter(chunk_number=chunk.number)
def done(chunk, now):
    _pending(chunk).update(status="sent", sent_at=now)
""",
    "a related manager": """
def cancel(event):
    event.messages.filter(status="queued").update(status="cancelled")
""",
    "values spread into update": """
from returns_mail.models import Message
def finish(pk, values):
    Message.objects.filter(pk=pk).update(**values)
""",
    "an instance attribute": """
from returns_mail.models import Message
def apply(message, target):
    message.status, message.status_changed_at = target, None
""",
    "an instance from a loop": """
from returns_mail.models import Message
def apply():
    for message in Message.objects.filter(status="sent"):
        message.opened_at = 1
""",
    "rows_save with a constant": """
from config.bulk import rows_save
from returns_mail.models import Message
FIELDS = ("status", "error")
def save(rows):
    rows_save(Message, rows, FIELDS)
""",
    "bulk_update": """
from returns_mail.models import CampaignRecipient
def save(rows):
    CampaignRecipient.objects.bulk_update(rows, ["opened_at"])
""",
    "save with update_fields": """
from returns_mail.models import Message
def save(message):
    message.save(update_fields=["status"])
""",
    "setattr": """
from returns_mail.models import CampaignRecipient
def first(recipient: CampaignRecipient, name, at):
    setattr(recipient, name, at)
""",
}
NOT_FLAGGED = {
    "another model's status": """
from returns_mail.models import CampaignChunk, Message
def finish(pk):
    CampaignChunk.objects.filter(pk=pk, status="sending").update(status="sent")
""",
    "another model's instance": """
from analytics.models import Alert
from returns_mail.models import Message
def resolve(pk):
    alert = Alert.objects.get(pk=pk)
    alert.status = "resolved"
""",
    "a dict in a module without the models": """
def reject(entry):
    entry.update(status="rejected", reject_reason="hard-bounce")
""",
    "other fields of Message": """
from returns_mail.models import Message
def hand_over(pk, at):
    Message.objects.filter(pk=pk, status="sending").update(handed_over_at=at)
""",
    "rows_save of another model": """
from config.bulk import rows_save
from returns_mail.models import Customer, Message
def save(rows):
    rows_save(Customer, rows, ("status",))
""",
    "a generic helper on an unknown object": """
from returns_mail.models import CampaignRecipient
def scrub(row, name, value):
    setattr(row, name, value)
""",
    "an annotated parameter of another model": """
from returns_mail.models import Campaign, Message
def keep(campaign: Campaign, **fields):
    campaign.status = "paused"
""",
    "an exception's own status": """
from returns_mail.models import Message
class Refused(Exception):
    def __init__(self, status):
        self.status = status
""",
}


@pytest.mark.parametrize("source", FLAGGED.values(), ids=FLAGGED.keys())
def test_a_write_is_found(source):
    assert writes(source)


@pytest.mark.parametrize("source", NOT_FLAGGED.values(), ids=NOT_FLAGGED.keys())
def test_other_writes_are_not_flagged(source):
    assert writes(source) == []
