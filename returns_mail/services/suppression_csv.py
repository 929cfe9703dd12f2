"""The suppression list as CSV: exported (a filtered list, streamed) and imported (by an admin).

Export columns: email, scope, reason, note, source, created_at. A cell a spreadsheet would run
as a formula (starting with = + - @, a tab or a carriage return) is prefixed with ' (CSV
injection: a note or an address can carry one).

Import: a header row naming `email` and any of `scope`, `reason`, `note` (in any order; others
refused), then one suppression per line. The whole file is checked first: any bad line and
nothing is written, every problem reported with its line number. Good files are added as the
importing admin's, idempotent per (email, scope): an address suppressed already keeps its entry.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from config.audit import audit_record
from returns_mail.models import Suppression, SuppressionReason, SuppressionScope
from returns_mail.services.suppression import SuppressionEntry, suppressions_add

EXPORT_COLUMNS = ("email", "scope", "reason", "note", "source", "created_at")
IMPORT_COLUMNS = ("email", "scope", "reason", "note")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
MAX_LINES = 100_000
MAX_NOTE = 255
MAX_EMAIL = 254
REPORTED_ERRORS = 50  # problems listed at most (a wrong file would list every line)


def suppression_source(suppression: Suppression) -> str:
    """Who added it: the provider account that reported it, a person, or neither (the API)."""
    if suppression.source_account_id:
        return f"reported by {suppression.source_account}"
    if suppression.created_by_id:
        return f"by {suppression.created_by}"
    return ""


def csv_safe(value: str) -> str:
    return f"'{value}" if value.startswith(FORMULA_STARTS) else value


def suppressions_csv_lines(queryset) -> Iterator[str]:
    """The CSV of `queryset`, a line at a time (rows read in chunks: memory stays flat)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(values: Iterable[str]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([csv_safe(str(v)) for v in values])
        return buffer.getvalue()

    yield line(EXPORT_COLUMNS)
    rows = queryset.select_related("source_account", "created_by").order_by("pk")
    for suppression in rows.iterator(chunk_size=2000):
        yield line(
            (
                suppression.email,
                suppression.scope,
                suppression.reason,
                suppression.note,
                suppression_source(suppression),
                suppression.created_at.isoformat(),
            )
        )


@dataclass
class CsvCheck:
    entries: list[SuppressionEntry] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # "line 3: ..." per problem
    problems: int = 0  # all of them (errors lists the first REPORTED_ERRORS)

    def problem(self, line: int | None, message: str) -> None:
        self.problems += 1
        if len(self.errors) < REPORTED_ERRORS:
            self.errors.append(f"line {line}: {message}" if line else message)


def suppressions_csv_check(data: bytes) -> CsvCheck:
    """Read and check the whole file; `errors` empty means every line is good."""
    check = CsvCheck()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        check.problem(None, "the file is not UTF-8 text")
        return check
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader, None)
    except csv.Error as exc:
        check.problem(1, f"not CSV ({exc})")
        return check
    columns = [c.strip().lower() for c in header or []]
    unknown = [c for c in columns if c not in IMPORT_COLUMNS]
    if "email" not in columns or unknown or len(set(columns)) != len(columns):
        check.problem(
            1,
            "the first line must name the columns: email, then any of scope, reason, note "
            f"(found: {', '.join(columns) or 'nothing'})",
        )
        return check
    scopes, reasons = set(SuppressionScope.values), set(SuppressionReason.values)
    seen: set[tuple[str, str]] = set()
    try:
        for values in reader:
            number = reader.line_num
            if number > MAX_LINES + 1:
                check.problem(number, f"more than {MAX_LINES} lines: split the file")
                break
            if not any(v.strip() for v in values):
                continue
            if len(values) != len(columns):
                check.problem(number, f"{len(values)} values for {len(columns)} columns")
                continue
            row = {c: v.strip() for c, v in zip(columns, values, strict=True)}
            entry = _entry(row, number, check, scopes, reasons)
            if entry is not None and (entry.email, entry.scope) not in seen:
                seen.add((entry.email, entry.scope))
                check.entries.append(entry)
    except csv.Error as exc:
        check.problem(reader.line_num, f"not CSV ({exc})")
    if not check.entries and not check.problems:
        check.problem(None, "the file has no suppressions")
    return check


def _entry(row, number: int, check: CsvCheck, scopes, reasons) -> SuppressionEntry | None:
    email = row["email"].lower()
    scope = row.get("scope") or SuppressionScope.ALL
    reason = row.get("reason") or SuppressionReason.MANUAL
    note = row.get("note", "")
    before = check.problems
    try:
        if len(email) > MAX_EMAIL:
            raise ValidationError("too long")
        validate_email(email)
    except ValidationError:
        check.problem(number, f"{row['email']!r} is not an email address")
    if scope not in scopes:
        check.problem(number, f"scope {scope!r} is not one of {', '.join(sorted(scopes))}")
    if reason not in reasons:
        check.problem(number, f"reason {reason!r} is not one of {', '.join(sorted(reasons))}")
    if len(note) > MAX_NOTE:
        check.problem(number, f"the note is longer than {MAX_NOTE} characters")
    if check.problems != before:
        return None
    return SuppressionEntry(email=email, scope=scope, reason=reason, note=note)


def suppressions_csv_import(*, check: CsvCheck, actor, filename: str = "") -> int:
    """Add a checked file's suppressions as `actor`'s (one transaction, with its audit entry);
    returns how many were new. Refuses a file with problems: nothing is written."""
    if check.problems:
        raise ValueError("the file has problems: nothing imported")
    keys = {(e.email, e.scope) for e in check.entries}
    with transaction.atomic():
        existing = 0
        emails = sorted({email for email, _ in keys})
        for start in range(0, len(emails), 1000):
            existing += sum(
                1
                for key in Suppression.objects.filter(
                    email__in=emails[start : start + 1000]
                ).values_list("email", "scope")
                if tuple(key) in keys
            )
        for start in range(0, len(check.entries), 1000):
            suppressions_add(check.entries[start : start + 1000], actor=actor)
        added = len(keys) - existing
        audit_record(
            actor=actor,
            obj=Suppression(),
            action="add",
            message=(
                f"imported {len(keys)} suppression(s) from the CSV file {filename or '(unnamed)'}"
                f": {added} new, {len(keys) - added} already listed"
            )[:2000],
            object_repr="suppression list (CSV import)",
        )
    return added
