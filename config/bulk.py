"""Writing many rows at once, without Django building a model instance and a CASE per row:
one parameterised statement executed for all the rows (psycopg pipelines executemany).
Only our own table and column names go into the SQL text; every value is a parameter."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connection, connections
from django.db.models import Model


def rows_save(model: type[Model], rows: Sequence[Model], field_names: Iterable[str]) -> None:
    """Write `field_names` of every row (an UPDATE by primary key). QuerySet.bulk_update builds
    a CASE per field and row, which costs seconds in Python for a 3,000-event webhook batch."""
    if not rows:
        return
    fields = [model._meta.get_field(name) for name in field_names]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in fields)
    table, key = quote(model._meta.db_table), quote(model._meta.pk.column)
    sql = f"UPDATE {table} SET {assignments} WHERE {key} = %s"  # noqa: S608
    params = [
        [field.get_db_prep_save(getattr(row, field.attname), connection) for field in fields]
        + [row.pk]
        for row in rows
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, params)


def rows_insert(model: type[Model], field_names: Sequence[str], rows: Iterable[Sequence[Any]]):
    """INSERT `rows` (values in `field_names` order, as Python values; the fields' own database
    preparation is applied) into `model`'s table; columns not named take their database
    default or NULL, so name every NOT NULL column. QuerySet.bulk_create spends most of its
    time building and preparing model instances: several seconds per 100,000 rows."""
    fields = [model._meta.get_field(name) for name in field_names]
    # Fields whose Python value needs converting (JSON, UUID, dates...); the rest pass as is.
    plain = {"CharField", "EmailField", "TextField", "IntegerField", "PositiveIntegerField",
             "BooleanField", "ForeignKey"}  # fmt: skip
    convert = [field.get_internal_type() not in plain for field in fields]
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    columns = ", ".join(quote(field.column) for field in fields)
    db = connections[DEFAULT_DB_ALIAS]  # not the proxy: it is asked for every value
    params = [
        [
            field.get_db_prep_save(value, db) if needs else value
            for field, needs, value in zip(fields, convert, row, strict=True)
        ]
        for row in rows
    ]
    if not params:
        return
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # COPY: one stream for all the rows (an executemany is one statement per row).
            with cursor.cursor.copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                for row in params:
                    copy.write_row(row)
        else:
            marks = ", ".join(["%s"] * len(fields))
            cursor.executemany(f"INSERT INTO {table} ({columns}) VALUES ({marks})", params)  # noqa: S608
